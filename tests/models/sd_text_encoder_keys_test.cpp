// The SD2 text-encoder key maps (src/models/sd/text_encoder_keys): round trips on a small tower
// in both layouts, what is dropped and what is reported, and name/shape coverage of the
// full-size listings made by tests/fixtures/make_sd_text_keys.py (open_clip's own module tree,
// and diffusers' own single-file conversion of it).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "models/clip/clip_text_transformer.h"
#include "models/module_io.h"
#include "models/sd/text_encoder_keys.h"
#include "key_listing.h"
#include "test_helpers.h"

namespace {

using namespace dreamdpo;
using models::sd::TensorMap;
using testing_helpers::error_of;

models::clip::ClipTextConfig small_config(int64_t layers) {
  models::clip::ClipTextConfig c;
  c.vocab_size = 50;
  c.context_length = 7;
  c.width = 8;
  c.heads = 2;
  c.layers = layers;
  return c;
}

TensorMap random_state(const torch::nn::Module& module) {
  TensorMap out;
  for (const auto& item : module.named_parameters()) out.emplace(item.key(), at::randn(item.value().sizes()));
  return out;
}

void expect_same(const TensorMap& a, const TensorMap& b) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, tensor] : a) {
    ASSERT_TRUE(b.count(name)) << name;
    EXPECT_TRUE(at::equal(tensor, b.at(name))) << name;
  }
}

std::map<std::string, std::vector<int64_t>> shapes_of(const TensorMap& tensors) {
  std::map<std::string, std::vector<int64_t>> out;
  for (const auto& [name, t] : tensors) out.emplace(name, t.sizes().vec());
  return out;
}

TEST(SdTextEncoderKeys, ParameterShapesEqualTheBuiltTower) {
  models::clip::ClipTextTransformer tower(small_config(3), 0);
  const auto listed = models::sd::sd_text_parameter_shapes(small_config(3), 3);
  std::map<std::string, std::vector<int64_t>> expected(listed.begin(), listed.end());
  std::map<std::string, std::vector<int64_t>> built;
  for (const auto& item : tower->named_parameters()) built.emplace(item.key(), item.value().sizes().vec());
  EXPECT_EQ(built, expected);
  EXPECT_EQ(built.count("text_projection"), 0u);  // embed_dim 0: hidden states only
  EXPECT_NE(error_of([&] { tower->encode_text(at::zeros({1, 7}, at::kLong)); }).find("without text_projection"),
            std::string::npos);
}

TEST(SdTextEncoderKeys, TransformersLayoutRoundTripsAndSplitsQkv) {
  at::manual_seed(0);
  models::clip::ClipTextTransformer tower(small_config(2), 0);
  const auto ours = random_state(*tower);
  const auto hf = models::sd::ours_to_hf_clip_text(ours);
  EXPECT_EQ(hf.size(), ours.size() + 2 * 2 * 2);  // per layer: in_proj weight/bias -> q, k, v
  const auto& in_proj = ours.at("transformer.resblocks.1.attn.in_proj_weight");
  EXPECT_TRUE(at::equal(hf.at("text_model.encoder.layers.1.self_attn.k_proj.weight"), in_proj.slice(0, 8, 16)));
  EXPECT_TRUE(at::equal(hf.at("text_model.final_layer_norm.bias"), ours.at("ln_final.bias")));
  EXPECT_TRUE(at::equal(hf.at("text_model.embeddings.position_embedding.weight"), ours.at("positional_embedding")));
  expect_same(models::sd::hf_clip_text_to_ours(hf, "test"), ours);

  // A pipeline's "text_encoder." prefix, transformers >= 5.6's flat names, and the position_ids buffer.
  TensorMap pipeline, flat;
  for (const auto& [name, t] : hf) {
    pipeline.emplace("text_encoder." + name, t);
    flat.emplace(name.substr(std::string("text_model.").size()), t);
  }
  pipeline.emplace("text_encoder.text_model.embeddings.position_ids", at::arange(7).unsqueeze(0));
  pipeline.emplace("unet.conv_in.weight", at::zeros({1}));  // another component: ignored
  expect_same(models::sd::hf_clip_text_to_ours(pipeline, "test", "text_encoder."), ours);
  expect_same(models::sd::hf_clip_text_to_ours(flat, "test"), ours);

  models::clip::ClipTextTransformer loaded(small_config(2), 0);
  models::load_state(*loaded, models::sd::hf_clip_text_to_ours(hf, "test"), "test");
  EXPECT_TRUE(at::equal(loaded->ln_final->weight, ours.at("ln_final.weight")));
}

TEST(SdTextEncoderKeys, TransformersLayoutErrorsNameTheTensor) {
  at::manual_seed(1);
  models::clip::ClipTextTransformer tower(small_config(2), 0);
  auto hf = models::sd::ours_to_hf_clip_text(random_state(*tower));
  auto missing_v = hf;
  missing_v.erase("text_model.encoder.layers.0.self_attn.v_proj.bias");
  EXPECT_NE(error_of([&] { models::sd::hf_clip_text_to_ours(missing_v, "te.bin"); })
                .find("te.bin: text encoder layer 0 self_attn has no v_proj.bias"),
            std::string::npos);
  auto odd = hf;
  odd["text_model.encoder.layers.1.self_attn.q_proj.weight"] = at::zeros({4, 8});
  EXPECT_NE(error_of([&] { models::sd::hf_clip_text_to_ours(odd, "te.bin"); }).find("shapes differ"), std::string::npos);
  // An unknown tensor is kept under its name, so the strict load reports it.
  auto extra = hf;
  extra["text_model.encoder.layers.0.self_attn.rotary.weight"] = at::zeros({2});
  models::clip::ClipTextTransformer target(small_config(2), 0);
  const auto message =
      error_of([&] { models::load_state(*target, models::sd::hf_clip_text_to_ours(extra, "te.bin"), "te.bin"); });
  EXPECT_NE(message.find("encoder.layers.0.self_attn.rotary.weight"), std::string::npos) << message;
  EXPECT_NE(error_of([&] { models::sd::hf_clip_text_to_ours(hf, "te.bin", "text_encoder."); }).find("no text encoder tensors"),
            std::string::npos);
}

TEST(SdTextEncoderKeys, OpenClipLayoutDropsWhatSd2NeverRuns) {
  at::manual_seed(2);
  models::clip::ClipTextTransformer full(small_config(3), 0);  // as stored: 3 blocks
  const auto stored = random_state(*full);
  auto file = models::sd::ours_to_open_clip_text(stored);
  file["cond_stage_model.model.text_projection"] = at::zeros({8, 8});
  file["cond_stage_model.model.logit_scale"] = at::zeros({});
  file["cond_stage_model.model.attn_mask"] = at::zeros({7, 7});
  file["model.diffusion_model.conv_in.weight"] = at::zeros({1});  // other parts: ignored
  const auto ours = models::sd::open_clip_text_to_ours(file, 2, "sd.ckpt");
  TensorMap expected;
  for (const auto& [name, t] : stored) {
    if (name.find("resblocks.2.") == std::string::npos) expected.emplace(name, t);
  }
  expect_same(ours, expected);
  models::clip::ClipTextTransformer used(small_config(2), 0);
  models::load_state(*used, ours, "sd.ckpt");
  // The 2-block tower's last layer equals the 3-block tower's penultimate layer.
  models::load_state(*full, stored, "stored");
  const auto ids = at::randint(0, 50, {2, 7}, at::kLong);
  EXPECT_TRUE(at::allclose(used->hidden_states(ids, models::clip::ClipTextLayer::kLast),
                           full->hidden_states(ids, models::clip::ClipTextLayer::kPenultimate)));

  auto unknown = file;
  unknown["cond_stage_model.model.visual.proj"] = at::zeros({2});
  const auto message = error_of([&] {
    models::load_state(*used, models::sd::open_clip_text_to_ours(unknown, 2, "sd.ckpt"), "sd.ckpt");
  });
  EXPECT_NE(message.find("visual.proj"), std::string::npos) << message;
  EXPECT_NE(error_of([&] { models::sd::open_clip_text_to_ours({{"x", at::zeros({1})}}, 2, "sd.ckpt"); })
                .find("sd.ckpt: no text encoder tensors under 'cond_stage_model.model.'"),
            std::string::npos);
}

// name -> shape of a listing; tensors are empty()-allocated (pages never touched).
TensorMap read_listing(const std::string& file) {
  TensorMap out;
  for (const auto& [name, shape] :
       testing_helpers::read_key_listing(std::string(DREAMDPO_SOURCE_DIR) + "/tests/fixtures/sd_text/" + file)) {
    out.emplace(name, at::empty(shape));
  }
  return out;
}

std::map<std::string, std::vector<int64_t>> sd2_used_shapes() {
  const auto listed = models::sd::sd_text_parameter_shapes(models::sd::sd2_text_config(), models::sd::kSd2TextUsedLayers);
  return {listed.begin(), listed.end()};
}

TEST(SdTextEncoderKeys, CoversTheFullSizeOpenClipListing) {
  const auto file = read_listing("sd2_text_open_clip_keys.txt");
  ASSERT_EQ(file.size(), 293u);  // 24 blocks x 12 + 5
  EXPECT_EQ(shapes_of(models::sd::open_clip_text_to_ours(file, models::sd::kSd2TextUsedLayers, "listing")),
            sd2_used_shapes());
}

TEST(SdTextEncoderKeys, CoversDiffusersConversionOfTheListing) {
  const auto file = read_listing("sd2_text_hf_keys.txt");
  ASSERT_EQ(file.size(), 372u);  // 23 layers x 16 + 4: diffusers bakes the penultimate layer in
  EXPECT_EQ(shapes_of(models::sd::hf_clip_text_to_ours(file, "listing")), sd2_used_shapes());
}

}  // namespace
