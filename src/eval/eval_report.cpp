#include "eval/eval_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "core/atomic_file.h"
#include "eval/statistics.h"
#include "generate/report_html.h"

namespace dreamdpo::eval {
namespace fs = std::filesystem;

namespace {

std::string number(double v, const char* format = "%.3f") {
  if (!std::isfinite(v)) return "";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, format, v);
  return buffer;
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::vector<double> column(const std::vector<RunRecord>& records, const std::string& method, const std::string& metric) {
  std::vector<double> out;
  for (const auto& r : records) {
    if (r.method == method) out.push_back(r.metrics.count(metric) ? r.metrics.at(metric) : NAN);
  }
  return out;
}

// Values of `metric` for (prompt, seed) pairs present for both methods, in the same order.
std::pair<std::vector<double>, std::vector<double>> paired(const std::vector<RunRecord>& records, const std::string& a,
                                                           const std::string& b, const std::string& metric) {
  std::map<std::pair<std::string, int64_t>, double> first, second;
  for (const auto& r : records) {
    const double v = r.metrics.count(metric) ? r.metrics.at(metric) : NAN;
    if (r.method == a) first[{r.prompt, r.seed}] = v;
    if (r.method == b) second[{r.prompt, r.seed}] = v;
  }
  std::pair<std::vector<double>, std::vector<double>> out;
  for (const auto& [key, v] : first) {
    if (second.count(key)) out.first.push_back(v), out.second.push_back(second.at(key));
  }
  return out;
}

std::string interval_text(const Interval& i) {
  if (i.n == 0) return "–";
  if (i.n < 2) return number(i.mean) + " (n=1)";
  return number(i.mean) + " [" + number(i.low) + ", " + number(i.high) + "] (n=" + std::to_string(i.n) + ")";
}

// Horizontal bars with 95% whiskers, one per method, for one metric.
std::string bar_chart(const std::string& title, const std::vector<std::string>& labels, const std::vector<Interval>& values) {
  constexpr double kWidth = 360, kRow = 26, kLeft = 90, kRight = 20, kTop = 24;
  double lo = 0, hi = 0;
  for (const auto& v : values) {
    for (double x : {v.mean, v.low, v.high}) {
      if (std::isfinite(x)) lo = std::min(lo, x), hi = std::max(hi, x);
    }
  }
  if (hi == lo) hi = lo + 1;
  const double height = kTop + kRow * static_cast<double>(values.size()) + 20;
  auto px = [&](double x) { return kLeft + (x - lo) / (hi - lo) * (kWidth - kLeft - kRight); };
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kWidth << "\" height=\"" << height
      << "\" font-family=\"sans-serif\" font-size=\"11\"><text x=\"4\" y=\"15\" font-size=\"13\">"
      << generate::html_escape(title) << "</text>";
  for (size_t i = 0; i < values.size(); ++i) {
    const double y = kTop + kRow * static_cast<double>(i);
    svg << "<text x=\"4\" y=\"" << y + 14 << "\">" << generate::html_escape(labels[i]) << "</text>";
    if (!std::isfinite(values[i].mean)) continue;
    const double x0 = px(0), x1 = px(values[i].mean);
    svg << "<rect x=\"" << std::min(x0, x1) << "\" y=\"" << y + 3 << "\" width=\"" << std::abs(x1 - x0)
        << "\" height=\"16\" fill=\"" << (i == 0 ? "#8fb4e8" : "#1f6feb") << "\"/>";
    if (std::isfinite(values[i].low)) {
      svg << "<line x1=\"" << px(values[i].low) << "\" x2=\"" << px(values[i].high) << "\" y1=\"" << y + 11
          << "\" y2=\"" << y + 11 << "\" stroke=\"#222\"/>";
    }
    svg << "<text x=\"" << kWidth - kRight << "\" y=\"" << y + 14 << "\" text-anchor=\"end\">" << number(values[i].mean)
        << "</text>";
  }
  svg << "</svg>";
  return svg.str();
}

}  // namespace

void write_results_csv(const fs::path& path, const std::vector<RunRecord>& records, const std::vector<std::string>& metrics) {
  std::ostringstream out;
  out << "prompt,method,seed,run,seconds";
  for (const auto& m : metrics) out << "," << m;
  out << "\n";
  for (const auto& r : records) {
    out << csv_field(r.prompt) << "," << r.method << "," << r.seed << "," << csv_field(r.run.string()) << ","
        << number(r.seconds, "%.2f");
    for (const auto& m : metrics) out << "," << number(r.metrics.count(m) ? r.metrics.at(m) : NAN, "%.6g");
    out << "\n";
  }
  core::write_file_atomic(path, out.str());
}

std::string eval_table_markdown(const std::vector<RunRecord>& records, const std::vector<std::string>& methods,
                                const std::vector<std::string>& metrics) {
  // Every variant after the first is also compared with the first (the baseline), paired.
  std::ostringstream md;
  md << "| metric |";
  for (const auto& m : methods) md << " " << m << " |";
  for (size_t v = 1; v < methods.size(); ++v) md << " " << methods[v] << " − " << methods[0] << " (paired) |";
  md << "\n|---|";
  for (size_t i = 0; i < 2 * methods.size() - 1; ++i) md << "---|";
  md << "\n";
  for (const auto& metric : metrics) {
    md << "| " << metric << " |";
    for (const auto& m : methods) md << " " << interval_text(mean_ci95(column(records, m, metric))) << " |";
    for (size_t v = 1; v < methods.size(); ++v) {
      const auto [variant, baseline] = paired(records, methods[v], methods[0], metric);
      md << " " << interval_text(paired_difference_ci95(variant, baseline)) << " |";
    }
    md << "\n";
  }
  return md.str();
}

TableFiles write_eval_tables(const fs::path& dir, const std::vector<RunRecord>& records,
                             const std::vector<std::string>& methods, const std::vector<std::string>& metrics) {
  TableFiles files{dir / "table.md", dir / "table.csv"};
  core::write_file_atomic(files.markdown, eval_table_markdown(records, methods, metrics));
  std::ostringstream csv;
  csv << "metric,method,mean,low,high,n\n";
  auto line = [&](const std::string& metric, const std::string& method, const Interval& i) {
    csv << metric << "," << method << "," << number(i.mean, "%.6g") << "," << number(i.low, "%.6g") << ","
        << number(i.high, "%.6g") << "," << i.n << "\n";
  };
  for (const auto& metric : metrics) {
    for (const auto& m : methods) line(metric, m, mean_ci95(column(records, m, metric)));
    for (size_t v = 1; v < methods.size(); ++v) {
      const auto [variant, baseline] = paired(records, methods[v], methods[0], metric);
      line(metric, methods[v] + "-" + methods[0], paired_difference_ci95(variant, baseline));
    }
  }
  core::write_file_atomic(files.csv, csv.str());
  return files;
}

fs::path write_eval_html(const fs::path& dir, const std::vector<RunRecord>& records,
                         const std::vector<std::string>& methods, const std::vector<std::string>& metrics) {
  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>dreamdpo eval</title><style>"
       << "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse}"
       << "td,th{border-bottom:1px solid #eee;padding:4px 8px;vertical-align:top;text-align:left}"
       << "img{image-rendering:pixelated;width:160px}.plots{display:flex;flex-wrap:wrap;gap:.5rem}"
       << ".m{font-size:11px;color:#555}</style></head><body><h1>dreamdpo evaluation</h1>\n<div class=\"plots\">";
  for (const auto& metric : metrics) {
    std::vector<Interval> values;
    for (const auto& m : methods) values.push_back(mean_ci95(column(records, m, metric)));
    if (std::none_of(values.begin(), values.end(), [](const Interval& i) { return i.n > 0; })) continue;
    html << bar_chart(metric, methods, values);
  }
  html << "</div>\n<h2>Per prompt (first seed)</h2><table><tr><th>prompt</th>";
  for (const auto& m : methods) html << "<th>" << generate::html_escape(m) << "</th>";
  html << "</tr>\n";
  std::vector<std::string> prompts;
  for (const auto& r : records) {
    if (std::find(prompts.begin(), prompts.end(), r.prompt) == prompts.end()) prompts.push_back(r.prompt);
  }
  for (const auto& prompt : prompts) {
    html << "<tr><td>" << generate::html_escape(prompt) << "</td>";
    for (const auto& m : methods) {
      html << "<td>";
      for (const auto& r : records) {
        if (r.prompt != prompt || r.method != m || r.seed != records.front().seed) continue;
        const auto turntable_png = r.run / "turntable.png", turntable_mp4 = r.run / "turntable.mp4";
        if (fs::exists(dir / turntable_mp4)) {
          html << "<video src=\"" << generate::html_escape(turntable_mp4.generic_string())
               << "\" autoplay loop muted playsinline width=\"160\"></video>";
        } else {
          html << "<img src=\"" << generate::html_escape(turntable_png.generic_string()) << "\" alt=\"turntable\">";
        }
        html << "<div class=\"m\">";
        for (const auto& metric : metrics) {
          const double v = r.metrics.count(metric) ? r.metrics.at(metric) : NAN;
          if (std::isfinite(v)) html << generate::html_escape(metric) << " " << number(v) << "<br>";
        }
        html << "</div>";
      }
      html << "</td>";
    }
    html << "</tr>\n";
  }
  html << "</table>\n<h2>Table (95% intervals)</h2><pre>" << generate::html_escape(eval_table_markdown(records, methods, metrics))
       << "</pre></body></html>\n";
  const auto path = dir / "index.html";
  core::write_file_atomic(path, html.str());
  return path;
}

}  // namespace dreamdpo::eval
