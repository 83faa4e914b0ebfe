#include "rank/hpsv2_ranker.h"

#include <ATen/core/grad_mode.h>

#include "core/error.h"
#include "models/clip/image_preprocess.h"
#include "rank/validate_images.h"

namespace dreamdpo::rank {

namespace {

namespace fs = std::filesystem;

fs::path require_file(const std::string& path, const std::string& key, const std::string& what) {
  check(!path.empty(), "the hpsv2 ranker needs ranker.hpsv2.", key, " (", what, ")");
  check(fs::exists(path), "ranker.hpsv2.", key, ": ", path, " does not exist (", what, ")");
  return path;
}

// open_clip_pytorch_model.bin, or the folder holding it (or its .safetensors conversion).
fs::path clip_weights_file(const fs::path& path) {
  if (!fs::is_directory(path)) return path;
  for (const char* name : {"open_clip_model.safetensors", "open_clip_pytorch_model.safetensors",
                           "open_clip_pytorch_model.bin"}) {
    if (fs::is_regular_file(path / name)) return path / name;
  }
  fail("ranker.hpsv2.clip_model: folder ", path.string(), " holds no open_clip_pytorch_model.bin or .safetensors");
}

models::clip::OpenClipModel load_model(const Hpsv2Config& config) {
  const auto checkpoint = require_file(config.checkpoint, "checkpoint", "HPS_v2*_compressed.pt");
  fs::path base;
  if (!config.clip_model.empty()) base = clip_weights_file(require_file(config.clip_model, "clip_model", "open_clip weights"));
  require_file(config.tokenizer, "tokenizer", "bpe_simple_vocab_16e6.txt.gz or vocab.json + merges.txt");
  const auto model_config = models::clip::OpenClipConfig::resolve(config.model_config);
  std::map<std::string, at::Tensor> state;
  if (!base.empty()) state = models::clip::read_open_clip_state(base);
  for (auto& [name, tensor] : models::clip::read_open_clip_state(checkpoint)) state[name] = tensor;
  models::clip::OpenClipModel model(model_config);
  model->load_state(state, base.empty() ? checkpoint.string() : checkpoint.string() + " over " + base.string());
  model->eval();
  for (auto& p : model->parameters()) p.set_requires_grad(false);
  return model;
}

}  // namespace

Hpsv2Ranker::Hpsv2Ranker(const Hpsv2Config& config)
    : model_(load_model(config)), tokenizer_(models::clip::ClipBpeTokenizer::from_path(config.tokenizer)) {
  check(tokenizer_.vocab_size() <= model_->text_config().vocab_size, "ranker.hpsv2.tokenizer has ",
        tokenizer_.vocab_size(), " tokens but the model's vocabulary has ", model_->text_config().vocab_size);
}

Hpsv2Ranker::Hpsv2Ranker(models::clip::OpenClipModel model, models::clip::ClipBpeTokenizer tokenizer)
    : model_(std::move(model)), tokenizer_(std::move(tokenizer)) {
  model_->eval();
}

at::Tensor Hpsv2Ranker::score_ids(const at::Tensor& images, const at::Tensor& ids) {
  validate_images(images, "hpsv2 ranker");
  at::NoGradGuard no_grad;
  if (model_->logit_scale.device() != images.device()) {
    model_->to(images.device());
    cached_prompt_.clear();
    cached_text_ = at::Tensor();
  }
  const auto pixels = models::clip::clip_preprocess(images.to(at::kFloat), model_->config().vision.image_size);
  const auto image_features = model_->encode_image(pixels, /*normalize=*/true);
  const auto text_features = model_->encode_text(ids.to(images.device()), /*normalize=*/true);
  return (image_features * text_features).sum(-1);
}

at::Tensor Hpsv2Ranker::score(const at::Tensor& images, const std::string& prompt) {
  validate_images(images, "hpsv2 ranker");
  at::NoGradGuard no_grad;
  if (model_->logit_scale.device() != images.device()) {
    model_->to(images.device());
    cached_prompt_.clear();
  }
  if (cached_prompt_ != prompt || !cached_text_.defined()) {
    const auto ids = tokenizer_.tokenize({prompt}, model_->text_config().context_length).to(images.device());
    cached_text_ = model_->encode_text(ids, /*normalize=*/true);
    cached_prompt_ = prompt;
  }
  const auto pixels = models::clip::clip_preprocess(images.to(at::kFloat), model_->config().vision.image_size);
  const auto image_features = model_->encode_image(pixels, /*normalize=*/true);
  return (image_features * cached_text_).sum(-1);
}

}  // namespace dreamdpo::rank
