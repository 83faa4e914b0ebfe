// Settings of the guidance step (DESIGN §1): method, CFG, timestep annealing and the
// DreamDPO piecewise objective with the official code's two switches.
#pragma once
#include <string>
#include <vector>

#include "core/config.h"

namespace dreamdpo::guidance {

struct DreamDpoConfig {
  double tau = 0.01;                 // score-gap threshold; below it only the winner pulls
  std::string pairs = "noise";       // noise: two noises at one t; timestep: one noise, two t
  std::string lose_prediction = "text";  // text (official code) or cfg: the loser's eps estimate
  // Below tau: pull with (eps_win_hat - eps_win) as the paper writes it (true), or with
  // eps_win_hat alone as the official code does (false).
  bool low_gap_subtracts_noise = true;

  template <class V>
  void visit(V& v) {
    v("tau", tau, "score-gap threshold (>= 0)");
    v("pairs", pairs, "pair construction: noise | timestep");
    v("lose_prediction", lose_prediction, "loser's noise estimate: text | cfg");
    v("low_gap_subtracts_noise", low_gap_subtracts_noise,
      "below tau use eps_hat - eps (paper) or eps_hat (official code)");
  }
  void validate(const std::string& path) const;
};

struct GuidanceConfig {
  std::string method = "dreamdpo";  // dreamdpo | sds
  double guidance_scale = 7.5;
  // Sampled timestep range as fractions of the schedule, annealed linearly from the first to
  // the second value over anneal_steps (0: over the whole run). Official DreamDPO preset.
  std::vector<double> t_min = {0.98, 0.02};
  std::vector<double> t_max = {0.98, 0.50};
  int64_t anneal_steps = 0;
  double grad_clip = 0.0;  // clamp |grad| elementwise; 0 disables
  DreamDpoConfig dreamdpo;

  template <class V>
  void visit(V& v) {
    v("method", method, "dreamdpo | sds");
    v("guidance_scale", guidance_scale, "classifier-free guidance scale");
    v("t_min", t_min, "[start, end] lower timestep fraction");
    v("t_max", t_max, "[start, end] upper timestep fraction");
    v("anneal_steps", anneal_steps, "steps over which t_min/t_max anneal (0 = whole run)");
    v("grad_clip", grad_clip, "elementwise gradient clamp, 0 = off");
    v("dreamdpo", dreamdpo);
  }
  void validate(const std::string& path) const;
};

}  // namespace dreamdpo::guidance
