// `dreamdpo score IMAGE... --prompt P --ranker R`: prints each image's score, for checking a
// ranker (e.g. that an LMM endpoint answers sensibly) without running an optimisation.
#include <cstdio>
#include <filesystem>

#include "app/commands.h"
#include "app/config_options.h"
#include "core/error.h"
#include "core/png_io.h"
#include "core/resize.h"
#include "generate/components.h"
#include "generate/generate_config.h"

namespace dreamdpo::app {
namespace fs = std::filesystem;

namespace {
struct ScoreOptions {
  std::vector<std::string> images;
  std::string prompt;
  ConfigOptions config;
};
}  // namespace

void add_score_command(CLI::App& app) {
  auto options = std::make_shared<ScoreOptions>();
  auto* command = app.add_subcommand(
      "score", "Print a ranker's score of PNG images for a prompt, one line per image: path, score (A+B: both)");
  command->add_option("images", options->images, "PNG files")->required();
  command->add_option("--prompt", options->prompt, "the prompt the images are judged against")->required();
  // The preset gives the ranker's settings and the prior some rankers are defined by (the
  // template ranker needs the exact prior: --preset exact). Images are resized to the prior's
  // image size, as rankers see them during a run.
  options->config.add_to(*command, "builtin");
  command->callback([options] {
    for (const auto& path : options->images) {
      check(fs::is_regular_file(path), "image ", path, " does not exist (give PNG files)");
    }
    generate::GenerateConfig config;
    core::read_config(options->config.resolve(), config);
    auto ranker_config = config.ranker;
    if (ranker_config.target.empty()) ranker_config.target = options->prompt;
    // Only the template ranker needs the prior (and a real prior's weights are large).
    std::unique_ptr<guidance::Prior> prior;
    if (generate::ranker_needs_prior(ranker_config.name) || generate::ranker_needs_prior(ranker_config.secondary)) {
      prior = generate::make_prior(config.prior, at::Device(at::kCPU));
    }
    const generate::RankerContext context{options->prompt, {}};
    std::vector<std::unique_ptr<rank::Ranker>> rankers;
    rankers.push_back(generate::make_ranker(ranker_config.name, ranker_config, prior.get(), context));
    if (!ranker_config.secondary.empty()) {
      rankers.push_back(generate::make_ranker(ranker_config.secondary, ranker_config, prior.get(), context));
    }
    const int64_t size = config.prior.image_size;
    for (const auto& path : options->images) {
      const auto image = core::resize_bilinear(core::read_png(path).unsqueeze(0), size, size);
      std::string line = path;
      for (auto& ranker : rankers) {
        const double score = ranker->score(image, options->prompt).reshape({-1})[0].item<double>();
        char number[32];
        std::snprintf(number, sizeof(number), "\t%.6g", score);
        line += number;
      }
      std::printf("%s\n", line.c_str());
    }
  });
}

}  // namespace dreamdpo::app
