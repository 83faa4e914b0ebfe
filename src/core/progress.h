// Progress of long work: a redrawn bar with rate and ETA on a terminal, plain periodic log
// lines otherwise (so CI logs and redirected output stay readable).
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace dreamdpo::core {

class Progress {
 public:
  enum class Style { kAuto, kBar, kLines, kSilent };

  Progress(std::string label, int64_t total, Style style = Style::kAuto);
  ~Progress();

  // Reports that `done` of `total` units are finished; `status` is appended (e.g. "loss 0.3").
  void update(int64_t done, const std::string& status = "");
  void finish(const std::string& status = "");

  // Human-readable duration: "42s", "3m05s", "1h02m".
  static std::string format_duration(double seconds);

 private:
  void draw(int64_t done, const std::string& status, bool final);

  std::string label_;
  int64_t total_;
  Style style_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  int64_t last_line_done_ = -1;
};

}  // namespace dreamdpo::core
