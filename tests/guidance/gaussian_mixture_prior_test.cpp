#include "guidance/priors/gaussian_mixture_prior.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_helpers.h"

#include <cmath>

#include "core/error.h"
#include "core/rng.h"

namespace dreamdpo::guidance {
namespace {
using ::testing::HasSubstr;

const auto kF64 = at::TensorOptions().dtype(at::kDouble);

using testing_helpers::error_of;

// Three components on [3,1,2] images (D = 6): two Gaussians and one point mass.
GaussianMixturePrior small_mixture() {
  std::vector<MixtureComponent> components = {
      {"a red thing", at::tensor({0.8, -0.5, 0.1, 0.3, -0.9, 0.6}, kF64).view({3, 1, 2}), 0.3, 1.0},
      {"a blue thing", at::tensor({-0.7, 0.4, 0.9, -0.2, 0.5, -0.6}, kF64).view({3, 1, 2}), 0.5, 2.0},
      {"a blue dot", at::tensor({0.1, 0.9, -0.8, 0.7, 0.0, 0.2}, kF64).view({3, 1, 2}), 0.0, 0.5},
  };
  return GaussianMixturePrior(components);
}

TEST(GaussianMixturePrior, NoisePredictionMatchesMonteCarlo) {
  auto prior = small_mixture();
  const int64_t t = 500;
  const double ab = prior.schedule().alpha_bar(t);
  const auto z_t = at::tensor({0.2, -0.1, 0.4, 0.0, -0.3, 0.1}, kF64).view({1, 3, 1, 2});
  const auto text = prior.encode_prompt("");
  const auto exact = prior.predict_noise(z_t, at::full({1}, t, at::kLong), text.uncond, std::nullopt);

  // Self-normalised importance estimate of E[eps | z_t]: draw z0 from the mixture, weight by
  // the likelihood N(z_t; sqrt(ab) z0, (1 - ab) I), eps = (z_t - sqrt(ab) z0) / sqrt(1 - ab).
  core::Rng rng(1234);
  const int64_t n = 400000;
  const auto weights = at::tensor({1.0, 2.0, 0.5}, kF64);
  const auto k = at::multinomial(weights, n, true, rng.generator());
  std::vector<at::Tensor> means;
  std::vector<double> sigmas;
  for (const auto& c : prior.components()) {
    means.push_back(c.mean.reshape({-1}));
    sigmas.push_back(c.sigma);
  }
  const auto mu = at::stack(means).index_select(0, k);
  const auto sigma = at::tensor(sigmas, kF64).index_select(0, k).unsqueeze(1);
  const auto z0 = mu + sigma * rng.normal({n, 6}, kF64);
  const auto residual = z_t.reshape({1, 6}) - std::sqrt(ab) * z0;
  const auto log_w = -residual.pow(2).sum(1) / (2 * (1 - ab));
  const auto w = at::softmax(log_w, 0).unsqueeze(1);
  const auto estimate = (w * residual / std::sqrt(1 - ab)).sum(0);
  const double ess = 1.0 / w.pow(2).sum().item<double>();
  ASSERT_GT(ess, 20000);  // the estimate is well supported
  EXPECT_TRUE(at::allclose(exact.reshape({6}), estimate, 0, 0.02))
      << "exact " << exact.reshape({6}) << "\nMonte-Carlo " << estimate;
}

TEST(GaussianMixturePrior, SingleGaussianIsAnalytic) {
  const auto mu = at::tensor({0.5, -0.25, 0.75}, kF64).view({3, 1, 1});
  GaussianMixturePrior prior({{"a thing", mu, 0.4, 1.0}});
  const auto z_t = at::randn({4, 3, 1, 1}, kF64);
  const auto t = at::tensor({10, 300, 600, 990}, at::kLong);
  const auto text = prior.encode_prompt("thing");
  const auto eps = prior.predict_noise(z_t, t, text.cond.expand({4, 1}), std::nullopt);
  for (int64_t i = 0; i < 4; ++i) {
    const double ab = prior.schedule().alpha_bar(t[i].item<int64_t>());
    const auto expected = std::sqrt(1 - ab) * (z_t[i] - std::sqrt(ab) * mu) / (ab * 0.16 + 1 - ab);
    EXPECT_TRUE(at::allclose(eps[i], expected, 1e-12, 1e-12)) << i;
  }
}

TEST(GaussianMixturePrior, PosteriorMeanAgreesWithTheOneStepEstimate) {
  auto prior = small_mixture();
  const auto z_t = at::randn({5, 3, 1, 2}, kF64);
  const auto t = at::tensor({50, 200, 400, 700, 950}, at::kLong);
  const auto w = prior.encode_prompt("").uncond.expand({5, 3});
  const auto eps = prior.predict_noise(z_t, t, w, std::nullopt);
  const auto via_eps = prior.schedule().predict_x0(z_t, t, eps);
  EXPECT_TRUE(at::allclose(prior.posterior_mean_x0(z_t, t, w), via_eps, 1e-9, 1e-9));
}

TEST(GaussianMixturePrior, PromptSelectsComponentsAndCfgScaleOneIsConditional) {
  auto prior = small_mixture();
  const auto text = prior.encode_prompt("A BLUE one!");
  EXPECT_TRUE(at::equal(text.cond, at::tensor({0.0, 2.0, 0.5}, kF64).unsqueeze(0)));
  EXPECT_TRUE(at::equal(text.uncond, at::tensor({1.0, 2.0, 0.5}, kF64).unsqueeze(0)));
  const auto z_t = at::randn({2, 3, 1, 2}, kF64);
  const auto t = at::tensor({300, 800}, at::kLong);
  const auto guided = predict_noise_cfg(prior, z_t, t, text, 1.0, std::nullopt);
  const auto cond = prior.predict_noise(z_t, t, text.cond.expand({2, 3}), std::nullopt);
  EXPECT_TRUE(at::allclose(guided.guided, cond, 1e-12, 1e-12));
  EXPECT_TRUE(at::allclose(guided.cond, cond, 1e-12, 1e-12));
  // A larger scale moves the prediction further from the unconditional one.
  const auto uncond = prior.predict_noise(z_t, t, text.uncond.expand({2, 3}), std::nullopt);
  const auto strong = predict_noise_cfg(prior, z_t, t, text, 5.0, std::nullopt);
  EXPECT_TRUE(at::allclose(strong.guided, uncond + 5.0 * (cond - uncond), 1e-12, 1e-12));
}

TEST(GaussianMixturePrior, UnknownWordsAndImpossiblePromptsAreClearErrors) {
  auto prior = small_mixture();
  const auto unknown = error_of([&] { prior.encode_prompt("a blue zebra"); });
  EXPECT_THAT(unknown, HasSubstr("'zebra'"));
  EXPECT_THAT(unknown, HasSubstr("blue, dot, red, thing"));
  EXPECT_THAT(error_of([&] { prior.encode_prompt("red dot"); }), HasSubstr("no template"));
}

TEST(GaussianMixturePrior, ResponsibilitiesConcentrateNearAMeanAtSmallT) {
  auto prior = small_mixture();
  const auto mu = prior.components()[1].mean.unsqueeze(0);
  const double ab = prior.schedule().alpha_bar(20);
  const auto r = prior.responsibilities(std::sqrt(ab) * mu, at::full({1}, 20, at::kLong),
                                        prior.encode_prompt("").uncond);
  EXPECT_GT(r[0][1].item<double>(), 0.999);
  EXPECT_NEAR(r.sum().item<double>(), 1.0, 1e-12);
}

TEST(GaussianMixturePrior, RejectsInconsistentComponents) {
  EXPECT_THROW(GaussianMixturePrior({}), Error);
  EXPECT_THROW(GaussianMixturePrior({{"a", at::zeros({3, 2, 2}), -1.0, 1.0}}), Error);
  EXPECT_THROW(GaussianMixturePrior({{"a", at::zeros({3, 2, 2}), 0.1, 1.0}, {"b", at::zeros({3, 4, 4}), 0.1, 1.0}}), Error);
}

TEST(ShapeTemplates, RenderKnownPixels) {
  const auto prior = make_shape_templates_prior(32, 0.05);
  ASSERT_EQ(prior.components().size(), 9u);
  const auto vocabulary = prior.vocabulary();
  for (const char* word : {"red", "green", "blue", "circle", "square", "triangle"}) {
    EXPECT_TRUE(vocabulary.count(word)) << word;
  }
  const auto& red_circle = prior.components()[0];
  ASSERT_EQ(red_circle.caption, "a red circle");
  const auto image = (red_circle.mean + 1) / 2;
  EXPECT_NEAR(image[0][16][16].item<float>(), 0.9, 1e-5);   // red inside
  EXPECT_NEAR(image[1][16][16].item<float>(), 0.1, 1e-5);
  EXPECT_NEAR(image[1][0][0].item<float>(), 1.0, 1e-5);     // white corner
  // The circle (radius 0.6) covers pi r^2 / 4 of the [-1,1]^2 image.
  const double coverage = (1 - image[1]).div(0.9).mean().item<double>();
  EXPECT_NEAR(coverage, M_PI * 0.36 / 4, 0.01);
}

}  // namespace
}  // namespace dreamdpo::guidance
