#include "scene/image_representation.h"

#include <ATen/core/grad_mode.h>

#include "core/error.h"

namespace dreamdpo::scene {

ImageRepresentation::ImageRepresentation(int64_t views, int64_t size, const std::string& init,
                                         core::Rng& rng, at::Device device) {
  check(views >= 1 && size >= 1, "image representation needs views >= 1 and size >= 1");
  const auto options = at::TensorOptions().dtype(at::kFloat);
  if (init == "grey") {
    pixels_ = at::full({views, 3, size, size}, 0.5, options);
  } else if (init == "noise") {
    pixels_ = rng.uniform({views, 3, size, size}, options);
  } else if (init == "grey-noise") {
    pixels_ = (0.5 + 0.1 * rng.normal({views, 3, size, size}, options)).clamp(0, 1);
  } else {
    fail("unknown image init '", init, "' (known: grey, noise, grey-noise)");
  }
  pixels_ = pixels_.to(device).requires_grad_(true);
}

void ImageRepresentation::project() {
  at::NoGradGuard no_grad;
  pixels_.clamp_(0, 1);
}

}  // namespace dreamdpo::scene
