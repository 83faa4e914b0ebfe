#include "app/config_options.h"

#include <sstream>

#include "core/config.h"

namespace dreamdpo::app {

void ConfigOptions::add_to(CLI::App& command, const std::string& default_preset) {
  preset = default_preset;
  command.add_option("--preset", preset, "configuration preset (configs/NAME.yaml)")
      ->capture_default_str()
      ->each([this](const std::string&) { preset_given = true; });
  command.add_option("--config", config_files, "YAML file(s) merged over the preset, in order");
  command.add_option("--set", overrides, "override one setting: --set guidance.tau=0.01 (repeatable)");
  command.add_option("--method", method, "guidance: dreamdpo | sds");
  command.add_option("--ranker", ranker, "ranker; 'A+B' adds a second ranker (ranker.combine: or | weighted)");
  command.add_option("--tau", tau, "DreamDPO score-gap threshold (>= 0)");
  command.add_option("--pairs", pairs, "pair construction: noise | timestep");
  command.add_option("--steps", steps, "optimisation steps");
  command.add_option("--seed", seed, "random seed");
  command.add_option("--device", device, "cpu | cuda");
}

YAML::Node ConfigOptions::resolve() const {
  YAML::Node root = core::load_preset(preset);
  for (const auto& file : config_files) core::merge_yaml(root, core::load_preset(file));
  auto set = [&root](const std::string& key, const std::string& value) {
    core::apply_override(root, key + "=" + value);
  };
  auto number = [](auto value) {
    std::ostringstream text;
    text.precision(17);
    text << value;
    return text.str();
  };
  if (method) set("guidance.method", *method);
  if (ranker) {
    const auto plus = ranker->find('+');
    set("ranker.name", ranker->substr(0, plus));
    set("ranker.secondary", plus == std::string::npos ? "''" : ranker->substr(plus + 1));
  }
  if (tau) set("guidance.dreamdpo.tau", number(*tau));
  if (pairs) set("guidance.dreamdpo.pairs", *pairs);
  if (steps) set("steps", number(*steps));
  if (seed) set("seed", number(*seed));
  if (device) set("device", *device);
  for (const auto& assignment : overrides) core::apply_override(root, assignment);
  return root;
}

}  // namespace dreamdpo::app
