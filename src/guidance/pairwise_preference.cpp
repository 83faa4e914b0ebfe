#include "guidance/pairwise_preference.h"

#include "core/error.h"

namespace dreamdpo::guidance {

PairwisePreference::PairwisePreference(rank::Ranker& primary, rank::Ranker* secondary,
                                       int64_t secondary_start, double secondary_prob)
    : primary_(primary),
      secondary_(secondary),
      secondary_start_(secondary_start),
      secondary_prob_(secondary_prob) {}

namespace {
// Scores both members in one ranker call.
std::pair<at::Tensor, at::Tensor> score_pair(rank::Ranker& ranker, const at::Tensor& images1,
                                             const at::Tensor& images2, const std::string& prompt) {
  const int64_t b = images1.size(0);
  const auto scores = ranker.score(at::cat({images1, images2}), prompt).to(at::kFloat).cpu().reshape({-1});
  check(scores.numel() == 2 * b, "ranker '", ranker.name(), "' returned ", scores.numel(),
        " scores for ", 2 * b, " images");
  return {scores.slice(0, 0, b), scores.slice(0, b)};
}
}  // namespace

PairPreference PairwisePreference::compare(const at::Tensor& images1, const at::Tensor& images2,
                                           const std::string& prompt, int64_t step, core::Rng& rng) {
  check(images1.sizes() == images2.sizes(), "pair members must have the same shape");
  PairPreference result;
  std::tie(result.score1, result.score2) = score_pair(primary_, images1, images2, prompt);
  result.member1_wins = result.score1 >= result.score2;
  if (secondary_ != nullptr) {
    // Drawn every step so the random stream does not depend on the step number.
    const double draw = rng.uniform01();
    if (step >= secondary_start_ && draw < secondary_prob_) {
      auto [s1, s2] = score_pair(*secondary_, images1, images2, prompt);
      result.member1_wins = result.member1_wins.logical_or(s1 > s2);
      result.secondary_used = true;
    }
  }
  return result;
}

}  // namespace dreamdpo::guidance
