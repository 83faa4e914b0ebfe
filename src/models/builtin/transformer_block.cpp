#include "models/builtin/transformer_block.h"

#include <cmath>

#include "core/error.h"

namespace dreamdpo::models {

TransformerBlock::TransformerBlock(int64_t width, int64_t heads, int64_t mlp_ratio) : heads_(heads) {
  check(heads > 0 && width % heads == 0, "transformer width ", width, " must be a multiple of its ", heads, " heads");
  norm1_ = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width})));
  qkv_ = register_module("qkv", torch::nn::Linear(width, 3 * width));
  proj_ = register_module("proj", torch::nn::Linear(width, width));
  norm2_ = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width})));
  fc1_ = register_module("fc1", torch::nn::Linear(width, mlp_ratio * width));
  fc2_ = register_module("fc2", torch::nn::Linear(mlp_ratio * width, width));
}

at::Tensor TransformerBlock::attention(const at::Tensor& x, const at::Tensor& padding) {
  const int64_t b = x.size(0), l = x.size(1), w = x.size(2), d = w / heads_;
  auto qkv = qkv_->forward(x).view({b, l, 3, heads_, d}).permute({2, 0, 3, 1, 4});  // [3,B,h,L,d]
  auto scores = at::matmul(qkv[0], qkv[1].transpose(-2, -1)) / std::sqrt(static_cast<double>(d));
  // A large finite value, not -inf: a row of only padding would otherwise turn into NaN.
  if (padding.defined()) scores = scores.masked_fill(padding.view({b, 1, 1, l}), -1e4);
  auto out = at::matmul(at::softmax(scores, -1), qkv[2]);  // [B,h,L,d]
  return proj_->forward(out.transpose(1, 2).reshape({b, l, w}));
}

at::Tensor TransformerBlock::forward(const at::Tensor& x, const at::Tensor& padding) {
  auto h = x + attention(norm1_->forward(x), padding);
  return h + fc2_->forward(at::gelu(fc1_->forward(norm2_->forward(h))));
}

}  // namespace dreamdpo::models
