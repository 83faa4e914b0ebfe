// The Stable Diffusion UNet's blocks, named like diffusers' ResnetBlock2D, Downsample2D,
// Upsample2D, (CrossAttn)DownBlock2D, UNetMidBlock2DCrossAttn and (CrossAttn)UpBlock2D.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <memory>
#include <utility>
#include <vector>

#include "models/sd/spatial_transformer.h"

namespace dreamdpo::models::sd {

// GroupNorm computed in float32 for half-precision input, as ldm's GroupNorm32 does for the
// residual blocks and the output norm.
at::Tensor group_norm_float32(torch::nn::GroupNorm norm, const at::Tensor& x);

// norm1 -> SiLU -> conv1, + time_emb_proj(SiLU(temb)), norm2 -> SiLU -> conv2, + the input
// (through conv_shortcut, a 1x1 conv, when the channel count changes).
class ResnetBlock2D : public torch::nn::Module {
 public:
  ResnetBlock2D(int64_t in_channels, int64_t out_channels, int64_t temb_channels, int64_t groups, double eps);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& temb);

 private:
  torch::nn::GroupNorm norm1_{nullptr}, norm2_{nullptr};
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, conv_shortcut_{nullptr};
  torch::nn::Linear time_emb_proj_{nullptr};
};

// Everything one resolution level of the UNet shares.
struct LevelOptions {
  int64_t temb_channels = 0;
  int64_t groups = 32;
  double eps = 1e-5;
  bool cross_attention = false;  // CrossAttn*Block2D (transformers after each resnet) or plain
  int64_t heads = 1;
  int64_t context_dim = 0;
  int64_t transformer_depth = 1;
  bool use_linear_projection = true;
};

// down_blocks.i: `layers` x (resnet [+ transformer]), then downsamplers.0.conv (3x3, stride 2)
// unless it is the last level.
class DownBlock2D : public torch::nn::Module {
 public:
  DownBlock2D(int64_t in_channels, int64_t out_channels, int64_t layers, bool add_downsample,
              const LevelOptions& options);
  // Returns the output and the states the up path takes as skips (one per resnet, plus the
  // downsampled output).
  std::pair<at::Tensor, std::vector<at::Tensor>> forward(const at::Tensor& x, const at::Tensor& temb,
                                                         const at::Tensor& context, int64_t num_frames = 1);

 private:
  std::vector<std::shared_ptr<ResnetBlock2D>> resnets_;
  std::vector<std::shared_ptr<Transformer2D>> attentions_;
  torch::nn::Conv2d downsample_{nullptr};
};

// mid_block: resnet, transformer, resnet.
class MidBlock2DCrossAttn : public torch::nn::Module {
 public:
  MidBlock2DCrossAttn(int64_t channels, const LevelOptions& options);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& temb, const at::Tensor& context, int64_t num_frames = 1);

 private:
  std::vector<std::shared_ptr<ResnetBlock2D>> resnets_;
  std::shared_ptr<Transformer2D> attention_;
};

// up_blocks.i: `layers` x (concat a skip, resnet [+ transformer]), then upsamplers.0.conv after
// a nearest 2x upsample (to the next skip's size) unless it is the last level.
class UpBlock2D : public torch::nn::Module {
 public:
  // in_channels: channels of the level below (the last skip's), prev_output_channels: of the
  // incoming hidden state.
  UpBlock2D(int64_t in_channels, int64_t out_channels, int64_t prev_output_channels, int64_t layers,
            bool add_upsample, const LevelOptions& options);
  // skips: the skip states this block consumes, in the order the down path produced them (the
  // last is used first). upsample_size: {h, w} to upsample to, or empty for twice the size.
  at::Tensor forward(const at::Tensor& x, std::vector<at::Tensor> skips, const at::Tensor& temb,
                     const at::Tensor& context, int64_t num_frames = 1, std::vector<int64_t> upsample_size = {});
  size_t num_resnets() const { return resnets_.size(); }

 private:
  std::vector<std::shared_ptr<ResnetBlock2D>> resnets_;
  std::vector<std::shared_ptr<Transformer2D>> attentions_;
  torch::nn::Conv2d upsample_{nullptr};
};

}  // namespace dreamdpo::models::sd
