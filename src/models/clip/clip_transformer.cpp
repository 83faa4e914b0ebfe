#include "models/clip/clip_transformer.h"

#include "core/error.h"
#include "models/attention.h"

namespace dreamdpo::models::clip {

namespace {
torch::nn::LayerNorm layer_norm(int64_t width) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}).eps(1e-5));
}
}  // namespace

ClipAttentionImpl::ClipAttentionImpl(int64_t width, int64_t heads_) : heads(heads_) {
  check(heads_ > 0 && width % heads_ == 0, "CLIP attention: width ", width, " is not divisible by ", heads_, " heads");
  in_proj_weight = register_parameter("in_proj_weight", at::zeros({3 * width, width}));
  in_proj_bias = register_parameter("in_proj_bias", at::zeros({3 * width}));
  out_proj = register_module("out_proj", torch::nn::Linear(width, width));
}

at::Tensor ClipAttentionImpl::forward(const at::Tensor& x, const at::Tensor& mask) {
  const int64_t batch = x.size(0), length = x.size(1), width = x.size(2);
  const auto qkv = at::linear(x, in_proj_weight, in_proj_bias).chunk(3, -1);
  auto heads_of = [&](const at::Tensor& t) { return t.reshape({batch, length, heads, width / heads}).transpose(1, 2); };
  const auto out = models::attention(heads_of(qkv[0]), heads_of(qkv[1]), heads_of(qkv[2]), mask);
  return out_proj(out.transpose(1, 2).reshape({batch, length, width}));
}

ClipMlpImpl::ClipMlpImpl(int64_t width, int64_t hidden) {
  c_fc = register_module("c_fc", torch::nn::Linear(width, hidden));
  c_proj = register_module("c_proj", torch::nn::Linear(hidden, width));
}

at::Tensor ClipMlpImpl::forward(const at::Tensor& x) { return c_proj(at::gelu(c_fc(x))); }

ClipResidualBlockImpl::ClipResidualBlockImpl(int64_t width, int64_t heads, double mlp_ratio) {
  ln_1 = register_module("ln_1", layer_norm(width));
  attn = register_module("attn", ClipAttention(width, heads));
  ln_2 = register_module("ln_2", layer_norm(width));
  mlp = register_module("mlp", ClipMlp(width, static_cast<int64_t>(width * mlp_ratio)));
}

at::Tensor ClipResidualBlockImpl::forward(const at::Tensor& x, const at::Tensor& mask) {
  auto h = x + attn->forward(ln_1(x), mask);
  return h + mlp->forward(ln_2(h));
}

ClipTransformerImpl::ClipTransformerImpl(int64_t width, int64_t layers, int64_t heads, double mlp_ratio) {
  resblocks = register_module("resblocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < layers; ++i) resblocks->push_back(ClipResidualBlock(width, heads, mlp_ratio));
}

ClipResidualBlock ClipTransformerImpl::block(int64_t i) const {
  return ClipResidualBlock(resblocks->ptr<ClipResidualBlockImpl>(static_cast<size_t>(i)));
}

at::Tensor ClipTransformerImpl::forward(at::Tensor x, const at::Tensor& mask, int64_t num_blocks) {
  const int64_t n = num_blocks < 0 ? layers() : std::min(num_blocks, layers());
  for (int64_t i = 0; i < n; ++i) x = block(i)->forward(x, mask);
  return x;
}

}  // namespace dreamdpo::models::clip
