// Decides which member of each pair wins, per view, with a primary ranker and optionally a
// second one combined as the official DreamDPO code does: member 1 wins when the primary
// scores it >= member 2 OR the second ranker scores it strictly higher.
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
};

class PairwisePreference {
 public:
  PairwisePreference(rank::Ranker& primary, rank::Ranker* secondary = nullptr,
                     int64_t secondary_start = 0, double secondary_prob = 1.0);

  // images1/images2: [B,3,H,W] in [0,1], the decoded one-step estimates of the two members.
  PairPreference compare(const at::Tensor& images1, const at::Tensor& images2,
                         const std::string& prompt, int64_t step, core::Rng& rng);

 private:
  rank::Ranker& primary_;
  rank::Ranker* secondary_;
  int64_t secondary_start_;
  double secondary_prob_;
};

}  // namespace dreamdpo::guidance
