#include "export/marching_cubes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <utility>

#include "test_helpers.h"

namespace dreamdpo::exporters {
namespace {

using ::testing::HasSubstr;
using testing_helpers::error_of;

constexpr double kPi = 3.14159265358979323846;

// Field r - |x - c| on an n^3 grid over [-1,1]^3: positive inside a sphere of radius r.
at::Tensor sphere_field(int64_t n, double r, const std::array<double, 3>& c) {
  const auto axis = at::linspace(-1.0, 1.0, n, at::kDouble);
  const auto g = at::meshgrid({axis, axis, axis}, "ij");
  return (r - ((g[0] - c[0]).pow(2) + (g[1] - c[1]).pow(2) + (g[2] - c[2]).pow(2)).sqrt()).to(at::kFloat);
}

const std::array<float, 3> kMin = {-1, -1, -1}, kMax = {1, 1, 1};

TEST(MarchingCubesTest, SphereIsAClosedOutwardGenusZeroSurface) {
  const double r = 0.61;
  const std::array<double, 3> c = {0.03, -0.05, 0.02};
  const auto mesh = extract_isosurface(sphere_field(40, r, c), 0.0, kMin, kMax);
  const int64_t V = mesh.vertex_count(), F = mesh.face_count();
  ASSERT_GT(F, 1000);
  ASSERT_EQ(mesh.faces.scalar_type(), at::kInt);
  ASSERT_EQ(mesh.vertices.sizes(), at::IntArrayRef({V, 3}));
  ASSERT_EQ(mesh.normals.sizes(), at::IntArrayRef({V, 3}));

  // Every undirected edge is used by exactly two faces, once in each direction (consistent
  // orientation), so the surface is closed.
  std::map<std::pair<int, int>, int> directed;
  const auto faces = mesh.faces.accessor<int32_t, 2>();
  for (int64_t f = 0; f < F; ++f) {
    for (int e = 0; e < 3; ++e) ++directed[{faces[f][e], faces[f][(e + 1) % 3]}];
  }
  int64_t edges = 0, bad = 0;
  for (const auto& [edge, count] : directed) {
    if (count != 1 || directed.count({edge.second, edge.first}) != 1) ++bad;
    if (edge.first < edge.second) ++edges;
  }
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(V - edges + F, 2) << "V=" << V << " E=" << edges << " F=" << F;

  // No two vertices at the same place: each crossed grid edge gives one shared vertex.
  std::set<std::array<float, 3>> unique;
  const auto v = mesh.vertices.accessor<float, 2>();
  for (int64_t i = 0; i < V; ++i) unique.insert({v[i][0], v[i][1], v[i][2]});
  EXPECT_EQ(static_cast<int64_t>(unique.size()), V);

  const auto centre = at::tensor({c[0], c[1], c[2]}, at::kDouble);
  const auto p = mesh.vertices.to(at::kDouble) - centre;
  const auto radius = p.norm(2, 1);
  EXPECT_LT((radius - r).abs().max().item<double>(), 0.005);  // grid spacing 0.051
  // Normals are unit and point away from the centre.
  EXPECT_LT((mesh.normals.norm(2, 1) - 1).abs().max().item<double>(), 1e-5);
  EXPECT_GT((mesh.normals.to(at::kDouble) * p / radius.unsqueeze(1)).sum(1).min().item<double>(), 0.999);

  // Area and (divergence theorem) volume; a positive volume also means CCW seen from outside.
  const auto idx = mesh.faces.to(at::kLong);
  const auto a = p.index_select(0, idx.select(1, 0)), b = p.index_select(0, idx.select(1, 1)),
             cc = p.index_select(0, idx.select(1, 2));
  const auto cross = at::cross(b - a, cc - a, 1);
  const double area = 0.5 * cross.norm(2, 1).sum().item<double>();
  const double volume = (a * at::cross(b, cc, 1)).sum().item<double>() / 6.0;
  EXPECT_NEAR(area / (4 * kPi * r * r), 1.0, 0.01);
  EXPECT_NEAR(volume / (4.0 / 3.0 * kPi * r * r * r), 1.0, 0.01);
  // Every face's own normal points outwards too.
  EXPECT_GT(((a + b + cc) * cross).sum(1).min().item<double>(), 0.0);
}

// Two separate blobs give two closed components: V - E + F = 4.
TEST(MarchingCubesTest, TwoSpheresHaveEulerCharacteristicFour) {
  const auto field = at::maximum(sphere_field(32, 0.3, {-0.45, 0, 0}), sphere_field(32, 0.3, {0.45, 0.01, 0}));
  const auto mesh = extract_isosurface(field, 0.0, kMin, kMax);
  std::set<std::pair<int, int>> edges;
  const auto faces = mesh.faces.accessor<int32_t, 2>();
  for (int64_t f = 0; f < mesh.face_count(); ++f) {
    for (int e = 0; e < 3; ++e) {
      const int a = faces[f][e], b = faces[f][(e + 1) % 3];
      edges.insert({std::min(a, b), std::max(a, b)});
    }
  }
  EXPECT_EQ(mesh.vertex_count() - static_cast<int64_t>(edges.size()) + mesh.face_count(), 4);
}

// Trilinear interpolation reproduces a colour that is linear in position, on an anisotropic box.
TEST(MarchingCubesTest, ColoursAreTrilinearFromTheColourGrid) {
  const std::array<float, 3> lo = {-1, -0.5f, 0}, hi = {1, 1.5f, 3};
  const int64_t n = 24;
  std::vector<at::Tensor> axes;
  for (int a = 0; a < 3; ++a) axes.push_back(at::linspace(lo[a], hi[a], n, at::kDouble));
  const auto g = at::meshgrid(axes, "ij");
  const auto field = (0.8 - (g[0].pow(2) + (g[1] - 0.5).pow(2) + (g[2] - 1.5).pow(2)).sqrt()).to(at::kFloat);
  const auto colour = at::stack({(g[0] + 1) / 2, (g[1] + 0.5) / 2, g[2] / 3}, 3).to(at::kFloat);
  const auto mesh = extract_isosurface(field, 0.0, lo, hi, colour);
  ASSERT_GT(mesh.vertex_count(), 100);
  const auto v = mesh.vertices;
  const auto expected = at::stack({(v.select(1, 0) + 1) / 2, (v.select(1, 1) + 0.5) / 2, v.select(1, 2) / 3}, 1);
  EXPECT_LT((mesh.colours - expected).abs().max().item<double>(), 1e-5);
  EXPECT_LT(((v - at::tensor({0.0f, 0.5f, 1.5f})).norm(2, 1) - 0.8).abs().max().item<double>(), 0.02);
}

TEST(MarchingCubesTest, FieldWithoutCrossingGivesEmptyMesh) {
  const auto mesh = extract_isosurface(at::zeros({5, 6, 7}), 0.5, kMin, kMax);
  EXPECT_EQ(mesh.vertex_count(), 0);
  EXPECT_EQ(mesh.face_count(), 0);
  EXPECT_EQ(mesh.faces.sizes(), at::IntArrayRef({0, 3}));
  EXPECT_THAT(error_of([&] { checked_for_export(mesh, "cannot write x.glb"); }),
              HasSubstr("cannot write x.glb: the mesh is empty"));
}

TEST(MarchingCubesTest, BadInputGivesClearErrors) {
  EXPECT_THAT(error_of([&] { extract_isosurface(at::zeros({1, 4, 4}), 0.0, kMin, kMax); }),
              HasSubstr("at least 2 points per axis"));
  auto nan_field = at::zeros({3, 3, 3});
  nan_field[1][1][1] = NAN;
  EXPECT_THAT(error_of([&] { extract_isosurface(nan_field, 0.0, kMin, kMax); }), HasSubstr("NaN"));
  EXPECT_THAT(error_of([&] { extract_isosurface(at::zeros({3, 3, 3}), 0.0, kMin, kMax, at::zeros({3, 3, 3})); }),
              HasSubstr("colour grid must be [3,3,3,3]"));
}

}  // namespace
}  // namespace dreamdpo::exporters
