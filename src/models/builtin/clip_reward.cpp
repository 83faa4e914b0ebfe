#include "models/builtin/clip_reward.h"

#include <torch/nn/modules/activation.h>

#include <cmath>
#include <sstream>

#include "core/error.h"
#include "core/strings.h"
#include "models/module_io.h"
#include "shapeworld/caption.h"

namespace dreamdpo::models {

namespace {

at::Tensor unit(const at::Tensor& x) { return x / x.norm(2, -1, true).clamp_min(1e-8); }

int64_t metadata_int(const std::map<std::string, std::string>& metadata, const std::string& key,
                     const std::string& origin) {
  const auto it = metadata.find(key);
  check(it != metadata.end(), origin, " lacks the metadata entry '", key, "'; is it a built-in model file?");
  try {
    return std::stoll(it->second);
  } catch (const std::exception&) {
    fail(origin, ": metadata entry '", key, "' is not an integer: '", it->second, "'");
  }
}

}  // namespace

at::Tensor fit_images(const at::Tensor& images, int64_t size) {
  check(images.dim() == 4 && images.size(1) == 3, "expected images [N,3,H,W], got ", images.sizes());
  auto x = images.to(at::kFloat);
  while (x.size(2) >= 2 * size && x.size(3) >= 2 * size && x.size(2) % 2 == 0 && x.size(3) % 2 == 0) {
    x = at::avg_pool2d(x, {2, 2});
  }
  if (x.size(2) != size || x.size(3) != size) {
    const std::vector<int64_t> out_size = {size, size};
    x = at::upsample_bilinear2d(x, at::IntArrayRef(out_size), false);
  }
  return x;
}

WordTokenizer shapeworld_tokenizer(int64_t max_length) {
  return WordTokenizer(shapeworld::vocabulary(), max_length);
}

std::map<std::string, std::string> ClipRewardConfig::to_metadata() const {
  return {{"resolution", std::to_string(resolution)},
          {"channels", core::join(channels, [](int64_t c) { return std::to_string(c); }, ",")},
          {"embed_dim", std::to_string(embed_dim)},
          {"text_width", std::to_string(text_width)},
          {"text_layers", std::to_string(text_layers)},
          {"text_heads", std::to_string(text_heads)},
          {"max_length", std::to_string(max_length)}};
}

ClipRewardConfig ClipRewardConfig::from_metadata(const std::map<std::string, std::string>& metadata,
                                                 const std::string& origin) {
  ClipRewardConfig c;
  c.resolution = metadata_int(metadata, "resolution", origin);
  c.embed_dim = metadata_int(metadata, "embed_dim", origin);
  c.text_width = metadata_int(metadata, "text_width", origin);
  c.text_layers = metadata_int(metadata, "text_layers", origin);
  c.text_heads = metadata_int(metadata, "text_heads", origin);
  c.max_length = metadata_int(metadata, "max_length", origin);
  const auto it = metadata.find("channels");
  check(it != metadata.end(), origin, " lacks the metadata entry 'channels'");
  c.channels.clear();
  std::stringstream text(it->second);
  for (std::string item; std::getline(text, item, ',');) c.channels.push_back(std::stoll(item));
  return c;
}

ClipReward::ClipReward(const ClipRewardConfig& config, WordTokenizer tokenizer)
    : config_(config), tokenizer_(std::move(tokenizer)) {
  namespace nn = torch::nn;
  const auto& ch = config.channels;
  check(ch.size() >= 2, "the reward model needs at least two image stages");
  check(config.resolution % (1 << (ch.size() - 1)) == 0, "resolution ", config.resolution,
        " must be divisible by ", 1 << (ch.size() - 1));
  check(tokenizer_.max_length() == config.max_length, "tokenizer length ", tokenizer_.max_length(),
        " differs from the model's ", config.max_length);
  nn::Sequential layers;
  auto block = [&layers](int64_t in, int64_t out, int64_t stride) {
    layers->push_back(nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(stride).padding(1)));
    layers->push_back(nn::GroupNorm(nn::GroupNormOptions(8, out)));
    layers->push_back(nn::SiLU());
  };
  block(3, ch[0], 1);
  for (size_t i = 1; i < ch.size(); ++i) {
    block(ch[i - 1], ch[i], 2);
    // A second convolution at 8x8 and below, where it is cheap, for depth.
    if (i >= 2) block(ch[i], ch[i], 1);
  }
  image_layers_ = register_module("image", layers);
  const int64_t final_side = config.resolution >> (ch.size() - 1);
  image_reduce_ = register_module("image_reduce", nn::Conv2d(nn::Conv2dOptions(ch.back(), 32, 1)));
  image_head_ = register_module("image_head", nn::Linear(32 * final_side * final_side, config.embed_dim));

  token_embedding_ = register_module("token_embedding", nn::Embedding(tokenizer_.vocabulary_size(), config.text_width));
  positions_ = register_parameter("positions", at::randn({config.max_length, config.text_width}) * 0.02);
  for (int64_t i = 0; i < config.text_layers; ++i) {
    text_blocks_.push_back(register_module("text_block" + std::to_string(i),
                                           std::make_shared<TransformerBlock>(config.text_width, config.text_heads)));
  }
  text_norm_ = register_module("text_norm", nn::LayerNorm(nn::LayerNormOptions({config.text_width})));
  text_head_ = register_module("text_head", nn::Linear(config.text_width, config.embed_dim));
  log_scale_ = register_parameter("log_scale", at::full({}, std::log(1 / 0.07)));
}

at::Tensor ClipReward::encode_images(const at::Tensor& images) {
  auto x = fit_images(images, config_.resolution).to(positions_.device()) * 2 - 1;
  x = image_reduce_->forward(image_layers_->forward(x));
  return unit(image_head_->forward(x.flatten(1)));
}

at::Tensor ClipReward::encode_tokens(const at::Tensor& tokens_in) {
  const auto tokens = tokens_in.to(positions_.device());
  auto x = token_embedding_->forward(tokens) + positions_.narrow(0, 0, tokens.size(1));
  const auto padding = tokens.eq(WordTokenizer::kPad);
  for (auto& blockp : text_blocks_) x = blockp->forward(x, padding);
  x = text_norm_->forward(x.select(1, 0));  // the start token
  return unit(text_head_->forward(x));
}

at::Tensor ClipReward::encode_captions(const std::vector<std::string>& captions) {
  return encode_tokens(tokenizer_.encode(captions));
}

at::Tensor ClipReward::logit_scale() { return log_scale_.exp().clamp_max(100.0); }

void ClipReward::save(const std::filesystem::path& path, const std::map<std::string, std::string>& extra) const {
  auto metadata = config_.to_metadata();
  metadata["kind"] = kKind;
  metadata["vocabulary"] = tokenizer_.serialise();
  for (const auto& [key, value] : extra) metadata[key] = value;
  save_module(*this, path, metadata);
}

std::shared_ptr<ClipReward> ClipReward::load(const std::filesystem::path& path, at::Device device) {
  check(std::filesystem::exists(path), "reward model file ", path.string(),
        " does not exist (train one with: dreamdpo train-builtin reward -o ", path.string(), ")");
  const auto metadata = read_module_metadata(path);
  const auto kind = metadata.count("kind") ? metadata.at("kind") : "";
  check(kind == kKind, path.string(), " is not a built-in reward model (its kind is '", kind, "')");
  const auto config = ClipRewardConfig::from_metadata(metadata, path.string());
  check(metadata.count("vocabulary"), path.string(), " lacks its vocabulary");
  auto model = std::make_shared<ClipReward>(config, WordTokenizer::deserialise(metadata.at("vocabulary"),
                                                                              config.max_length));
  load_module(*model, path);
  model->to(device);
  model->eval();
  return model;
}

}  // namespace dreamdpo::models
