#include "generate/checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <system_error>

#include "core/error.h"
#include "core/log.h"
#include "core/safetensors.h"
#include "core/strings.h"

namespace dreamdpo::generate {
namespace fs = std::filesystem;

namespace {
constexpr const char* kFormat = "dreamdpo-generate-checkpoint-1";

bool is_checkpoint_name(const std::string& name) {
  return name.size() == 5 + 6 + 12 && name.rfind("step_", 0) == 0 &&
         name.compare(name.size() - 12, 12, ".safetensors") == 0 &&
         std::all_of(name.begin() + 5, name.begin() + 11, [](char c) { return c >= '0' && c <= '9'; });
}
}  // namespace

std::vector<fs::path> list_checkpoints(const fs::path& run_dir) {
  std::vector<fs::path> out;
  std::error_code error;
  for (fs::directory_iterator it(run_dir / "checkpoints", error), end; !error && it != end; it.increment(error)) {
    if (it->is_regular_file() && is_checkpoint_name(it->path().filename().string())) out.push_back(it->path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

fs::path save_checkpoint(const fs::path& run_dir, const Checkpoint& checkpoint, int64_t keep) {
  check(checkpoint.step >= 0 && checkpoint.step <= 999999, "checkpoint step ", checkpoint.step, " out of range");
  const auto dir = run_dir / "checkpoints";
  std::error_code error;
  fs::create_directories(dir, error);
  check(!error, "cannot create ", dir.string(), ": ", error.message());
  char name[32];
  std::snprintf(name, sizeof name, "step_%06lld.safetensors", static_cast<long long>(checkpoint.step));
  auto metadata = checkpoint.metadata;
  metadata["format"] = kFormat;
  metadata["step"] = std::to_string(checkpoint.step);
  const auto path = dir / name;
  core::write_safetensors(path, checkpoint.tensors, metadata);
  auto all = list_checkpoints(run_dir);
  for (size_t i = 0; i + static_cast<size_t>(keep) < all.size(); ++i) {
    fs::remove(all[i], error);  // best effort: an old checkpoint left behind costs only disk
  }
  return path;
}

Checkpoint load_latest_checkpoint(const fs::path& run_dir) {
  const auto all = list_checkpoints(run_dir);
  check(!all.empty(), "no checkpoint in ", (run_dir / "checkpoints").string(),
        ": the run stopped before its first checkpoint; start it again without --resume");
  const auto& path = all.back();
  const std::string fallback =
      all.size() >= 2 ? "; delete it to resume from " + all[all.size() - 2].filename().string() : "";
  core::SafetensorsFile file;
  try {
    file = core::read_safetensors(path);
  } catch (const Error& e) {
    fail("checkpoint ", path.string(), " is unreadable (", e.what(), ")", fallback);
  }
  check(file.metadata.count("format") && file.metadata.at("format") == kFormat, "checkpoint ", path.string(),
        " is not a dreamdpo generate checkpoint (format '",
        file.metadata.count("format") ? file.metadata.at("format") : std::string("none"), "')", fallback);
  Checkpoint out;
  try {
    out.step = std::stoll(file.metadata.at("step"));
  } catch (const std::exception&) {
    fail("checkpoint ", path.string(), " has no valid step number", fallback);
  }
  out.tensors = std::move(file.tensors);
  out.metadata = std::move(file.metadata);
  return out;
}

std::map<std::string, at::Tensor> with_prefix(const std::string& prefix, const std::map<std::string, at::Tensor>& in) {
  std::map<std::string, at::Tensor> out;
  for (const auto& [key, value] : in) out[prefix + "." + key] = value;
  return out;
}

std::map<std::string, at::Tensor> strip_prefix(const std::string& prefix, const std::map<std::string, at::Tensor>& in) {
  std::map<std::string, at::Tensor> out;
  const auto head = prefix + ".";
  for (const auto& [key, value] : in) {
    if (key.rfind(head, 0) == 0) out[key.substr(head.size())] = value;
  }
  return out;
}

void store_metrics(const core::MetricsTable& metrics, Checkpoint& checkpoint) {
  checkpoint.metadata["metrics.columns"] = core::join(metrics.columns(), ",");
  const auto& rows = metrics.rows();
  if (rows.empty()) return;
  auto table = at::empty({static_cast<int64_t>(rows.size()), static_cast<int64_t>(metrics.columns().size())}, at::kDouble);
  double* data = table.data_ptr<double>();
  for (const auto& row : rows) data = std::copy(row.begin(), row.end(), data);
  checkpoint.tensors["metrics.rows"] = table;
}

void restore_metrics(const Checkpoint& checkpoint, core::MetricsTable& metrics) {
  const auto expected = core::join(metrics.columns(), ",");
  const auto it = checkpoint.metadata.find("metrics.columns");
  const std::string columns = it == checkpoint.metadata.end() ? "" : it->second;
  check(columns == expected, "checkpoint metrics have columns '", columns, "', this version writes '", expected, "'");
  const auto found = checkpoint.tensors.find("metrics.rows");
  if (found == checkpoint.tensors.end()) return;
  const auto rows = found->second.to(at::kDouble).contiguous();
  const int64_t width = static_cast<int64_t>(metrics.columns().size());
  check(rows.dim() == 2 && rows.size(1) == width, "checkpoint metrics table has shape ", rows.sizes(), ", expected [R,",
        width, "]");
  const double* data = rows.data_ptr<double>();
  for (int64_t r = 0; r < rows.size(0); ++r) {
    metrics.add_row(std::vector<double>(data + r * width, data + (r + 1) * width));
  }
}

}  // namespace dreamdpo::generate
