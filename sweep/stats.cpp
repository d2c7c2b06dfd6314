#include "sweep/stats.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <string>

#include "common/error.h"

namespace bestserve::sweep {
namespace {

// Continued fraction of the incomplete beta function (the modified Lentz method; e.g. Press et
// al., Numerical Recipes, 3rd ed., section 6.4). Converges fast for x < (a + 1) / (a + b + 2).
double BetaContinuedFraction(double a, double b, double x) {
  constexpr double kTiny = 1e-300;
  constexpr double kEpsilon = 1e-16;
  double c = 1.0;
  double d = 1.0 - (a + b) * x / (a + 1.0);
  if (std::fabs(d) < kTiny) d = kTiny;
  d = 1.0 / d;
  double h = d;
  for (int m = 1; m <= 10000; ++m) {
    const double m2 = 2.0 * m;
    double aa = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
    d = 1.0 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1.0 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    h *= d * c;
    aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
    d = 1.0 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1.0 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1.0) < kEpsilon) break;
  }
  return h;
}

// The regularized incomplete beta function I_x(a, b).
double RegularizedBeta(double a, double b, double x) {
  if (x <= 0.0) return 0.0;
  if (x >= 1.0) return 1.0;
  const double log_front =
      std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
  const double front = std::exp(log_front);
  // The symmetry I_x(a, b) = 1 - I_{1-x}(b, a) keeps the fraction in its fast region.
  if (x < (a + 1.0) / (a + b + 2.0)) return front * BetaContinuedFraction(a, b, x) / a;
  return 1.0 - front * BetaContinuedFraction(b, a, 1.0 - x) / b;
}

double RoundSignificant(double value, int digits) {
  const std::string text = fmt::format("{:.{}g}", value, digits);
  double rounded = value;
  std::from_chars(text.data(), text.data() + text.size(), rounded);  // locale-free, unlike stod
  return rounded;
}

}  // namespace

double StudentTCdf(double t, double df) {
  BS_CHECK(df > 0.0);
  // P(|T| > |t|) = I_{df / (df + t^2)}(df / 2, 1 / 2).
  const double tail = 0.5 * RegularizedBeta(0.5 * df, 0.5, df / (df + t * t));
  return t >= 0.0 ? 1.0 - tail : tail;
}

double StudentTQuantile(double p, double df) {
  BS_CHECK(p > 0.0 && p < 1.0 && df > 0.0);
  if (p == 0.5) return 0.0;
  if (p < 0.5) return -StudentTQuantile(1.0 - p, df);
  // Bisection on [0, hi]: the CDF is monotone; 200 halvings reach the double's resolution.
  double lo = 0.0;
  double hi = 1.0;
  while (StudentTCdf(hi, df) < p) hi *= 2.0;
  for (int i = 0; i < 200 && hi - lo > 1e-15 * hi; ++i) {
    const double mid = 0.5 * (lo + hi);
    (StudentTCdf(mid, df) < p ? lo : hi) = mid;
  }
  return RoundSignificant(0.5 * (lo + hi), 9);
}

PairedDifference SummarizeDifferences(const std::vector<double>& differences, double confidence) {
  BS_CHECK(confidence > 0.0 && confidence < 1.0);
  PairedDifference out;
  out.n = static_cast<int64_t>(differences.size());
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (differences.empty()) {
    out.mean = out.sd = out.t_quantile = out.ci_low = out.ci_high = nan;
    return out;
  }
  double sum = 0.0;
  for (double d : differences) sum += d;
  out.mean = sum / static_cast<double>(out.n);
  if (out.n < 2) {
    out.sd = out.t_quantile = out.ci_low = out.ci_high = nan;
    return out;
  }
  double squares = 0.0;
  for (double d : differences) squares += (d - out.mean) * (d - out.mean);
  out.sd = std::sqrt(squares / static_cast<double>(out.n - 1));
  out.t_quantile = StudentTQuantile(0.5 + 0.5 * confidence, static_cast<double>(out.n - 1));
  const double half_width = out.t_quantile * out.sd / std::sqrt(static_cast<double>(out.n));
  out.ci_low = out.mean - half_width;
  out.ci_high = out.mean + half_width;
  return out;
}

}  // namespace bestserve::sweep
