// The "builtin" ranker: the ShapeWorld reward model (models/builtin/reward.safetensors) scores
// each image against the prompt as logit_scale * cosine. Images of any size are fitted to the
// model's 32x32 input. Prompts with words outside its vocabulary are an error listing them.
#pragma once
#include <filesystem>
#include <memory>

#include "models/builtin/clip_reward.h"
#include "rank/ranker.h"

namespace dreamdpo::rank {

// $DREAMDPO_MODELS_DIR/reward.safetensors when that variable is set, else the shipped file.
std::filesystem::path default_reward_path();

class BuiltinRanker : public Ranker {
 public:
  explicit BuiltinRanker(std::shared_ptr<models::ClipReward> model);
  explicit BuiltinRanker(const std::filesystem::path& weights = default_reward_path());
  std::string name() const override { return "builtin"; }
  // [N] scores on the images' device.
  at::Tensor score(const at::Tensor& images, const std::string& prompt) override;

 private:
  std::shared_ptr<models::ClipReward> model_;
};

}  // namespace dreamdpo::rank
