// Flags shared by the commands that run an optimisation: preset, config file, --set and the
// shortcuts (--tau, --method, ...) that are sugar for --set.
#pragma once
#include <CLI/CLI.hpp>
#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <vector>

namespace dreamdpo::app {

struct ConfigOptions {
  std::string preset;
  std::vector<std::string> config_files;
  std::vector<std::string> overrides;  // key=value, applied last
  // Shortcuts, turned into overrides in the order below.
  std::optional<std::string> method, ranker, pairs, device;
  std::optional<double> tau;
  std::optional<int64_t> steps, seed;

  void add_to(CLI::App& command, const std::string& default_preset);
  // preset <- config files <- shortcuts <- --set, as one YAML tree.
  YAML::Node resolve() const;
  // True when no configuration flag other than --steps was given (what --resume allows).
  bool only_steps_given() const {
    return config_files.empty() && overrides.empty() && !method && !ranker && !pairs && !device && !tau && !seed &&
           !preset_given;
  }
  bool preset_given = false;
};

}  // namespace dreamdpo::app
