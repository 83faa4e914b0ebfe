#include "core/metrics_table.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/atomic_file.h"
#include "core/error.h"

namespace dreamdpo::core {

MetricsTable::MetricsTable(std::vector<std::string> columns) : columns_(std::move(columns)) {}

void MetricsTable::add_row(const std::vector<double>& values) {
  check(values.size() == columns_.size(), "metrics row has ", values.size(), " values for ",
        columns_.size(), " columns");
  rows_.push_back(values);
}

std::vector<double> MetricsTable::column(const std::string& name) const {
  const auto it = std::find(columns_.begin(), columns_.end(), name);
  check(it != columns_.end(), "no metrics column '", name, "'");
  const auto index = static_cast<std::size_t>(it - columns_.begin());
  std::vector<double> values;
  values.reserve(rows_.size());
  for (const auto& row : rows_) values.push_back(row[index]);
  return values;
}

void MetricsTable::write_csv(const std::filesystem::path& path) const {
  std::string text;
  for (std::size_t i = 0; i < columns_.size(); ++i) text += (i ? "," : "") + columns_[i];
  text += '\n';
  char cell[64];
  for (const auto& row : rows_) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (i) text += ',';
      if (std::isnan(row[i])) continue;
      if (row[i] == std::floor(row[i]) && std::fabs(row[i]) < 1e15) {
        std::snprintf(cell, sizeof cell, "%lld", static_cast<long long>(row[i]));
      } else {
        std::snprintf(cell, sizeof cell, "%.9g", row[i]);
      }
      text += cell;
    }
    text += '\n';
  }
  write_file_atomic(path, text);
}

}  // namespace dreamdpo::core
