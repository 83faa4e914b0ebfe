#include "guidance/dreamdpo.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "guidance/sds.h"
#include "test_helpers.h"

namespace dreamdpo::guidance {
namespace {

// A prior with a known linear noise prediction: eps = 0.5 z_t + c, with c = +1 for the prompt
// and -1 unconditionally, so every quantity of the guidance can be computed by hand.
class LinearTestPrior : public Prior {
 public:
  std::string name() const override { return "linear-test"; }
  const NoiseSchedule& schedule() const override { return schedule_; }
  PromptConditioning encode_prompt(const std::string& prompt) override {
    return {prompt, at::ones({1, 1}, at::kDouble), -at::ones({1, 1}, at::kDouble)};
  }
  at::Tensor encode(const at::Tensor& images) override { return images * 2 - 1; }
  at::Tensor decode(const at::Tensor& z) override { return ((z + 1) / 2).clamp(0, 1); }
  at::Tensor predict_noise(const at::Tensor& z_t, const at::Tensor& t, const at::Tensor& embedding,
                           const std::optional<camera::CameraBatch>&) override {
    ++calls;
    batch_sizes.push_back(z_t.size(0));
    return 0.5 * z_t + embedding.reshape({-1, 1, 1, 1}).to(z_t.dtype());
  }
  int calls = 0;
  std::vector<int64_t> batch_sizes;

 private:
  NoiseSchedule schedule_ = NoiseSchedule::make("scaled_linear");
};

// Prefers pair member 1: the images arrive as [member 1; member 2].
class FirstMemberRanker : public rank::Ranker {
 public:
  std::string name() const override { return "first-member"; }
  at::Tensor score(const at::Tensor& images, const std::string&) override {
    const int64_t half = images.size(0) / 2;
    return at::cat({at::ones({half}), at::zeros({images.size(0) - half})});
  }
};

class FixedRanker : public rank::Ranker {
 public:
  explicit FixedRanker(std::vector<float> scores) : scores_(std::move(scores)) {}
  std::string name() const override { return "fixed"; }
  at::Tensor score(const at::Tensor&, const std::string&) override {
    return at::tensor(scores_);
  }
  std::vector<float> scores_;
};

at::Tensor col(std::vector<double> values) { return at::tensor(values, at::kDouble).reshape({-1, 1}); }

PairTerms hand_terms() {
  PairTerms terms;
  terms.eps_hat1 = col({1, 2});
  terms.eps_hat2 = col({3, 4});
  terms.eps_text1 = col({10, 20});
  terms.eps_text2 = col({30, 40});
  terms.eps1 = col({0.5, 0.5});
  terms.eps2 = col({-1, -1});
  terms.weight1 = col({0.5, 0.5});
  terms.weight2 = col({0.5, 0.5});
  terms.member1_wins = at::tensor({1, 0}, at::kInt).to(at::kBool);
  terms.gap = at::tensor({0.2, 0.005}, at::kDouble);  // view 0 above tau = 0.01, view 1 below
  return terms;
}

TEST(DreamDpoGradient, BothBranchesByHand) {
  DreamDpoConfig config;
  const auto out = dreamdpo_gradient(hand_terms(), config);
  // View 0: member 1 wins, gap >= tau: 0.5 (1 - 0.5) - 0.5 (30 - (-1)) = 0.25 - 15.5.
  EXPECT_DOUBLE_EQ(out.grad[0][0].item<double>(), -15.25);
  // View 1: member 2 wins, gap < tau: winner only, 0.5 (4 - (-1)).
  EXPECT_DOUBLE_EQ(out.grad[1][0].item<double>(), 2.5);
  EXPECT_TRUE(out.lose_fired[0].item<bool>());
  EXPECT_FALSE(out.lose_fired[1].item<bool>());
}

TEST(DreamDpoGradient, OfficialCodeSwitches) {
  DreamDpoConfig config;
  config.low_gap_subtracts_noise = false;  // official: eps_hat_win alone below tau
  config.lose_prediction = "cfg";          // loser's CFG prediction instead of text-conditional
  const auto out = dreamdpo_gradient(hand_terms(), config);
  EXPECT_DOUBLE_EQ(out.grad[0][0].item<double>(), 0.25 - 0.5 * (3 + 1));
  EXPECT_DOUBLE_EQ(out.grad[1][0].item<double>(), 0.5 * 4);
}

TEST(DreamDpoGradient, TauZeroFiresEveryNonNegativeGapAndWeightsFollowEachMember) {
  DreamDpoConfig config;
  config.tau = 0;
  auto terms = hand_terms();
  terms.weight2 = col({0.25, 0.25});
  const auto out = dreamdpo_gradient(terms, config);
  EXPECT_TRUE(out.lose_fired.all().item<bool>());
  EXPECT_DOUBLE_EQ(out.grad[0][0].item<double>(), 0.5 * 0.5 - 0.25 * 31);
  // View 1: member 2 wins with w = 0.25; member 1 loses with w = 0.5.
  EXPECT_DOUBLE_EQ(out.grad[1][0].item<double>(), 0.25 * (4 + 1) - 0.5 * (20 - 0.5));
}

struct Fixture {
  LinearTestPrior prior;
  GuidanceConfig config;
  at::Tensor z = at::linspace(-0.8, 0.8, 2 * 3 * 2 * 2, at::kDouble).reshape({2, 3, 2, 2});
  PromptConditioning text = prior.encode_prompt("anything");
  Fixture() { config.guidance_scale = 3.0; }

  GuidanceResult run(Guidance& guidance, uint64_t seed, int64_t step = 0) {
    core::Rng rng(seed);
    return guidance.compute(z, text, std::nullopt, {step, 10, &rng});
  }
};

TEST(DreamDpo, LargeTauReducesToSdsOnTheWinner) {
  Fixture f;
  f.config.dreamdpo.tau = 1e9;
  FirstMemberRanker ranker;
  PairwisePreference preference(ranker);
  DreamDpo dpo(f.config, f.prior, preference);
  ScoreDistillation sds(f.config, f.prior);
  // Same seed: SDS draws (t, eps) and DreamDPO draws (t, eps1, eps2); member 1 always wins.
  const auto a = f.run(dpo, 7);
  const auto b = f.run(sds, 7);
  EXPECT_EQ(a.stats.t, b.stats.t);
  EXPECT_TRUE(at::allclose(a.grad, b.grad, 1e-12, 1e-12));
  EXPECT_DOUBLE_EQ(a.stats.lose_fired, 0.0);
  EXPECT_DOUBLE_EQ(a.stats.score_win, 1.0);
  EXPECT_DOUBLE_EQ(a.stats.gap, 1.0);
}

TEST(DreamDpo, PushesFromTheLoserWithOneBatchedPriorCall) {
  Fixture f;
  f.config.dreamdpo.tau = 0.5;
  FirstMemberRanker ranker;
  PairwisePreference preference(ranker);
  DreamDpo dpo(f.config, f.prior, preference);
  const auto result = f.run(dpo, 11, 3);
  EXPECT_EQ(f.prior.calls, 1);
  EXPECT_EQ(f.prior.batch_sizes, std::vector<int64_t>{8});  // 2 members x (cond, uncond) x 2 views

  // Recompute by hand with the same draws.
  core::Rng rng(11);
  const auto [lo, hi] = timestep_range(f.config, 3, 10, 1000);
  const int64_t t = rng.integer(lo, hi);
  const auto eps1 = rng.normal(f.z.sizes(), f.z.options());
  const auto eps2 = rng.normal(f.z.sizes(), f.z.options());
  const double ab = f.prior.schedule().alpha_bar(t);
  const auto z_t1 = std::sqrt(ab) * f.z + std::sqrt(1 - ab) * eps1;
  const auto z_t2 = std::sqrt(ab) * f.z + std::sqrt(1 - ab) * eps2;
  const double s = f.config.guidance_scale;
  const auto eps_hat1 = 0.5 * z_t1 - 1 + s * 2;
  const auto eps_text2 = 0.5 * z_t2 + 1;
  const auto expected = (1 - ab) * ((eps_hat1 - eps1) - (eps_text2 - eps2));
  EXPECT_EQ(result.stats.t, t);
  EXPECT_TRUE(at::allclose(result.grad, expected, 1e-10, 1e-10));
  EXPECT_DOUBLE_EQ(result.stats.lose_fired, 1.0);
  EXPECT_NEAR(result.stats.grad_norm, expected.norm().item<double>(), 1e-9);
}

TEST(DreamDpo, TimestepPairsShareOneNoise) {
  Fixture f;
  f.config.dreamdpo.pairs = "timestep";
  f.config.t_min = {0.2, 0.2};
  f.config.t_max = {0.9, 0.9};
  f.config.dreamdpo.tau = 0;
  FirstMemberRanker ranker;
  PairwisePreference preference(ranker);
  DreamDpo dpo(f.config, f.prior, preference);
  const auto result = f.run(dpo, 5);
  core::Rng rng(5);
  const int64_t t1 = rng.integer(200, 900);
  const auto eps = rng.normal(f.z.sizes(), f.z.options());
  const int64_t t2 = rng.integer(200, 900);
  ASSERT_EQ(result.stats.t, t1);
  ASSERT_EQ(result.stats.t2, t2);
  const double ab1 = f.prior.schedule().alpha_bar(t1);
  const double ab2 = f.prior.schedule().alpha_bar(t2);
  const auto z_t1 = std::sqrt(ab1) * f.z + std::sqrt(1 - ab1) * eps;
  const auto z_t2 = std::sqrt(ab2) * f.z + std::sqrt(1 - ab2) * eps;
  const auto expected = (1 - ab1) * (0.5 * z_t1 - 1 + 6 - eps) - (1 - ab2) * (0.5 * z_t2 + 1 - eps);
  EXPECT_TRUE(at::allclose(result.grad, expected, 1e-10, 1e-10));
}

TEST(PairwisePreference, SecondRankerCombinesWithOrFromItsStartStep) {
  FixedRanker primary({0.0f, 0.3f, 1.0f, 0.1f});    // view 0: member 2 wins; view 1: member 1
  FixedRanker secondary({2.0f, 0.0f, 1.0f, 5.0f});  // view 0: member 1 strictly better
  const auto images = at::zeros({2, 3, 1, 1});
  core::Rng rng(0);
  PairwisePreference only_primary(primary);
  auto p = only_primary.compare(images, images, "p", 0, rng);
  EXPECT_FALSE(p.member1_wins[0].item<bool>());
  EXPECT_TRUE(p.member1_wins[1].item<bool>());

  PairwisePreference combined(primary, &secondary, /*start=*/5, /*prob=*/1.0);
  EXPECT_FALSE(combined.compare(images, images, "p", 4, rng).secondary_used);
  auto q = combined.compare(images, images, "p", 5, rng);
  EXPECT_TRUE(q.secondary_used);
  EXPECT_TRUE(q.member1_wins[0].item<bool>());  // secondary flips view 0 to member 1
  EXPECT_TRUE(q.member1_wins[1].item<bool>());  // OR keeps the primary's verdict
  EXPECT_FLOAT_EQ(q.score1[0].item<float>(), 0.0f);  // reported scores stay the primary's

  PairwisePreference never(primary, &secondary, 0, 0.0);
  EXPECT_FALSE(never.compare(images, images, "p", 9, rng).secondary_used);
}

// A ranker that is down: what the LMM ranker throws after its retries.
class DownRanker : public rank::Ranker {
 public:
  std::string name() const override { return "down"; }
  at::Tensor score(const at::Tensor&, const std::string&) override { throw rank::RankerUnavailable("no answer"); }
};

TEST(PairwisePreference, WeightedCombinationRanksBySumOfScores) {
  FixedRanker primary({0.0f, 0.3f, 1.0f, 0.1f});
  FixedRanker secondary({2.0f, 0.0f, 1.0f, 5.0f});
  const auto images = at::zeros({2, 3, 1, 1});
  core::Rng rng(0);
  PairwisePreference weighted(primary, &secondary, 0, 1.0, Combine::kWeighted, 0.5);
  const auto p = weighted.compare(images, images, "p", 0, rng);
  // member 1: 0 + 0.5*2 = 1.0 vs member 2: 1 + 0.5*1 = 1.5 -> member 2; view 1: 0.3 vs 0.1 + 2.5 -> member 2.
  EXPECT_TRUE(at::allclose(p.score1, at::tensor({1.0f, 0.3f})));
  EXPECT_TRUE(at::allclose(p.score2, at::tensor({1.5f, 2.6f})));
  EXPECT_FALSE(p.member1_wins[0].item<bool>());
  EXPECT_FALSE(p.member1_wins[1].item<bool>());  // OR would have kept member 1 here
  PairwisePreference heavier(primary, &secondary, 0, 1.0, Combine::kWeighted, 2.0);
  EXPECT_TRUE(heavier.compare(images, images, "p", 0, rng).member1_wins[0].item<bool>());  // 4 vs 3
  EXPECT_EQ(parse_combine("weighted"), Combine::kWeighted);
  EXPECT_THAT(testing_helpers::error_of([] { parse_combine("and"); }), ::testing::HasSubstr("or | weighted"));
}

TEST(PairwisePreference, FailingRankerFallsBackToTheOtherAndIsCounted) {
  FixedRanker primary({0.0f, 0.3f, 1.0f, 0.1f});
  DownRanker down;
  const auto images = at::zeros({2, 3, 1, 1});
  core::Rng rng(0);
  PairwisePreference second_down(primary, &down, 0, 1.0);
  const auto p = second_down.compare(images, images, "p", 0, rng);
  EXPECT_EQ(p.fallbacks, 1);
  EXPECT_FALSE(p.secondary_used);
  EXPECT_FALSE(p.member1_wins[0].item<bool>());  // the primary's verdict alone
  EXPECT_TRUE(p.member1_wins[1].item<bool>());
  // Not asked this step (before its start): no fallback either.
  PairwisePreference later(primary, &down, 5, 1.0);
  EXPECT_EQ(later.compare(images, images, "p", 0, rng).fallbacks, 0);

  PairwisePreference first_down(down, &primary, 0, 0.0);  // the second stands in for the first
  const auto q = first_down.compare(images, images, "p", 0, rng);
  EXPECT_EQ(q.fallbacks, 1);
  EXPECT_TRUE(q.secondary_used);
  EXPECT_FLOAT_EQ(q.score2[0].item<float>(), 1.0f);
  PairwisePreference alone(down);
  const auto r = alone.compare(images, images, "p", 0, rng);  // a tie, not a stop
  EXPECT_EQ(r.fallbacks, 1);
  EXPECT_FLOAT_EQ((r.score1 - r.score2).abs().sum().item<float>(), 0.0f);
}

TEST(SurrogateLoss, BackpropagatesTheGuidanceGradientOverViews) {
  auto z = at::randn({4, 3, 2, 2}, at::kDouble).requires_grad_(true);
  const auto g = at::randn({4, 3, 2, 2}, at::kDouble);
  surrogate_loss(z, g).backward();
  EXPECT_TRUE(at::allclose(z.grad(), g / 4.0, 1e-12, 1e-12));
}

TEST(SanitizeGradient, ClampsAndZeroesNonFinite) {
  const auto g = at::tensor({1.0, -5.0, std::nan(""), INFINITY}, at::kDouble);
  const auto out = sanitize_gradient(g, 2.0);
  EXPECT_TRUE(at::equal(out, at::tensor({1.0, -2.0, 0.0, 0.0}, at::kDouble)));
}

}  // namespace
}  // namespace dreamdpo::guidance
