// Small shared pieces of the optimisation loops' reporting: the progress-bar status of a step,
// the metrics.csv row of a step, and which exact-prior template a result is closest to.
#pragma once
#include <ATen/ATen.h>

#include <optional>
#include <string>
#include <vector>

#include "guidance/guidance.h"
#include "guidance/prior.h"

namespace dreamdpo::generate {

std::string step_status(const guidance::StepStats& stats);

// The guidance columns of metrics.csv, in order, and their values for one step.
std::vector<std::string> guidance_metric_columns();
std::vector<double> guidance_metric_values(const guidance::StepStats& stats);

struct NearestTemplate {
  std::string caption;
  double rmse = 0;
};
// For the exact prior: the template the images [V,3,S,S] (any size; resized to the prior's)
// are closest to on average. nullopt for other priors.
std::optional<NearestTemplate> nearest_template(guidance::Prior& prior, const at::Tensor& images);

}  // namespace dreamdpo::generate
