// Slow dense references of the rasterizer for tests, in plain ATen ops differentiated by
// autograd: independent of the hand-written kernels (only their constants are shared).
#pragma once
#include "render/gaussian_rasterizer.h"

namespace dreamdpo::render {

// project_gaussians in batched ATen ops (the same maths as gaussian_projection_math.h).
// Unlike the kernel, autograd also carries gradient from the outputs of culled Gaussians.
ProjectedGaussians project_gaussians_reference(const at::Tensor& means, const at::Tensor& scales,
                                               const at::Tensor& rotations, const camera::CameraBatch& cams,
                                               const RasterSettings& settings);

// rasterize_gaussians with every Gaussian at every pixel: project_gaussians_reference, the same
// alpha clamp, 1/255 skip, 3-sigma truncation and early stop (as masks), the same sort by
// depth. Memory is O(B * H * W * N): small scenes only.
RasterOutput rasterize_gaussians_reference(const at::Tensor& means, const at::Tensor& scales,
                                           const at::Tensor& rotations, const at::Tensor& opacities,
                                           const at::Tensor& colours, const camera::CameraBatch& cams,
                                           const RasterSettings& settings);

}  // namespace dreamdpo::render
