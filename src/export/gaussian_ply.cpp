#include "export/gaussian_ply.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "core/error.h"

namespace dreamdpo::exporters {
namespace fs = std::filesystem;

namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the PLY writer copies floats as they sit in memory; it assumes a little-endian host");

const std::vector<int64_t> kRestCoefficients = {0, 3, 8, 15};  // K for SH degree 0..3

// Property names in file order for K SH coefficients per colour channel beyond the DC band.
std::vector<std::string> property_names(int64_t k) {
  std::vector<std::string> names = {"x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"};
  for (int64_t i = 0; i < 3 * k; ++i) names.push_back("f_rest_" + std::to_string(i));
  names.push_back("opacity");
  for (int i = 0; i < 3; ++i) names.push_back("scale_" + std::to_string(i));
  for (int i = 0; i < 4; ++i) names.push_back("rot_" + std::to_string(i));
  return names;
}

// The state as one float32 [N, P] table in file column order.
at::Tensor state_table(const std::map<std::string, at::Tensor>& state) {
  for (const char* key : {"means", "log_scales", "rotations", "opacity_logits", "sh_dc", "sh_rest"}) {
    check(state.count(key) && state.at(key).defined(), "cannot write Gaussian PLY: the state lacks '",
          key, "'");
    check(at::isFloatingType(state.at(key).scalar_type()), "cannot write Gaussian PLY: '", key,
          "' has dtype ", c10::toString(state.at(key).scalar_type()), "; a floating-point tensor is expected");
  }
  const auto& means = state.at("means");
  check(means.dim() == 2 && means.size(1) == 3, "cannot write Gaussian PLY: 'means' must be [N,3], got ",
        means.sizes());
  const int64_t n = means.size(0);
  auto expect = [&](const char* key, std::vector<int64_t> shape) {
    check(state.at(key).sizes() == at::IntArrayRef(shape), "cannot write Gaussian PLY: '", key,
          "' must be ", at::IntArrayRef(shape), ", got ", state.at(key).sizes());
  };
  expect("log_scales", {n, 3});
  expect("rotations", {n, 4});
  expect("opacity_logits", {n, 1});
  expect("sh_dc", {n, 3});
  const auto& rest = state.at("sh_rest");
  const bool rest_ok = rest.dim() == 3 && rest.size(0) == n && rest.size(2) == 3 &&
                       std::count(kRestCoefficients.begin(), kRestCoefficients.end(), rest.size(1)) == 1;
  check(rest_ok, "cannot write Gaussian PLY: 'sh_rest' must be [N,K,3] with N = ", n,
        " and K in {0, 3, 8, 15} (SH degree 0..3), got ", rest.sizes());
  auto cpu = [](const at::Tensor& t) { return t.detach().to(at::kCPU, at::kFloat); };
  const auto table = at::cat({cpu(means), at::zeros({n, 3}, at::kFloat), cpu(state.at("sh_dc")),
                              cpu(rest).transpose(1, 2).reshape({n, 3 * rest.size(1)}),
                              cpu(state.at("opacity_logits")), cpu(state.at("log_scales")),
                              cpu(state.at("rotations"))},
                             1);
  return table.contiguous();
}

std::string header_text(int64_t n, int64_t k) {
  std::string text = "ply\nformat binary_little_endian 1.0\nelement vertex " + std::to_string(n) + "\n";
  for (const auto& name : property_names(k)) text += "property float " + name + "\n";
  return text + "end_header\n";
}

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

}  // namespace

void write_gaussian_ply(const fs::path& path, const std::map<std::string, at::Tensor>& state) {
  const auto table = state_table(state);
  core::AtomicFile file(path);
  const std::string header = header_text(table.size(0), (table.size(1) - 17) / 3);
  file.stream().write(header.data(), static_cast<std::streamsize>(header.size()));
  file.stream().write(reinterpret_cast<const char*>(table.data_ptr<float>()),
                      static_cast<std::streamsize>(table.numel() * sizeof(float)));
  file.commit();
}

std::map<std::string, at::Tensor> read_gaussian_ply(const fs::path& path) {
  const std::string bytes = core::read_file(path);
  auto bad = [&](auto&&... parts) {
    fail(path, " is not a 3D Gaussian PLY file: ", std::forward<decltype(parts)>(parts)...);
  };
  if (bytes.compare(0, 4, "ply\n") != 0) bad("it does not start with the 'ply' magic line");
  const auto end = bytes.find("end_header\n");
  if (end == std::string::npos) bad("the header has no 'end_header' line (truncated or not a PLY)");
  const size_t data_offset = end + std::strlen("end_header\n");

  std::istringstream header(bytes.substr(4, end - 4));
  int64_t count = -1;
  std::vector<std::string> names;
  int line_number = 1;
  for (std::string line; std::getline(header, line);) {
    ++line_number;
    const auto w = words(line);
    if (w.empty() || w[0] == "comment" || w[0] == "obj_info") continue;
    if (w[0] == "format") {
      if (w.size() != 3 || w[1] != "binary_little_endian" || w[2] != "1.0") {
        bad("header line ", line_number, " is '", line, "' but only 'format binary_little_endian 1.0' is read");
      }
    } else if (w[0] == "element") {
      if (count >= 0) bad("it has a second element ('", line, "'); only one 'vertex' element is expected");
      if (w.size() != 3 || w[1] != "vertex") bad("header line ", line_number, " is '", line, "'; expected 'element vertex N'");
      try {
        size_t used = 0;
        count = std::stoll(w[2], &used);
        if (used != w[2].size() || count < 0) throw std::invalid_argument("count");
      } catch (const std::exception&) {
        bad("the vertex count '", w[2], "' is not a non-negative integer");
      }
    } else if (w[0] == "property") {
      if (count < 0) bad("header line ", line_number, " declares a property before 'element vertex'");
      if (w.size() != 3) bad("header line ", line_number, " is '", line, "'; expected 'property float NAME'");
      if (w[1] != "float" && w[1] != "float32") {
        bad("property '", w[2], "' has type '", w[1], "' but every property must be 'float'");
      }
      names.push_back(w[2]);
    } else {
      bad("header line ", line_number, " ('", line, "') is not understood");
    }
  }
  if (count < 0) bad("the header has no 'element vertex N' line");
  const int64_t rest_names = std::count_if(names.begin(), names.end(), [](const std::string& s) {
    return s.rfind("f_rest_", 0) == 0;
  });
  if (rest_names % 3 != 0 ||
      std::count(kRestCoefficients.begin(), kRestCoefficients.end(), rest_names / 3) != 1) {
    bad("it has ", rest_names, " f_rest properties; expected 0, 9, 24 or 45 (SH degree 0..3)");
  }
  const int64_t k = rest_names / 3;
  const auto expected = property_names(k);
  for (size_t i = 0; i < expected.size(); ++i) {
    if (i >= names.size()) bad("property '", expected[i], "' is missing (the header ends after ", names.size(), " properties)");
    if (names[i] != expected[i]) {
      const bool present = std::find(names.begin(), names.end(), expected[i]) != names.end();
      bad("property ", i, " is '", names[i], "' but '", expected[i], "' is expected there",
          present ? " (properties are out of order)" : " (it is missing)");
    }
  }
  if (names.size() > expected.size()) bad("it has an unexpected extra property '", names[expected.size()], "'");

  const int64_t columns = static_cast<int64_t>(expected.size());
  const uint64_t expected_bytes = static_cast<uint64_t>(count) * columns * sizeof(float);
  const uint64_t actual_bytes = bytes.size() - data_offset;
  if (actual_bytes != expected_bytes) {
    bad("the header declares ", count, " vertices of ", columns, " floats (", expected_bytes,
        " bytes of data) but the file holds ", actual_bytes, " bytes after the header",
        actual_bytes < expected_bytes ? " (the file is truncated)" : "");
  }
  auto table = at::empty({count, columns}, at::kFloat);
  if (expected_bytes) std::memcpy(table.data_ptr<float>(), bytes.data() + data_offset, expected_bytes);

  int64_t column = 0;
  auto take = [&](int64_t width) {
    auto part = table.narrow(1, column, width).contiguous();
    column += width;
    return part;
  };
  std::map<std::string, at::Tensor> state;
  state["means"] = take(3);
  take(3);  // normals, always zero
  state["sh_dc"] = take(3);
  state["sh_rest"] = take(3 * k).view({count, 3, k}).transpose(1, 2).contiguous();
  state["opacity_logits"] = take(1);
  state["log_scales"] = take(3);
  state["rotations"] = take(4);
  return state;
}

}  // namespace dreamdpo::exporters
