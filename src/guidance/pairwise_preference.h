// Decides which member of each pair wins, per view, with a primary ranker and optionally a
// second one combined as the official DreamDPO code does: member 1 wins when the primary
// scores it >= member 2 OR the second ranker scores it strictly higher. A weighted mode ranks by
// primary + weight * second instead. A ranker that throws rank::RankerUnavailable is replaced
// for that step by the other one (counted in `fallbacks`), so a flaky remote ranker never
// stops a run.
#pragma once
#include <ATen/ATen.h>

#include <string>

#include "core/rng.h"
#include "rank/ranker.h"

namespace dreamdpo::guidance {

struct PairPreference {
  at::Tensor member1_wins;  // [B] bool
  at::Tensor score1;        // [B] primary scores of member 1
  at::Tensor score2;        // [B]
  bool secondary_used = false;
  int64_t fallbacks = 0;    // rankers that failed this step and were replaced by the other
};

enum class Combine { kOr, kWeighted };
Combine parse_combine(const std::string& name);  // "or" | "weighted"

class PairwisePreference {
 public:
  PairwisePreference(rank::Ranker& primary, rank::Ranker* secondary = nullptr,
                     int64_t secondary_start = 0, double secondary_prob = 1.0, Combine combine = Combine::kOr,
                     double secondary_weight = 1.0);

  // images1/images2: [B,3,H,W] in [0,1], the decoded one-step estimates of the two members.
  PairPreference compare(const at::Tensor& images1, const at::Tensor& images2,
                         const std::string& prompt, int64_t step, core::Rng& rng);

 private:
  rank::Ranker& primary_;
  rank::Ranker* secondary_;
  int64_t secondary_start_;
  double secondary_prob_;
  Combine combine_;
  double secondary_weight_;
};

}  // namespace dreamdpo::guidance
