// An exact ranker for the template world: prefers images close to any of a set of target
// images. score = -min_k mean((image - target_k)^2), so higher is closer.
#pragma once
#include <vector>

#include "rank/ranker.h"

namespace dreamdpo::rank {

class TemplateRanker : public Ranker {
 public:
  // targets: [3,H,W] images in [0,1], all the same size.
  TemplateRanker(std::vector<at::Tensor> targets, std::string description);
  std::string name() const override { return "template(" + description_ + ")"; }
  at::Tensor score(const at::Tensor& images, const std::string& prompt) override;

 private:
  at::Tensor targets_;  // [K,3,H,W]
  std::string description_;
};

}  // namespace dreamdpo::rank
