#include "scene/gaussians.h"

#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>

#include "core/config.h"
#include "core/error.h"
#include "core/safetensors.h"

namespace dreamdpo::scene {
namespace {

TEST(GaussianCloud, InitialisesInsideTheSphereUniformlyInVolume) {
  GaussiansConfig config;
  config.count = 8000;
  config.radius = 0.7;
  config.sh_degree = 2;
  core::Rng rng(3);
  GaussianCloud cloud(config, rng);
  ASSERT_EQ(cloud.size(), 8000);
  const auto r = cloud.means().detach().norm(2, 1);
  EXPECT_LE(r.max().item<double>(), 0.7 + 1e-6);
  // Uniform in volume: P(r < R/2) = 1/8, P(r < R * 0.5^(1/3)) = 1/2.
  EXPECT_NEAR((r < 0.35).to(at::kDouble).mean().item<double>(), 0.125, 0.015);
  EXPECT_NEAR((r < 0.7 * std::cbrt(0.5)).to(at::kDouble).mean().item<double>(), 0.5, 0.02);
  // Not clustered on one side.
  EXPECT_LT(cloud.means().detach().mean(0).abs().max().item<double>(), 0.02);
  EXPECT_EQ(cloud.sh_rest().sizes(), (at::IntArrayRef{8000, 8, 3}));
  EXPECT_TRUE(at::allclose(cloud.scales(), at::full({8000, 3}, 0.02)));
  EXPECT_TRUE(at::allclose(cloud.opacities(), at::full({8000}, 0.1)));
  const auto colours = cloud.colours();
  EXPECT_GE(colours.min().item<double>(), 0.0);
  EXPECT_LE(colours.max().item<double>(), 1.0 + 1e-6);
  for (const auto& p : cloud.parameters()) EXPECT_TRUE(p.requires_grad() && p.is_leaf());
}

TEST(GaussianCloud, ActivationsFollowThe3dgsConventions) {
  GaussiansConfig config;
  config.count = 4;
  core::Rng rng(1);
  GaussianCloud cloud(config, rng);
  at::NoGradGuard no_grad;
  cloud.sh_dc().copy_(at::tensor({-10.0f, 0.0f, 1.0f}).repeat({4, 1}));
  cloud.rotations().copy_(at::tensor({2.0f, 0.0f, 0.0f, 0.0f}).repeat({4, 1}));
  const auto colours = cloud.colours();
  EXPECT_FLOAT_EQ(colours[0][0].item<float>(), 0.0f);  // clamped at 0
  EXPECT_FLOAT_EQ(colours[0][1].item<float>(), 0.5f);
  EXPECT_NEAR(colours[0][2].item<float>(), 0.5 + kShC0, 1e-6);
  EXPECT_TRUE(at::allclose(cloud.normalised_rotations(), at::tensor({1.0f, 0.0f, 0.0f, 0.0f}).repeat({4, 1})));
}

TEST(GaussianCloud, ViewColoursEvaluateTheShBands) {
  GaussiansConfig config;
  config.count = 3;
  config.sh_degree = 3;
  core::Rng rng(2);
  GaussianCloud cloud(config, rng);
  const auto cameras = at::tensor({0.f, 0.f, 3.f, 2.f, 1.f, -1.f}).view({2, 3});
  // With every higher band zero, the view colour is the DC colour from every direction.
  EXPECT_TRUE(at::allclose(cloud.view_colours(cameras), cloud.colours().unsqueeze(0).expand({2, 3, 3}), 1e-6, 1e-6));
  {
    at::NoGradGuard no_grad;
    cloud.means().zero_();
    cloud.sh_rest()[0][1].fill_(0.4f);  // band 1, the z term
  }
  // Camera on +z looking at a Gaussian at the origin: direction (0, 0, -1), so the z term adds
  // C1 * (-1) * 0.4; the degree-2 and 3 terms are zero.
  const auto colours = cloud.view_colours(cameras);
  const auto expected = (cloud.colours()[0] - 0.4886025119029199 * 0.4).clamp_min(0.0);
  EXPECT_TRUE(at::allclose(colours[0][0], expected, 1e-6, 1e-6)) << colours[0][0] << expected;
  EXPECT_TRUE(at::allclose(colours[0][1], cloud.colours()[1], 1e-6, 1e-6));
  colours.sum().backward();
  EXPECT_GT(cloud.sh_rest().grad().abs().sum().item<double>(), 0.0);
}

TEST(GaussianCloud, StateRoundTripsThroughSafetensors) {
  GaussiansConfig config;
  config.count = 50;
  config.sh_degree = 3;
  core::Rng rng(7);
  GaussianCloud cloud(config, rng);
  {
    at::NoGradGuard no_grad;
    cloud.sh_rest().normal_();
    cloud.rotations().normal_();
  }
  const auto state = cloud.state();
  ASSERT_EQ(state.size(), 6u);
  const auto bytes = core::serialize_safetensors(state);
  const auto loaded = GaussianCloud::from_state(core::parse_safetensors(bytes, "memory").tensors);
  EXPECT_EQ(loaded.sh_degree(), 3);
  const auto again = loaded.state();
  for (const auto& [key, tensor] : state) {
    ASSERT_TRUE(again.count(key)) << key;
    EXPECT_TRUE(at::equal(tensor, again.at(key))) << key;
  }
  for (const auto& p : loaded.parameters()) EXPECT_TRUE(p.requires_grad() && p.is_leaf());
  // The loaded cloud owns copies: changing it leaves the saved state alone.
  at::NoGradGuard no_grad;
  const_cast<GaussianCloud&>(loaded).means().add_(1.0);
  EXPECT_TRUE(at::equal(state.at("means"), cloud.means().detach()));
}

TEST(GaussianCloud, RejectsBadStatesAndConfigs) {
  GaussiansConfig config;
  config.count = 5;
  core::Rng rng(7);
  auto state = GaussianCloud(config, rng).state();
  auto missing = state;
  missing.erase("sh_dc");
  EXPECT_THROW(GaussianCloud::from_state(missing), Error);
  auto wrong = state;
  wrong["rotations"] = at::zeros({5, 3});
  EXPECT_THROW(GaussianCloud::from_state(wrong), Error);
  wrong = state;
  wrong["sh_rest"] = at::zeros({5, 4, 3});
  EXPECT_THROW(GaussianCloud::from_state(wrong), Error);

  for (const char* bad : {"initial_opacity: 1.5", "sh_degree: 4", "sh_degre: 1", "count: 0", "radius: -1"}) {
    GaussiansConfig rejected;
    EXPECT_THROW(core::read_config(core::parse_yaml(bad, "test"), rejected), Error) << bad;
  }
  GaussiansConfig parsed;
  core::read_config(core::parse_yaml("count: 12\nradius: 2", "test"), parsed);
  EXPECT_EQ(parsed.count, 12);
  EXPECT_DOUBLE_EQ(parsed.radius, 2.0);
}

}  // namespace
}  // namespace dreamdpo::scene
