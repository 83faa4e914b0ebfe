// The image path of DreamDPO's ImageReward wrapper (threestudio/reward/imagereward.py
// _transform): ToPILImage (float -> uint8 by x*255 truncated), PIL bicubic Resize of the shorter
// side to `size`, CenterCrop(size), ToTensor (/255), Normalize with CLIP's mean/std. The PIL
// resampling is reproduced exactly (Pillow's separable fixed-point convolution, antialiased when
// shrinking, rounded to uint8 after each pass), so pixels equal the reference's bit for bit.
// Not differentiable (the ranker only orders images).
#pragma once
#include <ATen/ATen.h>

namespace dreamdpo::models::blip {

// images [B,3,H,W] in [0,1] (clamped) on any device -> [B,3,size,size] float32 on that device.
at::Tensor image_reward_preprocess(const at::Tensor& images, int64_t size = 224);

// Pillow's Image.resize(..., BICUBIC) of uint8 images [B,C,H,W] (CPU) to [B,C,out_h,out_w].
at::Tensor pil_resize_bicubic(const at::Tensor& images_u8, int64_t out_h, int64_t out_w);

}  // namespace dreamdpo::models::blip
