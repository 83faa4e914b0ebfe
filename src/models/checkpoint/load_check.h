// Does a checkpoint load strictly into the networks this build has? Used by `dreamdpo models
// check`: for each component of the detected layout, either the strict-load verdict (with the
// missing / unexpected / mis-shaped tensor names) or "not checked" where the network is not in
// this build. Adding a network = adding its case in load_check.cpp.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "models/checkpoint/state_dict_file.h"

namespace dreamdpo::models::checkpoint {

struct LoadCheck {
  std::string component;  // "VAE (first_stage_model)", "UNet", ...
  bool checked = false;   // false: no network for it in this build
  bool ok = false;
  std::string message;    // what was built, or the strict-load error, or why not checked
};

// `path` is the file or folder `file` was read from (configs next to the weights are read from it).
std::vector<LoadCheck> check_strict_load(const std::filesystem::path& path, const CheckpointFile& file,
                                         const CheckpointDescription& description);

}  // namespace dreamdpo::models::checkpoint
