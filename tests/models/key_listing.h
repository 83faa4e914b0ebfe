// Reads the full-size key listings under tests/fixtures (made by the make_*_fixtures.py /
// make_*_names.py scripts from the reference module trees): "name d0,d1,..." per line,
// whitespace-separated, '#' starts a comment line.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace dreamdpo::testing_helpers {

inline std::map<std::string, std::vector<int64_t>> read_key_listing(const std::filesystem::path& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::map<std::string, std::vector<int64_t>> shapes;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string name, dims;
    fields >> name >> dims;
    std::vector<int64_t> shape;
    std::istringstream parts(dims);
    for (std::string d; std::getline(parts, d, ',');) shape.push_back(std::stoll(d));
    shapes[name] = shape;
  }
  return shapes;
}

}  // namespace dreamdpo::testing_helpers
