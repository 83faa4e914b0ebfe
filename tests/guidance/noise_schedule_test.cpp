#include "guidance/noise_schedule.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "guidance/guidance.h"

namespace dreamdpo::guidance {
namespace {

TEST(NoiseSchedule, ScaledLinearMatchesStableDiffusionValues) {
  const auto schedule = NoiseSchedule::make("scaled_linear");
  EXPECT_EQ(schedule.num_steps(), 1000);
  EXPECT_NEAR(schedule.alpha_bar(0), 1 - 0.00085, 1e-12);
  // Reference values of Stable Diffusion's alphas_cumprod (betas linear in sqrt from
  // 0.00085 to 0.012 over 1000 steps).
  EXPECT_NEAR(schedule.alpha_bar(499), 0.2776696504, 1e-9);
  EXPECT_NEAR(schedule.alpha_bar(999), 0.0046600985, 1e-9);
}

TEST(NoiseSchedule, LinearAndCosineAreMonotone) {
  for (const char* kind : {"linear", "cosine"}) {
    const auto ab = NoiseSchedule::make(kind, 1000, 1e-4, 0.02).alphas_cumprod();
    EXPECT_TRUE((ab.slice(0, 1) < ab.slice(0, 0, 999)).all().item<bool>()) << kind;
    EXPECT_GT(ab[0].item<double>(), 0.99) << kind;
  }
  EXPECT_NEAR(NoiseSchedule::make("linear", 1000, 1e-4, 0.02).alpha_bar(0), 1 - 1e-4, 1e-12);
  EXPECT_THROW(NoiseSchedule::make("wavy"), Error);
}

TEST(NoiseSchedule, QSampleAndX0EstimateByHand) {
  const auto schedule = NoiseSchedule::make("scaled_linear");
  const auto z0 = at::full({1, 2}, 1.0, at::kDouble);
  const auto eps = at::full({1, 2}, 2.0, at::kDouble);
  const auto t = at::full({1}, 0, at::kLong);
  const auto z_t = schedule.q_sample(z0, t, eps);
  EXPECT_NEAR(z_t[0][0].item<double>(), std::sqrt(0.99915) + std::sqrt(0.00085) * 2.0, 1e-12);
  // The one-step estimate inverts q_sample when given the true noise, at any t.
  const auto zs = at::randn({3, 4, 5}, at::kDouble);
  const auto es = at::randn({3, 4, 5}, at::kDouble);
  const auto ts = at::tensor({10, 500, 980}, at::kLong);
  EXPECT_TRUE(at::allclose(schedule.predict_x0(schedule.q_sample(zs, ts, es), ts, es), zs, 1e-9, 1e-9));
  // w(t) = 1 - alpha_bar_t.
  EXPECT_NEAR(schedule.weight(at::full({1}, 999, at::kLong), z0).item<double>(), 1 - 0.0046600985, 1e-9);
}

TEST(NoiseSchedule, RejectsOutOfRangeTimesteps) {
  const auto schedule = NoiseSchedule::make("scaled_linear");
  EXPECT_THROW(schedule.alpha_bar(1000), Error);
  EXPECT_THROW(schedule.alpha_bar(at::full({1}, -1, at::kLong), at::zeros({1})), Error);
}

TEST(TimestepRange, AnnealsLinearlyLikeTheOfficialPreset) {
  using Range = std::pair<int64_t, int64_t>;
  GuidanceConfig config;  // t_min 0.98 -> 0.02, t_max 0.98 -> 0.50
  config.anneal_steps = 8000;
  EXPECT_EQ(timestep_range(config, 0, 10000, 1000), (Range{980, 980}));
  EXPECT_EQ(timestep_range(config, 4000, 10000, 1000), (Range{500, 740}));
  EXPECT_EQ(timestep_range(config, 8000, 10000, 1000), (Range{20, 500}));
  EXPECT_EQ(timestep_range(config, 9999, 10000, 1000), (Range{20, 500}));
  config.anneal_steps = 0;  // over the whole run
  EXPECT_EQ(timestep_range(config, 99, 100, 1000), (Range{20, 500}));
}

}  // namespace
}  // namespace dreamdpo::guidance
