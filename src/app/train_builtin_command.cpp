#include <cstdio>

#include "app/commands.h"
#include "core/error.h"
#include "core/progress.h"
#include "shapeworld/train_options.h"
#include "shapeworld/train_reward.h"

namespace dreamdpo::app {

namespace {
struct TrainBuiltinOptions {
  std::string model;
  shapeworld::TrainOptions train;
};
}  // namespace

void add_train_builtin_command(CLI::App& app) {
  auto options = std::make_shared<TrainBuiltinOptions>();
  auto* command = app.add_subcommand(
      "train-builtin", "Train (or --eval) a built-in ShapeWorld model: reward, judge or diffusion");
  command->add_option("model", options->model, "which model: reward | judge | diffusion")
      ->required()
      ->check(CLI::IsMember({"reward", "judge", "diffusion"}));
  auto& t = options->train;
  command->add_option("--steps", t.steps, "optimiser steps")->capture_default_str();
  command->add_option("--batch", t.batch, "scenes per step")->capture_default_str();
  command->add_option("--seed", t.seed, "training seed (0 = the model's default)")->capture_default_str();
  command->add_option("--device", t.device, "cpu or cuda")->capture_default_str();
  command->add_option("-o,--output", t.output, "weights file (default models/builtin/MODEL.safetensors)");
  command->add_option("--render-threads", t.render_threads,
                      "render training scenes on this many CPU threads (0 = on the device, one by one)")
      ->capture_default_str();
  command->add_flag("--eval", t.eval_only, "evaluate the existing file instead of training");
  command->add_option("--eval-scenes", t.eval_scenes, "held-out scenes of the evaluation")->capture_default_str();
  command->callback([options] {
    auto train = options->train;
    if (train.output.empty()) train.output = "models/builtin/" + options->model + ".safetensors";
    if (options->model == "diffusion") {
      fail("diffusion training is not built yet (train-builtin supports reward and judge for now)");
    }
    const auto report =
        options->model == "reward" ? shapeworld::train_reward(train) : shapeworld::train_judge(train);
    if (train.eval_only) {
      std::printf("%s %s: %s\n", options->model.c_str(), train.output.c_str(), report.metrics.summary().c_str());
    } else {
      std::printf("%s: %lld steps in %s, %lld parameters, final loss %.4f; %s -> %s\n", options->model.c_str(),
                  static_cast<long long>(report.steps), core::Progress::format_duration(report.seconds).c_str(),
                  static_cast<long long>(report.parameters), report.final_loss, report.metrics.summary().c_str(),
                  train.output.c_str());
    }
  });
}

}  // namespace dreamdpo::app
