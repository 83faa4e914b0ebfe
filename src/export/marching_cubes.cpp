#include "export/marching_cubes.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/error.h"

namespace dreamdpo::exporters {

namespace {

// Cube corner c sits at offset (c & 1, (c >> 1) & 1, (c >> 2) & 1) from the cell's origin.
using Edge = std::pair<int, int>;            // (lower corner, upper corner) of a cube
using Triangle = std::array<Edge, 3>;         // a triangle's vertices, each on a cube edge
using TetCases = std::array<std::vector<Triangle>, 16>;  // by mask of inside tet vertices

std::array<double, 3> corner_position(int c) { return {double(c & 1), double((c >> 1) & 1), double((c >> 2) & 1)}; }

// The 6 tetrahedra: monotone paths (0,0,0) -> (1,1,1) stepping along the axes in each order.
// Every edge of a path goes from a lower corner to one that adds axis bits, so an edge is
// named by its lower grid point and the added bits, and neighbouring cells name it alike.
std::array<std::array<int, 4>, 6> tetrahedra() {
  std::array<std::array<int, 4>, 6> tets{};
  std::array<int, 3> axes = {0, 1, 2};
  int t = 0;
  do {
    const int a = 1 << axes[0], b = a | (1 << axes[1]);
    tets[t++] = {0, a, b, 7};
  } while (std::next_permutation(axes.begin(), axes.end()));
  return tets;
}

// Triangles for each inside/outside pattern of one tetrahedron, built once. The orientation is
// decided on the polygon through the edge midpoints (never degenerate) so that the right-hand
// normal points from the inside vertices to the outside ones; interpolated vertices keep the
// order, so it stays correct for every field value, including samples equal to iso.
TetCases tet_cases(const std::array<int, 4>& tet) {
  TetCases cases;
  for (int mask = 1; mask < 15; ++mask) {
    std::vector<int> in, out;
    for (int v = 0; v < 4; ++v) ((mask >> v) & 1 ? in : out).push_back(tet[v]);
    auto edge = [](int a, int b) { return a < b ? Edge{a, b} : Edge{b, a}; };
    std::vector<Edge> polygon;  // cyclic order around the cut
    if (in.size() == 1) {
      polygon = {edge(in[0], out[0]), edge(in[0], out[1]), edge(in[0], out[2])};
    } else if (out.size() == 1) {
      polygon = {edge(in[0], out[0]), edge(in[1], out[0]), edge(in[2], out[0])};
    } else {
      polygon = {edge(in[0], out[0]), edge(in[0], out[1]), edge(in[1], out[1]), edge(in[1], out[0])};
    }
    auto midpoint = [](const Edge& e) {
      const auto a = corner_position(e.first), b = corner_position(e.second);
      return std::array<double, 3>{(a[0] + b[0]) / 2, (a[1] + b[1]) / 2, (a[2] + b[2]) / 2};
    };
    const auto p0 = midpoint(polygon[0]), p1 = midpoint(polygon[1]), p2 = midpoint(polygon[2]);
    const double u[3] = {p1[0] - p0[0], p1[1] - p0[1], p1[2] - p0[2]};
    const double w[3] = {p2[0] - p0[0], p2[1] - p0[1], p2[2] - p0[2]};
    const double normal[3] = {u[1] * w[2] - u[2] * w[1], u[2] * w[0] - u[0] * w[2], u[0] * w[1] - u[1] * w[0]};
    double outward[3] = {0, 0, 0};
    for (int c : out) for (int a = 0; a < 3; ++a) outward[a] += corner_position(c)[a] / out.size();
    for (int c : in) for (int a = 0; a < 3; ++a) outward[a] -= corner_position(c)[a] / in.size();
    if (normal[0] * outward[0] + normal[1] * outward[1] + normal[2] * outward[2] < 0) {
      std::reverse(polygon.begin(), polygon.end());
    }
    cases[mask].push_back({polygon[0], polygon[1], polygon[2]});
    if (polygon.size() == 4) cases[mask].push_back({polygon[0], polygon[2], polygon[3]});
  }
  return cases;
}

// Central differences in the interior, one-sided at the faces; world units. [X,Y,Z,3].
at::Tensor field_gradient(const at::Tensor& f, const std::array<double, 3>& step) {
  std::vector<at::Tensor> parts;
  for (int64_t a = 0; a < 3; ++a) {
    const int64_t n = f.size(a);
    auto g = at::empty_like(f);
    g.narrow(a, 0, 1).copy_((f.narrow(a, 1, 1) - f.narrow(a, 0, 1)) / step[a]);
    g.narrow(a, n - 1, 1).copy_((f.narrow(a, n - 1, 1) - f.narrow(a, n - 2, 1)) / step[a]);
    if (n > 2) g.narrow(a, 1, n - 2).copy_((f.narrow(a, 2, n - 2) - f.narrow(a, 0, n - 2)) / (2 * step[a]));
    parts.push_back(g);
  }
  return at::stack(parts, 3).contiguous();
}

// Trilinear interpolation of grid [X,Y,Z,C] at index-space points [V,3].
at::Tensor trilinear(const at::Tensor& grid, const at::Tensor& points) {
  const auto dims = grid.sizes();
  std::vector<at::Tensor> base, frac;
  for (int64_t a = 0; a < 3; ++a) {
    const auto p = points.select(1, a).clamp(0.0, double(dims[a] - 1));
    const auto b = p.floor().clamp(0.0, double(dims[a] - 2));
    base.push_back(b.to(at::kLong));
    frac.push_back((p - b).unsqueeze(1));
  }
  const auto flat = grid.reshape({-1, grid.size(3)});
  auto result = at::zeros({points.size(0), grid.size(3)}, grid.options());
  for (int c = 0; c < 8; ++c) {
    const int64_t o[3] = {c & 1, (c >> 1) & 1, (c >> 2) & 1};
    const auto index = ((base[0] + o[0]) * dims[1] + base[1] + o[1]) * dims[2] + base[2] + o[2];
    auto weight = at::ones({points.size(0), 1}, grid.options());
    for (int a = 0; a < 3; ++a) weight = weight * (o[a] ? frac[a] : 1 - frac[a]);
    result += weight * flat.index_select(0, index);
  }
  return result;
}

}  // namespace

Mesh extract_isosurface(const at::Tensor& field, double iso, const std::array<float, 3>& box_min,
                        const std::array<float, 3>& box_max, const at::Tensor& colour) {
  check(field.defined() && field.dim() == 3 && field.size(0) >= 2 && field.size(1) >= 2 && field.size(2) >= 2,
        "isosurface: the field must be a [X,Y,Z] grid with at least 2 points per axis, got ",
        field.defined() ? field.sizes() : at::IntArrayRef{});
  check(std::isfinite(iso), "isosurface: the iso level must be finite, got ", iso);
  const auto f = field.detach().to(at::kCPU, at::kDouble).contiguous();
  check(at::isfinite(f).all().item<bool>(), "isosurface: the field holds NaN or infinite values");
  const int64_t nx = f.size(0), ny = f.size(1), nz = f.size(2);
  if (colour.defined()) {
    check(colour.dim() == 4 && colour.size(0) == nx && colour.size(1) == ny && colour.size(2) == nz &&
              colour.size(3) == 3,
          "isosurface: the colour grid must be [", nx, ",", ny, ",", nz, ",3] like the field, got ", colour.sizes());
  }
  std::array<double, 3> step{};
  for (int a = 0; a < 3; ++a) {
    check(box_max[a] > box_min[a], "isosurface: box_max must exceed box_min on every axis; axis ", a, " has [",
          box_min[a], ", ", box_max[a], "]");
    step[a] = (double(box_max[a]) - box_min[a]) / double(f.size(a) - 1);
  }

  static const auto tets = tetrahedra();
  static const auto cases = [] {
    std::array<TetCases, 6> all;
    for (size_t t = 0; t < 6; ++t) all[t] = tet_cases(tets[t]);
    return all;
  }();

  const double* v = f.data_ptr<double>();
  auto at_index = [&](int64_t i, int64_t j, int64_t k) { return (i * ny + j) * nz + k; };
  int64_t corner_offset[8];
  for (int c = 0; c < 8; ++c) corner_offset[c] = at_index(c & 1, (c >> 1) & 1, (c >> 2) & 1);

  std::unordered_map<int64_t, int32_t> vertex_of_edge;  // key: lower grid point * 8 + axis bits
  std::vector<double> positions;                        // index space, 3 per vertex
  std::vector<int32_t> faces;
  auto vertex_on = [&](int64_t cell, const Edge& e) {
    const int64_t lo = cell + corner_offset[e.first], hi = cell + corner_offset[e.second];
    const int64_t key = lo * 8 + (e.first ^ e.second);
    const auto found = vertex_of_edge.find(key);
    if (found != vertex_of_edge.end()) return found->second;
    check(positions.size() / 3 < size_t(INT32_MAX), "isosurface: the mesh has more than 2^31 vertices");
    const double t = std::clamp((iso - v[lo]) / (v[hi] - v[lo]), 0.0, 1.0);
    const int64_t i = lo / (ny * nz), j = (lo / nz) % ny, k = lo % nz;
    const auto d = corner_position(e.first ^ e.second);
    positions.insert(positions.end(), {i + t * d[0], j + t * d[1], k + t * d[2]});
    const auto id = static_cast<int32_t>(positions.size() / 3 - 1);
    vertex_of_edge.emplace(key, id);
    return id;
  };
  for (int64_t i = 0; i + 1 < nx; ++i) {
    for (int64_t j = 0; j + 1 < ny; ++j) {
      for (int64_t k = 0; k + 1 < nz; ++k) {
        const int64_t cell = at_index(i, j, k);
        int inside = 0;
        for (int c = 0; c < 8; ++c) inside |= (v[cell + corner_offset[c]] > iso) << c;
        if (inside == 0 || inside == 255) continue;
        for (size_t t = 0; t < 6; ++t) {
          int mask = 0;
          for (int q = 0; q < 4; ++q) mask |= ((inside >> tets[t][q]) & 1) << q;
          for (const auto& triangle : cases[t][mask]) {
            for (const auto& e : triangle) faces.push_back(vertex_on(cell, e));
          }
        }
      }
    }
  }

  const auto vertex_count = static_cast<int64_t>(positions.size() / 3);
  const auto face_count = static_cast<int64_t>(faces.size() / 3);
  const auto index_points = at::from_blob(positions.data(), {vertex_count, 3}, at::kDouble).clone();
  Mesh mesh;
  mesh.faces = at::from_blob(faces.data(), {face_count, 3}, at::kInt).clone();
  const auto origin = at::tensor({double(box_min[0]), double(box_min[1]), double(box_min[2])}, at::kDouble);
  const auto spacing = at::tensor({step[0], step[1], step[2]}, at::kDouble);
  mesh.vertices = (origin + index_points * spacing).to(at::kFloat);
  if (vertex_count == 0) {
    mesh.normals = at::zeros({0, 3}, at::kFloat);
    mesh.colours = at::zeros({0, 3}, at::kFloat);
    return mesh;
  }

  // Normals: the field decreases outwards. Where its gradient vanishes, fall back to the
  // area-weighted normals of the faces around the vertex.
  auto normals = -trilinear(field_gradient(f, step), index_points);
  const auto length = normals.norm(2, 1, true);
  const auto flat = length.squeeze(1) < 1e-12;
  if (flat.any().item<bool>()) {
    const auto world = mesh.vertices.to(at::kDouble);
    const auto idx = mesh.faces.to(at::kLong);
    const auto a = world.index_select(0, idx.select(1, 0)), b = world.index_select(0, idx.select(1, 1)),
               c = world.index_select(0, idx.select(1, 2));
    const auto face_normal = at::cross(b - a, c - a, 1);
    auto accumulated = at::zeros_like(world);
    for (int q = 0; q < 3; ++q) accumulated.index_add_(0, idx.select(1, q), face_normal);
    normals = at::where(flat.unsqueeze(1), accumulated, normals);
  }
  auto unit = normals / normals.norm(2, 1, true).clamp_min(1e-300);
  const auto degenerate = (normals.norm(2, 1, true) < 1e-300).expand_as(unit);
  unit = at::where(degenerate, at::tensor({0.0, 0.0, 1.0}, at::kDouble).expand_as(unit), unit);
  mesh.normals = unit.to(at::kFloat);
  mesh.colours = colour.defined()
                     ? trilinear(colour.detach().to(at::kCPU, at::kDouble).contiguous(), index_points)
                           .clamp(0.0, 1.0)
                           .to(at::kFloat)
                     : at::ones({vertex_count, 3}, at::kFloat);
  return mesh;
}

}  // namespace dreamdpo::exporters
