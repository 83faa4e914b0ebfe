// Plain C++ interface between the LibTorch wrapper (gaussian_projection_cuda.cpp) and the CUDA
// kernels (gaussian_projection_cuda.cu): raw device pointers only, so nvcc compiles the kernels
// without LibTorch headers. Shapes and layouts are those of gaussian_projection.h.
#pragma once
#include <cuda_runtime_api.h>

#include "render/gaussian_projection_math.h"

namespace dreamdpo::render::cuda {

// One thread per Gaussian, all views in that thread.
template <typename scalar_t>
void project_forward(const projection::Inputs<scalar_t>& in, const projection::Outputs<scalar_t>& out,
                     cudaStream_t stream);

// One thread per Gaussian summing its views in order: deterministic, no atomics.
template <typename scalar_t>
void project_backward(const projection::Inputs<scalar_t>& in, const projection::Gradients<scalar_t>& grads,
                      cudaStream_t stream);

}  // namespace dreamdpo::render::cuda
