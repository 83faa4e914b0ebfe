#include "render/gaussian_rasterizer.h"

#include <torch/csrc/autograd/custom_function.h>

#include <cmath>

#include "core/error.h"
#include "render/gaussian_composite.h"
#include "scene/gaussians.h"

namespace dreamdpo::render {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The compositing step as an autograd Function over the hand-written kernels.
class CompositeFunction : public torch::autograd::Function<CompositeFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& means2d, const at::Tensor& conics,
                               const at::Tensor& opacities, const at::Tensor& colours,
                               const at::Tensor& depths, const at::Tensor& visible,
                               const at::Tensor& background, int64_t width, int64_t height) {
#ifdef DREAMDPO_GAUSSIAN_CUDA_KERNEL
    auto out = means2d.is_cuda() ? composite_forward_cuda(means2d, conics, opacities, colours, depths, visible,
                                                          background, width, height)
                                 : composite_forward_cpu(means2d, conics, opacities, colours, depths, visible,
                                                         background, width, height);
#else
    auto out = composite_forward_cpu(means2d, conics, opacities, colours, depths, visible, background,
                                     width, height);
#endif
    ctx->save_for_backward({means2d, conics, opacities, colours, depths, background, out.tile_offsets,
                            out.tile_ids, out.alpha});
    ctx->saved_data["width"] = width;
    ctx->saved_data["height"] = height;
    return {out.rgb, out.alpha, out.depth};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const int64_t width = ctx->saved_data["width"].toInt();
    const int64_t height = ctx->saved_data["height"].toInt();
    const auto& alpha = saved[8];
    auto grad_or_zero = [&](const at::Tensor& g, const at::Tensor& like) {
      return g.defined() ? g.contiguous() : at::zeros_like(like);
    };
    const auto grad_rgb = grad_or_zero(grads[0], at::empty({alpha.size(0), 3, height, width}, alpha.options()));
    const auto grad_alpha = grad_or_zero(grads[1], alpha);
    const auto grad_depth = grad_or_zero(grads[2], alpha);
#ifdef DREAMDPO_GAUSSIAN_CUDA_KERNEL
    const auto backward = saved[0].is_cuda() ? composite_backward_cuda : composite_backward_cpu;
#else
    const auto backward = composite_backward_cpu;
#endif
    const auto g = backward(saved[0], saved[1], saved[2], saved[3], saved[4], saved[5], saved[6], saved[7],
                            grad_rgb, grad_alpha, grad_depth, width, height);
    // d rgb / d background = final transmittance = 1 - alpha.
    const auto grad_background = (grad_rgb * (1 - alpha)).sum({0, 2, 3});
    return {g.means2d, g.conics, g.opacities, g.colours, g.depths, at::Tensor(), grad_background,
            at::Tensor(), at::Tensor()};
  }
};

}  // namespace

ProjectedGaussians project_gaussians(const at::Tensor& means, const at::Tensor& scales,
                                     const at::Tensor& rotations, const camera::CameraBatch& cams,
                                     const RasterSettings& settings) {
  check(means.dim() == 2 && means.size(1) == 3, "rasterizer: means must be [N,3], got ", means.sizes());
  const int64_t n = means.size(0);
  check(scales.sizes() == means.sizes(), "rasterizer: scales must be [N,3], got ", scales.sizes());
  check(rotations.dim() == 2 && rotations.size(0) == n && rotations.size(1) == 4,
        "rasterizer: rotations must be [N,4], got ", rotations.sizes());
  check(cams.size() >= 1 && cams.c2w.dim() == 3, "rasterizer: need at least one camera");
  check(settings.width >= 1 && settings.height >= 1, "rasterizer: image size must be positive");
  const auto options = means.options();
  const auto c2w = cams.c2w.to(options.dtype(at::kDouble)).detach();
  const auto w2c = at::inverse(c2w).to(options);
  const auto rot = w2c.slice(1, 0, 3).slice(2, 0, 3);            // [B,3,3]
  const auto trans = w2c.slice(1, 0, 3).select(2, 3);            // [B,3]
  const auto p = at::matmul(means.unsqueeze(0), rot.transpose(1, 2)) + trans.unsqueeze(1);  // [B,N,3]
  const auto x = p.select(2, 0), y = p.select(2, 1);
  const auto depth = -p.select(2, 2);
  const auto visible = (depth > settings.near_plane).detach();
  // Culled Gaussians get a harmless depth so no inf/NaN enters the graph.
  const auto d = at::where(visible, depth, at::ones_like(depth));
  const auto fovy = cams.fovy.to(options.dtype(at::kDouble)).detach();
  const auto focal = (0.5 * static_cast<double>(settings.height) / at::tan(0.5 * fovy)).to(options).view({-1, 1});
  const auto u = 0.5 * static_cast<double>(settings.width) + focal * x / d;
  const auto v = 0.5 * static_cast<double>(settings.height) - focal * y / d;  // rows grow downwards

  // 2D covariance J W (R S)(R S)^T W^T J^T, with W the world-to-camera rotation and J the
  // Jacobian of (u, v) w.r.t. camera coordinates (depth = -z). Factored as T T^T, T = J W R S.
  const auto m = scene::rotation_matrices(rotations) * scales.unsqueeze(1);  // R diag(s) [N,3,3]
  const auto zero = at::zeros_like(d);
  const auto j = at::stack({focal / d, zero, focal * x / (d * d), zero, -focal / d, -focal * y / (d * d)}, 2)
                     .view({d.size(0), d.size(1), 2, 3});
  const auto t = at::matmul(at::matmul(j, rot.unsqueeze(1)), m.unsqueeze(0));  // [B,N,2,3]
  const auto cov = at::matmul(t, t.transpose(2, 3));                             // [B,N,2,2]
  const auto s00 = cov.select(3, 0).select(2, 0) + settings.low_pass;
  const auto s01 = cov.select(3, 1).select(2, 0);
  const auto s11 = cov.select(3, 1).select(2, 1) + settings.low_pass;
  const auto det = s00 * s11 - s01 * s01;
  ProjectedGaussians out;
  out.means2d = at::stack({u, v}, 2);
  out.conics = at::stack({s11 / det, -s01 / det, s00 / det}, 2);
  out.depths = depth;
  out.visible = visible;
  return out;
}

RasterOutput rasterize_gaussians(const at::Tensor& means, const at::Tensor& scales,
                                 const at::Tensor& rotations, const at::Tensor& opacities,
                                 const at::Tensor& colours, const camera::CameraBatch& cams,
                                 const RasterSettings& settings) {
  const auto proj = project_gaussians(means, scales, rotations, cams, settings);
  const int64_t b = cams.size(), n = means.size(0);
  check(opacities.numel() == n, "rasterizer: opacities must be [N] or [N,1], got ", opacities.sizes());
  check((colours.dim() == 2 && colours.size(0) == n && colours.size(1) == 3) ||
            (colours.dim() == 3 && colours.size(0) == b && colours.size(1) == n && colours.size(2) == 3),
        "rasterizer: colours must be [N,3] or [B,N,3], got ", colours.sizes());
  const auto options = means.options();
  const auto background = settings.background.defined() ? settings.background.to(options).view({3})
                                                         : at::zeros({3}, options);
  const auto opac = opacities.to(options).reshape({1, n}).expand({b, n}).contiguous();
  const auto col = (colours.dim() == 2 ? colours.to(options).unsqueeze(0).expand({b, n, 3}) : colours.to(options))
                       .contiguous();
  const at::Device device = means.device();
#ifdef DREAMDPO_GAUSSIAN_CUDA_KERNEL
  // CPU and CUDA tensors composite on their own device.
  auto here = [](const at::Tensor& t) { return t.contiguous(); };
#else
  // Built without the CUDA kernel: CUDA tensors composite on CPU copies (autograd moves the
  // gradients back).
  auto here = [](const at::Tensor& t) { return t.to(at::kCPU).contiguous(); };
#endif
  const auto outputs = CompositeFunction::apply(here(proj.means2d), here(proj.conics), here(opac), here(col),
                                                here(proj.depths), here(proj.visible), here(background),
                                                settings.width, settings.height);
  return {outputs[0].to(device), outputs[1].to(device), outputs[2].to(device), proj.means2d, proj.visible};
}

}  // namespace dreamdpo::render
