// Facts about the build and machine recorded in every run.json.
#pragma once
#include <nlohmann/json.hpp>

namespace dreamdpo::generate {

nlohmann::json build_and_machine_info();

}  // namespace dreamdpo::generate
