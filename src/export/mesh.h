// A triangle mesh with per-vertex normals and colours: what the isosurface extractor produces
// and the .glb / .obj writers consume.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <string>

namespace dreamdpo::exporters {

struct Mesh {
  at::Tensor vertices;  // [V,3] float32
  at::Tensor normals;   // [V,3] float32, unit length
  at::Tensor colours;   // [V,3] float32 in [0,1]
  at::Tensor faces;     // [F,3] int32, counter-clockwise seen from outside

  int64_t vertex_count() const { return vertices.defined() ? vertices.size(0) : 0; }
  int64_t face_count() const { return faces.defined() ? faces.size(0) : 0; }
};

// Checks what every exporter needs (shapes, dtypes, finite values, indices in range, at least
// one face) and throws an Error that starts with `context` ("cannot write mesh.glb") otherwise.
// Returns the mesh as contiguous CPU tensors.
Mesh checked_for_export(const Mesh& mesh, const std::string& context);

}  // namespace dreamdpo::exporters
