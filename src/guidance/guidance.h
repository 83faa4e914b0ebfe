// A guidance method turns the current renders (in the prior's space) into a gradient on them.
// SDS and DreamDPO implement it; the optimisation loop only sees this interface.
#pragma once
#include <ATen/ATen.h>

#include <limits>
#include <memory>
#include <optional>

#include "camera/camera.h"
#include "core/rng.h"
#include "guidance/guidance_config.h"
#include "guidance/prior.h"

namespace dreamdpo::guidance {

class PairwisePreference;

struct StepContext {
  int64_t step = 0;         // 0-based
  int64_t total_steps = 1;  // for annealing
  core::Rng* rng = nullptr;
};

// What one step reports (one row of metrics.csv). Scores are means over the views; NaN where a
// method has no such quantity (SDS has no pair).
struct StepStats {
  static constexpr double kNone = std::numeric_limits<double>::quiet_NaN();
  int64_t t = -1;   // timestep of the pair (of member 1 when the members differ)
  int64_t t2 = -1;  // member 2's timestep with timestep pairs, else -1
  double score_win = kNone;
  double score_lose = kNone;
  double gap = kNone;         // score_win - score_lose
  double lose_fired = kNone;  // fraction of views where the lose term was applied
  double grad_norm = 0;
  bool secondary_used = false;  // the second ranker took part in this step
  int64_t ranker_fallbacks = 0;
};

struct GuidanceResult {
  at::Tensor grad;  // dL/dz before the 1/B of the surrogate, same shape as z
  StepStats stats;
};

class Guidance {
 public:
  virtual ~Guidance() = default;
  // z: [B,...] encoded renders (the gradient target; not modified). cameras: B entries when
  // the prior is camera-conditioned.
  virtual GuidanceResult compute(const at::Tensor& z, const PromptConditioning& text,
                                 const std::optional<camera::CameraBatch>& cameras,
                                 const StepContext& context) = 0;
};

// SDS, or DreamDPO with `preference` ranking the pairs (required for DreamDPO).
std::unique_ptr<Guidance> make_guidance(const GuidanceConfig& config, Prior& prior,
                                        PairwisePreference* preference);

// The integer timestep range [lo, hi] at a step: fractions annealed linearly, times T.
std::pair<int64_t, int64_t> timestep_range(const GuidanceConfig& config, int64_t step,
                                           int64_t total_steps, int64_t num_train_steps);

// 0.5 * ||z - stopgrad(z - grad)||^2 / B: backpropagating it gives dL/dz = grad / B, the
// threestudio convention (B = number of views).
at::Tensor surrogate_loss(const at::Tensor& z, const at::Tensor& grad);

// Clamp (when clip > 0) and replace NaN/inf by 0, as the official code does.
at::Tensor sanitize_gradient(const at::Tensor& grad, double clip);

}  // namespace dreamdpo::guidance
