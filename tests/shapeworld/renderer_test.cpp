#include "shapeworld/renderer.h"

#include <gtest/gtest.h>

#include <cmath>

#include "camera/orbit.h"
#include "shapeworld/layout.h"
#include "shapeworld/sampler.h"
#include "test_helpers.h"

namespace dreamdpo::shapeworld {
namespace {

SceneObject object(Shape shape, std::array<float, 3> rgb, std::array<float, 3> centre, float scale, float yaw = 0) {
  SceneObject o;
  o.shape = shape;
  o.rgb = rgb;
  o.centre = centre;
  o.scale = scale;
  o.yaw = yaw;
  return o;
}

// A camera on +z at distance d looking at the origin (identity rotation).
camera::CameraBatch front_camera(double distance, double fovy_deg) {
  return camera::fixed_orbit(1, 0.0, distance, fovy_deg);
}

// A camera straight above the origin looking down -y, image up = -z.
camera::CameraBatch top_camera(double distance, double fovy_deg) {
  auto c2w = at::eye(4);
  c2w[0][0] = 1;
  c2w[1][1] = 0;
  c2w[2][1] = -1;  // camera up = world -z
  c2w[1][2] = 1;   // camera back = world +y
  c2w[2][2] = 0;
  c2w[1][3] = distance;
  return {c2w.unsqueeze(0), at::full({1}, fovy_deg * M_PI / 180.0)};
}

float at_pixel(const at::Tensor& image, int64_t channel, int64_t i, int64_t j) {
  return image[0][channel][i][j].item<float>();
}

TEST(ShapeWorldRenderer, SphereCentreSilhouetteAndDepthMatchHandComputedValues) {
  const float r = 0.5f, d = 3.0f;
  const double fovy = 40.0 * M_PI / 180.0;
  const int64_t size = 65;  // odd: pixel 32 is centred on the optical axis
  RenderOptions opts;
  opts.ambient = 0.25f;
  opts.diffuse = 0.6f;
  opts.light_direction = {0.3f, 0.5f, 1.0f};
  opts.background = {0.1f, 0.2f, 0.3f};
  const std::array<float, 3> rgb = {0.9f, 0.5f, 0.2f};
  const Scene scene{{object(Shape::sphere, rgb, {0, 0, 0}, r)}};
  const auto out = render_scene(scene, front_camera(d, 40.0), size, size, opts);
  ASSERT_EQ(out.rgb.sizes(), (at::IntArrayRef{1, 3, size, size}));
  ASSERT_EQ(out.alpha.sizes(), (at::IntArrayRef{1, 1, size, size}));
  ASSERT_EQ(out.depth.sizes(), (at::IntArrayRef{1, 1, size, size}));

  const float n_dot_l = 1.0f / std::sqrt(0.3f * 0.3f + 0.5f * 0.5f + 1.0f);
  for (int c = 0; c < 3; ++c)
    EXPECT_NEAR(at_pixel(out.rgb, c, 32, 32), rgb[c] * (opts.ambient + opts.diffuse * n_dot_l), 1e-5);
  EXPECT_NEAR(at_pixel(out.depth, 0, 32, 32), d - r, 1e-5);

  const double focal = 0.5 * size / std::tan(0.5 * fovy);
  const double silhouette = focal * std::tan(std::asin(r / d));
  int inside = 0, outside = 0;
  for (int64_t i = 0; i < size; ++i)
    for (int64_t j = 0; j < size; ++j) {
      const double radius = std::hypot(i + 0.5 - 0.5 * size, j + 0.5 - 0.5 * size);
      const float alpha = at_pixel(out.alpha, 0, i, j);
      if (radius < silhouette - 0.2) {
        ASSERT_EQ(alpha, 1.0f) << i << "," << j;
        ++inside;
      } else if (radius > silhouette + 0.2) {
        ASSERT_EQ(alpha, 0.0f) << i << "," << j;
        EXPECT_EQ(at_pixel(out.rgb, 2, i, j), 0.3f);
        EXPECT_EQ(at_pixel(out.depth, 0, i, j), 0.0f);
        ++outside;
      }
    }
  EXPECT_GT(inside, 300);
  EXPECT_GT(outside, 1000);
}

TEST(ShapeWorldRenderer, CubeFaceSeenHeadOnIsUniformlyShaded) {
  const Scene scene{{object(Shape::cube, {0.2f, 0.8f, 0.4f}, {0, 0, 0}, 0.5f)}};
  const auto out = render_scene(scene, front_camera(3.0, 40.0), 48, 48);
  const auto mask = out.alpha[0][0] > 0.5;
  const int64_t covered = mask.sum().item<int64_t>();
  // The front face (half side 0.4 at distance 2.6) spans 2 * focal * 0.4 / 2.6 pixels.
  const double side = 2.0 * (0.5 * 48 / std::tan(20.0 * M_PI / 180.0)) * 0.4 / 2.6;
  EXPECT_NEAR(static_cast<double>(covered), side * side, 2.0 * side + 2.0);
  for (int c = 0; c < 3; ++c) {
    const auto values = out.rgb[0][c].masked_select(mask);
    EXPECT_LT((values.max() - values.min()).item<float>(), 1e-6f);
  }
  EXPECT_NEAR(out.depth[0][0].masked_select(mask).mean().item<float>(), 2.6f, 1e-5f);
}

// Sum of alpha in world units of area for a far, narrow camera (close to orthographic).
double silhouette_area(const SceneObject& o, const camera::CameraBatch& camera, double distance, double half_extent) {
  const int64_t size = 161;
  RenderOptions opts;
  opts.supersample = 2;
  const auto out = render_scene(Scene{{o}}, camera, size, size, opts);
  const double pixel = 2.0 * half_extent / size;
  EXPECT_EQ(out.alpha[0][0][0].sum().item<float>(), 0.0f) << "object touches the border";
  return out.alpha.sum().item<double>() * pixel * pixel;
}

TEST(ShapeWorldRenderer, SilhouetteAreasMatchTheAnalyticProjections) {
  const double distance = 100.0, half_extent = 0.6;
  const double fovy_deg = 2.0 * std::atan(half_extent / distance) * 180.0 / M_PI;
  const auto side = front_camera(distance, fovy_deg);
  const auto top = top_camera(distance, fovy_deg);
  const float s = 0.5f;
  const std::array<float, 3> grey = {0.5f, 0.5f, 0.5f};
  // Cone from the side: a triangle of base 2 * 0.9 s and height 1.8 s.
  EXPECT_NEAR(silhouette_area(object(Shape::cone, grey, {0, 0, 0}, s), side, distance, half_extent),
              0.5 * (1.8 * s) * (1.8 * s), 0.02 * 0.405);
  // Cylinder from the side: a 1.6 s square.
  EXPECT_NEAR(silhouette_area(object(Shape::cylinder, grey, {0, 0, 0}, s), side, distance, half_extent),
              (1.6 * s) * (1.6 * s), 0.02 * 0.64);
  // Cone from above: the base disc.
  EXPECT_NEAR(silhouette_area(object(Shape::cone, grey, {0, 0, 0}, s), top, distance, half_extent),
              M_PI * (0.9 * s) * (0.9 * s), 0.02 * 0.636);
  // Torus from above: an annulus of radii (0.75 +- 0.3) s.
  const double annulus = M_PI * (std::pow(1.05 * s, 2) - std::pow(0.45 * s, 2));
  EXPECT_NEAR(silhouette_area(object(Shape::torus, grey, {0, 0, 0}, s), top, distance, half_extent), annulus,
              0.02 * annulus);
  // Torus from the side: a 2.1 s x 0.6 s slab with rounded ends (two half discs of radius 0.3 s).
  const double torus_side = (1.5 * s) * (0.6 * s) + M_PI * std::pow(0.3 * s, 2);
  EXPECT_NEAR(silhouette_area(object(Shape::torus, grey, {0, 0, 0}, s), side, distance, half_extent), torus_side,
              0.03 * torus_side);
  // A cube turned 45 degrees: a sqrt(2) * 1.6 s wide, 1.6 s tall rectangle.
  EXPECT_NEAR(silhouette_area(object(Shape::cube, grey, {0, 0, 0}, s, M_PI / 4), side, distance, half_extent),
              std::sqrt(2.0) * 1.6 * s * 1.6 * s, 0.02 * 0.905);
}

TEST(ShapeWorldRenderer, TheNearerObjectOccludesWhateverTheListOrder) {
  const std::array<float, 3> red = {1, 0, 0}, blue = {0, 0, 1};
  const auto near = object(Shape::sphere, red, {0, 0, 0.5f}, 0.2f);
  const auto far = object(Shape::sphere, blue, {0, 0, -0.5f}, 0.5f);
  RenderOptions opts;
  opts.ambient = 1.0f;
  opts.diffuse = 0.0f;  // flat colours
  for (const Scene& scene : {Scene{{near, far}}, Scene{{far, near}}}) {
    const auto out = render_scene(scene, front_camera(3.0, 40.0), 65, 65, opts);
    EXPECT_EQ(at_pixel(out.rgb, 0, 32, 32), 1.0f);
    EXPECT_EQ(at_pixel(out.rgb, 2, 32, 32), 0.0f);
    EXPECT_NEAR(at_pixel(out.depth, 0, 32, 32), 3.0f - 0.5f - 0.2f, 1e-5);
    // Outside the small sphere's silhouette (about 7.2 px) but inside the large one's (about 12.9 px).
    EXPECT_EQ(at_pixel(out.rgb, 2, 32, 41), 1.0f);
    EXPECT_EQ(at_pixel(out.rgb, 0, 32, 41), 0.0f);
  }
}

TEST(ShapeWorldRenderer, LaidOutScenesStayInsideOrbitViews) {
  core::Rng rng(9);
  camera::OrbitSamplerConfig orbit;
  orbit.distance = {2.5, 2.5};
  orbit.fovy_deg = {40.0, 40.0};
  orbit.elevation_deg = {-10.0, 45.0};
  for (int i = 0; i < 12; ++i) {
    const Scene scene = layout(sample_spec(rng), rng);
    const auto out = render_scene(scene, camera::sample_orbit(orbit, rng), 32, 32);
    const auto& a = out.alpha;
    const float border = a.select(2, 0).sum().item<float>() + a.select(2, 31).sum().item<float>() +
                         a.select(3, 0).sum().item<float>() + a.select(3, 31).sum().item<float>();
    EXPECT_EQ(border, 0.0f);
    for (int64_t v = 0; v < 4; ++v) EXPECT_GT(a[v].sum().item<float>(), 2.0f);
    EXPECT_GE(out.rgb.min().item<float>(), 0.0f);
    EXPECT_LE(out.rgb.max().item<float>(), 1.0f);
  }
}

TEST(ShapeWorldRenderer, SupersamplingAveragesSubPixelRays) {
  const Scene scene{{object(Shape::sphere, {0.5f, 0.5f, 0.5f}, {0, 0, 0}, 0.5f)}};
  RenderOptions opts;
  opts.supersample = 3;
  const auto coarse = render_scene(scene, front_camera(3.0, 40.0), 20, 16, opts);
  opts.supersample = 1;
  const auto fine = render_scene(scene, front_camera(3.0, 40.0), 60, 48, opts);
  EXPECT_EQ(coarse.rgb.sizes(), (at::IntArrayRef{1, 3, 16, 20}));
  EXPECT_TRUE(at::allclose(coarse.rgb, at::avg_pool2d(fine.rgb, {3, 3}), 1e-5, 1e-6));
  EXPECT_TRUE(at::allclose(coarse.alpha, at::avg_pool2d(fine.alpha, {3, 3}), 1e-5, 1e-6));
  // Edge pixels mix object and background.
  const auto a = coarse.alpha;
  EXPECT_GT(((a > 0) & (a < 1)).sum().item<int64_t>(), 4);
}

TEST(ShapeWorldRenderer, BadInputsGiveClearErrors) {
  const Scene scene{{object(Shape::sphere, {1, 1, 1}, {0, 0, 0}, 0.5f)}};
  using testing_helpers::error_of;
  EXPECT_NE(error_of([&] { render_scene(scene, front_camera(3, 40), 0, 8); }).find("image size"), std::string::npos);
  RenderOptions opts;
  opts.supersample = 0;
  EXPECT_NE(error_of([&] { render_scene(scene, front_camera(3, 40), 8, 8, opts); }).find("supersample"),
            std::string::npos);
  camera::CameraBatch bad{at::eye(4), at::ones({1})};
  EXPECT_NE(error_of([&] { render_scene(scene, bad, 8, 8); }).find("[B, 4, 4]"), std::string::npos);
}

TEST(ShapeWorldRenderer, CudaMatchesCpu) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  const std::array<float, 3> grey = {0.6f, 0.6f, 0.6f};
  const Scene scene{{object(Shape::sphere, grey, {-0.4f, 0.2f, 0}, 0.15f),
                     object(Shape::cube, grey, {0, 0.2f, 0}, 0.15f, 0.4f),
                     object(Shape::cylinder, grey, {0.4f, 0.2f, 0}, 0.15f),
                     object(Shape::cone, grey, {-0.2f, -0.2f, 0}, 0.15f),
                     object(Shape::torus, grey, {0.2f, -0.2f, 0}, 0.15f)}};
  const auto cpu_cams = camera::fixed_orbit(3, 25.0, 2.5, 45.0, 10.0);
  const camera::CameraBatch cuda_cams{cpu_cams.c2w.cuda(), cpu_cams.fovy.cuda()};
  const auto cpu = render_scene(scene, cpu_cams, 64, 48);
  const auto gpu = render_scene(scene, cuda_cams, 64, 48);
  ASSERT_TRUE(gpu.rgb.is_cuda());
  // Rays that graze an edge may land either side on different hardware: compare all but a few pixels.
  const auto alpha_diff = (cpu.alpha - gpu.alpha.cpu()).abs();
  EXPECT_LT(alpha_diff.gt(0.5).sum().item<int64_t>(), 10);
  const auto same = (alpha_diff < 0.5).expand_as(cpu.rgb);
  EXPECT_LT((cpu.rgb - gpu.rgb.cpu()).abs().masked_select(same).max().item<float>(), 1e-3f);
}

}  // namespace
}  // namespace dreamdpo::shapeworld
