// DreamDPO (DESIGN §1 steps 4-8): build a pair of noisy versions of the renders, rank their
// one-step denoised estimates, and pull toward the winner / push from the loser.
#pragma once
#include "guidance/guidance.h"
#include "guidance/pairwise_preference.h"

namespace dreamdpo::guidance {

// Everything the piecewise gradient needs for B views; tensors are [B,...] (weights
// broadcastable, e.g. [B,1,1,1]); member1_wins and gap are [B].
struct PairTerms {
  at::Tensor eps_hat1, eps_hat2;    // CFG predictions
  at::Tensor eps_text1, eps_text2;  // text-conditional predictions
  at::Tensor eps1, eps2;            // the noises that were added
  at::Tensor weight1, weight2;      // w(t) = 1 - alpha_bar of each member's timestep
  at::Tensor member1_wins;          // bool
  at::Tensor gap;                   // primary score of the winner minus the loser's
};

struct PairGradient {
  at::Tensor grad;        // [B,...]
  at::Tensor lose_fired;  // [B] bool: gap >= tau, the lose term was applied
};

// g = w_win (eps_hat_win - eps_win) - w_lose (eps_lose_pred - eps_lose)  where gap >= tau,
// g = w_win (eps_hat_win - [eps_win])                                     otherwise.
PairGradient dreamdpo_gradient(const PairTerms& terms, const DreamDpoConfig& config);

class DreamDpo : public Guidance {
 public:
  DreamDpo(const GuidanceConfig& config, Prior& prior, PairwisePreference& preference)
      : config_(config), prior_(prior), preference_(preference) {}
  GuidanceResult compute(const at::Tensor& z, const PromptConditioning& text,
                         const std::optional<camera::CameraBatch>& cameras,
                         const StepContext& context) override;

 private:
  GuidanceConfig config_;
  Prior& prior_;
  PairwisePreference& preference_;
};

}  // namespace dreamdpo::guidance
