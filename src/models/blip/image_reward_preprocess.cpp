#include "models/blip/image_reward_preprocess.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"

namespace dreamdpo::models::blip {

namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's Resample.c

double bicubic_filter(double x) {  // a = -0.5, support 2
  constexpr double a = -0.5;
  x = std::abs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

// Pillow's precompute_coeffs + normalize_coeffs_8bpc for one axis: per output pixel the first
// input index, the tap count and the fixed-point weights.
struct Coefficients {
  int64_t taps = 0;
  std::vector<int64_t> first, count;
  std::vector<int32_t> weights;  // [out, taps]
};

Coefficients coefficients(int64_t in_size, int64_t out_size) {
  const double scale = static_cast<double>(in_size) / static_cast<double>(out_size);
  const double filterscale = std::max(scale, 1.0);
  const double support = 2.0 * filterscale;
  Coefficients c;
  c.taps = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.weights.assign(out_size * c.taps, 0);
  std::vector<double> k(c.taps);
  for (int64_t xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int64_t xmin = static_cast<int64_t>(center - support + 0.5);  // C truncation, as Pillow
    if (xmin < 0) xmin = 0;
    int64_t xmax = static_cast<int64_t>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int64_t x = 0; x < xmax; ++x) {
      k[x] = bicubic_filter((x + xmin - center + 0.5) * ss);
      ww += k[x];
    }
    for (int64_t x = 0; x < xmax; ++x) {
      const double w = ww != 0.0 ? k[x] / ww : k[x];
      c.weights[xx * c.taps + x] = static_cast<int32_t>(w < 0 ? -0.5 + w * (1 << kPrecisionBits)
                                                               : 0.5 + w * (1 << kPrecisionBits));
    }
    c.first[xx] = xmin;
    c.count[xx] = xmax;
  }
  return c;
}

uint8_t clip8(int64_t v) {
  if (v >= (int64_t{1} << kPrecisionBits << 8)) return 255;
  if (v <= 0) return 0;
  return static_cast<uint8_t>(v >> kPrecisionBits);
}

// One pass along the last axis of a [rows, in] plane -> [rows, out] (Pillow's horizontal pass;
// the vertical pass is the same on the transposed plane, which gives identical sums).
std::vector<uint8_t> resample_rows(const std::vector<uint8_t>& in, int64_t rows, int64_t in_size, int64_t out_size) {
  const auto c = coefficients(in_size, out_size);
  std::vector<uint8_t> out(rows * out_size);
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* src = in.data() + r * in_size;
    for (int64_t xx = 0; xx < out_size; ++xx) {
      int64_t ss = int64_t{1} << (kPrecisionBits - 1);
      const int32_t* w = c.weights.data() + xx * c.taps;
      for (int64_t x = 0; x < c.count[xx]; ++x) ss += static_cast<int64_t>(src[c.first[xx] + x]) * w[x];
      out[r * out_size + xx] = clip8(ss);
    }
  }
  return out;
}

std::vector<uint8_t> transpose(const std::vector<uint8_t>& in, int64_t rows, int64_t cols) {
  std::vector<uint8_t> out(in.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[c * rows + r] = in[r * cols + c];
  return out;
}

}  // namespace

at::Tensor pil_resize_bicubic(const at::Tensor& images_u8, int64_t out_h, int64_t out_w) {
  check(images_u8.dim() == 4 && images_u8.scalar_type() == at::kByte, "pil_resize_bicubic: expected uint8 [B,C,H,W]");
  check(out_h > 0 && out_w > 0, "pil_resize_bicubic: output size must be > 0");
  const auto src = images_u8.cpu().contiguous();
  const int64_t planes = src.size(0) * src.size(1), H = src.size(2), W = src.size(3);
  auto out = at::empty({src.size(0), src.size(1), out_h, out_w}, at::kByte);
  const uint8_t* s = src.data_ptr<uint8_t>();
  uint8_t* d = out.data_ptr<uint8_t>();
  for (int64_t p = 0; p < planes; ++p) {
    std::vector<uint8_t> plane(s + p * H * W, s + (p + 1) * H * W);
    // Pillow: horizontal pass first (when the width changes), then vertical.
    if (out_w != W) plane = resample_rows(plane, H, W, out_w);
    if (out_h != H) plane = transpose(resample_rows(transpose(plane, H, out_w), out_w, H, out_h), out_w, out_h);
    std::copy(plane.begin(), plane.end(), d + p * out_h * out_w);
  }
  return out;
}

at::Tensor image_reward_preprocess(const at::Tensor& images, int64_t size) {
  check(images.dim() == 4 && images.size(1) == 3, "ImageReward: expected images [B,3,H,W], got ", images.sizes());
  check(size > 0, "ImageReward: preprocess size must be > 0");
  // ToPILImage: pic.mul(255).byte() (truncation) on float32.
  const auto u8 = (images.detach().to(at::kFloat).clamp(0, 1) * 255).to(at::kByte).cpu();
  const int64_t H = u8.size(2), W = u8.size(3);
  // torchvision Resize(size): the shorter side becomes `size`, the longer int(size * long / short).
  int64_t new_h = size, new_w = size;
  if (W <= H) {
    new_h = static_cast<int64_t>(static_cast<double>(size) * H / W);
  } else {
    new_w = static_cast<int64_t>(static_cast<double>(size) * W / H);
  }
  const auto resized = (new_h == H && new_w == W) ? u8 : pil_resize_bicubic(u8, new_h, new_w);
  // CenterCrop: top = int(round((h - size) / 2)) (round half to even, as Python).
  const auto top = static_cast<int64_t>(std::nearbyint((new_h - size) / 2.0));
  const auto left = static_cast<int64_t>(std::nearbyint((new_w - size) / 2.0));
  const auto cropped = resized.slice(2, top, top + size).slice(3, left, left + size);
  const auto mean = at::tensor({0.48145466f, 0.4578275f, 0.40821073f}).view({1, 3, 1, 1});
  const auto std = at::tensor({0.26862954f, 0.26130258f, 0.27577711f}).view({1, 3, 1, 1});
  const auto pixels = (cropped.to(at::kFloat) / 255 - mean) / std;
  return pixels.to(images.device());
}

}  // namespace dreamdpo::models::blip
