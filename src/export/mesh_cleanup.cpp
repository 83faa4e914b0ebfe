#include "export/mesh_cleanup.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include "core/error.h"

namespace dreamdpo::exporters {

namespace {
int64_t find_root(std::vector<int64_t>& parent, int64_t a) {
  while (parent[a] != a) {
    parent[a] = parent[parent[a]];
    a = parent[a];
  }
  return a;
}
}  // namespace

Mesh keep_large_components(const Mesh& mesh, double min_fraction, CleanupReport* report) {
  check(min_fraction >= 0 && min_fraction <= 1, "mesh cleanup: min_fraction must lie in [0, 1]");
  const int64_t v = mesh.vertex_count(), f = mesh.face_count();
  if (f == 0) return mesh;
  const auto faces = mesh.faces.to(at::kLong).contiguous();
  const int64_t* tri = faces.data_ptr<int64_t>();
  // Components over vertices joined by faces (union-find with path halving).
  std::vector<int64_t> parent(v);
  std::iota(parent.begin(), parent.end(), 0);
  for (int64_t i = 0; i < f; ++i) {
    const int64_t a = find_root(parent, tri[3 * i]);
    parent[find_root(parent, tri[3 * i + 1])] = a;
    parent[find_root(parent, tri[3 * i + 2])] = a;
  }
  std::vector<int64_t> face_count(v, 0);
  for (int64_t i = 0; i < f; ++i) ++face_count[find_root(parent, tri[3 * i])];
  const int64_t largest = *std::max_element(face_count.begin(), face_count.end());
  const auto threshold = static_cast<double>(largest) * min_fraction;
  int64_t components = 0, removed = 0;
  for (int64_t r = 0; r < v; ++r) {
    if (parent[r] == r && face_count[r] > 0) {
      ++components;
      if (static_cast<double>(face_count[r]) < threshold) ++removed;
    }
  }
  if (report != nullptr) *report = {components, removed};
  if (removed == 0) return mesh;
  // Keep the faces of large components; renumber the vertices they use, in order.
  std::vector<int64_t> kept_faces;
  std::vector<int64_t> new_index(v, -1);
  std::vector<int64_t> kept_vertices;
  for (int64_t i = 0; i < f; ++i) {
    if (static_cast<double>(face_count[find_root(parent, tri[3 * i])]) < threshold) continue;
    for (int k = 0; k < 3; ++k) {
      const int64_t old = tri[3 * i + k];
      if (new_index[old] < 0) {
        new_index[old] = static_cast<int64_t>(kept_vertices.size());
        kept_vertices.push_back(old);
      }
      kept_faces.push_back(new_index[old]);
    }
  }
  const auto index = at::tensor(kept_vertices, at::kLong);
  Mesh out;
  out.vertices = mesh.vertices.index_select(0, index).contiguous();
  out.normals = mesh.normals.defined() ? mesh.normals.index_select(0, index).contiguous() : mesh.normals;
  out.colours = mesh.colours.defined() ? mesh.colours.index_select(0, index).contiguous() : mesh.colours;
  out.faces = at::tensor(kept_faces, at::kLong).view({-1, 3}).to(mesh.faces.scalar_type());
  return out;
}

}  // namespace dreamdpo::exporters
