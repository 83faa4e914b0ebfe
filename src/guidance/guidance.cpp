#include "guidance/guidance.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "guidance/dreamdpo.h"
#include "guidance/sds.h"

namespace dreamdpo::guidance {

std::pair<int64_t, int64_t> timestep_range(const GuidanceConfig& config, int64_t step,
                                           int64_t total_steps, int64_t num_train_steps) {
  const int64_t span = config.anneal_steps > 0 ? config.anneal_steps : std::max<int64_t>(total_steps - 1, 1);
  const double progress = std::clamp(static_cast<double>(step) / static_cast<double>(span), 0.0, 1.0);
  auto lerp = [progress](const std::vector<double>& r) { return r[0] + (r[1] - r[0]) * progress; };
  // int() truncation as in the official code: min_step = int(T * percent).
  int64_t lo = static_cast<int64_t>(num_train_steps * lerp(config.t_min));
  int64_t hi = static_cast<int64_t>(num_train_steps * lerp(config.t_max));
  hi = std::min(hi, num_train_steps - 1);
  lo = std::clamp<int64_t>(lo, 1, hi);  // t = 0 has alpha_bar ~ 1 and no noise to remove
  return {lo, hi};
}

at::Tensor surrogate_loss(const at::Tensor& z, const at::Tensor& grad) {
  const auto target = (z - grad).detach();
  return 0.5 * (z - target).pow(2).sum() / static_cast<double>(z.size(0));
}

at::Tensor sanitize_gradient(const at::Tensor& grad, double clip) {
  auto g = at::nan_to_num(grad, 0.0, 0.0, 0.0);
  if (clip > 0) g = g.clamp(-clip, clip);
  return g;
}

std::unique_ptr<Guidance> make_guidance(const GuidanceConfig& config, Prior& prior,
                                        PairwisePreference* preference) {
  if (config.method == "sds") return std::make_unique<ScoreDistillation>(config, prior);
  check(config.method == "dreamdpo", "unknown guidance method '", config.method,
        "' (known: dreamdpo, sds)");
  check(preference != nullptr, "DreamDPO needs a ranker");
  return std::make_unique<DreamDpo>(config, prior, *preference);
}

}  // namespace dreamdpo::guidance
