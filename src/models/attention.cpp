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
  check(!mask.defined() || mask.scalar_type() == at::kBool, "attention mask must be bool (true = attend)");
#if TORCH_VERSION_MAJOR >= 2
  return mask.defined() ? at::scaled_dot_product_attention(q, k, v, mask) : at::scaled_dot_product_attention(q, k, v);
#else
  // Scores and softmax in float32 for half-precision inputs (the references upcast them too).
  const bool low_precision = q.scalar_type() == at::kHalf || q.scalar_type() == at::kBFloat16;
  auto scores = at::matmul(q, k.transpose(-2, -1));
  if (low_precision) scores = scores.to(at::kFloat);
  scores = scores * (1.0 / std::sqrt(static_cast<double>(q.size(-1))));
  // The lowest finite value, not -inf: a row whose keys are all masked gives a uniform mix
  // instead of NaN.
  if (mask.defined()) scores = scores.masked_fill(mask.logical_not(), std::numeric_limits<float>::lowest());
  auto weights = at::softmax(scores, -1).to(v.scalar_type());
  return at::matmul(weights, v);
#endif
}

}  // namespace dreamdpo::models
