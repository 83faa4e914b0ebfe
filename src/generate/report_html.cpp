#include "generate/report_html.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "core/base64.h"

namespace dreamdpo::generate {

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

namespace {
std::string number(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.4g", v);
  return buffer;
}
}  // namespace

std::string svg_line_chart(const std::string& title, const std::vector<double>& x, const std::vector<double>& y) {
  constexpr double kWidth = 360, kHeight = 200, kLeft = 52, kRight = 10, kTop = 24, kBottom = 26;
  double x_min = INFINITY, x_max = -INFINITY, y_min = INFINITY, y_max = -INFINITY;
  const size_t n = std::min(x.size(), y.size());
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i]) || !std::isfinite(y[i])) continue;
    x_min = std::min(x_min, x[i]), x_max = std::max(x_max, x[i]);
    y_min = std::min(y_min, y[i]), y_max = std::max(y_max, y[i]);
  }
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kWidth << "\" height=\"" << kHeight
      << "\" role=\"img\" aria-label=\"" << html_escape(title) << "\">";
  svg << "<text x=\"" << kLeft << "\" y=\"16\" font-size=\"13\" font-family=\"sans-serif\">" << html_escape(title)
      << "</text>";
  svg << "<rect x=\"" << kLeft << "\" y=\"" << kTop << "\" width=\"" << kWidth - kLeft - kRight << "\" height=\""
      << kHeight - kTop - kBottom << "\" fill=\"none\" stroke=\"#bbb\"/>";
  if (!std::isfinite(x_min)) {
    svg << "<text x=\"" << kWidth / 2 << "\" y=\"" << kHeight / 2 << "\" font-size=\"12\" text-anchor=\"middle\" "
        << "font-family=\"sans-serif\">no data</text></svg>";
    return svg.str();
  }
  if (x_max == x_min) x_max = x_min + 1;
  if (y_max == y_min) y_max = y_min + (y_min == 0 ? 1 : std::abs(y_min) * 0.1);
  auto px = [&](double v) { return kLeft + (v - x_min) / (x_max - x_min) * (kWidth - kLeft - kRight); };
  auto py = [&](double v) { return kHeight - kBottom - (v - y_min) / (y_max - y_min) * (kHeight - kTop - kBottom); };
  // A polyline per run of finite points, so missing values leave gaps.
  std::string points;
  auto flush = [&] {
    if (!points.empty()) svg << "<polyline fill=\"none\" stroke=\"#1f6feb\" stroke-width=\"1.2\" points=\"" << points << "\"/>";
    points.clear();
  };
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i]) || !std::isfinite(y[i])) {
      flush();
      continue;
    }
    points += number(px(x[i])) + "," + number(py(y[i])) + " ";
  }
  flush();
  svg << "<g font-size=\"10\" font-family=\"sans-serif\" fill=\"#444\">";
  svg << "<text x=\"" << kLeft - 4 << "\" y=\"" << kTop + 8 << "\" text-anchor=\"end\">" << number(y_max) << "</text>";
  svg << "<text x=\"" << kLeft - 4 << "\" y=\"" << kHeight - kBottom << "\" text-anchor=\"end\">" << number(y_min)
      << "</text>";
  svg << "<text x=\"" << kLeft << "\" y=\"" << kHeight - 8 << "\">" << number(x_min) << "</text>";
  svg << "<text x=\"" << kWidth - kRight << "\" y=\"" << kHeight - 8 << "\" text-anchor=\"end\">" << number(x_max)
      << "</text></g></svg>";
  return svg.str();
}

std::string render_report_html(const ReportInputs& inputs) {
  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
       << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
       << "<title>dreamdpo: " << html_escape(inputs.prompt) << "</title><style>"
       << "body{font-family:system-ui,sans-serif;margin:2rem;max-width:1100px;color:#222}"
       << "h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}"
       << ".media{display:flex;flex-wrap:wrap;gap:1rem}.media figure{margin:0}"
       << ".media img,.media video{image-rendering:pixelated;max-width:100%;border:1px solid #ddd}"
       << ".plots{display:flex;flex-wrap:wrap;gap:.5rem}table{border-collapse:collapse}"
       << "td{border-bottom:1px solid #eee;padding:2px 10px 2px 0;vertical-align:top}"
       << "pre{background:#f6f8fa;padding:1rem;overflow:auto;font-size:12px}</style></head><body>\n";
  html << "<h1>" << html_escape(inputs.prompt) << "</h1>\n";
  if (!inputs.media.empty()) {
    html << "<div class=\"media\">";
    for (const auto& m : inputs.media) {
      const auto uri = "data:" + m.mime + ";base64," + core::base64_encode(m.bytes);
      html << "<figure>";
      if (m.mime.rfind("video/", 0) == 0) {
        html << "<video src=\"" << uri << "\" autoplay loop muted playsinline controls></video>";
      } else {
        html << "<img src=\"" << uri << "\" alt=\"" << html_escape(m.title) << "\">";
      }
      html << "<figcaption>" << html_escape(m.title) << "</figcaption></figure>";
    }
    html << "</div>\n";
  }
  if (inputs.summary.is_object() && !inputs.summary.empty()) {
    html << "<h2>Summary</h2><table>";
    for (const auto& [key, value] : inputs.summary.items()) {
      html << "<tr><td>" << html_escape(key) << "</td><td>"
           << html_escape(value.is_string() ? value.get<std::string>() : value.dump()) << "</td></tr>";
    }
    html << "</table>\n";
  }
  if (inputs.metrics != nullptr && !inputs.metrics->rows().empty()) {
    html << "<h2>Metrics</h2><div class=\"plots\">";
    const auto& columns = inputs.metrics->columns();
    const auto steps = inputs.metrics->column("step");
    for (const auto& name : inputs.plotted_columns) {
      if (std::find(columns.begin(), columns.end(), name) == columns.end()) continue;
      html << svg_line_chart(name, steps, inputs.metrics->column(name));
    }
    html << "</div>\n";
  }
  html << "<h2>Configuration</h2><pre>" << html_escape(inputs.config.dump(2)) << "</pre>\n</body></html>\n";
  return html.str();
}

}  // namespace dreamdpo::generate
