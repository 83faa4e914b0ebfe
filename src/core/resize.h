// Bilinear resizing of image batches as two matrix products (rows, then columns), with the same
// weights as at::upsample_bilinear2d (align_corners = false, no antialiasing). Unlike that op,
// whose CUDA backward accumulates with atomics, the backward of a matrix product is
// deterministic, which bit-exact resume on a GPU needs.
#pragma once
#include <ATen/ATen.h>

namespace dreamdpo::core {

// images [N,C,H,W] -> [N,C,height,width], differentiable.
at::Tensor resize_bilinear(const at::Tensor& images, int64_t height, int64_t width);

// The [out, in] interpolation matrix of one axis.
at::Tensor bilinear_weights(int64_t out_size, int64_t in_size, const at::TensorOptions& options);

}  // namespace dreamdpo::core
