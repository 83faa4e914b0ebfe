// Parity of the OpenCLIP text and vision towers with open_clip on a small random model (fixtures:
// tests/fixtures/make_clip_fixtures.py), per block and end to end, and their loading errors.
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "models/clip_fixture.h"
#include "test_helpers.h"

namespace dreamdpo {
namespace {

using clip_testing::fixture;
using clip_testing::fixture_model;
using clip_testing::max_rel_error;
using models::clip::ClipTextLayer;
using testing_helpers::error_of;

constexpr double kTolerance = 1e-4;

TEST(ClipTowers, NamesEqualOpenClipStateDict) {
  models::clip::OpenClipModel model(clip_testing::fixture_config());
  const auto weights = clip_testing::fixture_weights();
  std::set<std::string> ours, theirs;
  for (const auto& item : model->named_parameters()) ours.insert(item.key());
  for (const auto& [name, tensor] : weights) theirs.insert(name);
  EXPECT_EQ(ours, theirs);
  EXPECT_TRUE(model->named_buffers().is_empty());
}

TEST(ClipTowers, TextBlockAndLnFinalMatchOpenClip) {
  at::NoGradGuard no_grad;
  auto model = fixture_model();
  auto f = fixture("text_tower");
  const auto& x = f.tensors.at("input.text_block_x");
  const auto block = model->transformer->block(0)->forward(x, model->causal_mask(x.options()));
  EXPECT_LE(max_rel_error(block, f.tensors.at("expected.text_block0"), "text resblock 0"), kTolerance);
  EXPECT_LE(max_rel_error(model->ln_final(x), f.tensors.at("expected.ln_final"), "ln_final"), kTolerance);
}

TEST(ClipTowers, VisionBlockMatchesOpenClip) {
  at::NoGradGuard no_grad;
  auto model = fixture_model();
  auto f = fixture("vision_tower");
  const auto block = model->visual->transformer->block(1)->forward(f.tensors.at("input.vision_block_x"));
  EXPECT_LE(max_rel_error(block, f.tensors.at("expected.vision_block1"), "vision resblock 1"), kTolerance);
}

TEST(ClipTowers, ImageFeaturesMatchOpenClip) {
  at::NoGradGuard no_grad;
  auto model = fixture_model();
  auto f = fixture("vision_tower");
  const auto features = model->encode_image(f.tensors.at("input.images"));
  EXPECT_LE(max_rel_error(features, f.tensors.at("expected.image_features"), "image features"), kTolerance);
}

TEST(ClipTowers, TextHiddenStatesAndFeaturesMatchOpenClip) {
  at::NoGradGuard no_grad;
  auto model = fixture_model();
  auto f = fixture("text_outputs");
  const auto& ids = f.tensors.at("input.text_ids");
  EXPECT_LE(max_rel_error(model->hidden_states(ids, ClipTextLayer::kLast), f.tensors.at("expected.text_hidden_final"),
                          "text hidden (final layer)"),
            kTolerance);
  EXPECT_LE(max_rel_error(model->hidden_states(ids, ClipTextLayer::kPenultimate),
                          f.tensors.at("expected.text_hidden_penultimate"), "text hidden (penultimate)"),
            kTolerance);
  EXPECT_LE(max_rel_error(model->encode_text(ids), f.tensors.at("expected.text_features"), "text features (EOT pool)"),
            kTolerance);
  // The two layers differ, so the test would notice one used in place of the other.
  EXPECT_GT((model->hidden_states(ids, ClipTextLayer::kLast) - f.tensors.at("expected.text_hidden_penultimate"))
                .abs()
                .max()
                .item<double>(),
            1e-2);
}

TEST(ClipTowers, LoadingNamesMissingUnexpectedAndMisshapedTensors) {
  models::clip::OpenClipModel model(clip_testing::fixture_config());
  auto weights = clip_testing::fixture_weights();
  weights.erase("visual.proj");
  weights["visual.extra"] = at::zeros({2});
  weights["ln_final.weight"] = at::zeros({3});
  const auto message = error_of([&] { model->load_state(weights, "test.safetensors"); });
  EXPECT_NE(message.find("test.safetensors"), std::string::npos) << message;
  EXPECT_NE(message.find("missing visual.proj"), std::string::npos) << message;
  EXPECT_NE(message.find("unexpected visual.extra"), std::string::npos) << message;
  EXPECT_NE(message.find("ln_final.weight"), std::string::npos) << message;
}

TEST(ClipTowers, BadInputsGiveClearErrors) {
  at::NoGradGuard no_grad;
  auto model = fixture_model();
  EXPECT_NE(error_of([&] { model->encode_image(at::zeros({1, 3, 32, 32})); }).find("[batch, 3, 28, 28]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { model->encode_text(at::zeros({1, 10}, at::kLong)); }).find("[batch, 77]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { model->encode_text(at::full({1, 77}, 5000, at::kLong)); }).find("[0, 1000)"),
            std::string::npos);
}

TEST(ClipTowers, ConfigDefaultsAreVitH14AndJsonIsChecked) {
  const auto h14 = models::clip::OpenClipConfig::resolve("ViT-H-14");
  EXPECT_EQ(h14.embed_dim, 1024);
  EXPECT_EQ(h14.vision.width, 1280);
  EXPECT_EQ(h14.vision.layers, 32);
  EXPECT_EQ(h14.vision.heads(), 16);
  EXPECT_EQ(h14.vision.grid(), 16);
  EXPECT_EQ(h14.text.width, 1024);
  EXPECT_EQ(h14.text.layers, 24);
  EXPECT_EQ(h14.text.heads, 16);
  EXPECT_EQ(h14.text.vocab_size, 49408);
  const auto message = error_of([] {
    models::clip::OpenClipConfig::from_json_text(R"({"embed_dim": 8, "quick_gelu": true})", "m.json");
  });
  EXPECT_NE(message.find("m.json.quick_gelu"), std::string::npos) << message;
  EXPECT_NE(error_of([] {
              models::clip::OpenClipConfig::from_json_text(R"({"vision_cfg": {"timm_model_name": "x"}})", "m.json");
            }).find("timm_model_name"),
            std::string::npos);
  EXPECT_NE(error_of([] { models::clip::OpenClipConfig::resolve("ViT-B-32"); }).find("unknown OpenCLIP model"),
            std::string::npos);
}

TEST(ClipTowers, WeightsFileReaderNamesMissingAndDamagedFiles) {
  const auto message = error_of([] { models::clip::read_open_clip_state(clip_testing::fixture_dir() / "missing.pt"); });
  EXPECT_NE(message.find("missing.pt does not exist"), std::string::npos) << message;
  const auto path = std::filesystem::temp_directory_path() / "dreamdpo_clip_weights_test.pt";
  { std::ofstream(path) << "PK"; }
  const auto zip = error_of([&] { models::clip::read_open_clip_state(path); });
  std::filesystem::remove(path);
  EXPECT_NE(zip.find("dreamdpo_clip_weights_test.pt"), std::string::npos) << zip;
}

}  // namespace
}  // namespace dreamdpo
