// The method's claims on the exact prior, measured over seeds.
#include <gtest/gtest.h>

#include <filesystem>

#include "generate/toy2d.h"

namespace dreamdpo::generate {
namespace {
namespace fs = std::filesystem;

// Rate at which runs end at a red square for the ambiguous prompt "red" (three templates).
// Every run must end at some mode: within 0.05 RMS of a red template.
double rate_of_red_square(const std::string& method, int seeds) {
  int hits = 0;
  const auto dir = fs::temp_directory_path() / ("dreamdpo_claims_" + method + std::to_string(::getpid()));
  for (int seed = 0; seed < seeds; ++seed) {
    Toy2dConfig config;
    config.seed = seed;
    config.steps = 150;
    config.prior.image_size = 16;
    config.snapshots = 2;
    config.guidance.method = method;
    config.ranker.name = "template";
    config.ranker.target = "square";
    const auto result = run_toy2d("red", config, dir);
    EXPECT_LT(result.nearest_rmse, 0.05) << method << " seed " << seed << " ended between modes";
    EXPECT_NE(result.nearest_caption.find("red"), std::string::npos) << method << " seed " << seed;
    hits += result.nearest_caption == "a red square";
  }
  fs::remove_all(dir);
  return static_cast<double>(hits) / seeds;
}

TEST(Toy2dClaims, SdsConvergesToAModeAndDreamDpoToThePreferredOne) {
  const int seeds = 8;
  const double dpo = rate_of_red_square("dreamdpo", seeds);
  const double sds = rate_of_red_square("sds", seeds);
  RecordProperty("dreamdpo_rate", std::to_string(dpo));
  RecordProperty("sds_rate", std::to_string(sds));
  std::printf("red square reached: DreamDPO %.0f%%, SDS %.0f%% over %d seeds\n", 100 * dpo, 100 * sds, seeds);
  EXPECT_GE(dpo, 0.875);
  EXPECT_LE(sds, 0.5);
}

}  // namespace
}  // namespace dreamdpo::generate
