#include "guidance/pairwise_preference.h"

#include <optional>

#include "core/error.h"
#include "core/log.h"

namespace dreamdpo::guidance {

Combine parse_combine(const std::string& name) {
  if (name == "or") return Combine::kOr;
  check(name == "weighted", "unknown ranker combination '", name, "' (use or | weighted)");
  return Combine::kWeighted;
}

PairwisePreference::PairwisePreference(rank::Ranker& primary, rank::Ranker* secondary, int64_t secondary_start,
                                       double secondary_prob, Combine combine, double secondary_weight)
    : primary_(primary),
      secondary_(secondary),
      secondary_start_(secondary_start),
      secondary_prob_(secondary_prob),
      combine_(combine),
      secondary_weight_(secondary_weight) {}

namespace {
using Scores = std::pair<at::Tensor, at::Tensor>;

// Scores both members in one ranker call.
Scores score_pair(rank::Ranker& ranker, const at::Tensor& images1, const at::Tensor& images2,
                  const std::string& prompt) {
  const int64_t b = images1.size(0);
  const auto scores = ranker.score(at::cat({images1, images2}), prompt).to(at::kFloat).cpu().reshape({-1});
  check(scores.numel() == 2 * b, "ranker '", ranker.name(), "' returned ", scores.numel(),
        " scores for ", 2 * b, " images");
  return {scores.slice(0, 0, b), scores.slice(0, b)};
}

// score_pair, or nothing when the ranker could not judge this call.
std::optional<Scores> try_score_pair(rank::Ranker& ranker, const at::Tensor& images1, const at::Tensor& images2,
                                     const std::string& prompt) {
  try {
    return score_pair(ranker, images1, images2, prompt);
  } catch (const rank::RankerUnavailable& e) {
    core::log_warn("ranker '", ranker.name(), "' unavailable this step, falling back: ", e.what());
    return std::nullopt;
  }
}
}  // namespace

PairPreference PairwisePreference::compare(const at::Tensor& images1, const at::Tensor& images2,
                                           const std::string& prompt, int64_t step, core::Rng& rng) {
  check(images1.sizes() == images2.sizes(), "pair members must have the same shape");
  PairPreference result;
  auto primary = try_score_pair(primary_, images1, images2, prompt);
  // Drawn every step so the random stream does not depend on the step number or on failures.
  const bool ask_secondary =
      secondary_ != nullptr && rng.uniform01() < secondary_prob_ && step >= secondary_start_;
  std::optional<Scores> secondary;
  if (ask_secondary || (!primary && secondary_ != nullptr)) {
    secondary = try_score_pair(*secondary_, images1, images2, prompt);
  }
  if (!primary) {
    ++result.fallbacks;
    // The second ranker stands in for the first; with none (or both down) the step is a tie,
    // which DreamDPO's score-gap threshold treats as "no clear preference".
    result.secondary_used = secondary.has_value();
    primary = secondary ? *secondary : Scores{at::zeros({images1.size(0)}), at::zeros({images1.size(0)})};
    secondary.reset();
  } else if (ask_secondary && !secondary) {
    ++result.fallbacks;  // the primary's verdict alone decides this step
  }
  std::tie(result.score1, result.score2) = *primary;
  result.member1_wins = result.score1 >= result.score2;
  if (secondary) {
    result.secondary_used = true;
    const auto& [s1, s2] = *secondary;
    if (combine_ == Combine::kOr) {
      result.member1_wins = result.member1_wins.logical_or(s1 > s2);
    } else {
      result.score1 = result.score1 + secondary_weight_ * s1;
      result.score2 = result.score2 + secondary_weight_ * s2;
      result.member1_wins = result.score1 >= result.score2;
    }
  }
  return result;
}

}  // namespace dreamdpo::guidance
