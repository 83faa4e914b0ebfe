// Adaptive density control of 3D Gaussians (3DGS): Gaussians whose screen-space position
// gradient stays large are cloned (small ones) or split in two (large ones); transparent or
// oversized ones are pruned; opacities may be reset periodically. Parameters and optimiser
// moments are edited together (GaussianAdam::keep_rows / append_rows).
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <string>

#include "core/config.h"
#include "core/rng.h"
#include "scene/gaussian_optimizer.h"
#include "scene/gaussians.h"

namespace dreamdpo::scene {

struct DensifyConfig {
  int64_t start = 100;            // first step at which density control may run
  double until = 0.6;             // last step, as a fraction of the run
  int64_t interval = 100;         // steps between two density-control passes
  double grad_threshold = 0.01;   // mean screen-space gradient (NDC units) that triggers densify
  double split_scale = 0.02;      // Gaussians larger than this x scene radius split, else clone
  double prune_opacity = 0.01;    // Gaussians less opaque than this are removed
  double prune_scale = 0.5;       // ... and those larger than this x scene radius
  int64_t opacity_reset_interval = 0;  // 0 = never
  int64_t max_count = 50000;      // densification stops adding above this many Gaussians

  template <class V>
  void visit(V& v) {
    v("start", start, "first step of density control");
    v("until", until, "last step of density control, as a fraction of the run [0, 1]");
    v("interval", interval, "steps between density-control passes (>= 1)");
    v("grad_threshold", grad_threshold, "mean screen-space position gradient that triggers densification");
    v("split_scale", split_scale, "size (x scene radius) above which a Gaussian splits instead of cloning");
    v("prune_opacity", prune_opacity, "opacity below which a Gaussian is pruned");
    v("prune_scale", prune_scale, "size (x scene radius) above which a Gaussian is pruned");
    v("opacity_reset_interval", opacity_reset_interval, "steps between opacity resets; 0 = never");
    v("max_count", max_count, "no densification above this many Gaussians");
  }
  void validate(const std::string& path) const;
};

struct DensifyReport {
  int64_t cloned = 0, split = 0, pruned = 0, count = 0;
};

class Densifier {
 public:
  Densifier(const DensifyConfig& config, double scene_radius);

  // After backward: means2d_grad [B,N,2] in pixels of an image `image_size` high, visible [B,N].
  void accumulate(const at::Tensor& means2d_grad, const at::Tensor& visible, int64_t image_size);
  // Whether density control runs after step `step` (0-based) of a run of `total_steps`.
  bool due(int64_t step, int64_t total_steps) const;
  bool opacity_reset_due(int64_t step, int64_t total_steps) const;
  DensifyReport densify_and_prune(GaussianCloud& cloud, GaussianAdam& optimizer, core::Rng& rng);
  void reset_opacity(GaussianCloud& cloud, GaussianAdam& optimizer);

  // The gradient statistics, for checkpoints ("densify.grad_sum", "densify.seen").
  std::map<std::string, at::Tensor> state() const;
  void load_state(const std::map<std::string, at::Tensor>& state, int64_t count, at::Device device);

 private:
  DensifyConfig config_;
  double scene_radius_;
  at::Tensor grad_sum_, seen_;  // [N] float64
  void ensure_size(int64_t count, at::Device device);
};

}  // namespace dreamdpo::scene
