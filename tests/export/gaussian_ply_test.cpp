#include "export/gaussian_ply.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "core/atomic_file.h"
#include "core/rng.h"
#include "test_helpers.h"

namespace dreamdpo::exporters {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing_helpers::error_of;

class GaussianPlyTest : public testing_helpers::TempDirTest {};

std::map<std::string, at::Tensor> random_state(int64_t n, int64_t k, uint64_t seed) {
  core::Rng rng(seed);
  const auto f = at::TensorOptions().dtype(at::kFloat);
  return {{"means", rng.normal({n, 3}, f)},       {"log_scales", rng.normal({n, 3}, f)},
          {"rotations", rng.normal({n, 4}, f)},   {"opacity_logits", rng.normal({n, 1}, f)},
          {"sh_dc", rng.normal({n, 3}, f)},       {"sh_rest", rng.normal({n, k, 3}, f)}};
}

void expect_bit_equal(const std::map<std::string, at::Tensor>& a, const std::map<std::string, at::Tensor>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [key, tensor] : a) {
    ASSERT_TRUE(b.count(key)) << key;
    const auto& other = b.at(key);
    ASSERT_EQ(tensor.sizes(), other.sizes()) << key;
    const auto x = tensor.contiguous(), y = other.contiguous();
    EXPECT_EQ(std::memcmp(x.data_ptr<float>(), y.data_ptr<float>(), x.numel() * sizeof(float)), 0) << key;
  }
}

TEST_F(GaussianPlyTest, RoundTripIsBitExactForDegreeZeroAndThree) {
  for (int64_t k : {0, 15}) {
    const auto state = random_state(37, k, 5 + k);
    const auto path = dir_ / ("k" + std::to_string(k) + ".ply");
    write_gaussian_ply(path, state);
    expect_bit_equal(state, read_gaussian_ply(path));
    const auto expected_size = core::read_file(path).find("end_header\n") + 11 + 37 * (17 + 3 * k) * 4;
    EXPECT_EQ(fs::file_size(path), expected_size);
  }
}

// The f_rest layout is channel-major: f_rest_j holds channel j / K, coefficient j % K.
TEST_F(GaussianPlyTest, ColumnsHoldTheRawValuesInViewerOrder) {
  auto state = random_state(2, 3, 1);
  state["sh_rest"] = at::arange(18, at::kFloat).view({2, 3, 3});  // [N,K,3]
  const auto path = dir_ / "layout.ply";
  write_gaussian_ply(path, state);
  const std::string bytes = core::read_file(path);
  const char* data = bytes.data() + bytes.find("end_header\n") + 11;
  auto value = [&](int row, int column) {
    float v;
    std::memcpy(&v, data + (row * 26 + column) * 4, 4);
    return v;
  };
  // Row 1: sh_rest[1] = [[9,10,11],[12,13,14],[15,16,17]] -> R: 9,12,15; G: 10,13,16; B: 11,14,17.
  const float expected_rest[9] = {9, 12, 15, 10, 13, 16, 11, 14, 17};
  for (int j = 0; j < 9; ++j) EXPECT_EQ(value(1, 9 + j), expected_rest[j]) << "f_rest_" << j;
  EXPECT_EQ(value(1, 0), state["means"][1][0].item<float>());
  EXPECT_EQ(value(1, 3), 0.0f);  // nx
  EXPECT_EQ(value(1, 18), state["opacity_logits"][1][0].item<float>());
  EXPECT_EQ(value(1, 21), state["log_scales"][1][2].item<float>());
  EXPECT_EQ(value(1, 22), state["rotations"][1][0].item<float>());  // rot_0 = w
}

TEST_F(GaussianPlyTest, HeaderListsPropertiesInOrder) {
  const auto path = dir_ / "header.ply";
  write_gaussian_ply(path, random_state(4, 3, 2));
  const std::string bytes = core::read_file(path);
  const std::string header = bytes.substr(0, bytes.find("end_header\n"));
  std::string expected = "ply\nformat binary_little_endian 1.0\nelement vertex 4\n";
  std::vector<std::string> names = {"x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"};
  for (int i = 0; i < 9; ++i) names.push_back("f_rest_" + std::to_string(i));
  for (const char* n : {"opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"}) {
    names.push_back(n);
  }
  for (const auto& n : names) expected += "property float " + n + "\n";
  EXPECT_EQ(header, expected);
}

TEST_F(GaussianPlyTest, BadFilesGiveClearErrors) {
  const auto good = dir_ / "good.ply";
  write_gaussian_ply(good, random_state(5, 0, 3));
  const std::string bytes = core::read_file(good);
  auto error_for = [&](const std::string& content) {
    const auto path = dir_ / "bad.ply";
    core::write_file_atomic(path, content);
    return error_of([&] { read_gaussian_ply(path); });
  };
  EXPECT_THAT(error_for(bytes.substr(0, bytes.size() - 7)), HasSubstr("truncated"));
  EXPECT_THAT(error_for("plx" + bytes.substr(3)), HasSubstr("'ply' magic"));
  std::string missing = bytes;
  const std::string line = "property float opacity\n";
  missing.erase(missing.find(line), line.size());
  EXPECT_THAT(error_for(missing), HasSubstr("'opacity' is expected there (it is missing)"));
  std::string ascii = bytes;
  ascii.replace(ascii.find("binary_little_endian"), 20, "ascii");
  EXPECT_THAT(error_for(ascii), HasSubstr("only 'format binary_little_endian 1.0' is read"));
  std::string doubles = bytes;
  doubles.replace(doubles.find("property float x"), 16, "property double x");
  EXPECT_THAT(error_for(doubles), HasSubstr("property 'x' has type 'double'"));
  std::string two_rest = bytes;
  two_rest.insert(two_rest.find("property float opacity"), "property float f_rest_0\nproperty float f_rest_1\n");
  EXPECT_THAT(error_for(two_rest), HasSubstr("2 f_rest properties"));
  EXPECT_THAT(error_of([&] { read_gaussian_ply(dir_ / "absent.ply"); }), HasSubstr("cannot read"));
}

TEST_F(GaussianPlyTest, BadStateIsRejectedAndNothingIsWritten) {
  auto state = random_state(3, 0, 4);
  state["sh_rest"] = at::zeros({3, 2, 3});
  const auto path = dir_ / "never.ply";
  EXPECT_THAT(error_of([&] { write_gaussian_ply(path, state); }), HasSubstr("K in {0, 3, 8, 15}"));
  state.erase("sh_rest");
  EXPECT_THAT(error_of([&] { write_gaussian_ply(path, state); }), HasSubstr("lacks 'sh_rest'"));
  EXPECT_FALSE(fs::exists(path));
}

}  // namespace
}  // namespace dreamdpo::exporters
