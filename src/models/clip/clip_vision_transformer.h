// OpenCLIP's vision transformer (open_clip VisionTransformer as ViT-H-14 configures it: learnable
// positional embedding, ln_pre, class-token pooling ('tok'), ln_post, proj; no attentional pooler,
// no patch dropout at inference). Named as open_clip's `visual.*` state dict below `visual.`:
//   conv1.weight (no bias), class_embedding, positional_embedding, ln_pre, transformer.resblocks.N...,
//   ln_post, proj [width, embed_dim]
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>

#include "models/clip/clip_transformer.h"
#include "models/clip/open_clip_config.h"

namespace dreamdpo::models::clip {

class ClipVisionTransformerImpl : public torch::nn::Module {
 public:
  ClipVisionTransformerImpl(const ClipVisionConfig& config, int64_t embed_dim);
  // Normalised images [B, 3, image_size, image_size] -> features [B, embed_dim] (not normalised).
  at::Tensor forward(const at::Tensor& images);
  // The tokens after the transformer, before pooling: [B, grid^2 + 1, width].
  at::Tensor tokens(const at::Tensor& images);
  const ClipVisionConfig& vision_config() const { return config_; }

  torch::nn::Conv2d conv1{nullptr};
  at::Tensor class_embedding, positional_embedding, proj;
  torch::nn::LayerNorm ln_pre{nullptr}, ln_post{nullptr};
  ClipTransformer transformer{nullptr};

 private:
  ClipVisionConfig config_;
};
TORCH_MODULE(ClipVisionTransformer);

}  // namespace dreamdpo::models::clip
