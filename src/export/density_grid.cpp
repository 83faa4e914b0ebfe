#include "export/density_grid.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "core/error.h"

namespace dreamdpo::exporters {

namespace {

// Quadratic features of points p [M,3] so that features(p) . coefficients_i = d_i^2(p):
// [px^2, py^2, pz^2, px py, px pz, py pz, px, py, pz, 1]. One matmul then evaluates every
// point against every Gaussian of a block.
at::Tensor quadratic_features(const at::Tensor& p) {
  const auto x = p.select(1, 0), y = p.select(1, 1), z = p.select(1, 2);
  return at::stack({x * x, y * y, z * z, x * y, x * z, y * z, x, y, z, at::ones_like(x)}, 1);
}

// Coefficients [n,10] of (p - q)^T Q (p - q) for symmetric Q [n,3,3] and centres q [n,3].
at::Tensor quadratic_coefficients(const at::Tensor& Q, const at::Tensor& q) {
  const auto Qq = at::matmul(Q, q.unsqueeze(2)).squeeze(2);  // [n,3]
  const auto qQq = (q * Qq).sum(1);
  auto e = [&](int64_t i, int64_t j) { return Q.select(1, i).select(1, j); };
  return at::stack({e(0, 0), e(1, 1), e(2, 2), 2 * e(0, 1), 2 * e(0, 2), 2 * e(1, 2),
                    -2 * Qq.select(1, 0), -2 * Qq.select(1, 1), -2 * Qq.select(1, 2), qQq},
                   1);
}

}  // namespace

DensityGrid sample_density_grid(const scene::GaussianCloud& cloud, const DensityGridOptions& options) {
  const int64_t r = options.resolution;
  check(r >= 2, "density grid: resolution must be >= 2, got ", r);
  check(options.block >= 1, "density grid: block must be >= 1, got ", options.block);
  check(options.cutoff_sigmas > 0, "density grid: cutoff_sigmas must be > 0, got ", options.cutoff_sigmas);
  check(options.max_pairs >= 1, "density grid: max_pairs must be >= 1, got ", options.max_pairs);
  check(options.box_min.has_value() == options.box_max.has_value(),
        "density grid: give both box_min and box_max, or neither");
  check(cloud.size() > 0, "density grid: the Gaussian cloud is empty; there is nothing to sample");
  at::NoGradGuard no_grad;

  // Work in float64: the expanded quadratic form cancels large terms for small Gaussians.
  const auto f64 = [](const at::Tensor& t) { return t.detach().to(at::kDouble); };
  const auto means = f64(cloud.parameters()[0]);  // parameters() is the const accessor
  const auto device = means.device();
  const auto scales = f64(cloud.scales());
  const auto opacity = f64(cloud.opacities());
  const auto colours = f64(cloud.colours()).clamp(0.0, 1.0);
  const auto rot = scene::rotation_matrices(f64(cloud.normalised_rotations()));
  // Sigma^-1 = R diag(1/s^2) R^T; Sigma = R diag(s^2) R^T gives each Gaussian's cutoff box.
  const auto inverse_cov = at::matmul(rot * scales.pow(-2).unsqueeze(1), rot.transpose(1, 2));
  const auto cov_diagonal = (rot * rot * scales.pow(2).unsqueeze(1)).sum(2);  // [N,3]
  const auto extent = options.cutoff_sigmas * cov_diagonal.sqrt();
  const auto lower = means - extent, upper = means + extent;

  DensityGrid grid;
  if (options.box_min) {
    grid.box_min = *options.box_min;
    grid.box_max = *options.box_max;
  } else {
    const double pad = options.padding_scales * scales.max().item<double>();
    const auto lo = std::get<0>(means.min(0)).cpu(), hi = std::get<0>(means.max(0)).cpu();
    for (int a = 0; a < 3; ++a) {
      grid.box_min[a] = static_cast<float>(lo[a].item<double>() - pad);
      grid.box_max[a] = static_cast<float>(hi[a].item<double>() + pad);
    }
  }
  std::array<double, 3> step{};
  for (int a = 0; a < 3; ++a) {
    check(std::isfinite(grid.box_min[a]) && std::isfinite(grid.box_max[a]) && grid.box_max[a] > grid.box_min[a],
          "density grid: the box must satisfy box_min < box_max on every axis with finite values; axis ", a,
          " has [", grid.box_min[a], ", ", grid.box_max[a], "]");
    step[a] = (static_cast<double>(grid.box_max[a]) - grid.box_min[a]) / static_cast<double>(r - 1);
  }

  auto density = at::zeros({r, r, r}, at::TensorOptions().dtype(at::kDouble).device(device));
  auto weighted = at::zeros({r, r, r, 3}, density.options());
  const auto dopt = density.options();
  const double cutoff2 = options.cutoff_sigmas * options.cutoff_sigmas;
  auto coordinate = [&](int a, int64_t index) { return grid.box_min[a] + step[a] * double(index); };

  // Evaluates every candidate Gaussian at every grid point of a leaf block, in passes of at
  // most max_pairs point-Gaussian pairs.
  auto evaluate_leaf = [&](const std::array<int64_t, 3>& start, const std::array<int64_t, 3>& count,
                           const at::Tensor& ids_all) {
    std::array<at::Tensor, 3> axis;
    std::array<double, 3> centre{};
    for (int a = 0; a < 3; ++a) {
      centre[a] = 0.5 * (coordinate(a, start[a]) + coordinate(a, start[a] + count[a] - 1));
      axis[a] = at::arange(count[a], dopt).mul(step[a]).add(coordinate(a, start[a]) - centre[a]);
    }
    const auto mesh = at::meshgrid({axis[0], axis[1], axis[2]}, "ij");
    const auto features = quadratic_features(at::stack({mesh[0], mesh[1], mesh[2]}, 3).view({-1, 3}));
    const int64_t m = features.size(0), hits = ids_all.size(0);
    const auto centre_t = at::tensor(std::vector<double>(centre.begin(), centre.end()), dopt);
    auto block_density = at::zeros({m}, dopt);
    auto block_weighted = at::zeros({m, 3}, dopt);
    const int64_t per_pass = std::max<int64_t>(1, options.max_pairs / m);
    for (int64_t g0 = 0; g0 < hits; g0 += per_pass) {
      const auto ids = ids_all.narrow(0, g0, std::min(per_pass, hits - g0));
      // Centred on the block, so the expanded quadratic form cancels little.
      const auto coefficients =
          quadratic_coefficients(inverse_cov.index_select(0, ids), means.index_select(0, ids) - centre_t);
      const auto d2 = at::matmul(features, coefficients.t());  // [m,n]
      auto w = at::exp(d2.clamp_min(0.0).mul(-0.5)) * opacity.index_select(0, ids).unsqueeze(0);
      w.masked_fill_(d2 > cutoff2, 0.0);
      block_density += w.sum(1);
      block_weighted += at::matmul(w, colours.index_select(0, ids));
    }
    auto region = [&](at::Tensor t) {
      return t.narrow(0, start[0], count[0]).narrow(1, start[1], count[1]).narrow(2, start[2], count[2]);
    };
    region(density).copy_(block_density.view({count[0], count[1], count[2]}));
    region(weighted).copy_(block_weighted.view({count[0], count[1], count[2], 3}));
  };

  // Halves the region along its longest axis until it is a leaf block, keeping at each level
  // only the Gaussians whose cutoff box meets it: culling costs O(N log R), not O(N blocks).
  std::function<void(const std::array<int64_t, 3>&, const std::array<int64_t, 3>&, const at::Tensor&)> visit =
      [&](const std::array<int64_t, 3>& start, const std::array<int64_t, 3>& count, const at::Tensor& candidates) {
        std::vector<double> lo(3), hi(3);
        for (int a = 0; a < 3; ++a) {
          lo[a] = coordinate(a, start[a]);
          hi[a] = coordinate(a, start[a] + count[a] - 1);
        }
        const auto lo_t = at::tensor(lo, dopt), hi_t = at::tensor(hi, dopt);
        const auto meets = ((lower.index_select(0, candidates) <= hi_t) & (upper.index_select(0, candidates) >= lo_t)).all(1);
        const auto kept = candidates.masked_select(meets);
        if (kept.numel() == 0) return;
        const int split = int(std::max_element(count.begin(), count.end()) - count.begin());
        if (count[split] <= options.block) return evaluate_leaf(start, count, kept);
        auto first = count, second_start = start, second = count;
        first[split] = count[split] / 2;
        second_start[split] = start[split] + first[split];
        second[split] = count[split] - first[split];
        visit(start, first, kept);
        visit(second_start, second, kept);
      };
  visit({0, 0, 0}, {r, r, r}, at::arange(means.size(0), at::TensorOptions().dtype(at::kLong).device(device)));

  const auto colour = at::where(density.unsqueeze(3) > 0, weighted / density.unsqueeze(3).clamp_min(1e-300),
                                at::zeros_like(weighted));
  grid.density = density.to(at::kCPU, at::kFloat).contiguous();
  grid.colour = colour.clamp(0.0, 1.0).to(at::kCPU, at::kFloat).contiguous();
  return grid;
}

}  // namespace dreamdpo::exporters
