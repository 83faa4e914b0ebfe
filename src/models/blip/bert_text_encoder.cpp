#include "models/blip/bert_text_encoder.h"

#include <nlohmann/json.hpp>

#include <fstream>

#include "core/error.h"
#include "models/attention.h"

namespace dreamdpo::models::blip {

namespace nn = torch::nn;

void BertTextConfig::validate() const {
  check(vocab_size > 0 && hidden_size > 0 && layers > 0 && heads > 0 && intermediate_size > 0 &&
            max_position_embeddings > 0 && encoder_width > 0,
        "BERT text encoder: sizes must be > 0");
  check(hidden_size % heads == 0, "BERT text encoder: hidden_size ", hidden_size, " is not a multiple of ",
        heads, " heads");
  check(layer_norm_eps > 0, "BERT text encoder: layer_norm_eps must be > 0");
}

BertTextConfig BertTextConfig::from_json(const nlohmann::json& json, const std::string& origin) {
  check(json.is_object(), origin, ": expected a JSON object (BLIP's med_config.json)");
  BertTextConfig c;
  auto integer = [&](const char* key, int64_t& out) {
    check(json.contains(key), origin, ": missing \"", key, "\" (is this BLIP's med_config.json?)");
    check(json[key].is_number_integer() && json[key].get<int64_t>() > 0, origin, ": \"", key,
          "\" must be a positive integer");
    out = json[key].get<int64_t>();
  };
  integer("vocab_size", c.vocab_size);
  integer("hidden_size", c.hidden_size);
  integer("num_hidden_layers", c.layers);
  integer("num_attention_heads", c.heads);
  integer("intermediate_size", c.intermediate_size);
  integer("max_position_embeddings", c.max_position_embeddings);
  if (json.contains("encoder_width")) integer("encoder_width", c.encoder_width);
  if (json.contains("layer_norm_eps")) {
    check(json["layer_norm_eps"].is_number() && json["layer_norm_eps"].get<double>() > 0, origin,
          ": \"layer_norm_eps\" must be a positive number");
    c.layer_norm_eps = json["layer_norm_eps"].get<double>();
  }
  const auto hidden_act = json.value("hidden_act", std::string("gelu"));
  check(hidden_act == "gelu", origin, ": hidden_act '", hidden_act, "' is not supported (BLIP uses gelu)");
  const auto positions = json.value("position_embedding_type", std::string("absolute"));
  check(positions == "absolute", origin, ": position_embedding_type '", positions,
        "' is not supported (BLIP uses absolute)");
  c.add_cross_attention = json.value("add_cross_attention", false);
  check(c.add_cross_attention, origin,
        ": add_cross_attention must be true (ImageReward's text encoder attends to the image)");
  c.validate();
  return c;
}

BertTextConfig BertTextConfig::from_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  check(in.good(), "cannot read ", path.string(), " (ImageReward's med_config.json)");
  nlohmann::json json;
  try {
    in >> json;
  } catch (const nlohmann::json::exception& e) {
    fail(path.string(), " is not valid JSON: ", e.what());
  }
  return from_json(json, path.string());
}

BertEmbeddings::BertEmbeddings(const BertTextConfig& c) {
  word_embeddings = register_module("word_embeddings", nn::Embedding(c.vocab_size, c.hidden_size));
  position_embeddings = register_module("position_embeddings", nn::Embedding(c.max_position_embeddings, c.hidden_size));
  LayerNorm = register_module("LayerNorm", nn::LayerNorm(nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)));
  position_ids = register_buffer("position_ids", at::arange(c.max_position_embeddings, at::kLong).unsqueeze(0));
}

at::Tensor BertEmbeddings::forward(const at::Tensor& input_ids) {
  const auto length = input_ids.size(1);
  const auto positions = position_ids.slice(1, 0, length);
  return LayerNorm->forward(word_embeddings->forward(input_ids) + position_embeddings->forward(positions));
}

BertSelfAttention::BertSelfAttention(const BertTextConfig& c, bool cross) : heads(c.heads) {
  const auto kv_in = cross ? c.encoder_width : c.hidden_size;
  query = register_module("query", nn::Linear(c.hidden_size, c.hidden_size));
  key = register_module("key", nn::Linear(kv_in, c.hidden_size));
  value = register_module("value", nn::Linear(kv_in, c.hidden_size));
}

at::Tensor BertSelfAttention::forward(const at::Tensor& hidden, const at::Tensor& context, const at::Tensor& mask) {
  const auto B = hidden.size(0), L = hidden.size(1), H = hidden.size(2);
  auto split = [&](const at::Tensor& x) { return x.view({x.size(0), x.size(1), heads, H / heads}).transpose(1, 2); };
  const auto out = models::attention(split(query->forward(hidden)), split(key->forward(context)),
                                     split(value->forward(context)), mask);
  return out.transpose(1, 2).reshape({B, L, H});
}

BertSelfOutput::BertSelfOutput(const BertTextConfig& c, int64_t in_features) {
  dense = register_module("dense", nn::Linear(in_features, c.hidden_size));
  LayerNorm = register_module("LayerNorm", nn::LayerNorm(nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)));
}

at::Tensor BertSelfOutput::forward(const at::Tensor& hidden, const at::Tensor& residual) {
  return LayerNorm->forward(dense->forward(hidden) + residual);
}

BertAttention::BertAttention(const BertTextConfig& c, bool cross) {
  self = register_module("self", std::make_shared<BertSelfAttention>(c, cross));
  output = register_module("output", std::make_shared<BertSelfOutput>(c, c.hidden_size));
}

at::Tensor BertAttention::forward(const at::Tensor& hidden, const at::Tensor& mask, const at::Tensor& image) {
  return output->forward(self->forward(hidden, image.defined() ? image : hidden, mask), hidden);
}

BertIntermediate::BertIntermediate(const BertTextConfig& c) {
  dense = register_module("dense", nn::Linear(c.hidden_size, c.intermediate_size));
}

at::Tensor BertIntermediate::forward(const at::Tensor& x) { return at::gelu(dense->forward(x)); }

BertLayer::BertLayer(const BertTextConfig& c) {
  attention = register_module("attention", std::make_shared<BertAttention>(c, false));
  crossattention = register_module("crossattention", std::make_shared<BertAttention>(c, true));
  intermediate = register_module("intermediate", std::make_shared<BertIntermediate>(c));
  output = register_module("output", std::make_shared<BertSelfOutput>(c, c.intermediate_size));
}

at::Tensor BertLayer::forward(const at::Tensor& hidden, const at::Tensor& mask, const at::Tensor& image) {
  // Image tokens are all valid (ImageReward passes image_atts = ones): no cross-attention mask.
  const auto attended = crossattention->forward(attention->forward(hidden, mask), at::Tensor(), image);
  return output->forward(intermediate->forward(attended), attended);
}

BertEncoder::BertEncoder(const BertTextConfig& c) {
  auto list = register_module("layer", nn::ModuleList());
  for (int64_t i = 0; i < c.layers; ++i) {
    layer.push_back(std::make_shared<BertLayer>(c));
    list->push_back(layer.back());
  }
}

BertTextEncoder::BertTextEncoder(const BertTextConfig& config) : config_(config) {
  config_.validate();
  check(config_.add_cross_attention, "BERT text encoder: ImageReward needs add_cross_attention");
  embeddings = register_module("embeddings", std::make_shared<BertEmbeddings>(config_));
  encoder = register_module("encoder", std::make_shared<BertEncoder>(config_));
}

at::Tensor BertTextEncoder::extended_mask(const at::Tensor& attention_mask, at::ScalarType dtype) {
  return (1.0 - attention_mask.to(dtype).unsqueeze(1).unsqueeze(1)) * -10000.0;
}

at::Tensor BertTextEncoder::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                    const at::Tensor& image) {
  check(input_ids.dim() == 2 && input_ids.scalar_type() == at::kLong, "BERT text encoder: expected int64 ids [B,L], got ",
        input_ids.sizes(), " ", input_ids.scalar_type());
  check(input_ids.size(1) <= config_.max_position_embeddings, "BERT text encoder: ", input_ids.size(1),
        " tokens exceed max_position_embeddings ", config_.max_position_embeddings);
  check(attention_mask.sizes() == input_ids.sizes(), "BERT text encoder: attention mask ", attention_mask.sizes(),
        " does not match ids ", input_ids.sizes());
  check(image.dim() == 3 && image.size(0) == input_ids.size(0) && image.size(2) == config_.encoder_width,
        "BERT text encoder: expected image tokens [", input_ids.size(0), ",N,", config_.encoder_width, "], got ",
        image.sizes());
  auto hidden = embeddings->forward(input_ids);
  const auto mask = extended_mask(attention_mask, hidden.scalar_type());
  for (auto& layer : encoder->layer) hidden = layer->forward(hidden, mask, image);
  return hidden;
}

}  // namespace dreamdpo::models::blip
