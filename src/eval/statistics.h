// Means with 95% confidence intervals (Student t), plain and paired, for evaluation tables.
#pragma once
#include <vector>

namespace dreamdpo::eval {

struct Interval {
  double mean = 0, low = 0, high = 0;  // NaN bounds when n < 2
  int n = 0;                            // finite values used
};

// Over the finite values (NaN = "not applicable" is skipped).
Interval mean_ci95(const std::vector<double>& values);
// Of a[i] - b[i] over the pairs where both are finite (paired by seed and prompt).
Interval paired_difference_ci95(const std::vector<double>& a, const std::vector<double>& b);
// Two-sided 97.5% quantile of Student's t with `dof` degrees of freedom (>= 1).
double t_quantile_975(int dof);

}  // namespace dreamdpo::eval
