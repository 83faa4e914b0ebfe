// Typed configuration. Each config is a struct with defaults that lists its fields once:
//
//   struct DreamDpoConfig {
//     double tau = 0.01;
//     template <class V> void visit(V& v) { v("tau", tau, "score-gap threshold"); }
//     void validate(const std::string& path) const;   // optional: range checks
//   };
//
// read_config fills it from a YAML tree (presets from configs/ merged with --set overrides),
// rejecting unknown keys with a message naming the full key; config_to_json writes the
// resolved values (run.json). Supported field types: bool, int, int64_t, double, float,
// std::string, std::vector of those, and nested config structs.
#pragma once
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "core/error.h"

namespace dreamdpo::core {

// Parses YAML text; `origin` names the source in errors.
YAML::Node parse_yaml(const std::string& text, const std::string& origin);
// An embedded preset by name (configs/NAME.yaml) or a YAML file path.
YAML::Node load_preset(const std::string& name_or_path);
std::vector<std::string> preset_names();
// Deep merge: maps merge key by key, anything else in `overlay` replaces `base`.
void merge_yaml(YAML::Node& base, const YAML::Node& overlay);
// Applies "a.b.c=value" (value parsed as YAML: numbers, booleans, strings, [lists]).
void apply_override(YAML::Node& root, const std::string& assignment);

namespace detail {

template <class T, class = void>
struct is_config : std::false_type {};
template <class T>
struct is_config<T, std::void_t<decltype(&T::template visit<int>)>> : std::true_type {};
template <class T>
struct is_vector : std::false_type {};
template <class T>
struct is_vector<std::vector<T>> : std::true_type {};
template <class T, class = void>
struct has_validate : std::false_type {};
template <class T>
struct has_validate<T, std::void_t<decltype(std::declval<const T&>().validate(std::string()))>>
    : std::true_type {};

template <class T>
std::string type_name() {
  if constexpr (std::is_same_v<T, bool>) return "true or false";
  else if constexpr (std::is_integral_v<T>) return "an integer";
  else if constexpr (std::is_floating_point_v<T>) return "a number";
  else if constexpr (std::is_same_v<T, std::string>) return "a string";
  else return "a value";
}

std::string describe_node(const YAML::Node& node);
[[noreturn]] void fail_unknown_key(const std::string& key, const std::vector<std::string>& known);

class ConfigReader;

template <class T>
void read_value(const YAML::Node& node, T& out, const std::string& key);

class ConfigReader {
 public:
  ConfigReader(const YAML::Node& node, std::string path) : node_(node), path_(std::move(path)) {}

  template <class T>
  void operator()(const char* key, T& field, const char* /*doc*/ = "") {
    known_.push_back(key);
    if (!node_.IsMap()) return;
    const YAML::Node child = node_[key];
    if (child && !child.IsNull()) read_value(child, field, path_ + key);
  }

  // Every key of the YAML map must have been visited.
  void reject_unknown_keys() const {
    if (!node_ || node_.IsNull()) return;
    if (!node_.IsMap()) {
      fail("config key '", path_.empty() ? std::string("<root>") : path_.substr(0, path_.size() - 1),
           "' must be a map of settings, got ", describe_node(node_));
    }
    const std::set<std::string> known(known_.begin(), known_.end());
    for (const auto& entry : node_) {
      const auto key = entry.first.as<std::string>();
      if (!known.count(key)) fail_unknown_key(path_ + key, known_);
    }
  }

 private:
  YAML::Node node_;
  std::string path_;
  std::vector<std::string> known_;
};

template <class T>
void read_value(const YAML::Node& node, T& out, const std::string& key) {
  if constexpr (is_config<T>::value) {
    ConfigReader reader(node, key + ".");
    out.visit(reader);
    reader.reject_unknown_keys();
    if constexpr (has_validate<T>::value) out.validate(key);
  } else if constexpr (is_vector<T>::value) {
    if (!node.IsSequence()) fail("config key '", key, "' expects a list, got ", describe_node(node));
    out.clear();
    for (std::size_t i = 0; i < node.size(); ++i) {
      typename T::value_type item{};
      read_value(node[i], item, key + "[" + std::to_string(i) + "]");
      out.push_back(item);
    }
  } else {
    if (!node.IsScalar()) {
      fail("config key '", key, "' expects ", type_name<T>(), ", got ", describe_node(node));
    }
    try {
      out = node.as<T>();
    } catch (const YAML::Exception&) {
      fail("config key '", key, "' expects ", type_name<T>(), ", got '", node.Scalar(), "'");
    }
  }
}

class JsonWriter {
 public:
  explicit JsonWriter(nlohmann::json& out) : out_(out) {}
  template <class T>
  void operator()(const char* key, const T& field, const char* /*doc*/ = "") {
    out_[key] = to_json_value(field);
  }
  template <class T>
  static nlohmann::json to_json_value(const T& value) {
    if constexpr (is_config<T>::value) {
      nlohmann::json object = nlohmann::json::object();
      JsonWriter writer(object);
      const_cast<T&>(value).visit(writer);  // visit is shared with the reader, hence non-const
      return object;
    } else if constexpr (is_vector<T>::value) {
      nlohmann::json array = nlohmann::json::array();
      for (const auto& item : value) array.push_back(to_json_value(item));
      return array;
    } else {
      return value;
    }
  }

 private:
  nlohmann::json& out_;
};

}  // namespace detail

// Fills `config` from `node` (a YAML map; null keeps every default). Throws dreamdpo::Error on
// an unknown key, a wrong type or a failed validate().
template <class T>
void read_config(const YAML::Node& node, T& config) {
  detail::ConfigReader reader(node, "");
  config.visit(reader);
  reader.reject_unknown_keys();
  if constexpr (detail::has_validate<T>::value) config.validate("");
}

template <class T>
nlohmann::json config_to_json(const T& config) {
  return detail::JsonWriter::to_json_value(config);
}

// Joins a parent key path and a field name for validate() messages: key_path("", "tau") ==
// "tau", key_path("guidance", "tau") == "guidance.tau".
inline std::string key_path(const std::string& parent, const std::string& field) {
  return parent.empty() ? field : parent + "." + field;
}

}  // namespace dreamdpo::core
