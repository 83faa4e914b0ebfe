// Adam over the parameter groups of a GaussianCloud, one learning rate per group (as 3DGS).
// Written here rather than using torch::optim::Adam because densification and pruning must
// edit the per-Gaussian moment rows together with the parameters, and checkpoints must
// save and restore every moment bit-exactly.
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <string>

#include "core/config.h"
#include "scene/gaussians.h"

namespace dreamdpo::scene {

struct GaussianLearningRates {
  double means = 0.005;
  double log_scales = 0.005;
  double rotations = 0.001;
  double opacity_logits = 0.05;
  double sh_dc = 0.01;
  double sh_rest = 0.0005;
  double means_final_factor = 0.1;  // the means' rate decays exponentially to this factor

  template <class V>
  void visit(V& v) {
    v("means", means, "Adam learning rate of the positions");
    v("log_scales", log_scales, "... of the log scales");
    v("rotations", rotations, "... of the quaternions");
    v("opacity_logits", opacity_logits, "... of the opacity logits");
    v("sh_dc", sh_dc, "... of the colour (SH band 0)");
    v("sh_rest", sh_rest, "... of the higher SH bands");
    v("means_final_factor", means_final_factor, "positions' rate at the last step, as a factor (0, 1]");
  }
  void validate(const std::string& path) const;
  // Learning rate of the group `key` (a GaussianCloud state key) at `progress` in [0, 1].
  double rate(const std::string& key, double progress) const;
};

class GaussianAdam {
 public:
  GaussianAdam(const GaussianLearningRates& rates, double beta1 = 0.9, double beta2 = 0.99, double eps = 1e-15);

  // One update of every parameter of `cloud` that has a gradient; `progress` in [0, 1] drives
  // the positions' learning-rate decay.
  void step(GaussianCloud& cloud, double progress);
  // Keep only the rows where `keep` [N] is true, in parameters and moments alike.
  void keep_rows(GaussianCloud& cloud, const at::Tensor& keep);
  // Append new Gaussians (state-shaped rows keyed like GaussianCloud::state()); their moments
  // start at zero.
  void append_rows(GaussianCloud& cloud, const std::map<std::string, at::Tensor>& rows);
  // Zero the moments of one group's rows where `mask` [N] is true (after an opacity reset).
  void reset_rows(const std::string& key, const at::Tensor& mask);

  int64_t steps_taken() const { return steps_; }
  // "exp_avg.<key>", "exp_avg_sq.<key>" and "step" (int64 scalar), for checkpoints.
  std::map<std::string, at::Tensor> state() const;
  void load_state(const std::map<std::string, at::Tensor>& state, const GaussianCloud& cloud);

 private:
  GaussianLearningRates rates_;
  double beta1_, beta2_, eps_;
  int64_t steps_ = 0;
  std::map<std::string, at::Tensor> exp_avg_, exp_avg_sq_;
  void ensure_moments(const GaussianCloud& cloud);
};

}  // namespace dreamdpo::scene
