// The built-in multi-view diffusion network (MVDream in miniature, pixel space): a UNet that
// predicts the noise of n_view images of one object jointly. Cameras (flattened c2w) are added
// to the time embedding; at the lower resolutions a transformer block attends over the tokens
// of ALL views of an object at once (cross-view attention) and to the caption's tokens.
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

#include "models/builtin/text_encoder.h"
#include "models/builtin/word_tokenizer.h"

namespace dreamdpo::models {

// Architecture hyper-parameters; stored in the weight file's metadata so a file rebuilds its
// own network.
struct MvUnetConfig {
  // Sized for the CPU: `dreamdpo generate` calls the network on 16 images every step (see
  // bench/mv_unet_cpu.md); joint attention over 4 views at 16x16 cost more than all the convs.
  int64_t base_channels = 32;
  std::vector<int64_t> multipliers = {1, 2, 4};  // per level; each level halves the resolution
  int64_t attention_from_level = 2;              // transformer blocks at this level and below
  int64_t res_blocks = 1;                        // per level, down and up
  int64_t heads = 4;
  int64_t embed_dim = 256;                       // time + camera embedding
  int64_t vocabulary_size = 2;                   // WordTokenizer::vocabulary_size()
  int64_t max_length = 24;                       // caption tokens
  int64_t text_width = 128;
  int64_t text_layers = 2;
  int64_t n_view = 4;                            // views denoised jointly
  int64_t image_size = 32;

  std::map<std::string, std::string> to_metadata() const;
  // Throws dreamdpo::Error naming a missing or malformed key.
  static MvUnetConfig from_metadata(const std::map<std::string, std::string>& metadata);
};

struct ResBlockImpl : torch::nn::Module {
  ResBlockImpl(int64_t in_channels, int64_t out_channels, int64_t embed_dim);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& embedding);

  torch::nn::GroupNorm norm1{nullptr}, norm2{nullptr};
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, skip{nullptr};
  torch::nn::Linear embed{nullptr};
};
TORCH_MODULE(ResBlock);

// Self-attention over the joint tokens of an object's views, cross-attention to text, MLP.
struct MultiViewTransformerImpl : torch::nn::Module {
  MultiViewTransformerImpl(int64_t channels, int64_t text_width, int64_t heads);
  // x [S*V,C,H,W]; views_attend_jointly=false restricts self-attention to each view (tests).
  at::Tensor forward(const at::Tensor& x, int64_t n_view, const TextEncoding& text, bool views_attend_jointly);

  torch::nn::GroupNorm norm_in{nullptr};
  torch::nn::LayerNorm norm_self{nullptr}, norm_cross{nullptr}, norm_mlp{nullptr};
  Attention self_attention{nullptr}, cross_attention{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(MultiViewTransformer);

struct MvUnetImpl : torch::nn::Module {
  explicit MvUnetImpl(const MvUnetConfig& config);

  // ids [N,L] -> text tokens for forward().
  TextEncoding encode_text(const at::Tensor& ids);
  // Noise prediction. x [N,3,H,W] (N a multiple of n_view; consecutive groups of n_view rows are
  // one object), t [N] timesteps, c2w [N,4,4], text rows [N,L,*].
  at::Tensor forward(const at::Tensor& x, const at::Tensor& t, const at::Tensor& c2w, const TextEncoding& text,
                     bool views_attend_jointly = true);

  int64_t parameter_count() const;

  MvUnetConfig config;
  TextEncoder text_encoder{nullptr};
  torch::nn::Linear time_fc1{nullptr}, time_fc2{nullptr}, camera_fc1{nullptr}, camera_fc2{nullptr};
  torch::nn::Conv2d conv_in{nullptr}, conv_out{nullptr};
  torch::nn::GroupNorm norm_out{nullptr};
  // Per level: res blocks (and transformers) of the down and up paths, resampling convs.
  torch::nn::ModuleList down_blocks, down_transformers, downsamples;
  torch::nn::ModuleList up_blocks, up_transformers, upsamples;
  ResBlock mid_block{nullptr};
  MultiViewTransformer mid_transformer{nullptr};

 private:
  bool has_attention(int64_t level) const { return level >= config.attention_from_level; }
};
TORCH_MODULE(MvUnet);

// A weight file of the built-in diffusion model: the network, its vocabulary and the noise
// schedule it was trained with (all in the file, so the file is self-contained).
struct MvDiffusionModel {
  MvUnet unet{nullptr};
  WordTokenizer tokenizer;
  std::string schedule;  // NoiseSchedule::make kind, 1000 steps
  std::map<std::string, std::string> metadata;
};
void save_mv_diffusion(const MvUnetImpl& unet, const WordTokenizer& tokenizer, const std::string& schedule,
                       const std::filesystem::path& path, std::map<std::string, std::string> extra = {});
// Strict load (see module_io.h); eval mode, float32, on `device`.
MvDiffusionModel load_mv_diffusion(const std::filesystem::path& path, at::Device device);

// Sinusoidal features of integer timesteps t [N] -> [N, dim].
at::Tensor timestep_features(const at::Tensor& t, int64_t dim);

}  // namespace dreamdpo::models
