// Plain C++ interface between the LibTorch wrapper (gaussian_composite_cuda.cpp) and the CUDA
// kernels (gaussian_composite_cuda.cu): raw device pointers only, so nvcc compiles the kernels
// without LibTorch headers. Shapes and layouts are those of gaussian_composite.h.
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <functional>

namespace dreamdpo::render::cuda {

// Device scratch memory that stays valid until the wrapper returns (the wrapper hands out
// LibTorch tensors, so the caching allocator serves it, stream-ordered).
using Allocate = std::function<void*(size_t bytes)>;

template <typename scalar_t>
struct Splats {
  int64_t views, count, width, height;  // B, N, W, H
  const scalar_t* means2d;              // [B,N,2]
  const scalar_t* conics;               // [B,N,3]
  const scalar_t* opacities;            // [B,N]
  const scalar_t* colours;              // [B,N,3]
  const scalar_t* depths;               // [B,N]
  const bool* visible;                  // [B,N]; may be null in the backward (lists exist then)
  const scalar_t* background;           // [3]
};

inline int64_t tiles_x(int64_t width) { return (width + 15) / 16; }
inline int64_t tiles_y(int64_t height) { return (height + 15) / 16; }

// Step 1 of the forward: per-Gaussian tile counts and their exclusive prefix sum into
// gaussian_offsets [B*N+1]. Returns the number of (tile, Gaussian) entries (synchronises).
template <typename scalar_t>
int64_t count_tile_entries(const Splats<scalar_t>& s, int64_t* gaussian_offsets, const Allocate& allocate,
                           cudaStream_t stream);

// Step 2: the per-tile lists, sorted by depth with ties by Gaussian id: tile_offsets [B*T+1],
// tile_ids [total].
template <typename scalar_t>
void build_tile_lists(const Splats<scalar_t>& s, const int64_t* gaussian_offsets, int64_t total,
                      int64_t* tile_offsets, int32_t* tile_ids, const Allocate& allocate, cudaStream_t stream);

// Step 3: compositing; rgb [B,3,H,W], alpha and depth [B,1,H,W].
template <typename scalar_t>
void composite_forward(const Splats<scalar_t>& s, const int64_t* tile_offsets, const int32_t* tile_ids,
                       scalar_t* rgb, scalar_t* alpha, scalar_t* depth, cudaStream_t stream);

template <typename scalar_t>
struct SplatGrads {
  scalar_t *means2d, *conics, *opacities, *colours, *depths;  // shapes of the inputs
};

// The backward of composite_forward for the lists it was given (total = tile_ids length).
template <typename scalar_t>
void composite_backward(const Splats<scalar_t>& s, const int64_t* tile_offsets, const int32_t* tile_ids,
                        int64_t total, const scalar_t* grad_rgb, const scalar_t* grad_alpha,
                        const scalar_t* grad_depth, const SplatGrads<scalar_t>& out, const Allocate& allocate,
                        cudaStream_t stream);

}  // namespace dreamdpo::render::cuda
