#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "core/atomic_file.h"
#include "export/marching_cubes.h"
#include "export/mesh_gltf.h"
#include "export/mesh_obj.h"
#include "test_helpers.h"

namespace dreamdpo::exporters {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing_helpers::error_of;

class MeshWritersTest : public testing_helpers::TempDirTest {};

// A coloured ellipsoid from the isosurface extractor: a real mesh, as the generate loop makes.
Mesh test_mesh() {
  const auto axis = at::linspace(-1.0, 1.0, 16, at::kDouble);
  const auto g = at::meshgrid({axis, axis, axis}, "ij");
  const auto field = 0.7 - (g[0].pow(2) + (g[1] / 0.8).pow(2) + (g[2] / 0.6).pow(2)).sqrt();
  const auto colour = at::stack({(g[0] + 1) / 2, (g[1] + 1) / 2, at::full_like(g[0], 0.25)}, 3);
  return extract_isosurface(field, 0.0, {-1, -1, -1}, {1, 1, 1}, colour);
}

uint32_t u32(const std::string& bytes, size_t offset) {
  uint32_t v;
  std::memcpy(&v, bytes.data() + offset, 4);
  return v;
}

TEST_F(MeshWritersTest, GlbParsesBackWithTheMeshData) {
  const auto mesh = test_mesh();
  const auto path = dir_ / "mesh.glb";
  write_glb(path, mesh);
  const std::string bytes = core::read_file(path);
  ASSERT_GE(bytes.size(), 28u);
  EXPECT_EQ(bytes.substr(0, 4), "glTF");
  EXPECT_EQ(u32(bytes, 4), 2u);
  EXPECT_EQ(u32(bytes, 8), bytes.size());
  const uint32_t json_length = u32(bytes, 12);
  EXPECT_EQ(json_length % 4, 0u);
  EXPECT_EQ(bytes.substr(16, 4), "JSON");
  const size_t bin_header = 20 + json_length;
  const uint32_t bin_length = u32(bytes, bin_header);
  EXPECT_EQ(bin_length % 4, 0u);
  EXPECT_EQ(bytes.substr(bin_header + 4, 4), std::string("BIN\0", 4));
  EXPECT_EQ(bin_header + 8 + bin_length, bytes.size());

  const auto gltf = nlohmann::json::parse(bytes.substr(20, json_length));
  EXPECT_EQ(gltf["asset"]["version"], "2.0");
  EXPECT_EQ(gltf["asset"]["generator"], "dreamdpo");
  EXPECT_EQ(gltf["buffers"][0]["byteLength"], bin_length);
  const auto& primitive = gltf["meshes"][0]["primitives"][0];
  const auto& accessors = gltf["accessors"];
  const auto& position = accessors[primitive["attributes"]["POSITION"].get<int>()];
  EXPECT_EQ(position["count"], mesh.vertex_count());
  EXPECT_EQ(accessors[primitive["attributes"]["NORMAL"].get<int>()]["count"], mesh.vertex_count());
  EXPECT_EQ(accessors[primitive["attributes"]["COLOR_0"].get<int>()]["count"], mesh.vertex_count());
  const auto& index_accessor = accessors[primitive["indices"].get<int>()];
  EXPECT_EQ(index_accessor["count"], 3 * mesh.face_count());
  EXPECT_EQ(index_accessor["componentType"], 5125);
  EXPECT_EQ(gltf["materials"][0]["pbrMetallicRoughness"]["metallicFactor"], 0.0);
  for (int a = 0; a < 3; ++a) {
    EXPECT_EQ(position["min"][a].get<float>(), mesh.vertices.select(1, a).min().item<float>());
    EXPECT_EQ(position["max"][a].get<float>(), mesh.vertices.select(1, a).max().item<float>());
  }

  // Read the data back through the accessors' buffer views.
  const char* bin = bytes.data() + bin_header + 8;
  auto view_data = [&](const nlohmann::json& accessor) {
    const auto& view = gltf["bufferViews"][accessor["bufferView"].get<int>()];
    EXPECT_EQ(view["byteOffset"].get<size_t>() % 4, 0u);
    return bin + view["byteOffset"].get<size_t>();
  };
  const int64_t v = mesh.vertex_count();
  auto positions = at::empty({v, 3}, at::kFloat);
  std::memcpy(positions.data_ptr<float>(), view_data(position), v * 12);
  EXPECT_TRUE(at::equal(positions, mesh.vertices));
  auto colours = at::empty({v, 3}, at::kFloat);
  std::memcpy(colours.data_ptr<float>(), view_data(accessors[primitive["attributes"]["COLOR_0"].get<int>()]), v * 12);
  EXPECT_TRUE(at::equal(colours, mesh.colours));
  auto faces = at::empty({mesh.face_count(), 3}, at::kInt);
  std::memcpy(faces.data_ptr<int32_t>(), view_data(index_accessor), faces.numel() * 4);
  EXPECT_TRUE(at::equal(faces, mesh.faces));
}

TEST_F(MeshWritersTest, ObjReadsBackWithTheSameCounts) {
  const auto mesh = test_mesh();
  const auto path = dir_ / "mesh.obj";
  write_obj(path, mesh);
  std::ifstream in(path);
  int64_t v = 0, vn = 0, f = 0;
  int64_t max_index = 0;
  float first[6] = {};
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string tag;
    words >> tag;
    if (tag == "v") {
      if (v == 0) for (float& x : first) words >> x;
      ++v;
    } else if (tag == "vn") {
      ++vn;
    } else if (tag == "f") {
      ++f;
      for (int k = 0; k < 3; ++k) {
        std::string corner;
        words >> corner;
        const auto slash = corner.find("//");
        ASSERT_NE(slash, std::string::npos) << line;
        EXPECT_EQ(corner.substr(0, slash), corner.substr(slash + 2)) << line;
        max_index = std::max<int64_t>(max_index, std::stoll(corner.substr(0, slash)));
      }
    }
  }
  EXPECT_EQ(v, mesh.vertex_count());
  EXPECT_EQ(vn, mesh.vertex_count());
  EXPECT_EQ(f, mesh.face_count());
  EXPECT_EQ(max_index, mesh.vertex_count());  // 1-based
  for (int a = 0; a < 3; ++a) {
    EXPECT_EQ(first[a], mesh.vertices[0][a].item<float>());
    EXPECT_NEAR(first[3 + a], mesh.colours[0][a].item<float>(), 1e-6);
  }
}

TEST_F(MeshWritersTest, EmptyOrBrokenMeshIsAClearErrorAndWritesNothing) {
  const auto empty = extract_isosurface(at::zeros({4, 4, 4}), 1.0, {0, 0, 0}, {1, 1, 1});
  EXPECT_THAT(error_of([&] { write_glb(dir_ / "a.glb", empty); }), HasSubstr("the mesh is empty"));
  EXPECT_THAT(error_of([&] { write_obj(dir_ / "a.obj", empty); }), HasSubstr("the mesh is empty"));
  auto broken = test_mesh();
  broken.faces = broken.faces.clone();
  broken.faces[0][0] = static_cast<int>(broken.vertex_count());
  EXPECT_THAT(error_of([&] { write_glb(dir_ / "b.glb", broken); }), HasSubstr("faces index vertices"));
  EXPECT_TRUE(fs::is_empty(dir_));
}

// The Khronos validator is the reference for "opens everywhere"; it needs node and npm.
TEST_F(MeshWritersTest, KhronosValidatorReportsNoErrorsOrWarnings) {
  const fs::path source = DREAMDPO_SOURCE_DIR;
  if (!fs::exists(source / ".deps/npm/node_modules/gltf-validator") ||
      std::system("command -v node >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "glTF validator not installed: run scripts/setup_web_checks.sh (needs node and npm)";
  }
  auto validate = [&](const fs::path& path, int* status) {
    const auto report_path = dir_ / "report.json";
    const std::string command = "node '" + (source / "tests/export/validate_gltf.mjs").string() + "' '" +
                                path.string() + "' > '" + report_path.string() + "' 2>&1";
    *status = std::system(command.c_str());
    return core::read_file(report_path);
  };
  const auto path = dir_ / "mesh.glb";
  write_glb(path, test_mesh());
  int status = -1;
  const std::string output = validate(path, &status);
  std::cout << "glTF validator: " << output;
  EXPECT_EQ(status, 0) << output;
  const auto report = nlohmann::json::parse(output, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << output;
  EXPECT_EQ(report["errors"], 0) << output;
  EXPECT_EQ(report["warnings"], 0) << output;

  // The harness must be able to fail: an out-of-range index (the last 4 bytes) is an error.
  std::string broken = core::read_file(path);
  broken.replace(broken.size() - 4, 4, "\xff\xff\xff\x7f");
  const auto broken_path = dir_ / "broken.glb";
  core::write_file_atomic(broken_path, broken);
  const std::string broken_output = validate(broken_path, &status);
  EXPECT_NE(status, 0) << broken_output;
  EXPECT_THAT(broken_output, HasSubstr("ACCESSOR_INDEX_OOB")) << broken_output;
}

}  // namespace
}  // namespace dreamdpo::exporters
