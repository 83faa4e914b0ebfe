#include "export/density_grid.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "core/rng.h"
#include "test_helpers.h"

namespace dreamdpo::exporters {
namespace {

using ::testing::HasSubstr;
using testing_helpers::error_of;

// A cloud from activated values: colours in [0,1], opacities in (0,1).
scene::GaussianCloud make_cloud(const at::Tensor& means, const at::Tensor& scales, const at::Tensor& rotations,
                                const at::Tensor& opacities, const at::Tensor& colours) {
  const int64_t n = means.size(0);
  return scene::GaussianCloud::from_state({{"means", means},
                                           {"log_scales", scales.log()},
                                           {"rotations", rotations},
                                           {"opacity_logits", at::logit(opacities).view({n, 1})},
                                           {"sh_dc", (colours - 0.5) / scene::kShC0},
                                           {"sh_rest", at::zeros({n, 0, 3})}});
}

std::array<double, 3> grid_point(const DensityGrid& g, int64_t i, int64_t j, int64_t k) {
  const int64_t r = g.density.size(0);
  const int64_t idx[3] = {i, j, k};
  std::array<double, 3> p{};
  for (int a = 0; a < 3; ++a) p[a] = g.box_min[a] + (double(g.box_max[a]) - g.box_min[a]) * idx[a] / (r - 1);
  return p;
}

TEST(DensityGridTest, IsotropicGaussianMatchesClosedForm) {
  const double mu[3] = {0.1, -0.2, 0.05}, s = 0.3, opacity = 0.7;
  const auto cloud = make_cloud(at::tensor({0.1f, -0.2f, 0.05f}).view({1, 3}), at::full({1, 3}, s),
                                at::tensor({2.0f, 0.0f, 0.0f, 0.0f}).view({1, 4}),  // unnormalised identity
                                at::full({1}, opacity), at::full({1, 3}, 0.5));
  DensityGridOptions options;
  options.resolution = 21;
  options.box_min = std::array<float, 3>{-1, -1, -1};
  options.box_max = std::array<float, 3>{1, 1, 1};
  options.cutoff_sigmas = 100;  // no cutoff: compare with the untruncated closed form
  const auto grid = sample_density_grid(cloud, options);
  ASSERT_EQ(grid.density.sizes(), at::IntArrayRef({21, 21, 21}));
  ASSERT_EQ(grid.colour.sizes(), at::IntArrayRef({21, 21, 21, 3}));
  for (auto [i, j, k] : std::vector<std::array<int64_t, 3>>{{11, 8, 10}, {0, 0, 0}, {14, 9, 13}, {20, 3, 7}}) {
    const auto p = grid_point(grid, i, j, k);
    double d2 = 0;
    for (int a = 0; a < 3; ++a) d2 += (p[a] - mu[a]) * (p[a] - mu[a]);
    const double expected = opacity * std::exp(-0.5 * d2 / (s * s));
    EXPECT_NEAR(grid.density[i][j][k].item<double>(), expected, 1e-6 * std::max(1.0, expected) + 1e-12)
        << i << "," << j << "," << k;
  }
  EXPECT_NEAR(grid.colour[11][8][10][1].item<double>(), 0.5, 1e-5);
}

// A rotated anisotropic Gaussian against the density evaluated with an explicit inverse
// covariance; small blocks and a tiny pair budget must not change the result.
TEST(DensityGridTest, AnisotropicGaussianMatchesExplicitCovarianceAndChunkingIsInvisible) {
  core::Rng rng(3);
  const auto f = at::TensorOptions().dtype(at::kFloat);
  const auto means = rng.uniform({3, 3}, f) * 0.6 - 0.3;
  const auto scales = rng.uniform({3, 3}, f) * 0.15 + 0.05;
  const auto rotations = rng.normal({3, 4}, f);
  const auto opacities = rng.uniform({3}, f) * 0.8 + 0.1;
  const auto cloud = make_cloud(means, scales, rotations, opacities, rng.uniform({3, 3}, f));
  DensityGridOptions options;
  options.resolution = 12;
  options.box_min = std::array<float, 3>{-0.8f, -0.7f, -0.9f};
  options.box_max = std::array<float, 3>{0.8f, 0.9f, 0.6f};
  const auto grid = sample_density_grid(cloud, options);
  options.block = 3;
  options.max_pairs = 7;
  const auto chunked = sample_density_grid(cloud, options);
  EXPECT_TRUE(at::allclose(grid.density, chunked.density, 1e-6, 1e-9));
  EXPECT_TRUE(at::allclose(grid.colour, chunked.colour, 1e-5, 1e-6));

  // Reference: Sigma = R S^2 R^T from the normalised quaternion, inverted explicitly.
  const auto q = (rotations / rotations.norm(2, 1, true)).to(at::kDouble);
  double max_error = 0;
  for (int64_t i = 0; i < 12; i += 3) {
    for (int64_t j = 0; j < 12; j += 2) {
      for (int64_t k = 0; k < 12; ++k) {
        const auto p = grid_point(grid, i, j, k);
        double expected = 0;
        for (int64_t g = 0; g < 3; ++g) {
          const double w = q[g][0].item<double>(), x = q[g][1].item<double>(), y = q[g][2].item<double>(),
                       z = q[g][3].item<double>();
          const auto R = at::tensor({1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
                                     2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
                                     2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)},
                                    at::kDouble)
                             .view({3, 3});
          const auto sigma = R.matmul(at::diag(scales[g].to(at::kDouble).pow(2))).matmul(R.t());
          const auto d = at::tensor({p[0], p[1], p[2]}, at::kDouble) - means[g].to(at::kDouble);
          const double d2 = d.dot(at::linalg_solve(sigma, d)).item<double>();
          if (d2 <= 9.0) expected += opacities[g].item<double>() * std::exp(-0.5 * d2);
        }
        max_error = std::max(max_error, std::abs(grid.density[i][j][k].item<double>() - expected));
      }
    }
  }
  EXPECT_LT(max_error, 1e-5);
}

TEST(DensityGridTest, ColourNearEachCentreIsThatGaussiansColour) {
  const auto cloud = make_cloud(at::tensor({-0.5f, 0.0f, 0.0f, 0.5f, 0.0f, 0.0f}).view({2, 3}),
                                at::full({2, 3}, 0.1), at::tensor({1.0f, 0.0f, 0.0f, 0.0f, 1.0f, 0.0f, 0.0f, 0.0f}).view({2, 4}),
                                at::full({2}, 0.9), at::tensor({0.9f, 0.1f, 0.1f, 0.1f, 0.2f, 0.8f}).view({2, 3}));
  DensityGridOptions options;
  options.cutoff_sigmas = 6;  // so that both reach the midpoint, 5 sigma from each
  options.resolution = 21;    // default box: x in [-0.8, 0.8], y and z in [-0.3, 0.3]
  const auto grid = sample_density_grid(cloud, options);
  EXPECT_NEAR(grid.box_min[0], -0.8, 1e-5);
  EXPECT_NEAR(grid.box_max[0], 0.8, 1e-5);
  EXPECT_NEAR(grid.box_max[2], 0.3, 1e-5);
  // x = -0.8 + 1.6 i / 20: i = 4 is x = -0.48, i = 16 is x = 0.48; y = z = 0 at index 10.
  const auto left = grid.colour[4][10][10], right = grid.colour[16][10][10];
  EXPECT_TRUE(at::allclose(left, at::tensor({0.9f, 0.1f, 0.1f}), 0, 1e-4)) << left;
  EXPECT_TRUE(at::allclose(right, at::tensor({0.1f, 0.2f, 0.8f}), 0, 1e-4)) << right;
  EXPECT_NEAR(grid.density[4][10][10].item<double>(), 0.9 * std::exp(-0.5 * 0.02 * 0.02 / 0.01), 1e-5);
  // Halfway between them, the two are equally weighted.
  EXPECT_TRUE(at::allclose(grid.colour[10][10][10], at::tensor({0.5f, 0.15f, 0.45f}), 0, 1e-4));
}

TEST(DensityGridTest, BadOptionsGiveClearErrors) {
  const auto cloud = make_cloud(at::zeros({1, 3}), at::full({1, 3}, 0.1), at::tensor({1.0f, 0.0f, 0.0f, 0.0f}).view({1, 4}),
                                at::full({1}, 0.5), at::full({1, 3}, 0.5));
  DensityGridOptions options;
  options.resolution = 1;
  EXPECT_THAT(error_of([&] { sample_density_grid(cloud, options); }), HasSubstr("resolution must be >= 2"));
  options.resolution = 4;
  options.box_min = std::array<float, 3>{0, 0, 0};
  EXPECT_THAT(error_of([&] { sample_density_grid(cloud, options); }), HasSubstr("give both box_min and box_max"));
  options.box_max = std::array<float, 3>{1, -1, 1};
  EXPECT_THAT(error_of([&] { sample_density_grid(cloud, options); }), HasSubstr("axis 1"));
}

}  // namespace
}  // namespace dreamdpo::exporters
