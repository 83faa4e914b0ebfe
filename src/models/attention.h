// Scaled dot-product attention, one code path for every network: LibTorch's fused kernel where
// the version has it (2.x), else softmax(q k^T / sqrt(d) + mask) v.
#pragma once
#include <ATen/ATen.h>

namespace dreamdpo::models {

// q [..., Lq, D], k and v [..., Lk, D]; mask: undefined, or additive float broadcastable to
// [..., Lq, Lk] (-inf where attention is forbidden). Returns [..., Lq, D].
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask = {});

}  // namespace dreamdpo::models
