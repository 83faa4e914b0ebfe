// `dreamdpo generate`: a prompt -> 3D Gaussians optimised with SDS or DreamDPO, with
// checkpoints, resume, validation renders, metrics and the exported assets.
#pragma once
#include <filesystem>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "generate/generate_config.h"

namespace dreamdpo::generate {

struct GenerateResult {
  std::filesystem::path output_dir;
  int64_t steps_done = 0;
  bool interrupted = false;  // stopped by Ctrl-C/SIGTERM (or a stop request) after a checkpoint
  int64_t gaussians = 0;
  double seconds = 0;        // wall time of this invocation
  std::string nearest_caption;  // exact prior only: the template the views ended closest to
  double nearest_rmse = 0;
};

// A new run into `output_dir` (created; an existing run there is an error unless it is empty).
// `stop_after` stops the run as Ctrl-C would (checkpoint, no exports) once that many steps are
// done: for scripted pauses and the resume tests.
GenerateResult run_generate(const std::string& prompt, const GenerateConfig& config,
                            const std::filesystem::path& output_dir, std::optional<int64_t> stop_after = std::nullopt);

// Continues the run in `run_dir` from its newest checkpoint with the config it was started
// with; `steps` may extend (not shorten) the run. On the same device and thread count the
// result is bit-identical to an uninterrupted run.
GenerateResult resume_generate(const std::filesystem::path& run_dir, std::optional<int64_t> steps = std::nullopt,
                               std::optional<int64_t> stop_after = std::nullopt);

// The prompt and resolved config recorded in RUN/run.json.
struct RecordedRun {
  std::string prompt;
  GenerateConfig config;
};
RecordedRun read_recorded_run(const std::filesystem::path& run_dir);

// Rebuilds the assets (views, turntable, model.ply, mesh, report) of a run from its newest
// checkpoint; returns what was written, as in run.json.
nlohmann::json export_run(const std::filesystem::path& run_dir);

// The columns of a generate run's metrics.csv.
std::vector<std::string> generate_metric_columns();

}  // namespace dreamdpo::generate
