// The per-pixel compositing kernel of the Gaussian rasterizer: forward and hand-written
// backward. Every device has the same pair of functions; rasterize_gaussians picks by the
// device of its tensors. Inputs are per view: means2d [B,N,2], conics [B,N,3], opacities
// [B,N], colours [B,N,3], depths [B,N], visible [B,N] bool, background [3]; all contiguous,
// one floating dtype.
#pragma once
#include <ATen/ATen.h>

#include "render/gaussian_composite_constants.h"

// The CUDA kernel (gaussian_composite_cuda.cu) is built whenever CUDA is on.
#ifdef DREAMDPO_WITH_CUDA
#define DREAMDPO_GAUSSIAN_CUDA_KERNEL 1
#endif

namespace dreamdpo::render {

struct CompositeForward {
  at::Tensor rgb, alpha, depth;  // [B,3,H,W], [B,1,H,W], [B,1,H,W]
  // Per-tile depth-sorted Gaussian lists, reused by the backward: tile t of view b holds
  // tile_ids[tile_offsets[b*T+t] .. tile_offsets[b*T+t+1]).
  at::Tensor tile_offsets;  // [B*T+1] int64
  at::Tensor tile_ids;      // [total] int32
};

struct CompositeGrads {
  at::Tensor means2d, conics, opacities, colours, depths;  // shapes of the inputs
};

CompositeForward composite_forward_cpu(const at::Tensor& means2d, const at::Tensor& conics,
                                       const at::Tensor& opacities, const at::Tensor& colours,
                                       const at::Tensor& depths, const at::Tensor& visible,
                                       const at::Tensor& background, int64_t width, int64_t height);

// grad_rgb [B,3,H,W], grad_alpha [B,1,H,W], grad_depth [B,1,H,W] (defined, contiguous).
CompositeGrads composite_backward_cpu(const at::Tensor& means2d, const at::Tensor& conics,
                                      const at::Tensor& opacities, const at::Tensor& colours,
                                      const at::Tensor& depths, const at::Tensor& background,
                                      const at::Tensor& tile_offsets, const at::Tensor& tile_ids,
                                      const at::Tensor& grad_rgb, const at::Tensor& grad_alpha,
                                      const at::Tensor& grad_depth, int64_t width, int64_t height);

// The CUDA kernel has the same contracts (tensors on one CUDA device; the lists it returns
// live there too, with the same layout). Without it CUDA tensors composite on the CPU.
#ifdef DREAMDPO_GAUSSIAN_CUDA_KERNEL
CompositeForward composite_forward_cuda(const at::Tensor& means2d, const at::Tensor& conics,
                                        const at::Tensor& opacities, const at::Tensor& colours,
                                        const at::Tensor& depths, const at::Tensor& visible,
                                        const at::Tensor& background, int64_t width, int64_t height);
CompositeGrads composite_backward_cuda(const at::Tensor& means2d, const at::Tensor& conics,
                                       const at::Tensor& opacities, const at::Tensor& colours,
                                       const at::Tensor& depths, const at::Tensor& background,
                                       const at::Tensor& tile_offsets, const at::Tensor& tile_ids,
                                       const at::Tensor& grad_rgb, const at::Tensor& grad_alpha,
                                       const at::Tensor& grad_depth, int64_t width, int64_t height);
#endif

}  // namespace dreamdpo::render
