// report.html: one self-contained page per run (images inlined as data: URIs, plots as inline
// SVG, no scripts or network), so it can be mailed or opened anywhere.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/metrics_table.h"

namespace dreamdpo::generate {

struct ReportImage {
  std::string title;
  std::string mime;   // image/png, video/mp4, ...
  std::string bytes;  // file contents
};

struct ReportInputs {
  std::string prompt;
  nlohmann::json summary;  // shown as a key/value table
  nlohmann::json config;   // the resolved config
  const core::MetricsTable* metrics = nullptr;
  std::vector<std::string> plotted_columns;  // metrics columns drawn as curves (missing ones skipped)
  std::vector<ReportImage> media;
};

std::string render_report_html(const ReportInputs& inputs);

// An SVG line chart of y over x (NaNs leave gaps). Exposed for tests.
std::string svg_line_chart(const std::string& title, const std::vector<double>& x, const std::vector<double>& y);

// Escapes &, <, >, " and ' for HTML text and attributes.
std::string html_escape(const std::string& text);

}  // namespace dreamdpo::generate
