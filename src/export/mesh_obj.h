// Wavefront .obj for a vertex-coloured mesh: `v x y z r g b` (the colour extension Blender,
// MeshLab and three.js read), `vn` normals, faces `f a//a b//b c//c`.
#pragma once
#include <filesystem>

#include "export/mesh.h"

namespace dreamdpo::exporters {

// Written atomically; an empty or malformed mesh is an error.
void write_obj(const std::filesystem::path& path, const Mesh& mesh);

}  // namespace dreamdpo::exporters
