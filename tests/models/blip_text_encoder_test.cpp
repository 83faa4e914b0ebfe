// med.py's BertModel (multimodal: cross-attention to image tokens) against the reference on a
// small random configuration, per sub-block and per layer; med_config.json reading and errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "blip_fixture.h"
#include "models/blip/bert_text_encoder.h"
#include "models/module_io.h"
#include "test_helpers.h"

namespace dreamdpo::models::blip {
namespace {
using ::testing::HasSubstr;
using testing_helpers::error_of;
using testing_helpers::max_rel_error;

TEST(BlipTextEncoder, MatchesReferencePerBlockAndEndToEnd) {
  const auto f = testing_helpers::read_blip_fixture("bert.safetensors");
  auto config = BertTextConfig::from_file(testing_helpers::kImageRewardFixtures / "med_config.json");
  EXPECT_EQ(config.hidden_size, 64);
  EXPECT_EQ(config.max_position_embeddings, 40);
  BertTextEncoder bert(config);
  load_state(bert, f.weights, "bert.safetensors");
  at::NoGradGuard no_grad;
  const auto ids = f.at("input.input_ids"), mask = f.at("input.attention_mask");
  const auto image = f.at("input.encoder_hidden_states");
  auto h = bert.embeddings->forward(ids);
  EXPECT_LE(max_rel_error(h, f.at("expected.embeddings")), 1e-4);
  const auto ext = BertTextEncoder::extended_mask(mask, at::kFloat);
  auto& layer0 = *bert.encoder->layer[0];
  const auto self_out = layer0.attention->forward(h, ext);
  EXPECT_LE(max_rel_error(self_out, f.at("expected.encoder.layer.0.attention")), 1e-4);
  const auto cross_out = layer0.crossattention->forward(self_out, at::Tensor(), image);
  EXPECT_LE(max_rel_error(cross_out, f.at("expected.encoder.layer.0.crossattention")), 1e-4);
  EXPECT_LE(max_rel_error(layer0.intermediate->forward(cross_out), f.at("expected.encoder.layer.0.intermediate")), 1e-4);
  for (size_t i = 0; i < bert.encoder->layer.size(); ++i) {
    h = bert.encoder->layer[i]->forward(h, ext, image);
    EXPECT_LE(max_rel_error(h, f.at("expected.encoder.layer." + std::to_string(i))), 1e-4) << "layer " << i;
  }
  const auto out = bert.forward(ids, mask, image);
  const double err = max_rel_error(out, f.at("expected.last_hidden_state"));
  EXPECT_LE(err, 1e-4);
  RecordProperty("max_rel_error", testing_helpers::sci(err));
  // Padding matters: without the mask the padded sequence's outputs change.
  EXPECT_GT(max_rel_error(bert.forward(ids, at::ones_like(mask), image), out), 1e-3);
}

TEST(BlipTextEncoder, MedConfigErrorsNameTheFileAndKey) {
  auto json = nlohmann::json::parse(std::ifstream(testing_helpers::kImageRewardFixtures / "med_config.json"));
  EXPECT_NO_THROW(BertTextConfig::from_json(json, "m.json"));
  auto missing = json;
  missing.erase("num_hidden_layers");
  EXPECT_THAT(error_of([&] { BertTextConfig::from_json(missing, "m.json"); }),
              HasSubstr("m.json: missing \"num_hidden_layers\""));
  auto act = json;
  act["hidden_act"] = "relu";
  EXPECT_THAT(error_of([&] { BertTextConfig::from_json(act, "m.json"); }), HasSubstr("hidden_act 'relu'"));
  auto cross = json;
  cross["add_cross_attention"] = false;
  EXPECT_THAT(error_of([&] { BertTextConfig::from_json(cross, "m.json"); }), HasSubstr("add_cross_attention"));
  auto heads = json;
  heads["num_attention_heads"] = 5;
  EXPECT_THAT(error_of([&] { BertTextConfig::from_json(heads, "m.json"); }), HasSubstr("not a multiple of 5 heads"));
  auto negative = json;
  negative["hidden_size"] = -3;
  EXPECT_THAT(error_of([&] { BertTextConfig::from_json(negative, "m.json"); }), HasSubstr("positive integer"));
  EXPECT_THAT(error_of([] { BertTextConfig::from_file("/nonexistent/med_config.json"); }),
              HasSubstr("cannot read /nonexistent/med_config.json"));
}

TEST(BlipTextEncoder, InputChecks) {
  auto config = BertTextConfig::from_file(testing_helpers::kImageRewardFixtures / "med_config.json");
  config.encoder_width = 64;
  BertTextEncoder bert(config);
  const auto ids = at::zeros({1, 5}, at::kLong);
  EXPECT_THAT(error_of([&] { bert.forward(ids, at::ones({1, 5}), at::zeros({1, 3, 32})); }),
              HasSubstr("expected image tokens [1,N,64]"));
  EXPECT_THAT(error_of([&] { bert.forward(at::zeros({1, 41}, at::kLong), at::ones({1, 41}), at::zeros({1, 3, 64})); }),
              HasSubstr("exceed max_position_embeddings 40"));
}

}  // namespace
}  // namespace dreamdpo::models::blip
