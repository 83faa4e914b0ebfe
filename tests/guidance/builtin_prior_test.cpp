// The built-in prior over the shipped multi-view diffusion model: prompt errors, batch rules,
// classifier-free guidance, and that it actually draws what the prompt says.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "camera/orbit.h"
#include "core/rng.h"
#include "guidance/priors/builtin_prior.h"
#include "test_helpers.h"

namespace dreamdpo::guidance {
namespace {
using ::testing::HasSubstr;
using testing_helpers::error_of;

BuiltinPrior& shipped_prior() {
  static BuiltinPrior prior(builtin_model_path("diffusion.safetensors"), at::kCPU);
  return prior;
}

TEST(BuiltinPrior, RejectsUnknownWordsListingTheVocabulary) {
  auto& prior = shipped_prior();
  EXPECT_EQ(prior.name(), "builtin");
  EXPECT_EQ(prior.views_per_sample(), 4);
  const auto message = error_of([&] { prior.encode_prompt("a red zebra"); });
  EXPECT_THAT(message, HasSubstr("zebra"));
  EXPECT_THAT(message, HasSubstr("sphere"));
  EXPECT_THAT(message, HasSubstr("cube"));
}

TEST(BuiltinPrior, GuidedNoiseHasTheRightShapeAndBatchRulesAreChecked) {
  auto& prior = shipped_prior();
  const auto text = prior.encode_prompt("a blue cube");
  EXPECT_EQ(text.cond.dim(), 3);
  EXPECT_EQ(text.cond.size(0), 1);
  core::Rng rng(1);
  const auto cams = camera::fixed_orbit(4, 15, 2.75, 45).repeat(2);  // 2 pair members
  const auto z = rng.normal({8, 3, 32, 32}, at::kFloat);
  const auto t = at::full({8}, 600, at::kLong);
  const auto noise = predict_noise_cfg(prior, z, t, text, 7.5, cams);
  EXPECT_EQ(noise.guided.sizes(), z.sizes());
  EXPECT_TRUE(noise.guided.isfinite().all().item<bool>());
  EXPECT_GT((noise.guided - noise.cond).abs().mean().item<double>(), 1e-4) << "text must matter";
  // Deterministic in eval mode.
  EXPECT_TRUE(at::equal(predict_noise_cfg(prior, z, t, text, 7.5, cams).guided, noise.guided));
  const auto rows = text.cond.expand({6, -1, -1});
  EXPECT_THAT(error_of([&] { prior.predict_noise(z.slice(0, 0, 6), t.slice(0, 0, 6), rows, cams); }),
              HasSubstr("not a multiple of 4"));
  EXPECT_THAT(error_of([&] { prior.predict_noise(z, t, text.cond.expand({8, -1, -1}), std::nullopt); }),
              HasSubstr("one camera per image"));
  EXPECT_THAT(error_of([&] {
                prior.predict_noise(at::zeros({8, 3, 16, 16}), t, text.cond.expand({8, -1, -1}), cams);
              }),
              HasSubstr("prior.image_size=32"));
  EXPECT_TRUE(at::allclose(prior.decode(prior.encode(at::full({1, 3, 2, 2}, 0.25))), at::full({1, 3, 2, 2}, 0.25)));
}

// 20-step DDIM (eta 0, CFG 7.5) through the Prior interface, from a fixed noise.
at::Tensor sample(BuiltinPrior& prior, const std::string& prompt) {
  const auto text = prior.encode_prompt(prompt);
  const auto cams = camera::fixed_orbit(4, 15, 2.75, 45);
  core::Rng rng(0);
  auto x = rng.normal({4, 3, 32, 32}, at::kFloat);
  const auto& schedule = prior.schedule();
  const int64_t steps = 20, stride = schedule.num_steps() / steps;
  for (int64_t i = steps - 1; i >= 0; --i) {
    const int64_t t = i * stride;
    const double a = schedule.alpha_bar(t), a_prev = i > 0 ? schedule.alpha_bar(t - stride) : 1.0;
    const auto eps = predict_noise_cfg(prior, x, at::full({4}, t, at::kLong), text, 7.5, cams).guided;
    const auto x0 = ((x - std::sqrt(1 - a) * eps) / std::sqrt(a)).clamp(-1, 1);
    x = std::sqrt(a_prev) * x0 + std::sqrt(1 - a_prev) * (x - std::sqrt(a) * x0) / std::sqrt(1 - a);
  }
  return prior.decode(x);
}

// Mean colour [3] of the pixels that differ clearly from the white background.
at::Tensor object_colour(const at::Tensor& images) {
  const auto weights = ((1 - images).abs().amax(1) > 0.3).to(at::kFloat).reshape({1, -1});
  return (images.permute({1, 0, 2, 3}).reshape({3, -1}) * weights).sum(1) / weights.sum().clamp_min(1);
}

// The colour word steers the sample: "a red sphere" comes out redder than "a blue sphere" from
// the same noise, and the other way round for blue. (The shipped weights come from a short
// run whose samples keep speckle noise on the background; see models/builtin/diffusion.md.)
TEST(BuiltinPrior, SamplesFollowTheColourOfThePrompt) {
  auto& prior = shipped_prior();
  const auto red = object_colour(sample(prior, "a red sphere"));
  const auto blue = object_colour(sample(prior, "a blue sphere"));
  const double red_margin = (red[0] - red[2]).item<double>(), blue_margin = (blue[0] - blue[2]).item<double>();
  EXPECT_GT(red_margin, blue_margin + 0.2) << "red sample " << red << " blue sample " << blue;
  EXPECT_GT(red_margin, 0.0) << "red sample " << red;
  EXPECT_LT(blue_margin, 0.0) << "blue sample " << blue;
}

}  // namespace
}  // namespace dreamdpo::guidance
