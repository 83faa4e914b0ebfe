#include "rank/colour_ranker.h"

#include <ATen/core/grad_mode.h>

#include "core/error.h"
#include "rank/validate_images.h"

namespace dreamdpo::rank {

ColourRanker::ColourRanker(std::array<double, 3> rgb) : rgb_(rgb) {
  for (double c : rgb_) check(c >= 0 && c <= 1, "colour ranker: colour values must lie in [0, 1]");
}

at::Tensor ColourRanker::score(const at::Tensor& images, const std::string& /*prompt*/) {
  at::NoGradGuard no_grad;
  validate_images(images, "colour ranker");
  constexpr double kWidth = 0.1;
  const auto target = at::tensor({rgb_[0], rgb_[1], rgb_[2]}, images.options().dtype(at::kFloat)).view({1, 3, 1, 1});
  const auto dist2 = (images.detach().to(at::kFloat) - target).pow(2).sum(1);  // [N,H,W]
  return at::exp(-dist2 / (2 * kWidth * kWidth)).mean({1, 2}).cpu();
}

}  // namespace dreamdpo::rank
