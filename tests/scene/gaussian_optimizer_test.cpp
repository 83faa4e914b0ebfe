// GaussianAdam against the Adam formula, and density control keeping parameters and optimiser
// moments in step.
#include <gtest/gtest.h>

#include <cmath>

#include "scene/background.h"
#include "scene/gaussian_densifier.h"
#include "scene/gaussian_optimizer.h"
#include "scene/gaussians.h"
#include "test_helpers.h"

namespace dreamdpo::scene {
namespace {

GaussianCloud small_cloud(int64_t n, uint64_t seed = 3) {
  GaussiansConfig config;
  config.count = n;
  core::Rng rng(seed);
  return GaussianCloud(config, rng);
}

void set_grads(GaussianCloud& cloud, double value) {
  for (auto& p : cloud.parameters()) p.mutable_grad() = at::full_like(p, value).detach();
}

TEST(GaussianAdam, MatchesTheAdamFormulaWithPerGroupRates) {
  auto cloud = small_cloud(5);
  GaussianLearningRates rates;
  rates.means = 0.1;
  rates.sh_dc = 0.2;
  rates.means_final_factor = 1.0;
  GaussianAdam adam(rates, 0.9, 0.99, 1e-15);
  const auto means0 = cloud.means().detach().clone();
  const auto dc0 = cloud.sh_dc().detach().clone();
  // Two steps with gradients g1 = 1 then g2 = -0.5 (every element).
  set_grads(cloud, 1.0);
  adam.step(cloud, 0.0);
  set_grads(cloud, -0.5);
  adam.step(cloud, 0.5);
  double m = 0, v = 0, update = 0;
  const double grads[] = {1.0, -0.5};
  for (int k = 1; k <= 2; ++k) {
    const double g = grads[k - 1];
    m = 0.9 * m + 0.1 * g;
    v = 0.99 * v + 0.01 * g * g;
    update += (m / (1 - std::pow(0.9, k))) / (std::sqrt(v / (1 - std::pow(0.99, k))) + 1e-15);
  }
  EXPECT_TRUE(at::allclose(cloud.means().detach(), means0 - 0.1 * update, 1e-6, 1e-6));
  EXPECT_TRUE(at::allclose(cloud.sh_dc().detach(), dc0 - 0.2 * update, 1e-6, 1e-6));
  EXPECT_EQ(adam.steps_taken(), 2);
}

TEST(GaussianAdam, MeansRateDecaysExponentially) {
  GaussianLearningRates rates;
  rates.means = 0.01;
  rates.means_final_factor = 0.01;
  EXPECT_DOUBLE_EQ(rates.rate("means", 0.0), 0.01);
  EXPECT_NEAR(rates.rate("means", 0.5), 0.001, 1e-12);
  EXPECT_NEAR(rates.rate("means", 1.0), 0.0001, 1e-12);
  EXPECT_DOUBLE_EQ(rates.rate("sh_dc", 0.7), rates.sh_dc);
}

TEST(GaussianAdam, StateRoundTripContinuesIdentically) {
  auto a = small_cloud(6);
  GaussianAdam adam_a({});
  set_grads(a, 0.3);
  adam_a.step(a, 0.1);
  // Copy everything into a second optimiser and cloud, then take the same step on both.
  auto b = GaussianCloud::from_state(a.state());
  GaussianAdam adam_b({});
  adam_b.load_state(adam_a.state(), b);
  set_grads(a, -0.2);
  set_grads(b, -0.2);
  adam_a.step(a, 0.2);
  adam_b.step(b, 0.2);
  for (const auto& key : GaussianCloud::parameter_keys()) {
    EXPECT_TRUE(at::equal(a.parameter(key).detach(), b.parameter(key).detach())) << key;
  }
}

TEST(GaussianAdam, KeepAndAppendRowsMoveMomentsWithTheirGaussians) {
  auto cloud = small_cloud(4);
  GaussianAdam adam({});
  // Distinct gradients per row so each row's moments are recognisable.
  for (auto& p : cloud.parameters()) {
    auto shape = std::vector<int64_t>(p.dim(), 1);
    shape[0] = -1;
    p.mutable_grad() = at::arange(1, 5, p.options().requires_grad(false)).view(shape).expand_as(p).contiguous();
  }
  adam.step(cloud, 0.0);
  const auto before = adam.state();
  adam.keep_rows(cloud, at::tensor({1, 0, 1, 1}).to(at::kBool));
  ASSERT_EQ(cloud.size(), 3);
  auto after = adam.state();
  const auto kept = at::tensor({0, 2, 3}, at::kLong);
  EXPECT_TRUE(at::equal(after.at("exp_avg.means"), before.at("exp_avg.means").index_select(0, kept)));
  EXPECT_TRUE(at::equal(after.at("exp_avg_sq.sh_dc"), before.at("exp_avg_sq.sh_dc").index_select(0, kept)));
  auto extra = small_cloud(2, 9).state();
  adam.append_rows(cloud, extra);
  ASSERT_EQ(cloud.size(), 5);
  after = adam.state();
  EXPECT_TRUE(at::equal(cloud.means().detach().narrow(0, 3, 2), extra.at("means")));
  EXPECT_EQ(after.at("exp_avg.means").narrow(0, 3, 2).abs().sum().item<double>(), 0.0);
  EXPECT_TRUE(cloud.means().requires_grad());
  // The moments of every group match their parameter's shape, so the next step works.
  set_grads(cloud, 0.1);
  EXPECT_NO_THROW(adam.step(cloud, 0.0));
}

// A cloud with hand-set sizes and opacities, for density control.
GaussianCloud control_cloud() {
  auto state = small_cloud(4).state();
  state["means"] = at::tensor(std::vector<float>{0, 0, 0, 0.2f, 0, 0, -0.2f, 0, 0, 0, 0.2f, 0}).view({4, 3});
  // Gaussian 0 small, 1 large, 2 small, 3 small.
  state["log_scales"] = at::log(at::tensor({0.01f, 0.01f, 0.01f, 0.1f, 0.05f, 0.02f, 0.01f, 0.01f, 0.01f, 0.01f,
                                            0.01f, 0.01f})
                                    .view({4, 3}));
  // Gaussian 3 nearly transparent.
  state["opacity_logits"] = at::logit(at::tensor({0.5f, 0.5f, 0.5f, 0.001f})).view({4, 1});
  return GaussianCloud::from_state(state);
}

TEST(Densifier, ClonesSmallSplitsLargePrunesTransparentAndKeepsOptimiserInStep) {
  auto cloud = control_cloud();
  GaussianAdam adam({});
  set_grads(cloud, 0.01);
  adam.step(cloud, 0.0);
  DensifyConfig config;
  config.grad_threshold = 0.5;
  config.split_scale = 0.04;   // x radius 1: Gaussian 1 (max scale 0.1) splits
  config.prune_opacity = 0.01;
  Densifier densifier(config, 1.0);
  // Screen gradients (pixels of a 2-pixel image: NDC factor 1): Gaussians 0 and 1 are hot.
  const auto grad = at::tensor(std::vector<float>{1, 0, 1, 0, 0.1f, 0, 0.1f, 0}).view({1, 4, 2});
  densifier.accumulate(grad, at::ones({1, 4}, at::kBool), 2);
  core::Rng rng(1);
  const auto parent_means = cloud.means().detach().clone();
  const auto parent_scales = cloud.scales().detach().clone();
  const auto report = densifier.densify_and_prune(cloud, adam, rng);
  EXPECT_EQ(report.cloned, 1);
  EXPECT_EQ(report.split, 1);
  EXPECT_EQ(report.pruned, 1);
  // 4 + 1 clone + 2 children - split parent - pruned = 5.
  ASSERT_EQ(cloud.size(), 5);
  EXPECT_EQ(report.count, 5);
  const auto means = cloud.means().detach();
  // Survivors in order: 0, 2, clone of 0, then the two children of 1.
  EXPECT_TRUE(at::equal(means[0], parent_means[0]));
  EXPECT_TRUE(at::equal(means[1], parent_means[2]));
  EXPECT_TRUE(at::equal(means[2], parent_means[0]));
  const auto child_scales = cloud.scales().detach().narrow(0, 3, 2);
  EXPECT_TRUE(at::allclose(child_scales[0], parent_scales[1] / 1.6, 1e-5, 1e-7));
  // The children lie near their parent (within a few of its sigmas).
  EXPECT_LT((means.narrow(0, 3, 2) - parent_means[1]).abs().max().item<double>(), 0.5);
  for (const auto& [key, value] : adam.state()) {
    if (key == "step") continue;
    EXPECT_EQ(value.size(0), 5) << key;
  }
  // Statistics restart after each pass.
  EXPECT_EQ(densifier.state().at("densify.seen").sum().item<double>(), 0.0);
}

TEST(Densifier, RespectsMaxCountAndSchedule) {
  auto cloud = control_cloud();
  GaussianAdam adam({});
  set_grads(cloud, 0.01);
  adam.step(cloud, 0.0);
  DensifyConfig config;
  config.grad_threshold = 1e-6;
  config.prune_opacity = 0.0;
  config.max_count = 5;
  config.start = 10;
  config.interval = 10;
  config.until = 0.5;
  Densifier densifier(config, 1.0);
  EXPECT_FALSE(densifier.due(8, 100));
  EXPECT_TRUE(densifier.due(19, 100));
  EXPECT_FALSE(densifier.due(20, 100));
  EXPECT_FALSE(densifier.due(59, 100));
  densifier.accumulate(at::ones({1, 4, 2}), at::ones({1, 4}, at::kBool), 16);
  core::Rng rng(1);
  const auto report = densifier.densify_and_prune(cloud, adam, rng);
  EXPECT_EQ(report.cloned + report.split, 1);
  EXPECT_LE(cloud.size(), 5);
}

TEST(Background, CompositesLikeTheRasterizerBackground) {
  const auto rgb = at::rand({2, 3, 4, 4}) * 0.5;
  const auto alpha = at::rand({2, 1, 4, 4});
  const auto colours = at::tensor({0.2f, 0.4f, 0.6f, 1.0f, 0.0f, 0.5f}).view({2, 3});
  const auto out = Background::composite(rgb, alpha, colours);
  EXPECT_NEAR(out[1][2][3][1].item<double>(),
              rgb[1][2][3][1].item<double>() + (1 - alpha[1][0][3][1].item<double>()) * 0.5, 1e-6);
}

TEST(Background, RandomModeDrawsPerViewColoursAndLearnedModeLearns) {
  BackgroundConfig config;
  config.mode = "random";
  config.random_prob = 1.0;
  Background random(config, at::kCPU);
  core::Rng rng(5);
  const auto colours = random.training(4, rng);
  EXPECT_EQ(colours.sizes(), at::IntArrayRef({4, 3}));
  EXPECT_GT((colours[0] - colours[1]).abs().sum().item<double>(), 0.0);

  config.mode = "learned";
  config.colour = {0.5, 0.5, 0.5};
  Background learned(config, at::kCPU);
  // Gradient descent on (bg - 0.9)^2 moves the colour towards 0.9.
  for (int i = 0; i < 50; ++i) {
    const auto bg = learned.training(1, rng);
    (bg - 0.9).pow(2).sum().backward();
    learned.step(0.05);
  }
  EXPECT_GT(learned.fixed(1).mean().item<double>(), 0.49);  // fixed colour is the configured one
  EXPECT_GT(learned.training(1, rng).mean().item<double>(), 0.7);
  EXPECT_EQ(learned.state().size(), 4u);
}

TEST(Background, RejectsBadConfig) {
  BackgroundConfig config;
  config.mode = "checkerboard";
  EXPECT_NE(testing_helpers::error_of([&] { config.validate("background"); }).find("solid, random or learned"),
            std::string::npos);
}

}  // namespace
}  // namespace dreamdpo::scene
