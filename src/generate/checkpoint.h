// Checkpoints of a generate run: one safetensors file per save under RUN/checkpoints/, holding
// every tensor the loop needs to continue bit-exactly (Gaussians, optimiser moments,
// densification statistics, background, RNG state, the metrics so far) and, as metadata, the
// step, the prompt and the resolved config.
#pragma once
#include <ATen/ATen.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/metrics_table.h"

namespace dreamdpo::generate {

struct Checkpoint {
  int64_t step = 0;  // steps completed
  std::map<std::string, at::Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Writes RUN/checkpoints/step_NNNNNN.safetensors atomically, then removes all but the newest
// `keep` checkpoints. Returns the path written.
std::filesystem::path save_checkpoint(const std::filesystem::path& run_dir, const Checkpoint& checkpoint,
                                      int64_t keep);

// Checkpoint files of a run, oldest first.
std::vector<std::filesystem::path> list_checkpoints(const std::filesystem::path& run_dir);

// Loads the newest checkpoint; a clear error when there is none or it cannot be read (naming
// the file and, if there is one, the older checkpoint to fall back to).
Checkpoint load_latest_checkpoint(const std::filesystem::path& run_dir);

// Tensors under "prefix.key" -> map of key -> tensor, and back.
std::map<std::string, at::Tensor> with_prefix(const std::string& prefix, const std::map<std::string, at::Tensor>& in);
std::map<std::string, at::Tensor> strip_prefix(const std::string& prefix, const std::map<std::string, at::Tensor>& in);

// The metrics table travels as "metrics.rows" [R,C] float64 plus the column names in the
// metadata "metrics.columns", so a resumed run continues metrics.csv where it stopped.
void store_metrics(const core::MetricsTable& metrics, Checkpoint& checkpoint);
// Appends the stored rows to `metrics`; an error if the columns differ.
void restore_metrics(const Checkpoint& checkpoint, core::MetricsTable& metrics);

}  // namespace dreamdpo::generate
