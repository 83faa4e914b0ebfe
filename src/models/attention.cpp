#include "models/attention.h"

#include <torch/version.h>

#include <cmath>

namespace dreamdpo::models {

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask) {
#if TORCH_VERSION_MAJOR >= 2
  if (mask.defined()) return at::scaled_dot_product_attention(q, k, v, mask.to(q.scalar_type()));
  return at::scaled_dot_product_attention(q, k, v);
#else
  auto scores = at::matmul(q * (1.0 / std::sqrt(static_cast<double>(q.size(-1)))), k.transpose(-2, -1));
  if (mask.defined()) scores = scores + mask.to(scores.scalar_type());
  return at::matmul(at::softmax(scores, -1), v);
#endif
}

}  // namespace dreamdpo::models
