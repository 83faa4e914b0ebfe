#include "eval/statistics.h"

#include <cmath>

#include "core/error.h"

namespace dreamdpo::eval {

double t_quantile_975(int dof) {
  check(dof >= 1, "t quantile: degrees of freedom must be >= 1");
  static const double kTable[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                  2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                                  2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  if (dof <= 30) return kTable[dof - 1];
  // Beyond the table: the normal quantile plus the first correction term of the expansion.
  return 1.959964 + (1.959964 * 1.959964 * 1.959964 + 1.959964) / (4.0 * dof);
}

Interval mean_ci95(const std::vector<double>& values) {
  Interval out;
  double sum = 0;
  for (double v : values) {
    if (std::isfinite(v)) sum += v, ++out.n;
  }
  if (out.n == 0) return {NAN, NAN, NAN, 0};
  out.mean = sum / out.n;
  if (out.n < 2) {
    out.low = out.high = NAN;
    return out;
  }
  double squares = 0;
  for (double v : values) {
    if (std::isfinite(v)) squares += (v - out.mean) * (v - out.mean);
  }
  const double half = t_quantile_975(out.n - 1) * std::sqrt(squares / (out.n - 1) / out.n);
  out.low = out.mean - half;
  out.high = out.mean + half;
  return out;
}

Interval paired_difference_ci95(const std::vector<double>& a, const std::vector<double>& b) {
  check(a.size() == b.size(), "paired difference: ", a.size(), " vs ", b.size(), " values");
  std::vector<double> difference;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isfinite(a[i]) && std::isfinite(b[i])) difference.push_back(a[i] - b[i]);
  }
  return mean_ci95(difference);
}

}  // namespace dreamdpo::eval
