// Small statistics for paired comparisons across seeds.
//
// Paired difference (common random numbers: the cells of a pair share their arrival sequence):
// for seeds s = 1..n with both cells present, d_s = x(router, s) - x(reference, s);
//   mean  = (1/n) sum d_s
//   sd    = sqrt( sum (d_s - mean)^2 / (n - 1) )               (sample standard deviation)
//   CI    = mean -/+ t_{1-alpha/2, n-1} * sd / sqrt(n)           (two-sided, Student t)
// With n = 1 the spread and the interval are undefined (reported as empty / null).
//
// Student t quantiles are computed, not tabulated: the CDF through the regularized incomplete
// beta function (continued fraction, modified Lentz), inverted by bisection, and rounded to 9
// significant digits so that the bytes written do not hang on the last bit of lgamma/exp on a
// given platform. Checked against table values in tests/sweep/stats_test.cpp.
#pragma once

#include <cstdint>
#include <vector>

namespace bestserve::sweep {

// P(T <= t) for Student's t with `df` > 0 degrees of freedom.
double StudentTCdf(double t, double df);
// The p-quantile (0 < p < 1) of Student's t with `df` > 0 degrees of freedom.
double StudentTQuantile(double p, double df);

struct PairedDifference {
  int64_t n = 0;
  double mean = 0.0;
  double sd = 0.0;          // NaN when n < 2
  double t_quantile = 0.0;  // NaN when n < 2
  double ci_low = 0.0;      // NaN when n < 2
  double ci_high = 0.0;     // NaN when n < 2
};

// Mean difference of `differences` with a two-sided `confidence` interval (0.95: 95%).
PairedDifference SummarizeDifferences(const std::vector<double>& differences, double confidence = 0.95);

}  // namespace bestserve::sweep
