#include "export/mesh_gltf.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstring>

#include "core/atomic_file.h"

namespace dreamdpo::exporters {

namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "glTF buffers are little-endian; so must the host be");

constexpr uint32_t kMagic = 0x46546C67;      // "glTF"
constexpr uint32_t kChunkJson = 0x4E4F534A;  // "JSON"
constexpr uint32_t kChunkBin = 0x004E4942;   // "BIN\0"
constexpr int kFloat = 5126, kUnsignedInt = 5125;
constexpr int kArrayBuffer = 34962, kElementArrayBuffer = 34963;

void append_u32(std::string& out, uint32_t value) {
  char bytes[4];
  std::memcpy(bytes, &value, 4);
  out.append(bytes, 4);
}

// Appends a tensor's bytes to the BIN buffer and describes them with a buffer view.
int add_view(std::string& bin, nlohmann::json& views, const at::Tensor& t, int target) {
  const size_t size = t.numel() * t.element_size();
  views.push_back({{"buffer", 0}, {"byteOffset", bin.size()}, {"byteLength", size}, {"target", target}});
  bin.append(static_cast<const char*>(t.data_ptr()), size);
  return static_cast<int>(views.size() - 1);
}

std::string encode(const Mesh& input, const std::string& context) {
  const Mesh mesh = checked_for_export(input, context);
  const auto normals = mesh.normals / mesh.normals.norm(2, 1, true).clamp_min(1e-30);
  std::string bin;
  nlohmann::json views = nlohmann::json::array(), accessors = nlohmann::json::array();
  const auto v = mesh.vertex_count();
  auto vec3 = [&](const at::Tensor& t) {
    accessors.push_back({{"bufferView", add_view(bin, views, t, kArrayBuffer)},
                         {"componentType", kFloat},
                         {"count", v},
                         {"type", "VEC3"}});
    return static_cast<int>(accessors.size() - 1);
  };
  const int position = vec3(mesh.vertices);
  // Viewers rely on POSITION min/max for bounds; they must equal the float data exactly.
  const auto lo = std::get<0>(mesh.vertices.min(0)), hi = std::get<0>(mesh.vertices.max(0));
  accessors[position]["min"] = std::vector<float>(lo.data_ptr<float>(), lo.data_ptr<float>() + 3);
  accessors[position]["max"] = std::vector<float>(hi.data_ptr<float>(), hi.data_ptr<float>() + 3);
  const int normal = vec3(normals.contiguous());
  const int colour = vec3(mesh.colours);
  accessors.push_back({{"bufferView", add_view(bin, views, mesh.faces, kElementArrayBuffer)},
                       {"componentType", kUnsignedInt},
                       {"count", mesh.faces.numel()},
                       {"type", "SCALAR"}});
  const int indices = static_cast<int>(accessors.size() - 1);
  while (bin.size() % 4) bin.push_back('\0');

  const nlohmann::json gltf = {
      {"asset", {{"version", "2.0"}, {"generator", "dreamdpo"}}},
      {"scene", 0},
      {"scenes", {{{"nodes", {0}}}}},
      {"nodes", {{{"mesh", 0}, {"name", "dreamdpo"}}}},
      {"meshes",
       {{{"primitives",
          {{{"attributes", {{"POSITION", position}, {"NORMAL", normal}, {"COLOR_0", colour}}},
            {"indices", indices},
            {"material", 0},
            {"mode", 4}}}}}}},
      {"materials",
       {{{"pbrMetallicRoughness",
          {{"baseColorFactor", {1.0, 1.0, 1.0, 1.0}}, {"metallicFactor", 0.0}, {"roughnessFactor", 1.0}}}}}},
      {"buffers", {{{"byteLength", bin.size()}}}},
      {"bufferViews", views},
      {"accessors", accessors},
  };
  std::string json = gltf.dump();
  while (json.size() % 4) json.push_back(' ');

  std::string out;
  out.reserve(12 + 8 + json.size() + 8 + bin.size());
  append_u32(out, kMagic);
  append_u32(out, 2);
  append_u32(out, static_cast<uint32_t>(12 + 8 + json.size() + 8 + bin.size()));
  append_u32(out, static_cast<uint32_t>(json.size()));
  append_u32(out, kChunkJson);
  out += json;
  append_u32(out, static_cast<uint32_t>(bin.size()));
  append_u32(out, kChunkBin);
  out += bin;
  return out;
}

}  // namespace

std::string encode_glb(const Mesh& mesh) { return encode(mesh, "cannot encode .glb"); }

void write_glb(const std::filesystem::path& path, const Mesh& mesh) {
  core::write_file_atomic(path, encode(mesh, "cannot write " + path.string()));
}

}  // namespace dreamdpo::exporters
