#include "models/clip/clip_text_transformer.h"

#include <limits>

#include "core/error.h"

namespace dreamdpo::models::clip {

ClipTextTransformerImpl::ClipTextTransformerImpl(const ClipTextConfig& config, int64_t embed_dim)
    : text_config_(config) {
  token_embedding = register_module("token_embedding", torch::nn::Embedding(config.vocab_size, config.width));
  positional_embedding = register_parameter("positional_embedding", at::zeros({config.context_length, config.width}));
  transformer = register_module("transformer",
                                ClipTransformer(config.width, config.layers, config.heads, config.mlp_ratio));
  ln_final = register_module("ln_final", torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.width}).eps(1e-5)));
  // embed_dim 0: a hidden-states-only tower (SD2's text encoder, transformers' CLIPTextModel).
  if (embed_dim > 0) text_projection = register_parameter("text_projection", at::zeros({config.width, embed_dim}));
}

at::Tensor ClipTextTransformerImpl::causal_mask(const at::TensorOptions& options) const {
  const int64_t n = text_config_.context_length;
  return at::full({n, n}, -std::numeric_limits<float>::infinity(), options).triu(1);
}

at::Tensor ClipTextTransformerImpl::run(const at::Tensor& ids, int64_t num_blocks) {
  check(ids.dim() == 2 && ids.size(1) == text_config_.context_length, "CLIP text ids must be [batch, ",
        text_config_.context_length, "], got ", ids.sizes());
  check(ids.scalar_type() == at::kLong, "CLIP text ids must be int64, got ", ids.scalar_type());
  const auto device_ids = ids.to(positional_embedding.device());
  check(device_ids.numel() == 0 || (device_ids.min().item<int64_t>() >= 0 &&
                                    device_ids.max().item<int64_t>() < text_config_.vocab_size),
        "CLIP text ids must lie in [0, ", text_config_.vocab_size, ")");
  auto x = token_embedding(device_ids) + positional_embedding;
  x = transformer->forward(x, causal_mask(x.options()), num_blocks);
  return ln_final(x);
}

at::Tensor ClipTextTransformerImpl::hidden_states(const at::Tensor& ids, ClipTextLayer layer) {
  return run(ids, layer == ClipTextLayer::kLast ? -1 : transformer->layers() - 1);
}

at::Tensor ClipTextTransformerImpl::encode_text(const at::Tensor& ids) {
  check(text_projection.defined(), "this CLIP text tower was built without text_projection (embed_dim 0)");
  const auto hidden = run(ids, -1);
  const auto eot = ids.to(hidden.device()).argmax(-1);
  const auto rows = at::arange(hidden.size(0), eot.options());
  return at::matmul(hidden.index({rows, eot}), text_projection);
}

}  // namespace dreamdpo::models::clip
