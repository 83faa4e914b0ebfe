#include "shapeworld/layout.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "shapeworld/caption.h"
#include "shapeworld/primitives.h"
#include "shapeworld/sampler.h"

namespace dreamdpo::shapeworld {
namespace {

float half_height(const SceneObject& o) { return primitive::extent(o.shape).half_height * o.scale; }
float bottom(const SceneObject& o) { return o.centre[1] - half_height(o); }
float top(const SceneObject& o) { return o.centre[1] + half_height(o); }
float norm3(const std::array<float, 3>& v) { return std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]); }

TEST(ShapeWorldLayout, SampledScenesRestOnTheGroundInsideTheSceneBall) {
  core::Rng rng(13);
  for (int n = 0; n < 400; ++n) {
    const SceneSpec spec = sample_spec(rng);
    const Scene scene = layout(spec, rng);
    ASSERT_EQ(static_cast<int>(scene.objects.size()), spec.object_count()) << to_string(spec);
    float lowest = 1e9f, highest = -1e9f;
    for (const auto& o : scene.objects) {
      EXPECT_LE(norm3(o.centre) + primitive::extent(o.shape).bounding_radius * o.scale, kSceneRadius + 1e-5f);
      lowest = std::min(lowest, bottom(o));
      highest = std::max(highest, top(o));
    }
    EXPECT_NEAR(lowest, -highest, 1e-5f) << "vertically centred";
    // Sizes keep their order: every object is shrunk by the same factor.
    size_t index = 0;
    for (const auto& g : spec.groups)
      for (int i = 0; i < g.count; ++i, ++index) {
        const auto& o = scene.objects[index];
        EXPECT_EQ(o.shape, g.shape);
        EXPECT_EQ(o.rgb, colour_rgb(g.colour));
        EXPECT_NEAR(o.scale / size_scale(g.size), scene.objects[0].scale / size_scale(spec.groups[0].size), 1e-5f);
      }

    if (spec.relation == Relation::on_top_of) {
      const auto& upper = scene.objects[0];
      const auto& lower = scene.objects[1];
      EXPECT_NEAR(bottom(lower), lowest, 1e-6f);
      EXPECT_NEAR(bottom(upper), top(lower), 1e-5f) << "stacked";
      EXPECT_NEAR(upper.centre[0], lower.centre[0], 1e-6f);
      EXPECT_NEAR(upper.centre[2], lower.centre[2], 1e-6f);
    } else {
      // Side by side on the ground, not overlapping, along one horizontal line through the origin.
      for (size_t i = 0; i < scene.objects.size(); ++i) {
        const auto& a = scene.objects[i];
        EXPECT_NEAR(bottom(a), lowest, 1e-5f);
        for (size_t j = 0; j < i; ++j) {
          const auto& b = scene.objects[j];
          const float gap = std::hypot(a.centre[0] - b.centre[0], a.centre[2] - b.centre[2]);
          EXPECT_GE(gap, (primitive::extent(a.shape).footprint_radius * a.scale +
                          primitive::extent(b.shape).footprint_radius * b.scale));
          EXPECT_NEAR(a.centre[0] * b.centre[2] - a.centre[2] * b.centre[0], 0.0f, 1e-5f) << "collinear";
        }
      }
    }
  }
}

TEST(ShapeWorldLayout, DeterministicGivenTheRngAndSizesAreAbsoluteWhenTheyFit) {
  const SceneSpec spec = parse_caption("a small red cube next to a large blue sphere");
  core::Rng a(3), b(3);
  const Scene first = layout(spec, a), second = layout(spec, b);
  ASSERT_EQ(first.objects.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(first.objects[i].centre, second.objects[i].centre);
    EXPECT_EQ(first.objects[i].yaw, second.objects[i].yaw);
  }
  // A single large sphere is not shrunk: its radius is the large scale.
  core::Rng rng(1);
  const Scene single = layout(parse_caption("a big green ball"), rng);
  EXPECT_EQ(single.objects[0].scale, size_scale(Size::large));
  EXPECT_NEAR(norm3(single.objects[0].centre), 0.0f, 1e-6f);
  EXPECT_LT(size_scale(Size::small), size_scale(Size::medium));
  EXPECT_LT(size_scale(Size::medium), size_scale(Size::large));
}

}  // namespace
}  // namespace dreamdpo::shapeworld
