// Score distillation sampling (DreamFusion / MVDream): g = w(t) (eps_hat - eps) for one noise.
#pragma once
#include "guidance/guidance.h"

namespace dreamdpo::guidance {

class ScoreDistillation : public Guidance {
 public:
  ScoreDistillation(const GuidanceConfig& config, Prior& prior) : config_(config), prior_(prior) {}
  GuidanceResult compute(const at::Tensor& z, const PromptConditioning& text,
                         const std::optional<camera::CameraBatch>& cameras,
                         const StepContext& context) override;

 private:
  GuidanceConfig config_;
  Prior& prior_;
};

}  // namespace dreamdpo::guidance
