#include "generate/step_report.h"

#include <cmath>
#include <cstdio>

#include "guidance/priors/gaussian_mixture_prior.h"

namespace dreamdpo::generate {

std::string step_status(const guidance::StepStats& stats) {
  char buffer[160];
  if (std::isnan(stats.gap)) {
    std::snprintf(buffer, sizeof buffer, "t %lld |g| %.3g", static_cast<long long>(stats.t), stats.grad_norm);
  } else {
    std::snprintf(buffer, sizeof buffer, "t %lld win %.3g gap %.3g |g| %.3g", static_cast<long long>(stats.t),
                  stats.score_win, stats.gap, stats.grad_norm);
  }
  return buffer;
}

std::vector<std::string> guidance_metric_columns() {
  return {"grad_norm", "t", "t2", "score_win", "score_lose", "gap", "lose_fired", "secondary_used",
          "ranker_fallbacks"};
}

std::vector<double> guidance_metric_values(const guidance::StepStats& s) {
  return {s.grad_norm,
          static_cast<double>(s.t),
          s.t2 >= 0 ? static_cast<double>(s.t2) : NAN,
          s.score_win,
          s.score_lose,
          s.gap,
          s.lose_fired,
          static_cast<double>(s.secondary_used),
          static_cast<double>(s.ranker_fallbacks)};
}

std::optional<NearestTemplate> nearest_template(guidance::Prior& prior, const at::Tensor& images) {
  auto* mixture = dynamic_cast<guidance::GaussianMixturePrior*>(&prior);
  if (mixture == nullptr || mixture->components().empty()) return std::nullopt;
  auto x = images.detach().cpu().to(at::kDouble);
  const auto size = mixture->components().front().mean.size(-1);
  if (x.size(-1) != size || x.size(-2) != size) {
    x = at::upsample_bilinear2d(x, {size, size}, /*align_corners=*/false);
  }
  std::optional<NearestTemplate> best;
  for (const auto& component : mixture->components()) {
    const auto target = ((component.mean.to(at::kDouble) + 1) / 2).unsqueeze(0);
    const double rmse = (x - target).pow(2).mean().sqrt().item<double>();
    if (!best || rmse < best->rmse) best = NearestTemplate{component.caption, rmse};
  }
  return best;
}

}  // namespace dreamdpo::generate
