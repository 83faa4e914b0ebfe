// The simplest representation: the images themselves are the parameters (the paper's 2D
// experiment). One image per view, values kept in [0,1] by projection after each step.
#pragma once
#include <ATen/ATen.h>

#include "core/rng.h"

namespace dreamdpo::scene {

class ImageRepresentation {
 public:
  // init: "grey" (0.5 everywhere), "noise" (uniform), or "grey-noise" (0.5 + 0.1 N(0,1)).
  ImageRepresentation(int64_t views, int64_t size, const std::string& init, core::Rng& rng,
                      at::Device device = at::kCPU);

  at::Tensor& parameters() { return pixels_; }
  // The current images [V,3,S,S] in [0,1], differentiable w.r.t. parameters().
  at::Tensor render() const { return pixels_; }
  // Clamp back into [0,1] after an optimiser step.
  void project();

 private:
  at::Tensor pixels_;
};

}  // namespace dreamdpo::scene
