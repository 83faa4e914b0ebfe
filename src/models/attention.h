// Scaled dot-product attention, the one path every network here uses: LibTorch's fused
// at::scaled_dot_product_attention where it exists (2.x), else softmax(q k^T / sqrt(d) + mask) v
// with the scores and softmax in float32 for half-precision inputs (as the references upcast).
#pragma once
#include <ATen/ATen.h>

namespace dreamdpo::models {

// q [B, heads, Lq, D], k [B, heads, Lk, D], v [B, heads, Lk, D] -> [B, heads, Lq, D].
// mask: undefined; bool (true = attend); or additive float (0 = attend, large negative or -inf =
// ignore), broadcastable to [B, heads, Lq, Lk].
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask = {});

}  // namespace dreamdpo::models
