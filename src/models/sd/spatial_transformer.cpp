#include "models/sd/spatial_transformer.h"

#include <torch/nn/modules/dropout.h>

#include "core/error.h"
#include "models/attention.h"

namespace dreamdpo::models::sd {

Attention::Attention(int64_t query_dim, int64_t heads, int64_t head_dim, int64_t context_dim)
    : heads_(heads), head_dim_(head_dim) {
  const int64_t inner = heads * head_dim, kv_dim = context_dim > 0 ? context_dim : query_dim;
  to_q_ = register_module("to_q", torch::nn::Linear(torch::nn::LinearOptions(query_dim, inner).bias(false)));
  to_k_ = register_module("to_k", torch::nn::Linear(torch::nn::LinearOptions(kv_dim, inner).bias(false)));
  to_v_ = register_module("to_v", torch::nn::Linear(torch::nn::LinearOptions(kv_dim, inner).bias(false)));
  torch::nn::ModuleList to_out;
  out_ = torch::nn::Linear(inner, query_dim);
  to_out->push_back(out_);  // to_out.1 is a dropout in the references: nothing to load
  register_module("to_out", to_out);
}

at::Tensor Attention::forward(const at::Tensor& x, const at::Tensor& context) {
  const auto& source = context.defined() ? context : x;
  auto split = [&](const at::Tensor& t) {  // [B,L,H*D] -> [B,H,L,D]
    return t.view({t.size(0), t.size(1), heads_, head_dim_}).transpose(1, 2);
  };
  auto out = models::attention(split(to_q_->forward(x)), split(to_k_->forward(source)), split(to_v_->forward(source)));
  return out_->forward(out.transpose(1, 2).reshape({x.size(0), x.size(1), heads_ * head_dim_}));
}

GegluFeedForward::GegluFeedForward(int64_t dim, int64_t mult) {
  const int64_t inner = dim * mult;
  torch::nn::ModuleList net;
  auto geglu = std::make_shared<torch::nn::Module>();
  proj_ = geglu->register_module("proj", torch::nn::Linear(dim, 2 * inner));
  net->push_back(geglu);
  net->push_back(torch::nn::Dropout(0.0));
  out_ = torch::nn::Linear(inner, dim);
  net->push_back(out_);
  register_module("net", net);
}

at::Tensor GegluFeedForward::forward(const at::Tensor& x) {
  auto halves = proj_->forward(x).chunk(2, -1);
  return out_->forward(halves[0] * at::gelu(halves[1]));
}

BasicTransformerBlock::BasicTransformerBlock(int64_t dim, int64_t heads, int64_t head_dim, int64_t context_dim) {
  norm1_ = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  attn1_ = register_module("attn1", std::make_shared<Attention>(dim, heads, head_dim));
  norm2_ = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  attn2_ = register_module("attn2", std::make_shared<Attention>(dim, heads, head_dim, context_dim));
  norm3_ = register_module("norm3", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  ff_ = register_module("ff", std::make_shared<GegluFeedForward>(dim));
}

at::Tensor BasicTransformerBlock::forward(const at::Tensor& x, const at::Tensor& context, int64_t num_frames) {
  const int64_t n = x.size(0), tokens = x.size(1), dim = x.size(2);
  check(num_frames >= 1 && n % num_frames == 0, "a batch of ", n, " cannot be split into objects of ", num_frames,
        " frames");
  // (b f) l c -> b (f l) c is a view of the contiguous batch: frames of one object are adjacent.
  auto self = norm1_->forward(x).reshape({n / num_frames, num_frames * tokens, dim});
  auto h = x + attn1_->forward(self).reshape({n, tokens, dim});
  h = h + attn2_->forward(norm2_->forward(h), context);
  return h + ff_->forward(norm3_->forward(h));
}

Transformer2D::Transformer2D(int64_t channels, int64_t heads, int64_t context_dim, int64_t depth,
                             bool use_linear_projection, int64_t norm_groups)
    : linear_(use_linear_projection) {
  check(heads > 0 && channels % heads == 0, "transformer of ", channels, " channels cannot have ", heads, " heads");
  norm_ = register_module("norm", torch::nn::GroupNorm(torch::nn::GroupNormOptions(norm_groups, channels).eps(1e-6)));
  if (linear_) {
    proj_in_linear_ = register_module("proj_in", torch::nn::Linear(channels, channels));
  } else {
    proj_in_conv_ = register_module("proj_in", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, channels, 1)));
  }
  torch::nn::ModuleList blocks;
  for (int64_t i = 0; i < depth; ++i) {
    blocks_.push_back(std::make_shared<BasicTransformerBlock>(channels, heads, channels / heads, context_dim));
    blocks->push_back(blocks_.back());
  }
  register_module("transformer_blocks", blocks);
  if (linear_) {
    proj_out_linear_ = register_module("proj_out", torch::nn::Linear(channels, channels));
  } else {
    proj_out_conv_ = register_module("proj_out", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, channels, 1)));
  }
}

at::Tensor Transformer2D::forward(const at::Tensor& x, const at::Tensor& context, int64_t num_frames) {
  const int64_t n = x.size(0), c = x.size(1), height = x.size(2), width = x.size(3);
  auto h = norm_->forward(x);
  if (!linear_) h = proj_in_conv_->forward(h);
  h = h.permute({0, 2, 3, 1}).reshape({n, height * width, c});
  if (linear_) h = proj_in_linear_->forward(h);
  for (auto& block : blocks_) h = block->forward(h, context, num_frames);
  if (linear_) h = proj_out_linear_->forward(h);
  h = h.reshape({n, height, width, c}).permute({0, 3, 1, 2});
  if (!linear_) h = proj_out_conv_->forward(h.contiguous());
  return h + x;
}

}  // namespace dreamdpo::models::sd
