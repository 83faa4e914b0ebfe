// The Stable Diffusion 2.x UNet (diffusers' UNet2DConditionModel; ldm's UNetModel) with
// MVDream's multi-view extension (MultiViewUNetModel): a camera embedding added to the time
// embedding, and self-attention across the frames of one object. Parameter names equal
// diffusers' state-dict names (the MVDream camera MLP is camera_embedding.linear_{1,2}, shaped
// like time_embedding); ldm_unet_keys.h maps the original single-file layout onto them.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "models/sd/unet_blocks.h"

namespace dreamdpo::models::sd {

struct UNetConfig {
  int64_t in_channels = 4;
  int64_t out_channels = 4;
  std::vector<int64_t> block_out_channels{320, 640, 1280, 1280};
  // Per level: CrossAttnDownBlock2D / CrossAttnUpBlock2D (true) or DownBlock2D / UpBlock2D. The
  // up path mirrors the down path, as in every SD checkpoint (ldm: attention_resolutions).
  std::vector<bool> cross_attention{true, true, true, false};
  int64_t layers_per_block = 2;
  // Attention heads per level (the mid block uses the last). diffusers' config stores these
  // under `attention_head_dim` (a historical misnomer); ldm gives num_head_channels instead:
  // heads = channels / num_head_channels.
  std::vector<int64_t> attention_heads{5, 10, 20, 20};
  int64_t transformer_depth = 1;  // transformer_layers_per_block
  int64_t cross_attention_dim = 1024;
  bool use_linear_projection = true;
  int64_t norm_num_groups = 32;
  double norm_eps = 1e-5;
  bool flip_sin_to_cos = true;
  double freq_shift = 0;
  int64_t camera_dim = 0;  // MVDream: 16 (a flattened 4x4 camera-to-world); 0: no camera input

  // stabilityai/stable-diffusion-2-1-base unet/config.json.
  static UNetConfig sd21_base();
  // MVDream sd-v2.1-base-4view (configs/sd-v2-base.yaml): SD2.1-base plus camera_dim 16.
  static UNetConfig mvdream_sd21();
  // Heads from a fixed head width (ldm's num_head_channels), one per level.
  static std::vector<int64_t> heads_for_head_channels(const std::vector<int64_t>& block_out_channels,
                                                      int64_t head_channels);
  int64_t time_embed_dim() const { return 4 * block_out_channels.at(0); }
  size_t levels() const { return block_out_channels.size(); }
  // Throws dreamdpo::Error naming the first inconsistent field.
  void validate() const;
};

// Sinusoidal timestep embedding as diffusers' get_timestep_embedding / ldm's
// timestep_embedding (max period 10000), in float32: t [N] -> [N, dim].
at::Tensor timestep_embedding(const at::Tensor& timesteps, int64_t dim, bool flip_sin_to_cos = true,
                              double freq_shift = 0);

// linear_1 -> SiLU -> linear_2 (diffusers TimestepEmbedding; ldm time_embed / camera_embed).
class TimestepEmbedding : public torch::nn::Module {
 public:
  TimestepEmbedding(int64_t in_dim, int64_t dim);
  at::Tensor forward(const at::Tensor& x);

 private:
  torch::nn::Linear linear_1_{nullptr}, linear_2_{nullptr};
};

class UNet2DCondition : public torch::nn::Module {
 public:
  explicit UNet2DCondition(const UNetConfig& config);

  // x [N, in_channels, h, w] (N = objects x num_frames, the frames of one object adjacent);
  // t [N] or a scalar tensor (diffusion timesteps, may be fractional); context [N, L,
  // cross_attention_dim]; camera [N, camera_dim] or undefined (then no camera embedding is
  // added, as in MVDream). Returns the prediction [N, out_channels, h, w] in x's dtype.
  // Weights, x, context and camera share one dtype (float32, or half / bfloat16 on CUDA).
  at::Tensor forward(const at::Tensor& x, const at::Tensor& t, const at::Tensor& context,
                     const at::Tensor& camera = {}, int64_t num_frames = 1);

  const UNetConfig& config() const { return config_; }
  // The time (+ camera) embedding every block receives.
  at::Tensor embedding(const at::Tensor& t, const at::Tensor& camera, int64_t batch, at::ScalarType dtype);
  DownBlock2D& down_block(size_t i) { return *down_blocks_.at(i); }
  MidBlock2DCrossAttn& mid_block() { return *mid_block_; }
  UpBlock2D& up_block(size_t i) { return *up_blocks_.at(i); }

 private:
  UNetConfig config_;
  torch::nn::Conv2d conv_in_{nullptr}, conv_out_{nullptr};
  std::shared_ptr<TimestepEmbedding> time_embedding_, camera_embedding_;
  std::vector<std::shared_ptr<DownBlock2D>> down_blocks_;
  std::shared_ptr<MidBlock2DCrossAttn> mid_block_;
  std::vector<std::shared_ptr<UpBlock2D>> up_blocks_;
  torch::nn::GroupNorm conv_norm_out_{nullptr};
};

// Every parameter name and shape UNet2DCondition(config) holds, in construction order,
// computed from the config without building the network (a full-size SD UNet is 3.5 GB in
// float32). The tests check it against the built module.
std::vector<std::pair<std::string, std::vector<int64_t>>> unet_parameter_shapes(const UNetConfig& config);

}  // namespace dreamdpo::models::sd
