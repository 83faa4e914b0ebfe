// What the renderer composites behind the object: a solid colour, a random colour per view
// (so the object cannot hide in a background-coloured haze), or a learned colour.
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/rng.h"

namespace dreamdpo::scene {

struct BackgroundConfig {
  std::string mode = "solid";                // solid | random | learned
  std::vector<double> colour = {1.0, 1.0, 1.0};  // solid colour; also used for validation renders
  double random_prob = 0.5;                  // random mode: chance a view gets a random colour

  template <class V>
  void visit(V& v) {
    v("mode", mode, "solid | random | learned");
    v("colour", colour, "RGB in [0,1]: the solid background and the one of validation renders");
    v("random_prob", random_prob, "random mode: probability that a training view gets a random colour");
  }
  void validate(const std::string& path) const;
};

class Background {
 public:
  Background(const BackgroundConfig& config, at::Device device);

  // Colours [views,3] for one training step (draws from rng only in random mode).
  at::Tensor training(int64_t views, core::Rng& rng) const;
  // The fixed colour of validation renders and exports [views,3].
  at::Tensor fixed(int64_t views) const;
  // rgb [B,3,H,W] rendered over black, alpha [B,1,H,W], colours [B,3] -> rgb over colours.
  static at::Tensor composite(const at::Tensor& rgb, const at::Tensor& alpha, const at::Tensor& colours);

  // Learned mode: the parameter (a logit per channel) and its optimiser state live here.
  bool learned() const { return config_.mode == "learned"; }
  // One Adam step on the learned colour (no-op otherwise).
  void step(double lr);
  // "background.logits" and its Adam moments (empty unless learned), for checkpoints.
  std::map<std::string, at::Tensor> state() const;
  void load_state(const std::map<std::string, at::Tensor>& state);

 private:
  BackgroundConfig config_;
  at::Device device_;
  at::Tensor solid_;   // [3]
  at::Tensor logits_;  // [3], learned mode only
  at::Tensor exp_avg_, exp_avg_sq_;
  int64_t steps_ = 0;
};

}  // namespace dreamdpo::scene
