// Peak GPU memory of this process as LibTorch's caching allocator saw it, for run summaries
// and benchmarks. Empty on builds without CUDA and for CPU devices.
#pragma once
#include <ATen/Device.h>

#include <optional>

namespace dreamdpo::core {

struct CudaMemoryPeak {
  double allocated_mib = 0;  // most bytes held by live tensors at once
  double reserved_mib = 0;   // most bytes the allocator held from the driver (what nvidia-smi shows, less the context)
};

std::optional<CudaMemoryPeak> cuda_memory_peak(at::Device device);

}  // namespace dreamdpo::core
