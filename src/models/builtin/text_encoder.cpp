#include "models/builtin/text_encoder.h"

#include <ATen/core/grad_mode.h>  // at::NoGradGuard (not in ATen/ATen.h on LibTorch 2.x)

#include <cmath>

#include "core/error.h"
#include "models/builtin/word_tokenizer.h"

namespace dreamdpo::models {

namespace nn = torch::nn;

AttentionImpl::AttentionImpl(int64_t channels, int64_t context_channels, int64_t heads) : heads(heads) {
  check(channels % heads == 0, "attention: ", channels, " channels do not split into ", heads, " heads");
  to_q = register_module("to_q", nn::Linear(nn::LinearOptions(channels, channels).bias(false)));
  to_k = register_module("to_k", nn::Linear(nn::LinearOptions(context_channels, channels).bias(false)));
  to_v = register_module("to_v", nn::Linear(nn::LinearOptions(context_channels, channels).bias(false)));
  to_out = register_module("to_out", nn::Linear(channels, channels));
}

at::Tensor AttentionImpl::forward(const at::Tensor& x, const at::Tensor& context, const at::Tensor& key_mask) {
  const int64_t b = x.size(0), lq = x.size(1), c = to_q->options.out_features();
  const int64_t lk = context.size(1), d = c / heads;
  auto split = [&](const at::Tensor& t, int64_t l) { return t.view({b, l, heads, d}).transpose(1, 2); };
  const auto q = split(to_q->forward(x), lq);
  const auto k = split(to_k->forward(context), lk);
  const auto v = split(to_v->forward(context), lk);
  auto scores = at::matmul(q, k.transpose(-1, -2)) * (1.0 / std::sqrt(static_cast<double>(d)));
  if (key_mask.defined()) {
    scores = scores.masked_fill(key_mask.logical_not().view({b, 1, 1, lk}), -1e9);
  }
  const auto out = at::matmul(at::softmax(scores, -1), v);  // [B,heads,Lq,d]
  return to_out->forward(out.transpose(1, 2).reshape({b, lq, c}));
}

TextEncoderLayerImpl::TextEncoderLayerImpl(int64_t width, int64_t heads) {
  norm1 = register_module("norm1", nn::LayerNorm(nn::LayerNormOptions({width})));
  attention = register_module("attention", Attention(width, width, heads));
  norm2 = register_module("norm2", nn::LayerNorm(nn::LayerNormOptions({width})));
  fc1 = register_module("fc1", nn::Linear(width, 4 * width));
  fc2 = register_module("fc2", nn::Linear(4 * width, width));
}

at::Tensor TextEncoderLayerImpl::forward(const at::Tensor& x, const at::Tensor& key_mask) {
  const auto h = norm1->forward(x);
  auto y = x + attention->forward(h, h, key_mask);
  return y + fc2->forward(at::gelu(fc1->forward(norm2->forward(y))));
}

TextEncoderImpl::TextEncoderImpl(int64_t vocabulary_size, int64_t max_length, int64_t width, int64_t layer_count,
                                 int64_t heads) {
  token_embedding = register_module("token_embedding", nn::Embedding(vocabulary_size, width));
  position_embedding = register_module("position_embedding", nn::Embedding(max_length, width));
  layers = register_module("layers", nn::ModuleList());
  for (int64_t i = 0; i < layer_count; ++i) layers->push_back(TextEncoderLayer(width, heads));
  final_norm = register_module("final_norm", nn::LayerNorm(nn::LayerNormOptions({width})));
  // Small initial embeddings keep the first attention layers near uniform.
  at::NoGradGuard no_grad;
  token_embedding->weight.normal_(0, 0.02);
  position_embedding->weight.normal_(0, 0.02);
}

TextEncoding TextEncoderImpl::forward(const at::Tensor& ids) {
  check(ids.dim() == 2 && ids.scalar_type() == at::kLong, "text encoder: expected [N,L] int64 token ids");
  const int64_t length = ids.size(1);
  check(length <= position_embedding->options.num_embeddings(), "text encoder: ", length,
        " tokens, the model takes at most ", position_embedding->options.num_embeddings());
  const auto mask = ids.ne(WordTokenizer::kPad);
  const auto positions = at::arange(length, ids.options());
  auto x = token_embedding->forward(ids) + position_embedding->forward(positions).unsqueeze(0);
  for (const auto& layer : *layers) x = layer->as<TextEncoderLayer>()->forward(x, mask);
  return {final_norm->forward(x), mask};
}

}  // namespace dreamdpo::models
