// `dreamdpo toy2d`: optimise images directly under a prior with SDS or DreamDPO and write
// final.png, snapshots.png, metrics.csv and run.json into the output folder.
#pragma once
#include <filesystem>
#include <string>

#include "generate/toy2d_config.h"

namespace dreamdpo::generate {

struct Toy2dResult {
  std::filesystem::path output_dir;
  std::string nearest_caption;  // closest prior component (exact prior only), else empty
  double nearest_rmse = 0;      // RMS pixel distance to it, in [0,1] units
  double final_score = 0;       // primary ranker's mean score of the final images
  double seconds = 0;
};

Toy2dResult run_toy2d(const std::string& prompt, const Toy2dConfig& config,
                      const std::filesystem::path& output_dir);

}  // namespace dreamdpo::generate
