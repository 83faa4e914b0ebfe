// Scaled dot-product attention, the one path every network of dreamdpo uses: LibTorch's fused
// kernel (at::scaled_dot_product_attention, flash / memory-efficient on CUDA) where the
// version has it (2.x), and softmax(Q K^T / sqrt(d)) V written out on 1.13.
#pragma once
#include <ATen/ATen.h>

namespace dreamdpo::models {

// q [B,H,Lq,D], k and v [B,H,Lk,D] (any floating dtype, the same for all three). `mask`, when
// defined, is bool and broadcasts to [B,H,Lq,Lk]: true where a query may attend to a key.
// Returns [B,H,Lq,D] in q's dtype.
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask = {});

}  // namespace dreamdpo::models
