// The built-in diffusion model's text encoder: word ids -> a sequence of token features for
// cross-attention, with a mask of the real (non-padding) tokens. A small pre-norm transformer.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

namespace dreamdpo::models {

// Multi-head attention written as softmax(Q K^T / sqrt(d)) V, so it builds against every
// LibTorch we support (no scaled_dot_product_attention on 1.13).
// q [B,Lq,C], kv [B,Lk,Ckv]; key_mask [B,Lk] bool (true = attend) or undefined.
struct AttentionImpl : torch::nn::Module {
  AttentionImpl(int64_t channels, int64_t context_channels, int64_t heads);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& context, const at::Tensor& key_mask = {});

  int64_t heads;
  torch::nn::Linear to_q{nullptr}, to_k{nullptr}, to_v{nullptr}, to_out{nullptr};
};
TORCH_MODULE(Attention);

struct TextEncoderLayerImpl : torch::nn::Module {
  TextEncoderLayerImpl(int64_t width, int64_t heads);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& key_mask);

  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  Attention attention{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(TextEncoderLayer);

struct TextEncoding {
  at::Tensor tokens;  // [N,L,width]
  at::Tensor mask;    // [N,L] bool, true on real tokens (the start token is always real)
};

struct TextEncoderImpl : torch::nn::Module {
  TextEncoderImpl(int64_t vocabulary_size, int64_t max_length, int64_t width, int64_t layers, int64_t heads);
  // ids [N,L] int64 from WordTokenizer (0 = padding).
  TextEncoding forward(const at::Tensor& ids);

  torch::nn::Embedding token_embedding{nullptr}, position_embedding{nullptr};
  torch::nn::ModuleList layers;
  torch::nn::LayerNorm final_norm{nullptr};
};
TORCH_MODULE(TextEncoder);

}  // namespace dreamdpo::models
