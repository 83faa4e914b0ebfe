#include "core/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "core/log.h"

namespace dreamdpo::core {

Progress::Progress(std::string label, int64_t total, Style style)
    : label_(std::move(label)), total_(std::max<int64_t>(total, 1)), style_(style) {
  if (style_ == Style::kAuto) style_ = ::isatty(STDERR_FILENO) ? Style::kBar : Style::kLines;
  if (log_level() > LogLevel::kInfo) style_ = Style::kSilent;
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

Progress::~Progress() {
  if (!finished_ && style_ == Style::kBar) std::fputc('\n', stderr);
}

std::string Progress::format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "?";
  const auto s = static_cast<int64_t>(seconds + 0.5);
  char buffer[32];
  if (s < 60) {
    std::snprintf(buffer, sizeof buffer, "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(buffer, sizeof buffer, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else {
    std::snprintf(buffer, sizeof buffer, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>((s % 3600) / 60));
  }
  return buffer;
}

void Progress::update(int64_t done, const std::string& status) {
  if (style_ == Style::kSilent || finished_) return;
  const auto now = std::chrono::steady_clock::now();
  const double since_draw = std::chrono::duration<double>(now - last_draw_).count();
  if (style_ == Style::kBar) {
    if (since_draw < 0.1 && done < total_) return;  // redraw at most 10 times a second
  } else {
    // Plain lines: every 10% of the work, or every 30 s, whichever comes first.
    const int64_t step = std::max<int64_t>(total_ / 10, 1);
    const bool milestone = done / step != last_line_done_ / step;
    if (!milestone && since_draw < 30 && done < total_) return;
  }
  last_draw_ = now;
  last_line_done_ = done;
  draw(done, status, false);
}

void Progress::finish(const std::string& status) {
  if (finished_) return;
  // Plain lines already reported the last step unless there is something new to say.
  const bool already_reported = style_ == Style::kLines && last_line_done_ == total_ && status.empty();
  if (style_ != Style::kSilent && !already_reported) draw(total_, status, true);
  finished_ = true;
}

void Progress::draw(int64_t done, const std::string& status, bool final) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double fraction = std::clamp(static_cast<double>(done) / static_cast<double>(total_), 0.0, 1.0);
  const double eta = done > 0 ? elapsed * (total_ - done) / static_cast<double>(done) : -1;
  const std::string timing = final ? format_duration(elapsed)
                                   : format_duration(elapsed) + "<" + format_duration(eta);
  if (style_ == Style::kBar) {
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(fraction * kWidth);
    std::string bar(filled, '#');
    bar.resize(kWidth, '.');
    std::fprintf(stderr, "\r\033[K%s [%s] %lld/%lld %3d%% %s %s%s", label_.c_str(), bar.c_str(),
                 static_cast<long long>(done), static_cast<long long>(total_),
                 static_cast<int>(fraction * 100), timing.c_str(), status.c_str(), final ? "\n" : "");
    std::fflush(stderr);
  } else {
    log_info(label_, " ", done, "/", total_, " (", static_cast<int>(fraction * 100), "%) ", timing,
             status.empty() ? "" : " ", status);
  }
}

}  // namespace dreamdpo::core
