// Shared input check of every ranker: images are [N,3,H,W] floating point.
#pragma once
#include <ATen/ATen.h>

#include <string>

#include "core/error.h"

namespace dreamdpo::rank {

inline void validate_images(const at::Tensor& images, const std::string& who) {
  check(images.defined() && images.dim() == 4 && images.size(1) == 3,
        who, ": expected images of shape [N,3,H,W], got ",
        images.defined() ? images.sizes() : at::IntArrayRef{});
  check(at::isFloatingType(images.scalar_type()), who, ": expected floating-point images in [0,1]");
}

}  // namespace dreamdpo::rank
