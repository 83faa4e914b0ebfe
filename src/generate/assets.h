// The files a finished run leaves for people and other tools: views.png, the turntable,
// model.ply, mesh.glb/.obj and report.html. Used at the end of `generate` and by
// `dreamdpo export`, which rebuilds them from a checkpoint.
#pragma once
#include <ATen/ATen.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "camera/camera.h"
#include "core/metrics_table.h"
#include "generate/generate_config.h"
#include "scene/gaussians.h"

namespace dreamdpo::generate {

struct AssetInputs {
  const std::string& prompt;
  const GenerateConfig& config;
  const scene::GaussianCloud& cloud;
  at::Tensor background;  // [3] colour of exported renders
  const core::MetricsTable& metrics;
};

// The fixed cameras of validation renders, exports and turntables: evenly spaced at 15 degrees
// elevation, at the middle of the training distance and field-of-view ranges, so they show
// what training saw.
camera::CameraBatch export_cameras(const GenerateConfig& config, int64_t views);

// Writes every asset into `run_dir`; returns {"views": "views.png", ...} (paths relative to
// run_dir) for run.json.
nlohmann::json write_assets(const std::filesystem::path& run_dir, const AssetInputs& inputs);

}  // namespace dreamdpo::generate
