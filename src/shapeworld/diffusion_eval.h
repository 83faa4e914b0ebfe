// The check of the built-in diffusion model, judged by the built-in judge: for held-out
// scenes, 4-view DDIM samples (50 steps, CFG) of the scene's caption are "judged correct" when
// the judge ranks that caption above all hard negatives (its logits averaged over the views,
// as `eval` scores runs). The same judge on ground-truth renders of the same scenes and
// cameras gives the judge's own ceiling, so the two numbers are read together. View agreement:
// every view on its own picks the same caption among the candidates.
#pragma once
#include <ATen/ATen.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/rng.h"
#include "models/builtin/judge.h"
#include "models/builtin/mv_unet.h"

namespace dreamdpo::shapeworld {

struct DiffusionJudgeReport {
  int64_t scenes = 0;
  double judged_correct = 0;            // samples
  double reference_correct = 0;         // ground-truth renders, same judge
  double view_agreement = 0;            // samples
  double reference_view_agreement = 0;  // ground-truth renders
  std::string summary() const;
};

// captions [n] (canonical), cameras c2w [n*V,4,4] -> images [n*V,3,S,S] in [0,1].
using MultiViewSampler = std::function<at::Tensor(const std::vector<std::string>& captions, const at::Tensor& c2w)>;

struct DiffusionJudgeOptions {
  int64_t scenes = 64;
  int negatives = 8;
  int64_t n_view = 4;
  int64_t image_size = 32;
  int64_t chunk = 16;  // scenes sampled per call
};

DiffusionJudgeReport judge_samples(const MultiViewSampler& sample, models::Judge& judge,
                                   const DiffusionJudgeOptions& options, core::Rng& rng, at::Device device);

// The sampler of the built-in model: deterministic DDIM with classifier-free guidance.
MultiViewSampler ddim_sampler(models::MvUnetImpl& unet, const at::Tensor& alphas_cumprod,
                              const models::WordTokenizer& tokenizer, int64_t steps, double guidance_scale,
                              core::Rng& rng, at::Device device);

// The whole check of a weights file: `scenes` scenes drawn from `scene_seed` (0: the held-out
// stream, kHeldOutSeed), 50-step DDIM samples at `guidance_scale`, judged by `judge`.
DiffusionJudgeReport judge_diffusion_file(const std::filesystem::path& weights, models::Judge& judge, int64_t scenes,
                                          double guidance_scale, uint64_t scene_seed, at::Device device);

}  // namespace dreamdpo::shapeworld
