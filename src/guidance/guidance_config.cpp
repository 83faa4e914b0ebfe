#include "guidance/guidance_config.h"

namespace dreamdpo::guidance {
using core::key_path;

void DreamDpoConfig::validate(const std::string& path) const {
  check(tau >= 0, key_path(path, "tau"), " must be >= 0, got ", tau);
  check(pairs == "noise" || pairs == "timestep", key_path(path, "pairs"),
        " must be 'noise' or 'timestep', got '", pairs, "'");
  check(lose_prediction == "text" || lose_prediction == "cfg", key_path(path, "lose_prediction"),
        " must be 'text' or 'cfg', got '", lose_prediction, "'");
}

void GuidanceConfig::validate(const std::string& path) const {
  check(method == "dreamdpo" || method == "sds", key_path(path, "method"),
        " must be 'dreamdpo' or 'sds', got '", method, "'");
  check(guidance_scale >= 0, key_path(path, "guidance_scale"), " must be >= 0");
  for (const auto* range : {&t_min, &t_max}) {
    const char* name = range == &t_min ? "t_min" : "t_max";
    check(range->size() == 2, key_path(path, name), " must be [start, end]");
    for (double f : *range) {
      check(f >= 0 && f <= 1, key_path(path, name), " values must lie in [0, 1], got ", f);
    }
  }
  check(t_min[0] <= t_max[0] && t_min[1] <= t_max[1], key_path(path, "t_min"),
        " must not exceed ", key_path(path, "t_max"));
  check(anneal_steps >= 0, key_path(path, "anneal_steps"), " must be >= 0");
  check(grad_clip >= 0, key_path(path, "grad_clip"), " must be >= 0");
}

}  // namespace dreamdpo::guidance
