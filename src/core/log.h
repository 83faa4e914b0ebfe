// Minimal leveled logging to stderr. Lines are prefixed with the level so that logs from
// non-TTY runs stay greppable.
#pragma once
#include <sstream>
#include <string>

namespace dreamdpo::core {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kQuiet = 4 };

void set_log_level(LogLevel level);
LogLevel log_level();
void log_line(LogLevel level, const std::string& message);

template <class... Parts>
void log(LogLevel level, Parts&&... parts) {
  if (level < log_level()) return;
  std::ostringstream message;
  (message << ... << parts);
  log_line(level, message.str());
}
template <class... Parts> void log_info(Parts&&... p) { log(LogLevel::kInfo, p...); }
template <class... Parts> void log_warn(Parts&&... p) { log(LogLevel::kWarn, p...); }
template <class... Parts> void log_debug(Parts&&... p) { log(LogLevel::kDebug, p...); }

}  // namespace dreamdpo::core
