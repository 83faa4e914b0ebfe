// CLIP image preprocessing on tensors, as DreamDPO's HPSv2 reward does it
// (threestudio/reward/hpsv2.py, HPSv2Preprocess): torchvision's functional resize of the float
// tensor to `size` on the shorter side, bicubic, without antialiasing (DreamDPO pins torchvision
// 0.16.2, whose tensor path leaves antialias off) and without a centre crop; then
// (x - mean) / std with OpenAI CLIP's mean and std. This differs from open_clip's PIL transform
// (antialiased resize + centre crop); we follow DreamDPO. Differentiable.
#pragma once
#include <ATen/ATen.h>

#include <array>

namespace dreamdpo::models::clip {

inline constexpr std::array<double, 3> kClipMean = {0.48145466, 0.4578275, 0.40821073};
inline constexpr std::array<double, 3> kClipStd = {0.26862954, 0.26130258, 0.27577711};

// torchvision's output size for resize(img, size): the shorter side becomes `size`, the longer
// int(size * long / short). Returns {height, width}.
std::array<int64_t, 2> shorter_side_size(int64_t height, int64_t width, int64_t size);

// images [B,3,H,W] in [0,1] -> normalised [B,3,h,w] (h,w from shorter_side_size).
at::Tensor clip_preprocess(const at::Tensor& images, int64_t size, const std::array<double, 3>& mean = kClipMean,
                           const std::array<double, 3>& std = kClipStd);

}  // namespace dreamdpo::models::clip
