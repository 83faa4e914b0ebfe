// A diffusion prior: a noise-prediction network (or a closed form) with its schedule, text
// conditioning and the map between images and the space it diffuses in.
#pragma once
#include <ATen/ATen.h>

#include <optional>
#include <string>

#include "camera/camera.h"
#include "guidance/noise_schedule.h"

namespace dreamdpo::guidance {

// Text conditioning in the prior's own form (an embedding sequence for a network, component
// weights for the exact prior). `cond` and `uncond` have a leading batch dimension of 1.
struct PromptConditioning {
  std::string prompt;
  at::Tensor cond;
  at::Tensor uncond;
};

class Prior {
 public:
  virtual ~Prior() = default;
  virtual std::string name() const = 0;
  virtual const NoiseSchedule& schedule() const = 0;

  // Throws dreamdpo::Error when the prompt cannot be conditioned on (for example, a word
  // outside a built-in model's vocabulary); the message lists what is accepted.
  virtual PromptConditioning encode_prompt(const std::string& prompt) = 0;

  // Images [B,3,H,W] in [0,1] -> the diffused space (differentiable). Pixel-space priors
  // return 2x-1; latent priors run their encoder.
  virtual at::Tensor encode(const at::Tensor& images) = 0;
  // The diffused space -> images [B,3,H,W] in [0,1], no gradient.
  virtual at::Tensor decode(const at::Tensor& z) = 0;

  // Noise prediction for z_t [N,...] at integer timesteps t [N] with per-sample conditioning
  // `embedding` [N,...] (rows of cond/uncond). `cameras` is set for camera-conditioned priors
  // and then has N entries. No gradient flows through this call.
  virtual at::Tensor predict_noise(const at::Tensor& z_t, const at::Tensor& t,
                                   const at::Tensor& embedding,
                                   const std::optional<camera::CameraBatch>& cameras) = 0;

  // Number of views a camera-conditioned prior denoises jointly (1 for single-image priors);
  // batches must be a multiple of it.
  virtual int64_t views_per_sample() const { return 1; }
};

// The classifier-free-guided prediction and the plain text-conditional one, from one batched
// call of the prior on [z_t; z_t] x [cond; uncond].
struct GuidedNoise {
  at::Tensor guided;  // eps_uncond + scale * (eps_cond - eps_uncond)
  at::Tensor cond;    // eps_cond
};
GuidedNoise predict_noise_cfg(Prior& prior, const at::Tensor& z_t, const at::Tensor& t,
                              const PromptConditioning& text, double guidance_scale,
                              const std::optional<camera::CameraBatch>& cameras);

}  // namespace dreamdpo::guidance
