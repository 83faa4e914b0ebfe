// The pre-LN transformer of OpenCLIP (open_clip/transformer.py), shared by its text and vision
// towers. Submodules are named as open_clip's, so named_parameters() equal its state-dict names:
//   resblocks.N.ln_1, resblocks.N.attn.{in_proj_weight, in_proj_bias, out_proj},
//   resblocks.N.ln_2, resblocks.N.mlp.{c_fc, c_proj}
// Activation: exact GELU (open_clip's default for these models, not QuickGELU); LayerNorm eps 1e-5.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

namespace dreamdpo::models::clip {

// Multi-head self-attention with one packed input projection (nn.MultiheadAttention's layout).
class ClipAttentionImpl : public torch::nn::Module {
 public:
  ClipAttentionImpl(int64_t width, int64_t heads);
  // x [B, L, W]; mask: undefined or additive [L, L].
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask = {});

  at::Tensor in_proj_weight, in_proj_bias;
  torch::nn::Linear out_proj{nullptr};
  int64_t heads;
};
TORCH_MODULE(ClipAttention);

class ClipMlpImpl : public torch::nn::Module {
 public:
  ClipMlpImpl(int64_t width, int64_t hidden);
  at::Tensor forward(const at::Tensor& x);
  torch::nn::Linear c_fc{nullptr}, c_proj{nullptr};
};
TORCH_MODULE(ClipMlp);

class ClipResidualBlockImpl : public torch::nn::Module {
 public:
  ClipResidualBlockImpl(int64_t width, int64_t heads, double mlp_ratio);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask = {});
  torch::nn::LayerNorm ln_1{nullptr}, ln_2{nullptr};
  ClipAttention attn{nullptr};
  ClipMlp mlp{nullptr};
};
TORCH_MODULE(ClipResidualBlock);

class ClipTransformerImpl : public torch::nn::Module {
 public:
  ClipTransformerImpl(int64_t width, int64_t layers, int64_t heads, double mlp_ratio);
  // Runs the first `num_blocks` blocks (-1: all).
  at::Tensor forward(at::Tensor x, const at::Tensor& mask = {}, int64_t num_blocks = -1);
  ClipResidualBlock block(int64_t i) const;
  int64_t layers() const { return static_cast<int64_t>(resblocks->size()); }
  torch::nn::ModuleList resblocks;
};
TORCH_MODULE(ClipTransformer);

}  // namespace dreamdpo::models::clip
