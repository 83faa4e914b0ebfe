// The matrix-product bilinear resize against LibTorch's upsample_bilinear2d.
#include <gtest/gtest.h>

#include "core/resize.h"

namespace dreamdpo::core {
namespace {

TEST(Resize, MatchesUpsampleBilinearUpAndDown) {
  const auto images = at::rand({2, 3, 16, 24}, at::kDouble);
  for (auto [h, w] : std::vector<std::pair<int64_t, int64_t>>{{32, 32}, {8, 12}, {16, 24}, {20, 7}}) {
    const auto ours = resize_bilinear(images, h, w);
    const auto reference = at::upsample_bilinear2d(images, {h, w}, /*align_corners=*/false);
    EXPECT_TRUE(at::allclose(ours, reference, 1e-12, 1e-12)) << h << "x" << w;
  }
}

TEST(Resize, GradientIsTheTransposedInterpolation) {
  const auto images = at::rand({1, 1, 6, 5}, at::kDouble).set_requires_grad(true);
  const auto weights = at::rand({1, 1, 9, 4}, at::kDouble);
  (resize_bilinear(images, 9, 4) * weights).sum().backward();
  const auto reference_images = images.detach().clone().set_requires_grad(true);
  (at::upsample_bilinear2d(reference_images, {9, 4}, false) * weights).sum().backward();
  EXPECT_TRUE(at::allclose(images.grad(), reference_images.grad(), 1e-12, 1e-12));
}

}  // namespace
}  // namespace dreamdpo::core
