#include "rank/imagereward_ranker.h"

#include <ATen/core/grad_mode.h>

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "models/checkpoint/state_dict_file.h"
#include "models/blip/image_reward_preprocess.h"
#include "rank/validate_images.h"

namespace dreamdpo::rank {

namespace fs = std::filesystem;
using models::blip::BlipVisionConfig;

namespace {

const at::Tensor& tensor_of(const std::map<std::string, at::Tensor>& tensors, const std::string& name,
                            int64_t dims, const std::string& origin) {
  const auto it = tensors.find(name);
  check(it != tensors.end(), origin, " has no ", name, ": it is not an ImageReward checkpoint");
  check(it->second.dim() == dims, origin, ": ", name, " has shape ", it->second.sizes(), ", expected ", dims, " dims");
  return it->second;
}

}  // namespace

BlipVisionConfig vision_config_from_state(const std::map<std::string, at::Tensor>& tensors, int64_t heads,
                                          const std::string& origin) {
  BlipVisionConfig c;
  const auto& patch = tensor_of(tensors, "blip.visual_encoder.patch_embed.proj.weight", 4, origin);
  const auto& pos = tensor_of(tensors, "blip.visual_encoder.pos_embed", 3, origin);
  c.width = patch.size(0);
  c.patch_size = patch.size(2);
  const auto grid = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(pos.size(1) - 1))));
  check(grid * grid + 1 == pos.size(1), origin, ": pos_embed holds ", pos.size(1),
        " positions, not 1 + a square grid");
  c.image_size = grid * c.patch_size;
  c.layers = 0;
  while (tensors.count("blip.visual_encoder.blocks." + std::to_string(c.layers) + ".norm1.weight")) ++c.layers;
  check(c.layers > 0, origin, " has no blip.visual_encoder.blocks.0.*: it is not an ImageReward checkpoint");
  const auto& fc1 = tensor_of(tensors, "blip.visual_encoder.blocks.0.mlp.fc1.weight", 2, origin);
  check(fc1.size(0) % c.width == 0, origin, ": the ViT's MLP width ", fc1.size(0), " is not a multiple of ", c.width);
  c.mlp_ratio = fc1.size(0) / c.width;
  c.heads = heads > 0 ? heads : c.width / 64;
  check(c.heads > 0 && c.width % c.heads == 0, origin, ": cannot split ViT width ", c.width, " into ", c.heads,
        " heads (set ranker.imagereward.vision_heads)");
  return c;
}

ImageRewardRanker::ImageRewardRanker(const ImageRewardConfig& config) {
  const std::pair<const char*, const std::string*> files[] = {
      {"checkpoint", &config.checkpoint}, {"med_config", &config.med_config}, {"vocab", &config.vocab}};
  for (const auto& [key, value] : files) {
    check(!value->empty(), "the imagereward ranker needs ranker.imagereward.", key,
          " (ImageReward.pt, med_config.json and bert-base-uncased vocab.txt)");
    check(fs::is_regular_file(*value), "ranker.imagereward.", key, ": no such file ", *value);
  }
  models::blip::ImageRewardModelConfig model_config;
  model_config.text = models::blip::BertTextConfig::from_file(config.med_config);
  tokenizer_ = std::make_unique<models::blip::BertWordPieceTokenizer>(
      models::blip::BertWordPieceTokenizer::from_file(config.vocab));
  check(tokenizer_->vocab_size() <= model_config.text.vocab_size, config.vocab, " holds ",
        tokenizer_->vocab_size(), " tokens with [DEC] and [ENC], more than med_config.json's vocab_size ",
        model_config.text.vocab_size, ": the vocabulary does not belong to this model");
  auto tensors = models::checkpoint::read_state_dict(config.checkpoint);
  model_config.vision = vision_config_from_state(tensors, config.vision_heads, config.checkpoint);
  model_ = std::make_shared<models::blip::ImageRewardModel>(model_config);
  models::blip::load_image_reward_state(*model_, std::move(tensors), config.checkpoint);
}

at::Tensor ImageRewardRanker::score(const at::Tensor& images, const std::string& prompt) {
  validate_images(images, "imagereward ranker");
  at::NoGradGuard no_grad;
  auto it = prompts_.find(prompt);
  if (it == prompts_.end()) it = prompts_.emplace(prompt, tokenizer_->encode(prompt, 35)).first;
  const auto device = images.device();
  if (model_->blip->visual_encoder->cls_token.device() != device) model_->to(device);
  const auto pixels = models::blip::image_reward_preprocess(images, model_->config().vision.image_size);
  const auto raw = model_->raw_score(pixels, it->second.input_ids.to(device), it->second.attention_mask.to(device));
  return model_->normalise(raw);
}

}  // namespace dreamdpo::rank
