#include <filesystem>

#include "app/commands.h"
#include "app/config_options.h"
#include "core/error.h"
#include "core/strings.h"
#include "generate/generate.h"

namespace dreamdpo::app {
namespace fs = std::filesystem;

namespace {
struct GenerateOptions {
  std::string prompt;
  std::string output;
  std::string resume;
  ConfigOptions config;
};

// out/<slug>, or out/<slug>-2, -3... when that folder already holds a run.
fs::path default_output(const std::string& prompt) {
  const fs::path base = fs::path("out") / core::slug(prompt, 60, "run");
  fs::path candidate = base;
  for (int i = 2; fs::exists(candidate / "run.json"); ++i) candidate = base.string() + "-" + std::to_string(i);
  return candidate;
}
}  // namespace

void add_generate_command(CLI::App& app) {
  auto options = std::make_shared<GenerateOptions>();
  auto* command = app.add_subcommand("generate", "Text to 3D Gaussians with DreamDPO (or SDS)");
  command->add_option("prompt", options->prompt, "text prompt, e.g. \"a red circle\"");
  command->add_option("-o,--output", options->output, "output folder (default: out/<prompt>)");
  command->add_option("--resume", options->resume,
                      "continue the run in this folder from its newest checkpoint (--steps may extend it)");
  options->config.add_to(*command, "builtin");
  command->callback([options] {
    if (!options->resume.empty()) {
      check(options->output.empty() || fs::path(options->output) == fs::path(options->resume),
            "--resume continues in its own folder; drop -o");
      check(options->config.only_steps_given(),
            "--resume continues with the configuration the run was started with; only --steps may be given");
      const auto recorded = generate::read_recorded_run(options->resume);
      check(options->prompt.empty() || options->prompt == recorded.prompt, "the run in ", options->resume,
            " is for the prompt '", recorded.prompt, "', not '", options->prompt, "'");
      const auto result = generate::resume_generate(options->resume, options->config.steps);
      if (result.interrupted) throw Interrupted();
      std::printf("%s\n", result.output_dir.c_str());
      return;
    }
    check(!options->prompt.empty() && options->prompt.find_first_not_of(" \t\n") != std::string::npos,
          "give a prompt, e.g. dreamdpo generate \"a red circle\" (or --resume DIR)");
    generate::GenerateConfig config;
    core::read_config(options->config.resolve(), config);
    const fs::path output = options->output.empty() ? default_output(options->prompt) : fs::path(options->output);
    const auto result = generate::run_generate(options->prompt, config, output);
    if (result.interrupted) throw Interrupted();
    std::printf("%s\n", result.output_dir.c_str());
  });
}

void add_export_command(CLI::App& app) {
  auto run_dir = std::make_shared<std::string>();
  auto* command = app.add_subcommand("export", "Rebuild a run's assets (views, turntable, model.ply, mesh, report) "
                                               "from its newest checkpoint");
  command->add_option("run", *run_dir, "the run folder")->required();
  command->callback([run_dir] {
    const auto written = generate::export_run(*run_dir);
    for (const auto& [key, value] : written.items()) {
      std::printf("%s\n", (fs::path(*run_dir) / value.get<std::string>()).c_str());
    }
  });
}

}  // namespace dreamdpo::app
