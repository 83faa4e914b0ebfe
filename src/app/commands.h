// Each subcommand registers itself on the CLI11 app and runs through a callback.
#pragma once
#include <CLI/CLI.hpp>

namespace dreamdpo::app {

void add_toy2d_command(CLI::App& app);

}  // namespace dreamdpo::app
