// `dreamdpo train-diffusion`: trains the built-in multi-view diffusion model (until the shared
// `train-builtin diffusion` command lands; then this can call the same function).
#include <cstdio>

#include "app/commands.h"
#include "shapeworld/train_diffusion.h"

namespace dreamdpo::app {

void add_train_diffusion_command(CLI::App& app) {
  auto options = std::make_shared<shapeworld::DiffusionTrainOptions>();
  auto* command = app.add_subcommand("train-diffusion", "Train the built-in multi-view diffusion model on ShapeWorld");
  command->add_option("--steps", options->steps, "optimiser steps")->capture_default_str();
  command->add_option("--batch", options->batch, "objects per step (each with 4 views)")->capture_default_str();
  command->add_option("--seed", options->seed, "random seed")->capture_default_str();
  command->add_option("--device", options->device, "cpu or cuda")->capture_default_str();
  command->add_option("-o,--output", options->output, "weights file to write")->capture_default_str();
  command->add_option("--lr", options->lr, "AdamW learning rate")->capture_default_str();
  command->add_option("--warmup", options->warmup, "learning-rate warm-up steps")->capture_default_str();
  command->add_option("--time-limit", options->time_limit_s, "stop after this many seconds of training (0 = none)")
      ->capture_default_str();
  command->add_option("--checkpoint-every", options->checkpoint_every_s, "seconds between saved checkpoints")
      ->capture_default_str();
  command->add_option("--pool", options->pool_objects, "rendered objects kept in memory")->capture_default_str();
  command->add_option("--refresh", options->refresh_per_step, "objects re-rendered per step")->capture_default_str();
  command->add_option("--samples", options->samples_png, "write a DDIM sample grid PNG here at the end");
  command->add_option("--eval", options->eval_objects, "colour accuracy over this many sampled one-object scenes")
      ->capture_default_str();
  command->add_option("--base-channels", options->network.base_channels, "UNet base channels")->capture_default_str();
  command->callback([options] {
    const auto result = shapeworld::train_diffusion(*options);
    std::printf("steps %lld seconds %.1f loss %.5f colour_accuracy %.3f\n", static_cast<long long>(result.steps),
                result.seconds, result.final_loss, result.colour_accuracy);
  });
}

}  // namespace dreamdpo::app
