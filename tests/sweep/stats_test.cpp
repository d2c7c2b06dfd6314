// Student t quantiles against published table values; paired differences by hand.
#include <catch2/catch.hpp>

#include <cmath>

#include "sweep/stats.h"

namespace bestserve::sweep {

TEST_CASE("Student t 97.5% quantiles match the table", "[sweep][stats]") {
  // Two-sided 95% critical values (e.g. Abramowitz & Stegun table 26.10; NIST handbook 1.3.6.7.2).
  const std::vector<std::pair<double, double>> table = {
      {1, 12.7062047}, {2, 4.30265273}, {3, 3.18244631}, {4, 2.77644511}, {5, 2.57058184},
      {9, 2.26215716}, {10, 2.22813885}, {29, 2.04522964}, {30, 2.04227246}, {100, 1.98397152},
  };
  for (const auto& [df, expected] : table) {
    INFO("df = " << df);
    CHECK(StudentTQuantile(0.975, df) == Approx(expected).epsilon(2e-9));
  }
  // Towards the normal limit z = 1.95996398: t = z + (z^3 + z) / (4 df) + O(1/df^2).
  CHECK(StudentTQuantile(0.975, 1e6) == Approx(1.95996398 + (7.52893 + 1.95996) / 4e6).epsilon(1e-8));
  CHECK(StudentTQuantile(0.995, 4) == Approx(4.60409487).epsilon(2e-9));
  CHECK(StudentTQuantile(0.025, 3) == -StudentTQuantile(0.975, 3));
  CHECK(StudentTQuantile(0.5, 3) == 0.0);
}

TEST_CASE("the t CDF is symmetric and exact where closed forms exist", "[sweep][stats]") {
  // df = 1 is the Cauchy distribution: F(t) = 1/2 + atan(t) / pi.
  for (double t : {-3.0, -0.5, 0.0, 0.7, 2.0, 10.0}) {
    CHECK(StudentTCdf(t, 1) == Approx(0.5 + std::atan(t) / M_PI).epsilon(1e-12));
    CHECK(StudentTCdf(t, 5) + StudentTCdf(-t, 5) == Approx(1.0).epsilon(1e-12));
  }
  // df = 2: F(t) = 1/2 + t / (2 sqrt(2 + t^2)).
  for (double t : {0.3, 1.0, 4.0}) CHECK(StudentTCdf(t, 2) == Approx(0.5 + t / (2 * std::sqrt(2 + t * t))).epsilon(1e-12));
}

TEST_CASE("paired differences: mean, sample sd and the t interval", "[sweep][stats]") {
  const PairedDifference d = SummarizeDifferences({1.0, 2.0, 3.0});
  CHECK(d.n == 3);
  CHECK(d.mean == 2.0);
  CHECK(d.sd == 1.0);
  CHECK(d.t_quantile == 4.30265273);
  CHECK(d.ci_low == Approx(2.0 - 4.30265273 / std::sqrt(3.0)).epsilon(1e-15));
  CHECK(d.ci_high == Approx(2.0 + 4.30265273 / std::sqrt(3.0)).epsilon(1e-15));
  const PairedDifference one = SummarizeDifferences({0.25});
  CHECK(one.n == 1);
  CHECK(one.mean == 0.25);
  CHECK(std::isnan(one.sd));
  CHECK(std::isnan(one.ci_low));
  CHECK(SummarizeDifferences({}).n == 0);
  const PairedDifference same = SummarizeDifferences({0.5, 0.5, 0.5, 0.5});
  CHECK(same.sd == 0.0);
  CHECK(same.ci_low == 0.5);
  CHECK(same.ci_high == 0.5);
}

}  // namespace bestserve::sweep
