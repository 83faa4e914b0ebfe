// The models that score evaluation results: the built-in reward model (also a ranker) and the
// judge, which is used only here, never as a ranker, so evaluation does not reward the
// optimisation target itself.
#pragma once
#include <ATen/ATen.h>

#include <memory>

#include "rank/ranker.h"

namespace dreamdpo::eval {

struct ScorerModels {
  std::unique_ptr<rank::Ranker> reward, judge;  // null when the model file is missing or unreadable
};

// From models/builtin/ (or $DREAMDPO_MODELS_DIR); a missing model is logged, not an error.
ScorerModels load_builtin_scorers(at::Device device);

}  // namespace dreamdpo::eval
