// Binary glTF 2.0 (.glb) for a vertex-coloured mesh: opens in Blender, three.js, model-viewer
// and every other glTF viewer.
#pragma once
#include <filesystem>
#include <string>

#include "export/mesh.h"

namespace dreamdpo::exporters {

// One mesh primitive (POSITION with min/max, NORMAL, COLOR_0 as float vec3, UNSIGNED_INT
// indices), one node, one scene, one matte material (base colour 1, metallic 0, roughness 1)
// so that the vertex colours show as they are. Written atomically; an empty or malformed mesh
// is an error.
void write_glb(const std::filesystem::path& path, const Mesh& mesh);

// The .glb bytes that write_glb writes.
std::string encode_glb(const Mesh& mesh);

}  // namespace dreamdpo::exporters
