// BLIP's vision transformer (ImageReward/models/BLIP/vit.py, after timm's ViT): patch embedding,
// class token, learned positions, pre-norm blocks (LayerNorm eps 1e-6, fused qkv with bias,
// exact GELU MLP), final LayerNorm. Module names follow the reference's state dict
// (patch_embed.proj, cls_token, pos_embed, blocks.N.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,
// mlp.fc2}, norm). Defaults: ViT-L/16 at 224 px, as blip.py create_vit('large').
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

namespace dreamdpo::models::blip {

struct BlipVisionConfig {
  int64_t image_size = 224;
  int64_t patch_size = 16;
  int64_t width = 1024;
  int64_t layers = 24;
  int64_t heads = 16;
  int64_t mlp_ratio = 4;
  double layer_norm_eps = 1e-6;
  int64_t tokens() const { return (image_size / patch_size) * (image_size / patch_size) + 1; }
  void validate() const;
};

class VitPatchEmbed : public torch::nn::Module {
 public:
  VitPatchEmbed(const BlipVisionConfig& c);
  at::Tensor forward(const at::Tensor& pixels);  // [B,3,S,S] -> [B,N,width]
  torch::nn::Conv2d proj{nullptr};
};

class VitAttention : public torch::nn::Module {
 public:
  VitAttention(const BlipVisionConfig& c);
  at::Tensor forward(const at::Tensor& x);
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
  int64_t heads;
};

class VitMlp : public torch::nn::Module {
 public:
  VitMlp(const BlipVisionConfig& c);
  at::Tensor forward(const at::Tensor& x);
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};

class VitBlock : public torch::nn::Module {
 public:
  VitBlock(const BlipVisionConfig& c);
  at::Tensor forward(const at::Tensor& x);
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  std::shared_ptr<VitAttention> attn;
  std::shared_ptr<VitMlp> mlp;
};

class BlipVisionTransformer : public torch::nn::Module {
 public:
  explicit BlipVisionTransformer(const BlipVisionConfig& config = {});
  // Normalised pixels [B,3,image_size,image_size] -> tokens [B, 1 + patches, width] ([CLS] first).
  at::Tensor forward(const at::Tensor& pixels);
  // The steps of forward, for per-block tests: patches + class token + positions.
  at::Tensor embed(const at::Tensor& pixels);
  const BlipVisionConfig& config() const { return config_; }

  std::shared_ptr<VitPatchEmbed> patch_embed;
  at::Tensor cls_token, pos_embed;
  std::vector<std::shared_ptr<VitBlock>> blocks;
  torch::nn::LayerNorm norm{nullptr};

 private:
  BlipVisionConfig config_;
};

}  // namespace dreamdpo::models::blip
