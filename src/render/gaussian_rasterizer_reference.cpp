#include "render/gaussian_rasterizer_reference.h"

#include "core/error.h"
#include "render/gaussian_composite.h"
#include "scene/gaussians.h"

namespace dreamdpo::render {

ProjectedGaussians project_gaussians_reference(const at::Tensor& means, const at::Tensor& scales,
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

RasterOutput rasterize_gaussians_reference(const at::Tensor& means, const at::Tensor& scales,
                                           const at::Tensor& rotations, const at::Tensor& opacities,
                                           const at::Tensor& colours, const camera::CameraBatch& cams,
                                           const RasterSettings& settings) {
  const auto proj = project_gaussians_reference(means, scales, rotations, cams, settings);
  const int64_t b = cams.size(), n = means.size(0), h = settings.height, w = settings.width;
  const auto options = means.options();
  const auto background = settings.background.defined() ? settings.background.to(options).view({3})
                                                        : at::zeros({3}, options);
  const auto opac = opacities.reshape({1, 1, n});
  const auto col = colours.dim() == 2 ? colours.unsqueeze(0).expand({b, n, 3}) : colours;  // [B,N,3]

  // Pixel centres [P,2], row-major.
  const auto xs = at::arange(w, options) + 0.5, ys = at::arange(h, options) + 0.5;
  const auto grid = at::meshgrid({ys, xs}, "ij");
  const auto pixels = at::stack({grid[1].reshape({-1}), grid[0].reshape({-1})}, 1);  // [P,2]

  // Sort every view's Gaussians front to back (stable: ties keep index order, as the kernel).
  const auto order = std::get<1>(at::sort(proj.depths.detach(), /*stable=*/true, /*dim=*/1, false));  // [B,N]
  auto take = [&](const at::Tensor& t) {  // gather along N for [B,N,...]
    auto index = order;
    for (int64_t d = 2; d < t.dim(); ++d) index = index.unsqueeze(-1);
    std::vector<int64_t> shape(t.sizes().begin(), t.sizes().end());
    shape[0] = b;
    return at::gather(t.expand(shape), 1, index.expand(shape));
  };
  const auto m2 = take(proj.means2d), q = take(proj.conics), z = take(proj.depths);
  const auto vis = take(proj.visible), o = take(opac.reshape({1, n}).expand({b, n})), c = take(col);

  const auto d = pixels.view({1, -1, 1, 2}) - m2.unsqueeze(1);  // [B,P,N,2]
  const auto dx = d.select(3, 0), dy = d.select(3, 1);
  const auto qa = q.select(2, 0).unsqueeze(1), qb = q.select(2, 1).unsqueeze(1), qc = q.select(2, 2).unsqueeze(1);
  const auto maha = qa * dx * dx + 2 * qb * dx * dy + qc * dy * dy;  // [B,P,N]
  auto alpha = at::clamp_max(o.unsqueeze(1) * at::exp(-0.5 * maha), kMaxAlpha);
  const auto keep = (maha <= kCutoffMahalanobis2) & (alpha >= kMinAlpha) & vis.unsqueeze(1) &
                    (o.unsqueeze(1) >= kMinAlpha);
  alpha = alpha * keep.to(options.dtype());
  // Early stop: a Gaussian is included only while the transmittance after it stays >= 1e-4.
  const auto after = at::cumprod((1 - alpha).detach(), 2);
  alpha = alpha * (after >= kMinTransmittance).to(options.dtype());
  const auto one_minus = 1 - alpha;
  const auto before = at::cat({at::ones_like(one_minus.narrow(2, 0, 1)), at::cumprod(one_minus, 2).narrow(2, 0, n - 1)}, 2);
  const auto weights = alpha * before;                           // [B,P,N]
  const auto t_final = at::prod(one_minus, 2, true);             // [B,P,1]
  const auto rgb = at::matmul(weights, c) + t_final * background.view({1, 1, 3});  // [B,P,3]
  const auto depth = (weights * z.unsqueeze(1)).sum(2, true);     // [B,P,1]
  RasterOutput out;
  out.rgb = rgb.permute({0, 2, 1}).reshape({b, 3, h, w});
  out.alpha = (1 - t_final).permute({0, 2, 1}).reshape({b, 1, h, w});
  out.depth = depth.permute({0, 2, 1}).reshape({b, 1, h, w});
  return out;
}

}  // namespace dreamdpo::render
