#include "render/gaussian_rasterizer.h"

#include <torch/csrc/autograd/custom_function.h>

#include "core/error.h"
#include "render/gaussian_composite.h"
#include "render/gaussian_projection.h"

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

// The projection as an autograd Function over the hand-written kernels. Cameras (w2c, focal)
// get no gradient: they never require grad in our loops.
class ProjectFunction : public torch::autograd::Function<ProjectFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& means, const at::Tensor& scales,
                               const at::Tensor& rotations, const at::Tensor& w2c, const at::Tensor& focal,
                               int64_t width, int64_t height, double near_plane, double low_pass) {
    const ProjectionParams params{width, height, near_plane, low_pass};
#ifdef DREAMDPO_WITH_CUDA
    const auto forward = means.is_cuda() ? project_forward_cuda : project_forward_cpu;
#else
    const auto forward = project_forward_cpu;
#endif
    auto out = forward(means, scales, rotations, w2c, focal, params);
    ctx->save_for_backward({means, scales, rotations, w2c, focal});
    ctx->saved_data["width"] = width;
    ctx->saved_data["height"] = height;
    ctx->saved_data["near_plane"] = near_plane;
    ctx->saved_data["low_pass"] = low_pass;
    ctx->mark_non_differentiable({out.visible});
    return {out.means2d, out.conics, out.depths, out.visible};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const ProjectionParams params{ctx->saved_data["width"].toInt(), ctx->saved_data["height"].toInt(),
                                  ctx->saved_data["near_plane"].toDouble(), ctx->saved_data["low_pass"].toDouble()};
    const auto& means = saved[0];
    const int64_t views = saved[3].size(0), n = means.size(0);
    auto grad_or_zero = [&](const at::Tensor& g, at::IntArrayRef shape) {
      return g.defined() ? g.to(means.options()).contiguous() : at::zeros(shape, means.options());
    };
    const auto g_means2d = grad_or_zero(grads[0], {views, n, 2});
    const auto g_conics = grad_or_zero(grads[1], {views, n, 3});
    const auto g_depths = grad_or_zero(grads[2], {views, n});
#ifdef DREAMDPO_WITH_CUDA
    const auto backward = means.is_cuda() ? project_backward_cuda : project_backward_cpu;
#else
    const auto backward = project_backward_cpu;
#endif
    const auto g = backward(means, saved[1], saved[2], saved[3], saved[4], params, g_means2d, g_conics, g_depths);
    return {g.means,      g.scales,     g.rotations,  at::Tensor(), at::Tensor(),
            at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

void check_projection_inputs(const at::Tensor& means, const at::Tensor& scales, const at::Tensor& rotations,
                             const camera::CameraBatch& cams, const RasterSettings& settings) {
  check(means.dim() == 2 && means.size(1) == 3, "rasterizer: means must be [N,3], got ", means.sizes());
  const int64_t n = means.size(0);
  check(means.scalar_type() == at::kFloat || means.scalar_type() == at::kDouble,
        "rasterizer: means must be float32 or float64, got ", means.scalar_type());
  check(scales.sizes() == means.sizes(), "rasterizer: scales must be [N,3], got ", scales.sizes());
  check(rotations.dim() == 2 && rotations.size(0) == n && rotations.size(1) == 4,
        "rasterizer: rotations must be [N,4], got ", rotations.sizes());
  check(cams.size() >= 1 && cams.c2w.dim() == 3 && cams.c2w.size(1) == 4 && cams.c2w.size(2) == 4,
        "rasterizer: need at least one camera with c2w [B,4,4]");
  check(cams.fovy.defined() && cams.fovy.numel() == cams.size(), "rasterizer: need one fovy per camera, got ",
        cams.fovy.defined() ? cams.fovy.numel() : 0, " for ", cams.size(), " cameras");
  check(settings.width >= 1 && settings.height >= 1, "rasterizer: image size must be positive");
}

}  // namespace

ProjectedGaussians project_gaussians(const at::Tensor& means, const at::Tensor& scales,
                                     const at::Tensor& rotations, const camera::CameraBatch& cams,
                                     const RasterSettings& settings) {
  check_projection_inputs(means, scales, rotations, cams, settings);
  const auto options = means.options();
  // Cameras are constants of the Function (no gradient): w2c and focal are formed in float64
  // and rounded to the working dtype, as the ATen reference does.
  const auto w2c = at::inverse(cams.c2w.to(options.dtype(at::kDouble)).detach()).to(options).contiguous();
  const auto fovy = cams.fovy.to(options.dtype(at::kDouble)).detach().reshape({-1});
  const auto focal = (0.5 * static_cast<double>(settings.height) / at::tan(0.5 * fovy)).to(options).contiguous();
  const ProjectionParams params{settings.width, settings.height, settings.near_plane, settings.low_pass};
  const at::Device device = means.device();
#ifdef DREAMDPO_WITH_CUDA
  auto here = [](const at::Tensor& t) { return t.contiguous(); };
#else
  // Built without the CUDA kernel: CUDA tensors project on CPU copies (autograd moves the
  // gradients back).
  auto here = [](const at::Tensor& t) { return t.to(at::kCPU).contiguous(); };
#endif
  const auto out = ProjectFunction::apply(here(means), here(scales.to(options)), here(rotations.to(options)), here(w2c),
                                          here(focal), params.width, params.height, params.near_plane,
                                          params.low_pass);
  return {out[0].to(device), out[1].to(device), out[2].to(device), out[3].to(device)};
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
