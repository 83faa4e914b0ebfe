#include "core/config.h"

#include <algorithm>
#include <filesystem>

#include "core/atomic_file.h"
#include "core/embedded_presets.h"
#include "core/strings.h"

namespace dreamdpo::core {

YAML::Node parse_yaml(const std::string& text, const std::string& origin) {
  try {
    return YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    fail(origin, ": invalid YAML at line ", e.mark.line + 1, ": ", e.msg);
  }
}

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const auto& preset : embedded_presets()) names.push_back(preset.name);
  std::sort(names.begin(), names.end());
  return names;
}

YAML::Node load_preset(const std::string& name_or_path) {
  for (const auto& preset : embedded_presets()) {
    if (preset.name == name_or_path) return parse_yaml(preset.yaml_text, "preset " + preset.name);
  }
  if (std::filesystem::exists(name_or_path)) {
    return parse_yaml(read_file(name_or_path), name_or_path);
  }
  fail("no preset or config file named '", name_or_path, "' (presets: ", join(preset_names()), ")");
}

void merge_yaml(YAML::Node& base, const YAML::Node& overlay) {
  if (!overlay || overlay.IsNull()) return;
  if (!overlay.IsMap() || !base.IsMap()) {
    base = YAML::Clone(overlay);
    return;
  }
  for (const auto& entry : overlay) {
    const auto key = entry.first.as<std::string>();
    YAML::Node child = base[key];
    if (child && child.IsMap() && entry.second.IsMap()) {
      merge_yaml(child, entry.second);
    } else {
      base[key] = YAML::Clone(entry.second);
    }
  }
}

void apply_override(YAML::Node& root, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == assignment.size()) {
    fail("--set expects key=value (for example --set guidance.tau=0.01), got '", assignment, "'");
  }
  const std::string key = assignment.substr(0, eq);
  const std::string value_text = assignment.substr(eq + 1);
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const auto dot = key.find('.', start);
    parts.push_back(key.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (parts.back().empty()) fail("--set key '", key, "' has an empty component");
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  const YAML::Node value = parse_yaml(value_text, "--set " + key);
  if (!root || !root.IsMap()) root = YAML::Node(YAML::NodeType::Map);
  // yaml-cpp nodes are handles: walk with fresh copies so assignments land in the tree.
  std::vector<YAML::Node> chain{root};
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    YAML::Node child = chain.back()[parts[i]];
    if (child && !child.IsNull() && !child.IsMap()) {
      fail("--set ", key, ": '", parts[i], "' is a value, not a group of settings");
    }
    if (!child || child.IsNull()) {
      chain.back()[parts[i]] = YAML::Node(YAML::NodeType::Map);
      child = chain.back()[parts[i]];
    }
    chain.push_back(child);
  }
  chain.back()[parts.back()] = value;
}

namespace detail {

std::string describe_node(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return "'" + node.Scalar() + "'";
    default: return "nothing";
  }
}

void fail_unknown_key(const std::string& key, const std::vector<std::string>& known) {
  fail("unknown config key '", key, "' (known keys here: ", join(known), ")");
}

}  // namespace detail
}  // namespace dreamdpo::core
