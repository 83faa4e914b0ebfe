// The real latent-diffusion priors: MVDream sd-v2.1-base-4view ("mvdream": 4 camera-conditioned
// views denoised jointly, 256 px) and Stable Diffusion 2.1-base ("sd21", 512 px). Loads UNet,
// VAE, text tower and tokenizer from an ldm single file (model.diffusion_model.*,
// first_stage_model.*, cond_stage_model.model.*) or a diffusers pipeline folder (unet/ vae/
// text_encoder/ [tokenizer/]); the architecture is the preset's, checked by strict loads (a
// missing, unexpected or mis-shaped tensor is an error naming it).
//
//   encode_prompt: CLIP BPE ids -> the text tower's penultimate layer + ln_final [1,77,1024]
//                  (cond: the prompt; uncond: the negative prompt, default "").
//   encode:        images [0,1] -> resize to the prior's image size (core::resize_bilinear) ->
//                  2x-1 -> VAE encoder, WITH gradient -> posterior MEAN x scaling_factor.
//                  threestudio / DreamDPO sample the posterior; we take its mean so the same
//                  render always gives the same latent (the VAE's posterior std is tiny).
//   decode:        z / scaling_factor -> VAE decoder -> (x+1)/2 clamped, no gradient.
//   predict_noise: one UNet call; MVDream's cameras via camera::mvdream_camera.
// dtype: weights and activations in prior.dtype; the gradient of encode reaches the images in
// their own dtype.
#pragma once
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "guidance/prior.h"
#include "models/clip/clip_bpe_tokenizer.h"
#include "models/clip/clip_text_transformer.h"
#include "models/sd/autoencoder_kl.h"
#include "models/sd/unet_2d_condition.h"

namespace dreamdpo::guidance {

// Network sizes. The presets: mvdream (UNetConfig::mvdream_sd21, 4 frames) and sd21
// (UNetConfig::sd21_base, 1 frame), both with SD's VAE and OpenCLIP ViT-H/14's text tower
// (24 layers stored, the first 23 run).
struct StableDiffusionArchitecture {
  models::sd::UNetConfig unet;
  models::sd::AutoencoderKLConfig vae;
  models::clip::ClipTextConfig text;  // as stored in an ldm file; SD2 runs text.layers - 1 blocks
  int64_t num_frames = 1;

  static StableDiffusionArchitecture preset(const std::string& name);
  // Overrides fields from a JSON file:
  //   {"num_frames": 4,
  //    "unet": {"in_channels", "out_channels", "block_out_channels", "cross_attention",
  //             "layers_per_block", "attention_heads", "transformer_depth", "cross_attention_dim",
  //             "use_linear_projection", "norm_num_groups", "camera_dim"},
  //    "vae": {"block_out_channels", "layers_per_block", "latent_channels", "norm_num_groups",
  //            "scaling_factor"},
  //    "text": {"vocab_size", "context_length", "width", "heads", "layers"}}
  // Absent fields keep their value; an unknown key is an error naming it.
  void override_from_json(const std::filesystem::path& file);
  int64_t text_used_layers() const { return text.layers - 1; }
};

struct StableDiffusionPriorOptions {
  std::string name = "mvdream";  // mvdream | sd21
  std::filesystem::path checkpoint;
  std::filesystem::path tokenizer;  // empty: a diffusers folder's tokenizer/
  StableDiffusionArchitecture architecture = StableDiffusionArchitecture::preset("mvdream");
  int64_t image_size = 256;
  std::string dtype = "auto";
  std::string negative_prompt;
};

class StableDiffusionPrior : public Prior {
 public:
  StableDiffusionPrior(const StableDiffusionPriorOptions& options, at::Device device);

  std::string name() const override { return options_.name; }
  const NoiseSchedule& schedule() const override { return schedule_; }
  PromptConditioning encode_prompt(const std::string& prompt) override;
  at::Tensor encode(const at::Tensor& images) override;
  at::Tensor decode(const at::Tensor& z) override;
  // z_t [N, latent, s, s], t [N], embedding [N, 77, width]; for MVDream N is a multiple of 4
  // and `cameras` has N entries.
  at::Tensor predict_noise(const at::Tensor& z_t, const at::Tensor& t, const at::Tensor& embedding,
                           const std::optional<camera::CameraBatch>& cameras) override;
  int64_t views_per_sample() const override { return options_.architecture.num_frames; }

  at::ScalarType dtype() const { return dtype_; }
  const std::string& source_layout() const { return layout_; }  // "ldm single file" / "diffusers folder"
  models::sd::UNet2DCondition& unet() { return *unet_; }
  models::sd::AutoencoderKL& vae() { return vae_; }
  models::clip::ClipTextTransformer& text_encoder() { return text_; }

 private:
  StableDiffusionPriorOptions options_;
  at::Device device_;
  at::ScalarType dtype_;
  std::string layout_;
  NoiseSchedule schedule_;
  std::optional<models::clip::ClipBpeTokenizer> tokenizer_;
  std::shared_ptr<models::sd::UNet2DCondition> unet_;
  models::sd::AutoencoderKL vae_{nullptr};
  models::clip::ClipTextTransformer text_{nullptr};
};

}  // namespace dreamdpo::guidance
