// The KL autoencoder of Stable Diffusion (diffusers' AutoencoderKL), with diffusers' module
// names, so that named_parameters() equals a diffusers `vae/` state dict and loading one is a
// plain strict load (an ldm single file goes through ldm_vae_keys.h first).
//
//   encoder: conv_in -> down_blocks[i] (resnets, then downsamplers.0 except on the last level:
//            a stride-2 3x3 conv on the input padded by (0,1,0,1), i.e. right and bottom only)
//            -> mid_block (resnet, single-head attention, resnet) -> conv_norm_out, SiLU, conv_out
//            (2 x latent channels) ; then quant_conv (1x1) gives the posterior mean and logvar.
//   decoder: post_quant_conv (1x1) -> conv_in -> mid_block -> up_blocks[i] (layers_per_block + 1
//            resnets on the levels in reverse order, then nearest 2x upsampling + 3x3 conv except
//            on the last) -> conv_norm_out, SiLU, conv_out.
// GroupNorm eps 1e-6 everywhere. The latent scaling factor (0.18215 for SD 1/2) is NOT applied
// here: callers multiply encode's latents by it and divide before decode, as diffusers'
// pipelines do.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace dreamdpo::models::sd {

struct AutoencoderKLConfig {
  std::int64_t in_channels = 3;
  std::int64_t out_channels = 3;
  std::vector<std::int64_t> block_out_channels = {128, 256, 512, 512};  // SD 1.x / 2.x
  std::int64_t layers_per_block = 2;
  std::int64_t latent_channels = 4;
  std::int64_t norm_num_groups = 32;
  bool mid_block_add_attention = true;
  bool use_quant_conv = true;
  bool use_post_quant_conv = true;
  double scaling_factor = 0.18215;  // recorded for callers; not used inside the network
};

// Reads a diffusers vae/config.json (unknown keys are ignored: diffusers configs carry many that
// do not change the network; block types other than DownEncoderBlock2D/UpDecoderBlock2D are an
// error).
AutoencoderKLConfig read_autoencoder_kl_config(const std::filesystem::path& config_json);

// The architecture implied by a diffusers-named state dict's shapes. Norm groups cannot be seen
// in shapes: `defaults.norm_num_groups` where it divides every level's channels, else the
// largest count that does (a strict load only compares shapes, so this is enough to check one).
AutoencoderKLConfig infer_autoencoder_kl_config(const std::map<std::string, at::Tensor>& tensors,
                                                const AutoencoderKLConfig& defaults = {});

class VaeResnetBlockImpl : public torch::nn::Module {
 public:
  VaeResnetBlockImpl(std::int64_t in_channels, std::int64_t out_channels, std::int64_t groups);
  at::Tensor forward(const at::Tensor& x);

 private:
  torch::nn::GroupNorm norm1_{nullptr}, norm2_{nullptr};
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, conv_shortcut_{nullptr};
};
TORCH_MODULE(VaeResnetBlock);

// Single-head self-attention over the H*W positions with a residual connection.
class VaeAttentionImpl : public torch::nn::Module {
 public:
  VaeAttentionImpl(std::int64_t channels, std::int64_t groups);
  at::Tensor forward(const at::Tensor& x);

 private:
  torch::nn::GroupNorm group_norm_{nullptr};
  torch::nn::Linear to_q_{nullptr}, to_k_{nullptr}, to_v_{nullptr}, to_out_0_{nullptr};
};
TORCH_MODULE(VaeAttention);

class VaeMidBlockImpl : public torch::nn::Module {
 public:
  VaeMidBlockImpl(std::int64_t channels, std::int64_t groups, bool add_attention);
  at::Tensor forward(at::Tensor x);

 private:
  std::vector<VaeResnetBlock> resnets_;
  VaeAttention attention_{nullptr};
};
TORCH_MODULE(VaeMidBlock);

// A down (encoder) or up (decoder) level: resnets, then an optional resampling conv.
class VaeLevelImpl : public torch::nn::Module {
 public:
  enum class Kind { kDown, kUp };
  VaeLevelImpl(Kind kind, std::int64_t in_channels, std::int64_t out_channels, std::int64_t layers,
               std::int64_t groups, bool resample);
  at::Tensor forward(at::Tensor x);

 private:
  Kind kind_;
  std::vector<VaeResnetBlock> resnets_;
  torch::nn::Conv2d resample_conv_{nullptr};
};
TORCH_MODULE(VaeLevel);

class VaeEncoderImpl : public torch::nn::Module {
 public:
  explicit VaeEncoderImpl(const AutoencoderKLConfig& config);
  at::Tensor forward(const at::Tensor& images);

 private:
  torch::nn::Conv2d conv_in_{nullptr}, conv_out_{nullptr};
  std::vector<VaeLevel> down_blocks_;
  VaeMidBlock mid_block_{nullptr};
  torch::nn::GroupNorm conv_norm_out_{nullptr};
};
TORCH_MODULE(VaeEncoder);

class VaeDecoderImpl : public torch::nn::Module {
 public:
  explicit VaeDecoderImpl(const AutoencoderKLConfig& config);
  at::Tensor forward(const at::Tensor& latents);

 private:
  torch::nn::Conv2d conv_in_{nullptr}, conv_out_{nullptr};
  std::vector<VaeLevel> up_blocks_;
  VaeMidBlock mid_block_{nullptr};
  torch::nn::GroupNorm conv_norm_out_{nullptr};
};
TORCH_MODULE(VaeDecoder);

struct Posterior {
  at::Tensor mean;    // [B, latent, H/f, W/f]
  at::Tensor logvar;  // clamped to [-30, 20] as diffusers' DiagonalGaussianDistribution does
};

class AutoencoderKLImpl : public torch::nn::Module {
 public:
  explicit AutoencoderKLImpl(AutoencoderKLConfig config = {});

  // images [B, in_channels, H, W] in [-1, 1] (H, W multiples of 2^(levels-1)). Differentiable:
  // DreamDPO back-propagates through it into the rendered images.
  Posterior encode(const at::Tensor& images);
  // latents [B, latent, h, w] (unscaled, i.e. already divided by scaling_factor) -> images in
  // about [-1, 1].
  at::Tensor decode(const at::Tensor& latents);

  const AutoencoderKLConfig& config() const { return config_; }
  VaeEncoder& encoder() { return encoder_; }
  VaeDecoder& decoder() { return decoder_; }

 private:
  AutoencoderKLConfig config_;
  VaeEncoder encoder_{nullptr};
  VaeDecoder decoder_{nullptr};
  torch::nn::Conv2d quant_conv_{nullptr}, post_quant_conv_{nullptr};
};
TORCH_MODULE(AutoencoderKL);

}  // namespace dreamdpo::models::sd
