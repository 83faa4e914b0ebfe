#include "eval/scorers.h"

#include <ATen/core/grad_mode.h>

#include "core/error.h"
#include "core/log.h"
#include "guidance/priors/builtin_prior.h"
#include "models/builtin/judge.h"
#include "rank/builtin_ranker.h"

namespace dreamdpo::eval {

namespace {

// The judge as a scorer of (images, prompt): its matching logit per image.
class JudgeScorer : public rank::Ranker {
 public:
  explicit JudgeScorer(std::shared_ptr<models::Judge> judge) : judge_(std::move(judge)) { judge_->eval(); }
  std::string name() const override { return "judge"; }
  at::Tensor score(const at::Tensor& images, const std::string& prompt) override {
    at::NoGradGuard no_grad;
    return judge_->score(images, {prompt}).select(1, 0).cpu();
  }

 private:
  std::shared_ptr<models::Judge> judge_;
};

}  // namespace

ScorerModels load_builtin_scorers(at::Device device) {
  ScorerModels models;
  try {
    models.reward = std::make_unique<rank::BuiltinRanker>(rank::default_reward_path());
  } catch (const Error& e) {
    core::log_warn("eval: no reward model (", e.what(), ")");
  }
  try {
    models.judge =
        std::make_unique<JudgeScorer>(models::Judge::load(guidance::builtin_model_path("judge.safetensors"), device));
  } catch (const Error& e) {
    core::log_warn("eval: no judge (", e.what(), ")");
  }
  return models;
}

}  // namespace dreamdpo::eval
