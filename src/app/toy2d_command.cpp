#include <filesystem>

#include "app/commands.h"
#include "app/config_options.h"
#include "core/error.h"
#include "generate/toy2d.h"

namespace dreamdpo::app {

namespace {
struct Toy2dOptions {
  std::string prompt;
  std::string output = "out/toy2d";
  ConfigOptions config;
};
}  // namespace

void add_toy2d_command(CLI::App& app) {
  auto options = std::make_shared<Toy2dOptions>();
  auto* command = app.add_subcommand(
      "toy2d", "The paper's 2D experiment: optimise an image with SDS or DreamDPO under a prior");
  command->add_option("prompt", options->prompt, "text prompt, e.g. \"a red square\"")->required();
  command->add_option("-o,--output", options->output, "output folder")->capture_default_str();
  options->config.add_to(*command, "toy2d");
  command->callback([options] {
    check(!options->prompt.empty() &&
              options->prompt.find_first_not_of(" \t\n") != std::string::npos,
          "the prompt is empty; give a description such as \"a red square\"");
    generate::Toy2dConfig config;
    core::read_config(options->config.resolve(), config);
    const auto result = generate::run_toy2d(options->prompt, config, options->output);
    std::printf("%s\n", (result.output_dir / "final.png").c_str());
  });
}

}  // namespace dreamdpo::app
