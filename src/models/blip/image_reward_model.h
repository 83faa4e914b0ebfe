// ImageReward (THUDM/ImageReward, ImageReward.py): BLIP's ViT encodes the image, the BERT text
// encoder reads the prompt with cross-attention to the image tokens, and an MLP maps the [CLS]
// output to a raw score; reward = (raw - 0.16717362830052426) / 1.0333394966054072.
// Module names equal ImageReward.pt's state dict: blip.visual_encoder.*, blip.text_encoder.*,
// mlp.layers.{0,2,4,6,7}.* (Linear 768->1024->128->64->16->1, dropouts at 1,3,5, no activations).
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>

#include <map>
#include <string>

#include "models/blip/bert_text_encoder.h"
#include "models/blip/blip_vision_transformer.h"

namespace dreamdpo::models::blip {

struct ImageRewardModelConfig {
  BlipVisionConfig vision;  // ViT-L/16 @224
  BertTextConfig text;      // from med_config.json; text.encoder_width is set to vision.width
  double score_mean = 0.16717362830052426;
  double score_std = 1.0333394966054072;
};

class BlipParts : public torch::nn::Module {
 public:
  BlipParts(const BlipVisionConfig& vision, const BertTextConfig& text);
  std::shared_ptr<BlipVisionTransformer> visual_encoder;
  std::shared_ptr<BertTextEncoder> text_encoder;
};

class ImageRewardHead : public torch::nn::Module {
 public:
  explicit ImageRewardHead(int64_t input_size);
  at::Tensor forward(const at::Tensor& features) { return layers->forward(features); }
  torch::nn::Sequential layers{nullptr};
};

class ImageRewardModel : public torch::nn::Module {
 public:
  explicit ImageRewardModel(ImageRewardModelConfig config);
  // pixels [B,3,S,S] (preprocessed), ids/mask [1 or B, L] -> raw scores [B].
  at::Tensor raw_score(const at::Tensor& pixels, const at::Tensor& input_ids, const at::Tensor& attention_mask);
  at::Tensor normalise(const at::Tensor& raw) const { return (raw - config_.score_mean) / config_.score_std; }
  const ImageRewardModelConfig& config() const { return config_; }

  std::shared_ptr<BlipParts> blip;
  std::shared_ptr<ImageRewardHead> mlp;

 private:
  ImageRewardModelConfig config_;
};

// Strict load of an ImageReward state dict. Tensors the reference carries but never uses for the
// score (BLIP_Pretrain's vision_proj / text_proj) are dropped; a missing
// text_encoder.embeddings.position_ids is filled with 0..P-1 (transformers ignores it too).
// Anything else missing, unexpected or mis-shaped is an error naming it.
void load_image_reward_state(ImageRewardModel& model, std::map<std::string, at::Tensor> tensors,
                             const std::string& origin);

}  // namespace dreamdpo::models::blip
