#include "models/attention.h"

#include <torch/version.h>

#include <cmath>
#include <optional>

namespace dreamdpo::models {

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask) {
#if TORCH_VERSION_MAJOR >= 2
  return at::scaled_dot_product_attention(q, k, v, mask.defined() ? std::optional<at::Tensor>(mask) : std::nullopt);
#else
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  auto scores = at::matmul(q, k.transpose(-2, -1)).to(at::kFloat) * scale;  // float32 softmax, as diffusers' upcast
  if (mask.defined()) scores = scores + mask.to(at::kFloat);
  return at::matmul(at::softmax(scores, -1).to(v.scalar_type()), v);
#endif
}

}  // namespace dreamdpo::models
