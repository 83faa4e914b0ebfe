// Helpers shared by the tests.
#pragma once
#include <functional>
#include <string>

#include "core/error.h"

namespace dreamdpo::testing_helpers {

// The message of the dreamdpo::Error that `f` throws, or "" when it throws none.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace dreamdpo::testing_helpers
