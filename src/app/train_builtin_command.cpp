#include <cstdio>

#include "app/commands.h"
#include "core/error.h"
#include "core/progress.h"
#include "generate/components.h"
#include "guidance/priors/builtin_prior.h"
#include "models/builtin/judge.h"
#include "shapeworld/diffusion_eval.h"
#include "shapeworld/train_options.h"
#include "shapeworld/train_diffusion.h"
#include "shapeworld/train_reward.h"

namespace dreamdpo::app {

namespace {
struct TrainBuiltinOptions {
  std::string model;
  shapeworld::TrainOptions train;
  int64_t pool = 4096;
  std::string samples;
  int64_t colour_eval = 0;
  double eval_guidance = 7.5;
};

// `train-builtin diffusion --eval`: the weights file (-o) sampled on held-out scenes and judged
// by the built-in judge (shapeworld/diffusion_eval.h).
void evaluate_diffusion_file(const shapeworld::TrainOptions& train, double guidance_scale) {
  check(train.eval_scenes >= 1, "--eval-scenes must be >= 1");
  check(guidance_scale >= 0 && guidance_scale <= 100, "--eval-guidance must lie in [0, 100], got ", guidance_scale);
  const at::Device device = generate::resolve_device(train.device);
  const auto judge_path = guidance::builtin_model_path("judge.safetensors");
  auto judge = models::Judge::load(judge_path, device);
  // --seed picks another scene stream; the default is the held-out one.
  const auto report =
      shapeworld::judge_diffusion_file(train.output, *judge, train.eval_scenes, guidance_scale, train.seed, device);
  std::printf("diffusion %s (judge %s, 50-step DDIM, CFG %g): %s\n", train.output.c_str(), judge_path.c_str(),
              guidance_scale, report.summary().c_str());
}
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
  command->add_option("--time-limit", t.time_limit_s,
                      "seconds: the run (and its learning-rate schedule) ends after this long, 0 = none")
      ->capture_default_str();
  command->add_option("--render-threads", t.render_threads,
                      "render training scenes on this many CPU threads (0 = on the device, one by one)")
      ->capture_default_str();
  command->add_option("--pool", options->pool, "diffusion: rendered objects kept in memory")->capture_default_str();
  command->add_option("--init", t.init, "continue training from these weights");
  command->add_flag("--relation-negatives-first", t.relation_negatives_first,
                    "reward/judge: train every two-group scene against all its relation negatives (swaps included)");
  command->add_option("--samples", options->samples, "diffusion: write a DDIM sample grid PNG here at the end");
  command->add_option("--colour-eval", options->colour_eval,
                      "diffusion: colour accuracy of DDIM samples of this many one-object scenes")
      ->capture_default_str();
  command->add_flag("--eval", t.eval_only,
                    "evaluate the existing file instead of training (diffusion: DDIM samples judged by the judge)");
  command->add_option("--eval-scenes", t.eval_scenes, "held-out scenes of the evaluation")->capture_default_str();
  command->add_option("--eval-guidance", options->eval_guidance,
                      "diffusion --eval: classifier-free guidance scale of the DDIM samples")
      ->capture_default_str();
  command->callback([options] {
    auto train = options->train;
    if (train.output.empty()) train.output = "models/builtin/" + options->model + ".safetensors";
    if (options->model == "diffusion") {
      if (train.eval_only) {
        evaluate_diffusion_file(train, options->eval_guidance);
        return;
      }
      shapeworld::DiffusionTrainOptions diffusion;
      diffusion.steps = train.steps;
      diffusion.batch = train.batch;
      if (train.seed != 0) diffusion.seed = train.seed;
      diffusion.device = train.device;
      diffusion.output = train.output;
      diffusion.time_limit_s = train.time_limit_s;
      diffusion.pool_objects = options->pool;
      diffusion.samples_png = options->samples;
      diffusion.init = train.init;
      diffusion.eval_objects = options->colour_eval;
      const auto result = shapeworld::train_diffusion(diffusion);
      std::printf("diffusion: %lld steps in %s, final loss %.5f, colour accuracy %.3f -> %s\n",
                  static_cast<long long>(result.steps), core::Progress::format_duration(result.seconds).c_str(),
                  result.final_loss, result.colour_accuracy, train.output.c_str());
      return;
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
