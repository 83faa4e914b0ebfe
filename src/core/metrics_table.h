// Per-step metrics kept in memory and flushed to CSV atomically, so metrics.csv is always a
// complete table even if the run is interrupted.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace dreamdpo::core {

class MetricsTable {
 public:
  explicit MetricsTable(std::vector<std::string> columns);

  // One value per column; NaN is written as an empty cell.
  void add_row(const std::vector<double>& values);
  void write_csv(const std::filesystem::path& path) const;

  const std::vector<std::string>& columns() const { return columns_; }
  const std::vector<std::vector<double>>& rows() const { return rows_; }
  // All values of one column (throws for an unknown name).
  std::vector<double> column(const std::string& name) const;

 private:
  std::vector<std::string> columns_;
  std::vector<std::vector<double>> rows_;
};

}  // namespace dreamdpo::core
