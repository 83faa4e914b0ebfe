// Loading the ImageReward parity fixtures (tests/fixtures/imagereward, written by
// tests/fixtures/make_imagereward_fixtures.py) and comparing against them.
#pragma once
#include <ATen/ATen.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <string>

#include "core/safetensors.h"

namespace dreamdpo::testing_helpers {

inline const std::filesystem::path kImageRewardFixtures =
    std::filesystem::path(DREAMDPO_SOURCE_DIR) / "tests" / "fixtures" / "imagereward";

struct BlipFixture {
  std::map<std::string, at::Tensor> weights, all;
  std::map<std::string, std::string> metadata;
  const at::Tensor& at(const std::string& name) const { return all.at(name); }
};

inline BlipFixture read_blip_fixture(const std::string& file) {
  auto read = core::read_safetensors(kImageRewardFixtures / file);
  BlipFixture f;
  f.metadata = read.metadata;
  for (const auto& [name, t] : read.tensors) {
    if (name.rfind("input.", 0) != 0 && name.rfind("expected.", 0) != 0) f.weights[name] = t;
  }
  f.all = std::move(read.tensors);
  return f;
}

inline std::map<std::string, at::Tensor> prefixed(const std::map<std::string, at::Tensor>& m, const std::string& p) {
  std::map<std::string, at::Tensor> out;
  for (const auto& [name, t] : m) out[p + name] = t;
  return out;
}

// max |a - b| / max |b|
inline double max_rel_error(const at::Tensor& a, const at::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  const auto aa = a.to(at::kDouble), bb = b.to(at::kDouble);
  return ((aa - bb).abs().max() / bb.abs().max().clamp_min(1e-30)).item<double>();
}

inline std::string sci(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3e", v);
  return text;
}

}  // namespace dreamdpo::testing_helpers
