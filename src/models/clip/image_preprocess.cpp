#include "models/clip/image_preprocess.h"

#include "core/error.h"

namespace dreamdpo::models::clip {

std::array<int64_t, 2> shorter_side_size(int64_t height, int64_t width, int64_t size) {
  const int64_t shorter = std::min(height, width), longer = std::max(height, width);
  const auto new_long = static_cast<int64_t>(static_cast<double>(size) * static_cast<double>(longer) / shorter);
  return height <= width ? std::array<int64_t, 2>{size, new_long} : std::array<int64_t, 2>{new_long, size};
}

at::Tensor clip_preprocess(const at::Tensor& images, int64_t size, const std::array<double, 3>& mean,
                           const std::array<double, 3>& std) {
  check(images.dim() == 4 && images.size(1) == 3 && images.size(2) > 0 && images.size(3) > 0,
        "CLIP preprocessing takes images [batch, 3, H, W], got ", images.sizes());
  check(size > 0, "CLIP preprocessing size must be > 0");
  auto x = images.is_floating_point() ? images : images.to(at::kFloat);
  const auto out = shorter_side_size(x.size(2), x.size(3), size);
  if (out[0] != x.size(2) || out[1] != x.size(3))
    x = at::upsample_bicubic2d(x, {out[0], out[1]}, /*align_corners=*/false);
  const auto options = x.options();
  const auto m = at::tensor(std::vector<double>(mean.begin(), mean.end()), options.dtype(at::kDouble))
                     .to(options).reshape({1, 3, 1, 1});
  const auto s = at::tensor(std::vector<double>(std.begin(), std.end()), options.dtype(at::kDouble))
                     .to(options).reshape({1, 3, 1, 1});
  return (x - m) / s;
}

}  // namespace dreamdpo::models::clip
