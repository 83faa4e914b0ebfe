#include "models/blip/image_reward_model.h"

#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>

#include "core/error.h"
#include "models/module_io.h"

namespace dreamdpo::models::blip {

namespace nn = torch::nn;

BlipParts::BlipParts(const BlipVisionConfig& vision, const BertTextConfig& text) {
  visual_encoder = register_module("visual_encoder", std::make_shared<BlipVisionTransformer>(vision));
  text_encoder = register_module("text_encoder", std::make_shared<BertTextEncoder>(text));
}

ImageRewardHead::ImageRewardHead(int64_t input_size) {
  // ImageReward.py MLP: the ReLUs are commented out there; dropout is inactive in eval.
  layers = register_module("layers", nn::Sequential(nn::Linear(input_size, 1024), nn::Dropout(0.2),
                                                    nn::Linear(1024, 128), nn::Dropout(0.2), nn::Linear(128, 64),
                                                    nn::Dropout(0.1), nn::Linear(64, 16), nn::Linear(16, 1)));
}

ImageRewardModel::ImageRewardModel(ImageRewardModelConfig config) : config_(std::move(config)) {
  config_.text.encoder_width = config_.vision.width;  // as BLIP_Pretrain does
  check(config_.score_std > 0, "ImageReward: score_std must be > 0");
  blip = register_module("blip", std::make_shared<BlipParts>(config_.vision, config_.text));
  mlp = register_module("mlp", std::make_shared<ImageRewardHead>(config_.text.hidden_size));
  eval();
}

at::Tensor ImageRewardModel::raw_score(const at::Tensor& pixels, const at::Tensor& input_ids,
                                       const at::Tensor& attention_mask) {
  const auto image = blip->visual_encoder->forward(pixels);
  const auto batch = image.size(0);
  check(input_ids.dim() == 2 && (input_ids.size(0) == 1 || input_ids.size(0) == batch),
        "ImageReward: expected ids [1 or ", batch, ", L], got ", input_ids.sizes());
  const auto ids = input_ids.expand({batch, input_ids.size(1)});
  const auto mask = attention_mask.expand({batch, attention_mask.size(-1)});
  const auto hidden = blip->text_encoder->forward(ids, mask, image);
  return mlp->forward(hidden.select(1, 0)).squeeze(-1);
}

void load_image_reward_state(ImageRewardModel& model, std::map<std::string, at::Tensor> tensors,
                             const std::string& origin) {
  bool any_blip = false;
  for (const auto& [name, tensor] : tensors) any_blip = any_blip || name.rfind("blip.visual_encoder.", 0) == 0;
  check(any_blip, origin, " holds no blip.visual_encoder.* tensors: it is not an ImageReward checkpoint (ImageReward.pt)");
  for (auto it = tensors.begin(); it != tensors.end();) {
    const auto& name = it->first;
    const bool unused = name.rfind("blip.vision_proj.", 0) == 0 || name.rfind("blip.text_proj.", 0) == 0;
    it = unused ? tensors.erase(it) : std::next(it);
  }
  const std::string positions = "blip.text_encoder.embeddings.position_ids";
  if (!tensors.count(positions)) tensors[positions] = model.blip->text_encoder->embeddings->position_ids.clone();
  load_state(model, tensors, origin);
}

}  // namespace dreamdpo::models::blip
