// Training of the built-in multi-view diffusion model on ShapeWorld renders, and the DDIM
// sampler used to evaluate it (and by tests).
#pragma once
#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "core/rng.h"
#include "models/builtin/mv_unet.h"
#include "shapeworld/scene_spec.h"

namespace dreamdpo::shapeworld {

// Until the shared TrainOptions of `train-builtin` lands, the diffusion trainer's own options.
struct DiffusionTrainOptions {
  int64_t steps = 2000;          // optimiser steps (the run also stops at time_limit_s)
  int64_t batch = 64;            // objects per step (x n_view images)
  uint64_t seed = 1;
  std::string device = "cpu";
  std::string output = "models/builtin/diffusion.safetensors";
  double lr = 2e-4;
  int64_t warmup = 200;
  double ema_decay = 0.999;
  double caption_dropout = 0.1;  // share of empty captions, for classifier-free guidance
  std::string schedule = "cosine";
  double time_limit_s = 0;       // 0 = none; else stop (and save) this long after the start
  double checkpoint_every_s = 60;
  int64_t pool_objects = 4096;   // rendered objects kept in memory, drawn from at random
  int64_t refresh_per_step = 8;  // objects re-rendered into the pool each step
  std::string init;              // if set: start from these weights (continue an earlier run)
  std::string samples_png;       // if set: a DDIM sample grid of a few prompts at the end
  int64_t eval_objects = 0;      // if > 0: colour accuracy of DDIM samples of one-group scenes
  models::MvUnetConfig network;  // vocabulary_size and max_length are set by the trainer
};

struct DiffusionTrainResult {
  int64_t steps = 0;
  double seconds = 0;
  double final_loss = 0;       // mean over the last 100 steps
  double colour_accuracy = -1; // eval_objects > 0 only
};

DiffusionTrainResult train_diffusion(const DiffusionTrainOptions& options);

// n objects with n_view views each (rendered on the CPU in parallel, then moved to `device`):
// images [n*V,3,S,S] in [0,1] on a white background,
// cameras c2w [n*V,4,4] (sample_orbit), specs and one random phrasing per object.
struct MultiViewBatch {
  at::Tensor images, c2w;
  std::vector<SceneSpec> specs;
  std::vector<std::string> captions;
};
MultiViewBatch make_multiview_batch(core::Rng& rng, int64_t objects, int64_t n_view, int64_t image_size,
                                    at::Device device);

// The DDPM training loss (epsilon MSE) of a batch: same t for every view of an object.
at::Tensor diffusion_loss(models::MvUnetImpl& unet, const at::Tensor& alphas_cumprod, const at::Tensor& images,
                          const at::Tensor& c2w, const at::Tensor& ids, core::Rng& rng);

// Deterministic DDIM (eta 0) with classifier-free guidance. ids [S,L] one caption per object,
// c2w [S*V,4,4]; returns images [S*V,3,H,W] in [0,1]. Noise comes from `rng`.
at::Tensor ddim_sample(models::MvUnetImpl& unet, const at::Tensor& alphas_cumprod, const at::Tensor& ids,
                       const at::Tensor& c2w, int64_t steps, double guidance_scale, core::Rng& rng);

}  // namespace dreamdpo::shapeworld
