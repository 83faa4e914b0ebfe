// Which diffusion prior a run uses and at what resolution; shared by every optimisation loop.
#pragma once
#include <string>

#include "core/config.h"

namespace dreamdpo::generate {

struct PriorConfig {
  std::string name = "exact";  // exact: the closed-form Gaussian-mixture template world
  int64_t image_size = 32;
  double sigma = 0.05;         // exact prior: spread of each template component
  std::string schedule = "scaled_linear";

  template <class V>
  void visit(V& v) {
    v("name", name, "diffusion prior");
    v("image_size", image_size, "side of the images the prior works at");
    v("sigma", sigma, "exact prior: standard deviation of each component");
    v("schedule", schedule, "noise schedule: scaled_linear | linear | cosine");
  }
  void validate(const std::string& path) const {
    check(image_size >= 4 && image_size <= 1024, core::key_path(path, "image_size"),
          " must lie in [4, 1024], got ", image_size);
    check(sigma >= 0, core::key_path(path, "sigma"), " must be >= 0");
  }
};

}  // namespace dreamdpo::generate
