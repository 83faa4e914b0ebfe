// The ImageReward ranker: score = ImageReward's normalised reward of each image for the prompt,
// with DreamDPO's preprocessing (threestudio/reward/imagereward.py).
#pragma once
#include <map>
#include <memory>
#include <string>

#include "models/blip/bert_wordpiece_tokenizer.h"
#include "models/blip/image_reward_model.h"
#include "rank/imagereward_config.h"
#include "rank/ranker.h"

namespace dreamdpo::rank {

class ImageRewardRanker : public Ranker {
 public:
  // Checks that the three files exist, then reads med_config.json, the vocabulary and the
  // checkpoint (strictly): every failure is a dreamdpo::Error before any work starts.
  explicit ImageRewardRanker(const ImageRewardConfig& config);
  std::string name() const override { return "imagereward"; }
  at::Tensor score(const at::Tensor& images, const std::string& prompt) override;

  models::blip::ImageRewardModel& model() { return *model_; }
  const models::blip::BertWordPieceTokenizer& tokenizer() const { return *tokenizer_; }

 private:
  std::shared_ptr<models::blip::ImageRewardModel> model_;
  std::unique_ptr<models::blip::BertWordPieceTokenizer> tokenizer_;
  std::map<std::string, models::blip::TokenizedText> prompts_;
};

// The ViT's sizes read off an ImageReward state dict (width, depth, patch, image size); heads =
// `heads` or width / 64.
models::blip::BlipVisionConfig vision_config_from_state(const std::map<std::string, at::Tensor>& tensors,
                                                        int64_t heads, const std::string& origin);

}  // namespace dreamdpo::rank
