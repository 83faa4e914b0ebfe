#include "models/clip/clip_vision_transformer.h"

#include "core/error.h"

namespace dreamdpo::models::clip {

ClipVisionTransformerImpl::ClipVisionTransformerImpl(const ClipVisionConfig& config, int64_t embed_dim)
    : config_(config) {
  const int64_t w = config.width;
  conv1 = register_module(
      "conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, w, config.patch_size).stride(config.patch_size).bias(false)));
  class_embedding = register_parameter("class_embedding", at::zeros({w}));
  positional_embedding = register_parameter("positional_embedding", at::zeros({config.grid() * config.grid() + 1, w}));
  ln_pre = register_module("ln_pre", torch::nn::LayerNorm(torch::nn::LayerNormOptions({w}).eps(1e-5)));
  transformer = register_module("transformer", ClipTransformer(w, config.layers, config.heads(), config.mlp_ratio));
  ln_post = register_module("ln_post", torch::nn::LayerNorm(torch::nn::LayerNormOptions({w}).eps(1e-5)));
  proj = register_parameter("proj", at::zeros({w, embed_dim}));
}

at::Tensor ClipVisionTransformerImpl::tokens(const at::Tensor& images) {
  check(images.dim() == 4 && images.size(1) == 3 && images.size(2) == config_.image_size &&
            images.size(3) == config_.image_size,
        "the CLIP vision tower takes normalised images [batch, 3, ", config_.image_size, ", ", config_.image_size,
        "], got ", images.sizes());
  auto x = conv1(images.to(proj.device(), proj.scalar_type()));  // [B, W, g, g]
  x = x.flatten(2).transpose(1, 2);                               // [B, g*g, W]
  const auto cls = class_embedding.reshape({1, 1, -1}).expand({x.size(0), 1, x.size(2)});
  x = at::cat({cls, x}, 1) + positional_embedding;
  return transformer->forward(ln_pre(x));
}

at::Tensor ClipVisionTransformerImpl::forward(const at::Tensor& images) {
  const auto x = tokens(images);
  return at::matmul(ln_post(x.select(1, 0)), proj);
}

}  // namespace dreamdpo::models::clip
