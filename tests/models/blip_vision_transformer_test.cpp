// BLIP's ViT against the reference (vit.py) on a small random configuration: every block and the
// output within 1e-4 relative error; strict loading names bad tensors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "blip_fixture.h"
#include "models/blip/blip_vision_transformer.h"
#include "models/module_io.h"
#include "test_helpers.h"

namespace dreamdpo::models::blip {
namespace {
using ::testing::HasSubstr;
using testing_helpers::error_of;
using testing_helpers::max_rel_error;

BlipVisionConfig small_config() {
  BlipVisionConfig c;
  c.image_size = 32;
  c.patch_size = 16;
  c.width = 64;
  c.layers = 2;
  c.heads = 4;
  return c;
}

TEST(BlipVisionTransformer, MatchesReferencePerBlockAndEndToEnd) {
  const auto f = testing_helpers::read_blip_fixture("vit.safetensors");
  BlipVisionTransformer vit(small_config());
  load_state(vit, f.weights, "vit.safetensors");
  at::NoGradGuard no_grad;
  const auto pixels = f.at("input.pixel_values");
  EXPECT_LE(max_rel_error(vit.patch_embed->forward(pixels), f.at("expected.patch_embed")), 1e-4);
  auto x = vit.embed(pixels);
  EXPECT_LE(max_rel_error(x, f.at("expected.pos_drop")), 1e-4);
  for (size_t i = 0; i < vit.blocks.size(); ++i) {
    x = vit.blocks[i]->forward(x);
    const double err = max_rel_error(x, f.at("expected.blocks." + std::to_string(i)));
    EXPECT_LE(err, 1e-4) << "block " << i;
  }
  EXPECT_LE(max_rel_error(vit.norm->forward(x), f.at("expected.norm")), 1e-4);
  const double err = max_rel_error(vit.forward(pixels), f.at("expected.image_embeds"));
  EXPECT_LE(err, 1e-4);
  RecordProperty("max_rel_error", testing_helpers::sci(err));
}

TEST(BlipVisionTransformer, DefaultsAreViTLarge16At224) {
  const BlipVisionConfig c;
  EXPECT_EQ(c.width, 1024);
  EXPECT_EQ(c.layers, 24);
  EXPECT_EQ(c.heads, 16);
  EXPECT_EQ(c.tokens(), 197);
}

TEST(BlipVisionTransformer, StrictLoadingAndInputChecksNameTheProblem) {
  const auto f = testing_helpers::read_blip_fixture("vit.safetensors");
  BlipVisionTransformer vit(small_config());
  auto missing = f.weights;
  missing.erase("blocks.1.attn.qkv.bias");
  EXPECT_THAT(error_of([&] { load_state(vit, missing, "x"); }), HasSubstr("missing blocks.1.attn.qkv.bias"));
  auto wrong = f.weights;
  wrong["pos_embed"] = at::zeros({1, 17, 64});
  EXPECT_THAT(error_of([&] { load_state(vit, wrong, "x"); }), HasSubstr("wrong shape pos_embed"));
  auto extra = f.weights;
  extra["head.weight"] = at::zeros({2});
  EXPECT_THAT(error_of([&] { load_state(vit, extra, "x"); }), HasSubstr("unexpected head.weight"));
  EXPECT_THAT(error_of([&] { vit.forward(at::zeros({1, 3, 48, 48})); }), HasSubstr("expected pixels [B,3,32,32]"));
  BlipVisionConfig bad = small_config();
  bad.image_size = 30;
  EXPECT_THAT(error_of([&] { BlipVisionTransformer v(bad); }), HasSubstr("multiple of patch_size"));
}

}  // namespace
}  // namespace dreamdpo::models::blip
