#include "rank/builtin_ranker.h"

#include <ATen/core/grad_mode.h>
#include <cstdlib>

#include "rank/validate_images.h"

namespace dreamdpo::rank {

std::filesystem::path default_reward_path() {
  if (const char* dir = std::getenv("DREAMDPO_MODELS_DIR"); dir != nullptr && *dir != '\0') {
    return std::filesystem::path(dir) / "reward.safetensors";
  }
  return std::filesystem::path(DREAMDPO_SOURCE_DIR) / "models" / "builtin" / "reward.safetensors";
}

BuiltinRanker::BuiltinRanker(std::shared_ptr<models::ClipReward> model) : model_(std::move(model)) {
  model_->eval();
}

BuiltinRanker::BuiltinRanker(const std::filesystem::path& weights) : BuiltinRanker(models::ClipReward::load(weights)) {}

at::Tensor BuiltinRanker::score(const at::Tensor& images, const std::string& prompt) {
  validate_images(images, "builtin ranker");
  at::NoGradGuard no_grad;
  if (model_->parameters().front().device() != images.device()) model_->to(images.device());
  const auto text = model_->encode_captions({prompt});  // errors on unknown words first
  const auto image = model_->encode_images(images.detach());
  return (image * text).sum(-1) * model_->logit_scale();
}

}  // namespace dreamdpo::rank
