// An exact ranker that prefers a colour: score = mean over pixels of
// exp(-||pixel - colour||^2 / (2 * 0.1^2)), the fraction of the image close to the colour.
#pragma once
#include <array>

#include "rank/ranker.h"

namespace dreamdpo::rank {

class ColourRanker : public Ranker {
 public:
  explicit ColourRanker(std::array<double, 3> rgb);
  std::string name() const override { return "colour"; }
  at::Tensor score(const at::Tensor& images, const std::string& prompt) override;

 private:
  std::array<double, 3> rgb_;
};

}  // namespace dreamdpo::rank
