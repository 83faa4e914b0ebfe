// ImageReward end to end against the reference: DreamDPO's preprocessing (PIL bicubic path),
// ViT + BERT + MLP -> raw score -> normalised reward; checkpoint loading rules.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "blip_fixture.h"
#include "models/blip/image_reward_model.h"
#include "models/blip/image_reward_preprocess.h"
#include "test_helpers.h"

namespace dreamdpo::models::blip {
namespace {
using ::testing::HasSubstr;
using testing_helpers::error_of;
using testing_helpers::max_rel_error;
using testing_helpers::prefixed;

ImageRewardModelConfig small_config() {
  ImageRewardModelConfig c;
  c.vision.image_size = 32;
  c.vision.patch_size = 16;
  c.vision.width = 64;
  c.vision.layers = 2;
  c.vision.heads = 4;
  c.text = BertTextConfig::from_file(testing_helpers::kImageRewardFixtures / "med_config.json");
  return c;
}

std::map<std::string, at::Tensor> small_checkpoint() {
  auto state = prefixed(testing_helpers::read_blip_fixture("vit.safetensors").weights, "blip.visual_encoder.");
  for (auto& [k, v] : prefixed(testing_helpers::read_blip_fixture("bert.safetensors").weights, "blip.text_encoder."))
    state[k] = v;
  for (auto& [k, v] : testing_helpers::read_blip_fixture("reward.safetensors").weights) state[k] = v;
  return state;
}

TEST(BlipImageReward, PreprocessingEqualsDreamDposPilPath) {
  const auto f = testing_helpers::read_blip_fixture("reward.safetensors");
  // Shrinking (40x48 -> 32x38, centre crop) and enlarging (20x24 -> 32x38).
  const double down = max_rel_error(image_reward_preprocess(f.at("input.image"), 32), f.at("expected.pixel_values"));
  const double up = max_rel_error(image_reward_preprocess(f.at("input.image_small"), 32),
                                  f.at("expected.pixel_values_small"));
  EXPECT_LE(down, 1e-6);
  EXPECT_LE(up, 1e-6);
  RecordProperty("max_rel_error", testing_helpers::sci(std::max(down, up)));
}

TEST(BlipImageReward, MatchesReferenceEndToEnd) {
  const auto f = testing_helpers::read_blip_fixture("reward.safetensors");
  ImageRewardModel model(small_config());
  auto state = small_checkpoint();
  state["blip.vision_proj.weight"] = at::zeros({4, 64});  // BLIP_Pretrain's, unused by the score: dropped
  state["blip.text_proj.bias"] = at::zeros({4});
  load_image_reward_state(model, state, "small");
  at::NoGradGuard no_grad;
  const auto pixels = image_reward_preprocess(f.at("input.image"), 32);
  EXPECT_LE(max_rel_error(model.blip->visual_encoder->forward(pixels), f.at("expected.image_embeds")), 1e-4);
  const auto raw = model.raw_score(pixels, f.at("input.input_ids"), f.at("input.attention_mask"));
  const double raw_err = max_rel_error(raw, f.at("expected.raw_score").squeeze(-1));
  const double reward_err = max_rel_error(model.normalise(raw), f.at("expected.reward").squeeze(-1));
  EXPECT_LE(raw_err, 1e-4);
  EXPECT_LE(reward_err, 1e-4);
  RecordProperty("max_rel_error", testing_helpers::sci(std::max(raw_err, reward_err)));
  // One prompt for a batch of images (ids [1,L]) gives the per-image scores.
  const auto one = model.raw_score(pixels, f.at("input.input_ids").slice(0, 1, 2), f.at("input.attention_mask").slice(0, 1, 2));
  EXPECT_NEAR(one[1].item<float>(), raw[1].item<float>(), 1e-5);
  EXPECT_DOUBLE_EQ(model.config().score_mean, 0.16717362830052426);
  EXPECT_DOUBLE_EQ(model.config().score_std, 1.0333394966054072);
}

TEST(BlipImageReward, CheckpointRulesNameTheProblem) {
  ImageRewardModel model(small_config());
  auto state = small_checkpoint();
  state.erase("blip.text_encoder.embeddings.position_ids");  // filled in, as transformers does
  EXPECT_NO_THROW(load_image_reward_state(model, state, "ok"));
  auto missing = state;
  missing.erase("mlp.layers.7.weight");
  EXPECT_THAT(error_of([&] { load_image_reward_state(model, missing, "IR.pt"); }),
              HasSubstr("missing mlp.layers.7.weight"));
  auto extra = state;
  extra["blip.itm_head.weight"] = at::zeros({2, 64});
  EXPECT_THAT(error_of([&] { load_image_reward_state(model, extra, "IR.pt"); }),
              HasSubstr("unexpected blip.itm_head.weight"));
  std::map<std::string, at::Tensor> other{{"visual.conv1.weight", at::zeros({1})}};
  EXPECT_THAT(error_of([&] { load_image_reward_state(model, other, "HPS.pt"); }),
              HasSubstr("HPS.pt holds no blip.visual_encoder.* tensors"));
}

TEST(BlipImageReward, PilResizeKeepsFlatImagesFlatAndRoundsLikePillow) {
  // A constant image stays constant through both passes (weights are normalised).
  const auto flat = at::full({1, 1, 9, 13}, 77, at::kByte);
  EXPECT_TRUE(at::equal(pil_resize_bicubic(flat, 20, 5), at::full({1, 1, 20, 5}, 77, at::kByte)));
  // Saturated values are clipped, not wrapped, by the negative lobes.
  auto edge = at::zeros({1, 1, 1, 8}, at::kByte);
  edge.slice(3, 4, 8).fill_(255);
  const auto up = pil_resize_bicubic(edge, 1, 16);
  EXPECT_EQ(up.min().item<uint8_t>(), 0);
  EXPECT_EQ(up.max().item<uint8_t>(), 255);
  EXPECT_THAT(error_of([] { image_reward_preprocess(at::zeros({1, 4, 8, 8}), 8); }), HasSubstr("[B,3,H,W]"));
}

}  // namespace
}  // namespace dreamdpo::models::blip
