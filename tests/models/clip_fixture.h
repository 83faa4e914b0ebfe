// Shared by the CLIP parity tests: the fixtures made by tests/fixtures/make_clip_fixtures.py.
#pragma once
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>

#include "core/safetensors.h"
#include "models/clip/open_clip_model.h"

namespace dreamdpo::clip_testing {

inline std::filesystem::path fixture_dir() {
  return std::filesystem::path(DREAMDPO_SOURCE_DIR) / "tests" / "fixtures" / "clip";
}

inline core::SafetensorsFile fixture(const std::string& name) {
  return core::read_safetensors(fixture_dir() / (name + ".safetensors"));
}

// max |actual - expected| / max |expected|, printed so the test log records it.
inline double max_rel_error(const at::Tensor& actual, const at::Tensor& expected, const std::string& what) {
  EXPECT_EQ(actual.sizes(), expected.sizes()) << what;
  const double err = ((actual.to(at::kDouble) - expected.to(at::kDouble)).abs().max() /
                      expected.to(at::kDouble).abs().max().clamp_min(1e-12))
                         .item<double>();
  std::printf("[ parity ] %-34s max rel error %.3g\n", what.c_str(), err);
  return err;
}

// Every weight of the fixture model (open_clip names): the union of the two tower files.
inline std::map<std::string, at::Tensor> fixture_weights() {
  std::map<std::string, at::Tensor> weights;
  for (const char* file : {"text_tower", "vision_tower"}) {
    for (auto& [name, tensor] : fixture(file).tensors) {
      if (name.rfind("input.", 0) != 0 && name.rfind("expected.", 0) != 0) weights[name] = tensor;
    }
  }
  return weights;
}

// The fixture's configuration (metadata "config", open_clip's JSON form).
inline models::clip::OpenClipConfig fixture_config() {
  return models::clip::OpenClipConfig::from_json_text(fixture("vision_tower").metadata.at("config"), "fixture config");
}

inline models::clip::OpenClipModel fixture_model() {
  models::clip::OpenClipModel model(fixture_config());
  model->load_state(fixture_weights(), "CLIP fixture");
  model->eval();
  return model;
}

}  // namespace dreamdpo::clip_testing
