#include "core/cuda_memory.h"

#ifdef DREAMDPO_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace dreamdpo::core {

std::optional<CudaMemoryPeak> cuda_memory_peak(at::Device device) {
#ifdef DREAMDPO_WITH_CUDA
  if (!device.is_cuda()) return std::nullopt;
  const auto index = device.has_index() ? device.index() : 0;
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index);
  constexpr double kMiB = 1024.0 * 1024.0;
  // Entry 0 is StatType::AGGREGATE (all pools); the enum moved namespace between LibTorch 1.x and 2.x.
  constexpr size_t aggregate = 0;
  return CudaMemoryPeak{stats.allocated_bytes[aggregate].peak / kMiB, stats.reserved_bytes[aggregate].peak / kMiB};
#else
  (void)device;
  return std::nullopt;
#endif
}

}  // namespace dreamdpo::core
