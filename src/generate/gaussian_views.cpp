#include "generate/gaussian_views.h"

#include <ATen/core/grad_mode.h>
#include "scene/background.h"

namespace dreamdpo::generate {

render::RasterOutput render_cloud(const scene::GaussianCloud& cloud, const camera::CameraBatch& cameras,
                                  int64_t size, const at::Tensor& background) {
  const auto device = cloud.means().device();
  camera::CameraBatch cams{cameras.c2w.to(device), cameras.fovy.to(device)};
  // SH bands above 0 depend on the view direction; degree 0 is the same for every view.
  const auto colours = cloud.sh_degree() > 0
                           ? cloud.view_colours(cams.c2w.narrow(1, 0, 3).select(2, 3))
                           : cloud.colours();
  render::RasterSettings settings;
  settings.width = size;
  settings.height = size;
  auto out = render::rasterize_gaussians(cloud.means(), cloud.scales(), cloud.normalised_rotations(),
                                         cloud.opacities(), colours, cams, settings);
  const auto bg = background.dim() == 1 ? background.view({1, 3}).expand({cams.size(), 3}) : background;
  out.rgb = scene::Background::composite(out.rgb, out.alpha, bg);
  return out;
}

at::Tensor render_cloud_images(const scene::GaussianCloud& cloud, const camera::CameraBatch& cameras,
                               int64_t size, const at::Tensor& background_colour, int64_t chunk) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> parts;
  for (int64_t begin = 0; begin < cameras.size(); begin += chunk) {
    const int64_t count = std::min(chunk, cameras.size() - begin);
    camera::CameraBatch part{cameras.c2w.narrow(0, begin, count), cameras.fovy.narrow(0, begin, count)};
    parts.push_back(render_cloud(cloud, part, size, background_colour).rgb.clamp(0, 1).cpu());
  }
  return at::cat(parts, 0);
}

}  // namespace dreamdpo::generate
