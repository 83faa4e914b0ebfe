// Slow dense reference of rasterize_gaussians for tests: every Gaussian at every pixel, in
// plain ATen ops, differentiated by autograd. Same projection (project_gaussians), same alpha
// clamp, 1/255 skip, 3-sigma truncation and early stop (as masks), same sort by depth.
// Memory is O(B * H * W * N): small scenes only.
#pragma once
#include "render/gaussian_rasterizer.h"

namespace dreamdpo::render {

RasterOutput rasterize_gaussians_reference(const at::Tensor& means, const at::Tensor& scales,
                                           const at::Tensor& rotations, const at::Tensor& opacities,
                                           const at::Tensor& colours, const camera::CameraBatch& cams,
                                           const RasterSettings& settings);

}  // namespace dreamdpo::render
