// Config presets compiled into the binary from configs/*.yaml (see CMakeLists.txt).
#pragma once
#include <string>
#include <vector>

namespace dreamdpo::core {

struct EmbeddedPreset {
  std::string name;      // file name without .yaml
  std::string yaml_text;
};

const std::vector<EmbeddedPreset>& embedded_presets();

}  // namespace dreamdpo::core
