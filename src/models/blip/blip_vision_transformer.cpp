#include "models/blip/blip_vision_transformer.h"

#include <torch/nn/functional/activation.h>

#include "core/error.h"
#include "models/attention.h"

namespace dreamdpo::models::blip {

namespace nn = torch::nn;

void BlipVisionConfig::validate() const {
  check(image_size > 0 && patch_size > 0 && image_size % patch_size == 0, "BLIP ViT: image_size ", image_size,
        " must be a positive multiple of patch_size ", patch_size);
  check(width > 0 && layers > 0 && heads > 0 && width % heads == 0, "BLIP ViT: width ", width,
        " must be a positive multiple of heads ", heads, " (layers ", layers, ")");
  check(mlp_ratio > 0 && layer_norm_eps > 0, "BLIP ViT: mlp_ratio and layer_norm_eps must be > 0");
}

VitPatchEmbed::VitPatchEmbed(const BlipVisionConfig& c) {
  proj = register_module("proj", nn::Conv2d(nn::Conv2dOptions(3, c.width, c.patch_size).stride(c.patch_size)));
}

at::Tensor VitPatchEmbed::forward(const at::Tensor& pixels) { return proj->forward(pixels).flatten(2).transpose(1, 2); }

VitAttention::VitAttention(const BlipVisionConfig& c) : heads(c.heads) {
  qkv = register_module("qkv", nn::Linear(nn::LinearOptions(c.width, 3 * c.width).bias(true)));
  proj = register_module("proj", nn::Linear(c.width, c.width));
}

at::Tensor VitAttention::forward(const at::Tensor& x) {
  const auto B = x.size(0), N = x.size(1), C = x.size(2);
  const auto qkv_heads = qkv->forward(x).reshape({B, N, 3, heads, C / heads}).permute({2, 0, 3, 1, 4});
  const auto out = models::attention(qkv_heads[0], qkv_heads[1], qkv_heads[2]);
  return proj->forward(out.transpose(1, 2).reshape({B, N, C}));
}

VitMlp::VitMlp(const BlipVisionConfig& c) {
  fc1 = register_module("fc1", nn::Linear(c.width, c.width * c.mlp_ratio));
  fc2 = register_module("fc2", nn::Linear(c.width * c.mlp_ratio, c.width));
}

at::Tensor VitMlp::forward(const at::Tensor& x) { return fc2->forward(at::gelu(fc1->forward(x))); }

VitBlock::VitBlock(const BlipVisionConfig& c) {
  const auto ln = nn::LayerNormOptions({c.width}).eps(c.layer_norm_eps);
  norm1 = register_module("norm1", nn::LayerNorm(ln));
  attn = register_module("attn", std::make_shared<VitAttention>(c));
  norm2 = register_module("norm2", nn::LayerNorm(ln));
  mlp = register_module("mlp", std::make_shared<VitMlp>(c));
}

at::Tensor VitBlock::forward(const at::Tensor& x) {
  const auto h = x + attn->forward(norm1->forward(x));
  return h + mlp->forward(norm2->forward(h));
}

BlipVisionTransformer::BlipVisionTransformer(const BlipVisionConfig& config) : config_(config) {
  config_.validate();
  patch_embed = register_module("patch_embed", std::make_shared<VitPatchEmbed>(config_));
  cls_token = register_parameter("cls_token", at::zeros({1, 1, config_.width}));
  pos_embed = register_parameter("pos_embed", at::zeros({1, config_.tokens(), config_.width}));
  auto list = register_module("blocks", nn::ModuleList());
  for (int64_t i = 0; i < config_.layers; ++i) {
    blocks.push_back(std::make_shared<VitBlock>(config_));
    list->push_back(blocks.back());
  }
  norm = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({config_.width}).eps(config_.layer_norm_eps)));
}

at::Tensor BlipVisionTransformer::embed(const at::Tensor& pixels) {
  check(pixels.dim() == 4 && pixels.size(1) == 3 && pixels.size(2) == config_.image_size &&
            pixels.size(3) == config_.image_size,
        "BLIP ViT: expected pixels [B,3,", config_.image_size, ",", config_.image_size, "], got ", pixels.sizes());
  const auto patches = patch_embed->forward(pixels);
  const auto x = at::cat({cls_token.expand({pixels.size(0), -1, -1}), patches}, 1);
  return x + pos_embed;
}

at::Tensor BlipVisionTransformer::forward(const at::Tensor& pixels) {
  auto x = embed(pixels);
  for (auto& block : blocks) x = block->forward(x);
  return norm->forward(x);
}

}  // namespace dreamdpo::models::blip
