#include "generate/generate_config.h"

#include <algorithm>

namespace dreamdpo::generate {

void RenderScheduleConfig::validate(const std::string& path) const {
  using core::key_path;
  check(!sizes.empty(), key_path(path, "sizes"), " needs at least one size");
  for (auto s : sizes) check(s >= 8 && s <= 4096, key_path(path, "sizes"), " must lie in [8, 4096], got ", s);
  check(milestones.size() + 1 == sizes.size(), key_path(path, "milestones"), " must have one entry fewer than ",
        key_path(path, "sizes"), " (", sizes.size(), " sizes, ", milestones.size(), " milestones)");
  check(std::is_sorted(milestones.begin(), milestones.end()), key_path(path, "milestones"), " must be increasing");
  check(validation_size >= 8 && validation_size <= 4096, key_path(path, "validation_size"), " must lie in [8, 4096]");
}

int64_t RenderScheduleConfig::size_at(int64_t step) const {
  size_t phase = 0;
  while (phase < milestones.size() && step >= milestones[phase]) ++phase;
  return sizes[phase];
}

void OutputConfig::validate(const std::string& path) const {
  using core::key_path;
  check(checkpoint_every >= 0, key_path(path, "checkpoint_every"), " must be >= 0");
  check(keep_checkpoints >= 1, key_path(path, "keep_checkpoints"), " must be >= 1");
  check(validate_every >= 0, key_path(path, "validate_every"), " must be >= 0");
  check(validation_views >= 1 && validation_views <= 64, key_path(path, "validation_views"), " must lie in [1, 64]");
  check(turntable_frames >= 1 && turntable_frames <= 1000, key_path(path, "turntable_frames"), " must lie in [1, 1000]");
  check(turntable_fps >= 1 && turntable_fps <= 120, key_path(path, "turntable_fps"), " must lie in [1, 120]");
  check(mesh_resolution >= 8 && mesh_resolution <= 512, key_path(path, "mesh_resolution"), " must lie in [8, 512]");
  check(mesh_level > 0, key_path(path, "mesh_level"), " must be > 0");
  check(mesh_min_component >= 0 && mesh_min_component <= 1, key_path(path, "mesh_min_component"),
        " must lie in [0, 1]");
}

}  // namespace dreamdpo::generate
