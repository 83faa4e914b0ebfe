// CUDA projection kernel: the GPU twin of gaussian_projection_cpu.cpp. One thread per
// Gaussian loops over every view, running the same per-Gaussian maths as the CPU kernel
// (gaussian_projection_math.h); the backward sums a Gaussian's views in order in its thread,
// so no atomics are needed and the gradients are bit-identical from call to call.
#include "core/error.h"
#include "render/gaussian_projection_cuda_kernels.h"

namespace dreamdpo::render::cuda {

namespace {

constexpr int kThreads = 256;

void check_cuda(cudaError_t status, const char* what) {
  if (status != cudaSuccess) fail("CUDA projection: ", what, " failed: ", cudaGetErrorString(status));
}

unsigned blocks_for(int64_t items) { return static_cast<unsigned>((items + kThreads - 1) / kThreads); }

template <typename scalar_t>
__global__ void __launch_bounds__(kThreads)
    forward_kernel(projection::Inputs<scalar_t> in, projection::Outputs<scalar_t> out) {
  const int64_t n = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (n < in.count) projection::project_gaussian(in, n, out);
}

template <typename scalar_t>
__global__ void __launch_bounds__(kThreads)
    backward_kernel(projection::Inputs<scalar_t> in, projection::Gradients<scalar_t> grads) {
  const int64_t n = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (n < in.count) projection::project_gaussian_backward(in, n, grads);
}

}  // namespace

template <typename scalar_t>
void project_forward(const projection::Inputs<scalar_t>& in, const projection::Outputs<scalar_t>& out,
                     cudaStream_t stream) {
  if (in.count == 0) return;
  forward_kernel<<<blocks_for(in.count), kThreads, 0, stream>>>(in, out);
  check_cuda(cudaGetLastError(), "forward_kernel");
}

template <typename scalar_t>
void project_backward(const projection::Inputs<scalar_t>& in, const projection::Gradients<scalar_t>& grads,
                      cudaStream_t stream) {
  if (in.count == 0) return;
  backward_kernel<<<blocks_for(in.count), kThreads, 0, stream>>>(in, grads);
  check_cuda(cudaGetLastError(), "backward_kernel");
}

#define DREAMDPO_INSTANTIATE(T)                                                                                   \
  template void project_forward<T>(const projection::Inputs<T>&, const projection::Outputs<T>&, cudaStream_t); \
  template void project_backward<T>(const projection::Inputs<T>&, const projection::Gradients<T>&, cudaStream_t);
DREAMDPO_INSTANTIATE(float)
DREAMDPO_INSTANTIATE(double)
#undef DREAMDPO_INSTANTIATE

}  // namespace dreamdpo::render::cuda
