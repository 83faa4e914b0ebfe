// Pre-norm transformer block of the built-in models, with attention written out as
// softmax(Q K^T / sqrt(d)) V so it builds against LibTorch 1.13 and 2.x alike.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

namespace dreamdpo::models {

class TransformerBlock : public torch::nn::Module {
 public:
  TransformerBlock(int64_t width, int64_t heads, int64_t mlp_ratio = 2);
  // x [B,L,width]; padding [B,L] bool, true where a token is padding (keys there are ignored),
  // or undefined for none.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& padding = {});

 private:
  at::Tensor attention(const at::Tensor& x, const at::Tensor& padding);
  int64_t heads_;
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr};
  torch::nn::Linear qkv_{nullptr}, proj_{nullptr}, fc1_{nullptr}, fc2_{nullptr};
};

}  // namespace dreamdpo::models
