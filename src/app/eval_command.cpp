#include <filesystem>
#include <sstream>

#include "app/commands.h"
#include "app/config_options.h"
#include "core/error.h"
#include "core/log.h"
#include "eval/eval_runner.h"
#include "eval/scorers.h"
#include "generate/components.h"
#include "generate/generate_config.h"

namespace dreamdpo::app {

namespace {
struct EvalCommandOptions {
  std::string prompts;
  std::string output = "out/eval";
  std::string methods = "sds,dreamdpo";
  std::string sweep;
  int64_t seeds = 1;
  int64_t views = 8;
  int64_t size = 64;
  std::string scorers;
  ConfigOptions config;
};

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}
}  // namespace

void add_eval_command(CLI::App& app) {
  auto options = std::make_shared<EvalCommandOptions>();
  auto* command = app.add_subcommand("eval", "SDS vs DreamDPO over a prompt set: generate (resumable), score, "
                                             "table with 95% intervals, HTML page");
  command->add_option("prompts", options->prompts, "text file, one prompt per line (see prompts/)")->required();
  command->add_option("-o,--output", options->output, "eval folder")->capture_default_str();
  command->add_option("--methods", options->methods, "comma-separated: sds,dreamdpo")->capture_default_str();
  command->add_option("--sweep", options->sweep,
                      "a sweep file (configs/sweeps/*.yaml) whose variants replace --methods")
      ->check(CLI::ExistingFile);
  command->add_option("--seeds", options->seeds, "seeds per prompt and method")->capture_default_str();
  command->add_option("--views", options->views, "evaluation cameras")->capture_default_str();
  command->add_option("--size", options->size, "evaluation render size")->capture_default_str();
  command->add_option("--scorers", options->scorers,
                      "comma-separated rankers that add a score column each, e.g. hpsv2,imagereward "
                      "(their files from the ranker.* settings)");
  options->config.add_to(*command, "builtin");
  command->callback([options] {
    check(!options->config.method, "eval runs every method of --methods; drop --method");
    eval::EvalOptions eval_options;
    eval_options.prompts_file = options->prompts;
    eval_options.output_dir = options->output;
    eval_options.variants = options->sweep.empty() ? eval::method_variants(split_list(options->methods))
                                                   : eval::read_sweep(options->sweep);
    eval_options.seeds = options->seeds;
    eval_options.views = options->views;
    eval_options.size = options->size;
    const auto base = options->config.resolve();
    generate::GenerateConfig config;
    core::read_config(base, config);
    const auto device = generate::resolve_device(config.device);
    const auto scorers = eval::load_builtin_scorers(device);
    eval::EvalScorers eval_scorers{scorers.reward.get(), scorers.judge.get()};
    // Extra scorers are built before any run, so a missing checkpoint stops the eval at once.
    std::unique_ptr<guidance::Prior> prior;
    std::vector<std::unique_ptr<rank::Ranker>> extra;
    for (const auto& name : split_list(options->scorers)) {
      if (!prior && generate::ranker_needs_prior(name)) prior = generate::make_prior(config.prior, device);
      extra.push_back(generate::make_ranker(name, config.ranker, prior.get()));
      eval_scorers.extra.push_back({name, extra.back().get()});
    }
    const auto summary = eval::run_eval(eval_options, base, eval_scorers);
    std::printf("%s\n%s\n", summary.table_markdown.c_str(), summary.html.c_str());
  });
}

}  // namespace dreamdpo::app
