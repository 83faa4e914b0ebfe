#include "models/builtin/judge.h"

#include "core/error.h"
#include "models/builtin/clip_reward.h"
#include "models/module_io.h"

namespace dreamdpo::models {

namespace {

int64_t entry(const std::map<std::string, std::string>& metadata, const std::string& key, const std::string& origin) {
  const auto it = metadata.find(key);
  check(it != metadata.end(), origin, " lacks the metadata entry '", key, "'; is it a built-in judge file?");
  try {
    return std::stoll(it->second);
  } catch (const std::exception&) {
    fail(origin, ": metadata entry '", key, "' is not an integer: '", it->second, "'");
  }
}

}  // namespace

std::map<std::string, std::string> JudgeConfig::to_metadata() const {
  return {{"resolution", std::to_string(resolution)}, {"patch", std::to_string(patch)},
          {"width", std::to_string(width)},           {"layers", std::to_string(layers)},
          {"heads", std::to_string(heads)},           {"max_length", std::to_string(max_length)}};
}

JudgeConfig JudgeConfig::from_metadata(const std::map<std::string, std::string>& metadata, const std::string& origin) {
  JudgeConfig c;
  c.resolution = entry(metadata, "resolution", origin);
  c.patch = entry(metadata, "patch", origin);
  c.width = entry(metadata, "width", origin);
  c.layers = entry(metadata, "layers", origin);
  c.heads = entry(metadata, "heads", origin);
  c.max_length = entry(metadata, "max_length", origin);
  return c;
}

Judge::Judge(const JudgeConfig& config, WordTokenizer tokenizer) : config_(config), tokenizer_(std::move(tokenizer)) {
  namespace nn = torch::nn;
  check(config.patch > 0 && config.resolution % config.patch == 0, "judge resolution ", config.resolution,
        " must be a multiple of its patch size ", config.patch);
  check(tokenizer_.max_length() == config.max_length, "tokenizer length differs from the judge's");
  const int64_t patches = (config.resolution / config.patch) * (config.resolution / config.patch);
  patch_embed_ = register_module(
      "patch_embed", nn::Conv2d(nn::Conv2dOptions(3, config.width, config.patch).stride(config.patch)));
  word_embed_ = register_module("word_embed", nn::Embedding(tokenizer_.vocabulary_size(), config.width));
  cls_ = register_parameter("cls", at::randn({1, 1, config.width}) * 0.02);
  image_positions_ = register_parameter("image_positions", at::randn({patches, config.width}) * 0.02);
  text_positions_ = register_parameter("text_positions", at::randn({config.max_length, config.width}) * 0.02);
  for (int64_t i = 0; i < config.layers; ++i) {
    blocks_.push_back(register_module("block" + std::to_string(i),
                                      std::make_shared<TransformerBlock>(config.width, config.heads)));
  }
  norm_ = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({config.width})));
  head_ = register_module("head", nn::Linear(config.width, 1));
}

at::Tensor Judge::pair_logits(const at::Tensor& images, const at::Tensor& tokens_in) {
  check(images.size(0) == tokens_in.size(0), "judge: ", images.size(0), " images but ", tokens_in.size(0),
        " captions; it scores pairs");
  const auto device = cls_.device();
  const auto tokens = tokens_in.to(device);
  const int64_t n = tokens.size(0);
  auto x = fit_images(images, config_.resolution).to(device) * 2 - 1;
  auto image_tokens = patch_embed_->forward(x).flatten(2).transpose(1, 2) + image_positions_;
  auto text_tokens = word_embed_->forward(tokens) + text_positions_.narrow(0, 0, tokens.size(1));
  auto sequence = at::cat({cls_.expand({n, 1, config_.width}), image_tokens, text_tokens}, 1);
  auto padding = at::cat({at::zeros({n, 1 + image_tokens.size(1)}, tokens.options().dtype(at::kBool)),
                          tokens.eq(WordTokenizer::kPad)},
                         1);
  for (auto& block : blocks_) sequence = block->forward(sequence, padding);
  return head_->forward(norm_->forward(sequence.select(1, 0))).squeeze(-1);
}

at::Tensor Judge::score(const at::Tensor& images, const std::vector<std::string>& captions) {
  const int64_t n = images.size(0), m = static_cast<int64_t>(captions.size());
  const auto tokens = tokenizer_.encode(captions);
  auto pair_images = images.unsqueeze(1).expand({n, m, images.size(1), images.size(2), images.size(3)}).flatten(0, 1);
  auto pair_tokens = tokens.unsqueeze(0).expand({n, m, tokens.size(1)}).flatten(0, 1);
  return pair_logits(pair_images, pair_tokens).view({n, m});
}

void Judge::save(const std::filesystem::path& path, const std::map<std::string, std::string>& extra) const {
  auto metadata = config_.to_metadata();
  metadata["kind"] = kKind;
  metadata["vocabulary"] = tokenizer_.serialise();
  for (const auto& [key, value] : extra) metadata[key] = value;
  save_module(*this, path, metadata);
}

std::shared_ptr<Judge> Judge::load(const std::filesystem::path& path, at::Device device) {
  check(std::filesystem::exists(path), "judge file ", path.string(),
        " does not exist (train one with: dreamdpo train-builtin judge -o ", path.string(), ")");
  const auto metadata = read_module_metadata(path);
  const auto kind = metadata.count("kind") ? metadata.at("kind") : "";
  check(kind == kKind, path.string(), " is not a built-in judge (its kind is '", kind, "')");
  const auto config = JudgeConfig::from_metadata(metadata, path.string());
  check(metadata.count("vocabulary"), path.string(), " lacks its vocabulary");
  auto model = std::make_shared<Judge>(config, WordTokenizer::deserialise(metadata.at("vocabulary"), config.max_length));
  load_module(*model, path);
  model->to(device);
  model->eval();
  return model;
}

}  // namespace dreamdpo::models
