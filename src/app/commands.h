// Each subcommand registers itself on the CLI11 app and runs through a callback.
#pragma once
#include <CLI/CLI.hpp>

namespace dreamdpo::app {

void add_toy2d_command(CLI::App& app);
void add_generate_command(CLI::App& app);
void add_export_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_train_builtin_command(CLI::App& app);
void add_score_command(CLI::App& app);
void add_models_command(CLI::App& app);
void add_convert_command(CLI::App& app);

// Thrown by a command that stopped early on Ctrl-C after saving its state; exit status 130.
struct Interrupted {};

}  // namespace dreamdpo::app
