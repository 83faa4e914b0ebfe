// The outputs of `dreamdpo eval`: per-run results, the summary table (markdown and CSV: mean and
// 95% interval per method, and DreamDPO - SDS paired by prompt and seed), and an HTML page with
// the plots and every prompt's results side by side.
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace dreamdpo::eval {

struct RunRecord {
  std::string prompt, method;
  int64_t seed = 0;
  std::filesystem::path run;  // relative to the eval folder
  double seconds = 0;
  std::map<std::string, double> metrics;  // NaN = not applicable
};

struct TableFiles {
  std::filesystem::path markdown, csv;
};

void write_results_csv(const std::filesystem::path& path, const std::vector<RunRecord>& records,
                       const std::vector<std::string>& metrics);
TableFiles write_eval_tables(const std::filesystem::path& dir, const std::vector<RunRecord>& records,
                             const std::vector<std::string>& methods, const std::vector<std::string>& metrics);
std::filesystem::path write_eval_html(const std::filesystem::path& dir, const std::vector<RunRecord>& records,
                                      const std::vector<std::string>& methods, const std::vector<std::string>& metrics);

// The markdown table alone (for tests and the README).
std::string eval_table_markdown(const std::vector<RunRecord>& records, const std::vector<std::string>& methods,
                                const std::vector<std::string>& metrics);

}  // namespace dreamdpo::eval
