// The transformer parts of the Stable Diffusion UNet, named like diffusers' Attention,
// FeedForward(GEGLU), BasicTransformerBlock and Transformer2DModel (ldm's CrossAttention,
// BasicTransformerBlock and SpatialTransformer hold the same names below the block level).
// MVDream's multi-view change lives here: with num_frames > 1 the self-attention (attn1) of
// every block runs over the tokens of all frames of one object together.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <memory>
#include <vector>

namespace dreamdpo::models::sd {

// diffusers Attention / ldm CrossAttention: to_q, to_k, to_v (no bias), to_out.0.
class Attention : public torch::nn::Module {
 public:
  // context_dim 0: self-attention (keys and values from the queries' own tokens).
  Attention(int64_t query_dim, int64_t heads, int64_t head_dim, int64_t context_dim = 0);
  // x [B,L,query_dim]; context [B,Lc,context_dim] or undefined for self-attention.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& context = {});

 private:
  int64_t heads_, head_dim_;
  torch::nn::Linear to_q_{nullptr}, to_k_{nullptr}, to_v_{nullptr}, out_{nullptr};
};

// diffusers FeedForward with GEGLU: net.0.proj (dim -> 2*inner), net.1 dropout, net.2 (inner -> dim).
class GegluFeedForward : public torch::nn::Module {
 public:
  GegluFeedForward(int64_t dim, int64_t mult = 4);
  at::Tensor forward(const at::Tensor& x);

 private:
  torch::nn::Linear proj_{nullptr}, out_{nullptr};
};

// Pre-norm block: self-attention, cross-attention on the text, GEGLU feed-forward.
class BasicTransformerBlock : public torch::nn::Module {
 public:
  BasicTransformerBlock(int64_t dim, int64_t heads, int64_t head_dim, int64_t context_dim);
  // x [B*F, L, dim]: F frames of each object; attn1 sees all F*L tokens of one object.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& context, int64_t num_frames = 1);

 private:
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr}, norm3_{nullptr};
  std::shared_ptr<Attention> attn1_, attn2_;
  std::shared_ptr<GegluFeedForward> ff_;
};

// diffusers Transformer2DModel on continuous input / ldm SpatialTransformer(3D): GroupNorm,
// proj_in (Linear, or a 1x1 Conv2d when !use_linear_projection), transformer_blocks, proj_out,
// plus the input as residual.
class Transformer2D : public torch::nn::Module {
 public:
  Transformer2D(int64_t channels, int64_t heads, int64_t context_dim, int64_t depth, bool use_linear_projection,
                int64_t norm_groups);
  // x [B*F, C, H, W], context [B*F, Lc, context_dim].
  at::Tensor forward(const at::Tensor& x, const at::Tensor& context, int64_t num_frames = 1);

 private:
  bool linear_;
  torch::nn::GroupNorm norm_{nullptr};
  torch::nn::Linear proj_in_linear_{nullptr}, proj_out_linear_{nullptr};
  torch::nn::Conv2d proj_in_conv_{nullptr}, proj_out_conv_{nullptr};
  std::vector<std::shared_ptr<BasicTransformerBlock>> blocks_;
};

}  // namespace dreamdpo::models::sd
