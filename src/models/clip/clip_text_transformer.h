// OpenCLIP's text tower (open_clip CLIP.encode_text; the text encoder of SD2 / MVDream and of
// HPSv2). Its parameters sit at the root of the module, named as in open_clip's CLIP state dict:
//   token_embedding.weight, positional_embedding, transformer.resblocks.N..., ln_final,
//   text_projection [width, embed_dim]
// Causal self-attention over all context_length positions (padding included, as the reference).
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>

#include "models/clip/clip_transformer.h"
#include "models/clip/open_clip_config.h"

namespace dreamdpo::models::clip {

enum class ClipTextLayer {
  kLast,         // all blocks, then ln_final (HPSv2, CLIP features)
  kPenultimate,  // all blocks but the last, then ln_final (SD2's FrozenOpenCLIPEmbedder, layer="penultimate")
};

class ClipTextTransformerImpl : public torch::nn::Module {
 public:
  // embed_dim 0: no text_projection (a tower used for its hidden states only).
  ClipTextTransformerImpl(const ClipTextConfig& config, int64_t embed_dim);
  // ids [B, context_length] int64 -> per-token hidden states [B, context_length, width].
  at::Tensor hidden_states(const at::Tensor& ids, ClipTextLayer layer = ClipTextLayer::kLast);
  // ids -> pooled features [B, embed_dim]: the final hidden state at the end token (the largest
  // id of each row, as the reference's argmax) @ text_projection. Not normalised.
  at::Tensor encode_text(const at::Tensor& ids);
  // The [L, L] additive causal mask (-inf above the diagonal).
  at::Tensor causal_mask(const at::TensorOptions& options) const;
  const ClipTextConfig& text_config() const { return text_config_; }

  torch::nn::Embedding token_embedding{nullptr};
  at::Tensor positional_embedding, text_projection;
  ClipTransformer transformer{nullptr};
  torch::nn::LayerNorm ln_final{nullptr};

 private:
  at::Tensor run(const at::Tensor& ids, int64_t num_blocks);
  ClipTextConfig text_config_;
};
TORCH_MODULE(ClipTextTransformer);

}  // namespace dreamdpo::models::clip
