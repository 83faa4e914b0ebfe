// The built-in reward model, the judge and the "builtin" ranker: shapes, errors, strict loading,
// that training steps reduce the losses, and that the shipped weights do their job.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/optim/adam.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "camera/orbit.h"
#include "models/builtin/clip_reward.h"
#include "models/builtin/judge.h"
#include "models/module_io.h"
#include "rank/builtin_ranker.h"
#include "shapeworld/caption.h"
#include "shapeworld/layout.h"
#include "shapeworld/renderer.h"
#include "shapeworld/train_reward.h"
#include "test_helpers.h"

namespace dreamdpo::models {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing_helpers::error_of;

const fs::path kShipped = fs::path(DREAMDPO_SOURCE_DIR) / "models" / "builtin";

std::shared_ptr<ClipReward> fresh_reward() {
  at::manual_seed(0);
  return std::make_shared<ClipReward>(ClipRewardConfig{}, shapeworld_tokenizer());
}

at::Tensor render_caption(const std::string& caption, int64_t size, uint64_t seed = 4) {
  core::Rng rng(seed);
  const auto scene = shapeworld::layout(shapeworld::parse_caption(caption), rng);
  shapeworld::RenderOptions options;
  options.supersample = 2;
  return shapeworld::render_scene(scene, camera::fixed_orbit(2, 20, 2.7, 45, 30), size, size, options).rgb;
}

TEST(ClipReward, ShapesUnitEmbeddingsAndAnyImageSize) {
  auto model = fresh_reward();
  for (int64_t size : {32, 64, 48}) {
    const auto e = model->encode_images(at::rand({3, 3, size, size}));
    EXPECT_EQ(e.sizes(), (std::vector<int64_t>{3, 128}));
    EXPECT_TRUE(at::allclose(e.norm(2, -1), at::ones({3}), 1e-4, 1e-5));
  }
  const auto t = model->encode_captions({"a red cube", "two big green donuts next to a black cone"});
  EXPECT_EQ(t.sizes(), (std::vector<int64_t>{2, 128}));
  EXPECT_NEAR(model->logit_scale().item<float>(), 1 / 0.07, 1e-3);
  // fit_images averages 2x2 blocks when halving: a checkerboard becomes flat grey.
  const auto checker = (at::arange(64).view({8, 8}) + at::arange(64).view({8, 8}).floor_divide(8)).remainder(2);
  const auto fitted = fit_images(checker.to(at::kFloat).expand({1, 3, 8, 8}), 4);
  EXPECT_TRUE(at::allclose(fitted, at::full({1, 3, 4, 4}, 0.5)));
}

TEST(ClipReward, RankerSurfacesUnknownWordsAndBadImages) {
  rank::BuiltinRanker ranker(fresh_reward());
  const auto message = error_of([&] { ranker.score(at::rand({1, 3, 32, 32}), "a zebra"); });
  EXPECT_THAT(message, HasSubstr("zebra"));
  EXPECT_THAT(message, HasSubstr("cube"));  // the vocabulary is listed
  EXPECT_THAT(error_of([&] { ranker.score(at::rand({3, 32, 32}), "a red cube"); }), HasSubstr("[N,3,H,W]"));
}

TEST(ClipReward, FewTrainingStepsReduceTheLoss) {
  auto model = fresh_reward();
  shapeworld::BatchOptions options;
  options.scenes = 8;
  options.negatives = 4;
  options.degraded = true;
  options.render.supersample = 1;
  core::Rng rng(1);
  const auto batch = shapeworld::make_batch(options, rng, at::kCPU);
  torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(1e-3));
  const double first = shapeworld::reward_loss(*model, batch).total.item<double>();
  for (int i = 0; i < 8; ++i) {
    adam.zero_grad();
    const auto loss = shapeworld::reward_loss(*model, batch);
    loss.total.backward();
    for (const auto& p : model->parameters()) ASSERT_TRUE(p.grad().defined());
    adam.step();
  }
  EXPECT_LT(shapeworld::reward_loss(*model, batch).total.item<double>(), 0.8 * first);
}

TEST(Judge, ShapesAndFewTrainingStepsReduceTheLoss) {
  at::manual_seed(0);
  Judge judge(JudgeConfig{}, shapeworld_tokenizer());
  EXPECT_EQ(judge.score(at::rand({2, 3, 64, 64}), {"a red cube", "a blue ball", "three tiny white tori"}).sizes(),
            (std::vector<int64_t>{2, 3}));
  EXPECT_THAT(error_of([&] { judge.score(at::rand({1, 3, 32, 32}), {"a zebra"}); }), HasSubstr("zebra"));
  shapeworld::BatchOptions options;
  options.scenes = 6;
  options.negatives = 3;
  options.render.supersample = 1;
  core::Rng rng(2);
  const auto batch = shapeworld::make_batch(options, rng, at::kCPU);
  // A smaller judge of the same design learns a fixed batch quickly.
  JudgeConfig small;
  small.width = 64;
  small.layers = 2;
  Judge learner(small, shapeworld_tokenizer());
  torch::optim::Adam adam(learner.parameters(), torch::optim::AdamOptions(1e-3));
  for (int i = 0; i < 80; ++i) {
    adam.zero_grad();
    const auto loss = shapeworld::judge_loss(learner, batch, 3);
    EXPECT_NEAR(loss.total.item<double>(), (loss.matching + loss.ranking).item<double>(), 1e-6);
    loss.total.backward();
    adam.step();
  }
  // Below what the best constant guess scores (ln 2 and ln 4): it tells pairs apart and ranks
  // the true caption first.
  const auto loss = shapeworld::judge_loss(learner, batch, 3);
  EXPECT_LT(loss.matching.item<double>(), 0.6);
  EXPECT_LT(loss.ranking.item<double>(), 0.8 * std::log(4.0));
}

TEST(ShippedModels, LoadStrictlyAndRejectTheWrongFile) {
  auto reward = ClipReward::load(kShipped / "reward.safetensors");
  auto judge = Judge::load(kShipped / "judge.safetensors");
  EXPECT_EQ(reward->tokenizer().words(), shapeworld::vocabulary());
  EXPECT_THAT(error_of([&] { ClipReward::load(kShipped / "judge.safetensors"); }),
              HasSubstr("not a built-in reward model"));
  EXPECT_THAT(error_of([&] { Judge::load(kShipped / "reward.safetensors"); }), HasSubstr("not a built-in judge"));
  // The weights themselves do not fit the other architecture either.
  EXPECT_THAT(error_of([&] { load_module(*fresh_reward(), kShipped / "judge.safetensors"); }),
              HasSubstr("does not fit the model"));
  EXPECT_THAT(error_of([&] { ClipReward::load(kShipped / "missing.safetensors"); }), HasSubstr("train-builtin"));
  for (const char* name : {"reward.safetensors", "judge.safetensors"}) {
    EXPECT_LE(fs::file_size(kShipped / name), 4u << 20) << name;
  }
}

// Guards the shipped files against a bad retraining or a loader change: 0.939 on 1000 held-out
// scenes (models/builtin/reward.md); the first 100 of those scenes must stay well above chance
// (about 0.11) and near the target.
TEST(ShippedModels, RewardPicksTrueCaptionsOn100HeldOutScenes) {
  auto model = ClipReward::load(kShipped / "reward.safetensors");
  const auto metrics = shapeworld::evaluate_reward(*model, 100, at::kCPU);
  EXPECT_GE(metrics.accuracy, 0.85) << metrics.summary();
  EXPECT_GE(metrics.aspect_accuracy("relation"), 0.95) << metrics.summary();
}

TEST(ShippedModels, RewardPrefersCleanOverDegradedRenders) {
  auto model = ClipReward::load(kShipped / "reward.safetensors");
  const auto metrics = shapeworld::evaluate_reward(*model, 30, at::kCPU);
  EXPECT_GE(metrics.clean_preference, 0.8) << metrics.summary();
  // Blurred copies of the same renders score lower under their own caption.
  rank::BuiltinRanker ranker(model);
  const std::string caption = "a red cube on top of a blue sphere";
  const auto clean = render_caption(caption, 32);
  core::Rng rng(0);
  const auto blurred = shapeworld::degrade(clean, shapeworld::Degradation::blur, 1.0, rng);
  EXPECT_TRUE(ranker.score(clean, caption).gt(ranker.score(blurred, caption)).all().item<bool>());
}

TEST(ShippedModels, RankerScoresAreFiniteAndOrderedAt32And64Pixels) {
  rank::BuiltinRanker ranker(ClipReward::load(kShipped / "reward.safetensors"));
  for (int64_t size : {32, 64}) {
    const auto cube = render_caption("a red cube", size);
    const auto ball = render_caption("two blue spheres", size);
    const auto scores = ranker.score(at::cat({cube, ball}), "a red cube");
    ASSERT_EQ(scores.sizes(), (std::vector<int64_t>{4}));
    EXPECT_TRUE(at::isfinite(scores).all().item<bool>());
    EXPECT_GT(scores.narrow(0, 0, 2).min().item<float>(), scores.narrow(0, 2, 2).max().item<float>()) << size;
  }
}

// The judge is at 0.907 on 1000 held-out scenes and 0.89 on these 100 (models/builtin/judge.md,
// target 0.90): the guard sits below that, with room for the noise of 100 scenes.
TEST(ShippedModels, JudgePicksTrueCaptionsOn100HeldOutScenes) {
  auto judge = Judge::load(kShipped / "judge.safetensors");
  const auto metrics = shapeworld::evaluate_judge(*judge, 100, at::kCPU);
  EXPECT_GE(metrics.accuracy, 0.82) << metrics.summary();
}

}  // namespace
}  // namespace dreamdpo::models
