#include "camera/orbit.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"

namespace dreamdpo::camera {
namespace {

TEST(Orbit, AzimuthZeroIsTheIdentityRotationOnPlusZ) {
  const auto c2w = look_at_origin(at::zeros({1}), at::zeros({1}), at::full({1}, 3.0));
  auto expected = at::eye(4);
  expected[2][3] = 3.0;
  EXPECT_TRUE(at::allclose(c2w[0], expected, 1e-6, 1e-6)) << c2w;
}

TEST(Orbit, CamerasLookAtTheOriginWithAnOrthonormalFrame) {
  const auto cams = fixed_orbit(4, 30.0, 2.0, 45.0, 10.0);
  for (int64_t i = 0; i < 4; ++i) {
    const auto r = cams.c2w[i].slice(0, 0, 3).slice(1, 0, 3).to(at::kDouble);
    EXPECT_TRUE(at::allclose(at::matmul(r.t(), r), at::eye(3, at::kDouble), 1e-6, 1e-6));
    EXPECT_NEAR(at::det(r).item<double>(), 1.0, 1e-6);  // right-handed
    const auto position = cams.c2w[i].slice(0, 0, 3).select(1, 3).to(at::kDouble);
    EXPECT_NEAR(position.norm().item<double>(), 2.0, 1e-5);
    // The view direction (-z of the camera) points at the origin.
    const auto forward = -r.select(1, 2);
    EXPECT_TRUE(at::allclose(forward, -position / position.norm(), 1e-5, 1e-5));
    // Elevation 30 degrees: the camera is above the equator and the up vector has +y.
    EXPECT_NEAR(position[1].item<double>(), 2.0 * std::sin(M_PI / 6), 1e-5);
    EXPECT_GT(r[1][1].item<double>(), 0);
  }
  // Views are 90 degrees apart in azimuth.
  const auto p0 = cams.c2w[0].slice(0, 0, 3).select(1, 3);
  const auto p1 = cams.c2w[1].slice(0, 0, 3).select(1, 3);
  EXPECT_NEAR((p0[0] * p1[0] + p0[2] * p1[2]).item<float>(), 0.0, 1e-5);
}

TEST(Orbit, SamplerDrawsSharedParametersWithinRanges) {
  OrbitSamplerConfig config;
  core::Rng rng(3);
  for (int trial = 0; trial < 20; ++trial) {
    const auto cams = sample_orbit(config, rng);
    ASSERT_EQ(cams.size(), 4);
    const auto positions = cams.c2w.slice(1, 0, 3).select(2, 3).to(at::kDouble);
    const auto distances = positions.norm(2, 1);
    EXPECT_NEAR((distances.max() - distances.min()).item<double>(), 0.0, 1e-5);
    EXPECT_GE(distances.min().item<double>(), 2.5 - 1e-5);
    EXPECT_LE(distances.max().item<double>(), 3.0 + 1e-5);
    const double fovy = cams.fovy[0].item<double>() * 180 / M_PI;
    EXPECT_GE(fovy, 40.0 - 1e-4);
    EXPECT_LE(fovy, 50.0 + 1e-4);
  }
  config.fovy_deg = {50, 40};
  EXPECT_THROW(config.validate("camera"), Error);
}

TEST(Orbit, FocalLengthFromFieldOfView) {
  EXPECT_NEAR(focal_pixels(M_PI / 2, 64), 32.0, 1e-9);
}

}  // namespace
}  // namespace dreamdpo::camera
