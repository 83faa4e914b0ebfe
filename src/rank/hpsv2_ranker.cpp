#include "rank/hpsv2_ranker.h"

#include <ATen/core/grad_mode.h>

#include "core/error.h"
#include "core/network_dtype.h"
#include "models/clip/image_preprocess.h"
#include "rank/validate_images.h"

namespace dreamdpo::rank {

namespace {

namespace fs = std::filesystem;

// L2-normalised in float32, whatever dtype the towers ran in.
at::Tensor normalized(const at::Tensor& features) {
  const auto f = features.to(at::kFloat);
  return f / f.norm(2, -1, true).clamp_min(1e-12);
}

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
  core::check_network_dtype_name(config.dtype, "ranker.hpsv2.dtype");  // before any file is read
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
    : model_(load_model(config)),
      tokenizer_(models::clip::ClipBpeTokenizer::from_path(config.tokenizer)),
      dtype_name_(config.dtype) {
  check(tokenizer_.vocab_size() <= model_->text_config().vocab_size, "ranker.hpsv2.tokenizer has ",
        tokenizer_.vocab_size(), " tokens but the model's vocabulary has ", model_->text_config().vocab_size);
}

Hpsv2Ranker::Hpsv2Ranker(models::clip::OpenClipModel model, models::clip::ClipBpeTokenizer tokenizer,
                         const std::string& dtype)
    : model_(std::move(model)), tokenizer_(std::move(tokenizer)), dtype_name_(dtype) {
  core::check_network_dtype_name(dtype_name_, "ranker.hpsv2.dtype");
  model_->eval();
}

void Hpsv2Ranker::follow(const at::Tensor& images) {
  const auto dtype = core::resolve_network_dtype(dtype_name_, images.device(), "ranker.hpsv2.dtype");
  if (model_->logit_scale.device() == images.device() && dtype == dtype_) return;
  model_->to(images.device(), dtype);
  dtype_ = dtype;
  cached_prompt_.clear();
  cached_text_ = at::Tensor();
}

at::Tensor Hpsv2Ranker::image_features(const at::Tensor& images) {
  // Resize and normalise in float32 (as DreamDPO's preprocessing does), then the model's dtype.
  const auto pixels = models::clip::clip_preprocess(images.to(at::kFloat), model_->config().vision.image_size);
  return normalized(model_->encode_image(pixels.to(dtype_)));
}

at::Tensor Hpsv2Ranker::score_ids(const at::Tensor& images, const at::Tensor& ids) {
  validate_images(images, "hpsv2 ranker");
  at::NoGradGuard no_grad;
  follow(images);
  const auto text_features = normalized(model_->encode_text(ids.to(images.device())));
  return (image_features(images) * text_features).sum(-1);
}

at::Tensor Hpsv2Ranker::score(const at::Tensor& images, const std::string& prompt) {
  validate_images(images, "hpsv2 ranker");
  at::NoGradGuard no_grad;
  follow(images);
  if (cached_prompt_ != prompt || !cached_text_.defined()) {
    const auto ids = tokenizer_.tokenize({prompt}, model_->text_config().context_length).to(images.device());
    cached_text_ = normalized(model_->encode_text(ids));
    cached_prompt_ = prompt;
  }
  return (image_features(images) * cached_text_).sum(-1);
}

}  // namespace dreamdpo::rank
