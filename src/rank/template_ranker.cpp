#include "rank/template_ranker.h"

#include <ATen/core/grad_mode.h>

#include "core/error.h"
#include "rank/validate_images.h"

namespace dreamdpo::rank {

TemplateRanker::TemplateRanker(std::vector<at::Tensor> targets, std::string description)
    : description_(std::move(description)) {
  check(!targets.empty(), "template ranker '", description_, "' has no target image");
  targets_ = at::stack(targets).to(at::kFloat);
  check(targets_.dim() == 4 && targets_.size(1) == 3, "template ranker targets must be [3,H,W] images");
}

at::Tensor TemplateRanker::score(const at::Tensor& images, const std::string& /*prompt*/) {
  at::NoGradGuard no_grad;
  validate_images(images, "template ranker");
  check(images.size(2) == targets_.size(2) && images.size(3) == targets_.size(3),
        "template ranker: images are ", images.size(2), "x", images.size(3), " but its targets are ",
        targets_.size(2), "x", targets_.size(3));
  const auto x = images.detach().to(at::kFloat).unsqueeze(1);             // [N,1,3,H,W]
  const auto t = targets_.to(images.device()).unsqueeze(0);              // [1,K,3,H,W]
  const auto mse = (x - t).pow(2).mean({2, 3, 4});                       // [N,K]
  return -std::get<0>(mse.min(1)).cpu();
}

}  // namespace dreamdpo::rank
