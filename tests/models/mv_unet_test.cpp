// The built-in multi-view diffusion UNet: shapes, cross-view attention, camera conditioning,
// determinism, learning, weight files (tiny configurations; the shipped file at the end).
#include <ATen/core/grad_mode.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/optim/adam.h>
#include <unistd.h>

#include <filesystem>

#include "camera/orbit.h"
#include "core/rng.h"
#include "guidance/noise_schedule.h"
#include "guidance/priors/builtin_prior.h"
#include "models/builtin/mv_unet.h"
#include "shapeworld/caption.h"
#include "shapeworld/train_diffusion.h"
#include "test_helpers.h"

namespace dreamdpo::models {
namespace {
using ::testing::HasSubstr;
using testing_helpers::error_of;

MvUnetConfig tiny_config() {
  MvUnetConfig c;
  c.base_channels = 16;
  c.multipliers = {1, 2};
  c.heads = 2;
  c.embed_dim = 32;
  c.text_width = 16;
  c.text_layers = 1;
  c.vocabulary_size = 10;
  c.max_length = 6;
  c.image_size = 16;
  return c;
}

// A tiny network whose zero-initialised output layer is made random, so inputs reach the output.
MvUnet tiny_unet(uint64_t seed) {
  at::manual_seed(seed);
  MvUnet unet(tiny_config());
  at::NoGradGuard no_grad;
  unet->conv_out->weight.normal_(0, 0.1);
  return unet;
}

struct Inputs {
  at::Tensor x, t, c2w, ids;
};
Inputs tiny_inputs(int64_t objects) {
  core::Rng rng(3);
  const int64_t n = objects * 4;
  std::vector<at::Tensor> cams;
  for (int64_t i = 0; i < objects; ++i) cams.push_back(camera::sample_orbit({}, rng).c2w);
  auto ids = at::randint(2, 10, {objects, 6}, rng.generator(), at::kLong);
  ids.select(1, 0).fill_(WordTokenizer::kStart);
  ids.slice(1, 4).fill_(WordTokenizer::kPad);
  return {rng.normal({n, 3, 16, 16}, at::kFloat), at::full({n}, 500, at::kLong), at::cat(cams),
          ids.repeat_interleave(4, 0)};
}

at::Tensor run(MvUnet& unet, const Inputs& in, bool joint = true) {
  at::NoGradGuard no_grad;
  return unet->forward(in.x, in.t, in.c2w, unet->encode_text(in.ids), joint);
}

TEST(MvUnet, ShapesAndParameterBudgetOfTheDefaultConfiguration) {
  auto unet = tiny_unet(0);
  const auto in = tiny_inputs(2);
  EXPECT_EQ(run(unet, in).sizes(), in.x.sizes());
  MvUnetConfig full;
  full.vocabulary_size = 40;
  full.max_length = 24;
  const auto count = MvUnet(full)->parameter_count();
  EXPECT_GT(count, 1000000);
  EXPECT_LT(count, 4500000) << "the shipped file must stay a few MB";
  EXPECT_THAT(error_of([&] { unet->forward(in.x.slice(0, 0, 6), in.t.slice(0, 0, 6), in.c2w.slice(0, 0, 6),
                                           unet->encode_text(in.ids.slice(0, 0, 6))); }),
              HasSubstr("not a multiple of 4 views"));
}

TEST(MvUnet, CrossViewAttentionMixesTheViewsOfOneObjectOnly) {
  auto unet = tiny_unet(1);
  auto in = tiny_inputs(2);
  const auto base = run(unet, in), base_single = run(unet, in, false);
  auto changed = in;
  changed.x = in.x.clone();
  changed.x[2].add_(1.0);  // view 2 of object 0
  const auto out = run(unet, changed), out_single = run(unet, changed, false);
  EXPECT_GT((out[0] - base[0]).abs().max().item<double>(), 1e-4) << "view 0 must see view 2";
  EXPECT_LT((out_single[0] - base_single[0]).abs().max().item<double>(), 1e-5) << "single-view attention";
  EXPECT_LT((out.slice(0, 4) - base.slice(0, 4)).abs().max().item<double>(), 1e-5) << "object 1 is separate";
}

TEST(MvUnet, CameraTextAndTimeConditionTheOutput) {
  auto unet = tiny_unet(2);
  const auto in = tiny_inputs(1);
  const auto base = run(unet, in);
  auto other = in;
  other.c2w = in.c2w.clone();
  other.c2w.select(2, 3).add_(0.5);  // move the cameras
  EXPECT_GT((run(unet, other) - base).abs().max().item<double>(), 1e-4);
  other = in;
  other.ids = in.ids.clone();
  other.ids.select(1, 1).fill_(7);
  EXPECT_GT((run(unet, other) - base).abs().max().item<double>(), 1e-4);
  other = in;
  other.t = at::full({4}, 10, at::kLong);
  EXPECT_GT((run(unet, other) - base).abs().max().item<double>(), 1e-4);
  // Padding is masked out: what a padded position holds cannot matter.
  at::NoGradGuard no_grad;
  auto text = unet->encode_text(in.ids);
  text.tokens.select(1, 5).fill_(100.0);
  EXPECT_LT((unet->forward(in.x, in.t, in.c2w, text) - base).abs().max().item<double>(), 1e-5);
}

TEST(MvUnet, SameSeedSameNetworkSameOutput) {
  auto a = tiny_unet(5), b = tiny_unet(5);
  const auto in = tiny_inputs(1);
  EXPECT_TRUE(at::equal(run(a, in), run(b, in)));
}

TEST(MvUnet, AFewTrainingStepsReduceTheLoss) {
  auto config = tiny_config();
  at::manual_seed(4);
  MvUnet unet(config);
  core::Rng data_rng(7);
  const auto batch = shapeworld::make_multiview_batch(data_rng, 2, 4, 16, at::kCPU);
  const auto ids = at::randint(2, 10, {2, 6}, data_rng.generator(), at::kLong);
  const auto ab = guidance::NoiseSchedule::make("cosine").alphas_cumprod().to(at::kFloat);
  auto loss_at = [&](uint64_t seed) {
    core::Rng rng(seed);
    return shapeworld::diffusion_loss(*unet, ab, batch.images, batch.c2w, ids, rng);
  };
  auto eval = [&] {
    at::NoGradGuard no_grad;
    double total = 0;
    for (uint64_t s = 100; s < 104; ++s) total += loss_at(s).item<double>();
    return total / 4;
  };
  const double before = eval();
  torch::optim::Adam optimizer(unet->parameters(), torch::optim::AdamOptions(2e-3));
  for (uint64_t step = 0; step < 30; ++step) {
    optimizer.zero_grad();
    loss_at(step).backward();
    optimizer.step();
  }
  const double after = eval();
  EXPECT_LT(after, 0.8 * before) << "before " << before << " after " << after;
}

TEST(MvUnet, WeightFileRoundTripsWithItsArchitectureAndVocabulary) {
  auto unet = tiny_unet(6);
  const WordTokenizer tokenizer({"red", "blue", "cube", "sphere", "a", "on", "top", "of"}, 6);
  const auto path = std::filesystem::temp_directory_path() / ("dreamdpo_mv_unet_" + std::to_string(getpid()));
  save_mv_diffusion(*unet, tokenizer, "cosine", path, {{"train.steps", "3"}});
  const auto model = load_mv_diffusion(path, at::kCPU);
  EXPECT_EQ(model.schedule, "cosine");
  EXPECT_EQ(model.tokenizer.words(), tokenizer.words());
  EXPECT_EQ(model.unet->config.multipliers, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(model.metadata.at("train.steps"), "3");
  auto loaded = model.unet;
  const auto in = tiny_inputs(1);
  EXPECT_TRUE(at::equal(run(unet, in), run(loaded, in)));
  auto metadata = unet->config.to_metadata();
  metadata.erase("unet.heads");
  EXPECT_THAT(error_of([&] { MvUnetConfig::from_metadata(metadata); }), HasSubstr("'unet.heads' is missing"));
  metadata = unet->config.to_metadata();
  metadata["unet.multipliers"] = "1,x";
  EXPECT_THAT(error_of([&] { MvUnetConfig::from_metadata(metadata); }), HasSubstr("comma-separated integers"));
  std::filesystem::remove(path);
  EXPECT_THAT(error_of([&] { load_mv_diffusion(path, at::kCPU); }), HasSubstr("does not exist"));
}

TEST(MvUnet, ShippedWeightsLoadWithTheShapeWorldVocabulary) {
  const auto model = load_mv_diffusion(guidance::builtin_model_path("diffusion.safetensors"), at::kCPU);
  EXPECT_EQ(model.unet->config.n_view, 4);
  EXPECT_EQ(model.unet->config.image_size, 32);
  EXPECT_EQ(model.tokenizer.words(), WordTokenizer(shapeworld::vocabulary(), 24).words());
  EXPECT_GT(std::stoll(model.metadata.at("train.steps")), 1000);
}

}  // namespace
}  // namespace dreamdpo::models
