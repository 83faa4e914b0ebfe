#include "core/resize.h"

#include <algorithm>
#include <vector>

#include "core/error.h"

namespace dreamdpo::core {

at::Tensor bilinear_weights(int64_t out_size, int64_t in_size, const at::TensorOptions& options) {
  check(out_size >= 1 && in_size >= 1, "resize: sizes must be >= 1");
  std::vector<double> w(static_cast<size_t>(out_size * in_size), 0.0);
  const double scale = static_cast<double>(in_size) / static_cast<double>(out_size);
  for (int64_t o = 0; o < out_size; ++o) {
    // Source coordinate of the output pixel centre, clamped at the border as PyTorch does.
    const double source = std::max(0.0, (static_cast<double>(o) + 0.5) * scale - 0.5);
    const int64_t i0 = std::min<int64_t>(static_cast<int64_t>(source), in_size - 1);
    const int64_t i1 = std::min<int64_t>(i0 + 1, in_size - 1);
    const double frac = source - static_cast<double>(i0);
    w[o * in_size + i0] += 1.0 - frac;
    w[o * in_size + i1] += frac;
  }
  return at::tensor(w, at::kDouble).view({out_size, in_size}).to(options);
}

at::Tensor resize_bilinear(const at::Tensor& images, int64_t height, int64_t width) {
  check(images.dim() == 4, "resize: images must be [N,C,H,W], got ", images.sizes());
  if (images.size(2) == height && images.size(3) == width) return images;
  const auto options = images.options().requires_grad(false);
  const auto rows = bilinear_weights(height, images.size(2), options);    // [h, H]
  const auto cols = bilinear_weights(width, images.size(3), options);     // [w, W]
  return at::matmul(at::matmul(rows, images), cols.transpose(0, 1));      // [N,C,h,w]
}

}  // namespace dreamdpo::core
