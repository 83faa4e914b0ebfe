#include "export/mesh_obj.h"

#include <cstdio>
#include <string>

#include "core/atomic_file.h"

namespace dreamdpo::exporters {

void write_obj(const std::filesystem::path& path, const Mesh& input) {
  const Mesh mesh = checked_for_export(input, "cannot write " + path.string());
  const auto v = mesh.vertices.accessor<float, 2>(), n = mesh.normals.accessor<float, 2>(),
             c = mesh.colours.accessor<float, 2>();
  const auto f = mesh.faces.accessor<int32_t, 2>();
  std::string text = "# dreamdpo mesh: " + std::to_string(mesh.vertex_count()) + " vertices, " +
                     std::to_string(mesh.face_count()) + " faces\n";
  char line[256];
  // %.9g round-trips float32 positions exactly.
  for (int64_t i = 0; i < mesh.vertex_count(); ++i) {
    std::snprintf(line, sizeof line, "v %.9g %.9g %.9g %.6g %.6g %.6g\n", v[i][0], v[i][1], v[i][2], c[i][0],
                  c[i][1], c[i][2]);
    text += line;
  }
  for (int64_t i = 0; i < mesh.vertex_count(); ++i) {
    std::snprintf(line, sizeof line, "vn %.7g %.7g %.7g\n", n[i][0], n[i][1], n[i][2]);
    text += line;
  }
  for (int64_t i = 0; i < mesh.face_count(); ++i) {
    const long a = f[i][0] + 1L, b = f[i][1] + 1L, d = f[i][2] + 1L;  // .obj indices start at 1
    std::snprintf(line, sizeof line, "f %ld//%ld %ld//%ld %ld//%ld\n", a, a, b, b, d, d);
    text += line;
  }
  core::write_file_atomic(path, text);
}

}  // namespace dreamdpo::exporters
