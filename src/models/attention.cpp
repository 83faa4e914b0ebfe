#include "models/attention.h"

#include <torch/version.h>

#include <cmath>
#include <limits>

#include "core/error.h"

namespace dreamdpo::models {

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask) {
  check(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, "attention takes [batch, heads, tokens, head_dim] tensors, got ",
        q.sizes(), ", ", k.sizes(), ", ", v.sizes());
  check(q.size(-1) == k.size(-1) && k.sizes() == v.sizes(), "attention: query ", q.sizes(), ", key ", k.sizes(),
        " and value ", v.sizes(), " do not fit together");
  const bool bool_mask = mask.defined() && mask.scalar_type() == at::kBool;
#if TORCH_VERSION_MAJOR >= 2
  if (!mask.defined()) return at::scaled_dot_product_attention(q, k, v);
  // The fused kernel takes a bool mask, or an additive one of the query's dtype.
  return at::scaled_dot_product_attention(q, k, v, bool_mask ? mask : mask.to(q.scalar_type()));
#else
  const bool low_precision = q.scalar_type() == at::kHalf || q.scalar_type() == at::kBFloat16;
  auto scores = at::matmul(q, k.transpose(-2, -1));
  if (low_precision) scores = scores.to(at::kFloat);
  scores = scores * (1.0 / std::sqrt(static_cast<double>(q.size(-1))));
  if (bool_mask) {
    // The lowest finite value, not -inf: a row whose keys are all masked gives a uniform mix, not NaN.
    scores = scores.masked_fill(mask.logical_not(), std::numeric_limits<float>::lowest());
  } else if (mask.defined()) {
    scores = scores + mask.to(scores.scalar_type());
  }
  return at::matmul(at::softmax(scores, -1).to(v.scalar_type()), v);
#endif
}

}  // namespace dreamdpo::models
