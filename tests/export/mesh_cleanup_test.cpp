// Floater removal keeps the large components intact and drops the small ones.
#include <gtest/gtest.h>

#include "export/marching_cubes.h"
#include "export/mesh_cleanup.h"

namespace dreamdpo::exporters {
namespace {

constexpr std::array<float, 3> kMin = {-1, -1, -1}, kMax = {1, 1, 1};

// Positive inside any of the balls (centre, radius).
at::Tensor balls_field(int64_t n, const std::vector<std::array<double, 4>>& balls) {
  const auto axis = at::linspace(-1.0, 1.0, n, at::kDouble);
  const auto g = at::meshgrid({axis, axis, axis}, "ij");
  auto field = at::full({n, n, n}, -1.0, at::kDouble);
  for (const auto& b : balls) {
    const auto d = ((g[0] - b[0]).pow(2) + (g[1] - b[1]).pow(2) + (g[2] - b[2]).pow(2)).sqrt();
    field = at::maximum(field, b[3] - d);
  }
  return field.to(at::kFloat);
}

TEST(MeshCleanup, DropsSmallComponentsAndKeepsTheRestExactly) {
  const auto big_only = extract_isosurface(balls_field(40, {{-0.3, 0, 0, 0.5}}), 0.0, kMin, kMax);
  const auto with_floater =
      extract_isosurface(balls_field(40, {{-0.3, 0, 0, 0.5}, {0.75, 0.6, 0.6, 0.12}}), 0.0, kMin, kMax);
  ASSERT_GT(with_floater.face_count(), big_only.face_count());
  CleanupReport report;
  const auto cleaned = keep_large_components(with_floater, 0.1, &report);
  EXPECT_EQ(report.components, 2);
  EXPECT_EQ(report.removed, 1);
  // What remains is the big ball's surface: same faces and vertices as extracting it alone.
  EXPECT_EQ(cleaned.face_count(), big_only.face_count());
  EXPECT_EQ(cleaned.vertex_count(), big_only.vertex_count());
  EXPECT_LT(cleaned.vertices.select(1, 0).max().item<double>(), 0.25);
  EXPECT_EQ(cleaned.faces.max().item<int64_t>(), cleaned.vertex_count() - 1);
  EXPECT_EQ(cleaned.colours.size(0), cleaned.vertex_count());
  // With a low threshold both stay.
  EXPECT_EQ(keep_large_components(with_floater, 0.001).face_count(), with_floater.face_count());
}

}  // namespace
}  // namespace dreamdpo::exporters
