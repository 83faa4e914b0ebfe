// Renders a GaussianCloud from a batch of cameras over per-view background colours: the one
// place where the loop, validation renders and exports turn Gaussians into images.
#pragma once
#include <ATen/ATen.h>

#include "camera/camera.h"
#include "render/gaussian_rasterizer.h"
#include "scene/gaussians.h"

namespace dreamdpo::generate {

// background [B,3] or [3]. The result's rgb is composited over it; alpha, depth, means2d and
// visible as the rasterizer returns them.
render::RasterOutput render_cloud(const scene::GaussianCloud& cloud, const camera::CameraBatch& cameras,
                                  int64_t size, const at::Tensor& background);

// The same, without autograd and in chunks of views (for turntables and exports).
at::Tensor render_cloud_images(const scene::GaussianCloud& cloud, const camera::CameraBatch& cameras,
                               int64_t size, const at::Tensor& background_colour, int64_t chunk = 8);

}  // namespace dreamdpo::generate
