// Scaled dot-product attention, the one path every network here uses: LibTorch's fused
// at::scaled_dot_product_attention where it exists (2.x), else softmax(QK^T / sqrt(d)) V.
#pragma once
#include <ATen/ATen.h>

namespace dreamdpo::models {

// q [..., Lq, d], k [..., Lk, d], v [..., Lk, dv]; `mask` (optional) is added to the scores and
// broadcasts to [..., Lq, Lk] (0 = attend, large negative = ignore).
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask = {});

}  // namespace dreamdpo::models
