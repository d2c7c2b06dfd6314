// Rate estimators at hand-computed points, and their agreement with the Poisson rate.
#include <catch2/catch.hpp>

#include <cmath>

#include "common/rng.h"
#include "router/core/rate_estimator.h"

namespace bestserve {
namespace {

Request At(double t, double nominal = kUnset) {
  Request r;
  r.arrival_s = t;
  r.nominal_rate_rps = nominal;
  return r;
}

}  // namespace

TEST_CASE("last-k uses the last k gaps, or the gaps seen so far", "[sim][rate]") {
  LastKRateEstimator e(2);
  CHECK(e.Observe(At(0.0)) == 0.0);
  CHECK(e.Observe(At(1.0)) == Approx(1.0));
  CHECK(e.Observe(At(3.0)) == Approx(2.0 / 3.0));
  CHECK(e.Observe(At(6.0)) == Approx(2.0 / 5.0));
  CHECK(e.Observe(At(6.0)) == Approx(2.0 / 3.0));   // simultaneous arrivals are fine
  e.Reset();
  CHECK(e.Observe(At(10.0)) == 0.0);
  LastKRateEstimator same_time(5);
  same_time.Observe(At(1.0));
  CHECK(same_time.Observe(At(1.0)) == Approx(1e6));  // span floored at 1 us
}

TEST_CASE("the paper's last-5 estimate of a Poisson stream has the inverse-gamma mean rate * k / (k - 1)",
          "[sim][rate][statistical]") {
  // With k gaps, k / (sum of k exponential gaps) has mean rate * k / (k - 1): for k = 5 the
  // estimate overshoots by 25% on average. Check that closed form (inverse-gamma mean).
  const double rate = 4.0;
  const int n = 200000;
  Rng rng(3);
  LastKRateEstimator e(5);
  double t = 0.0;
  double sum = 0.0;
  int counted = 0;
  for (int i = 0; i < n; ++i) {
    t += rng.Exponential(rate);
    const double estimate = e.Observe(At(t));
    if (i >= 5) {
      sum += estimate;
      ++counted;
    }
  }
  const double mean = sum / counted;
  // Var of k/G with G ~ Gamma(k, rate): rate^2 k^2 / ((k-1)^2 (k-2)); estimates overlap, so
  // allow 5 SE with an effective sample size of counted / 5.
  const double k = 5.0;
  const double sd = rate * k / ((k - 1.0) * std::sqrt(k - 2.0));
  CHECK(std::abs(mean - rate * k / (k - 1.0)) < 5.0 * sd / std::sqrt(counted / 5.0));
}

TEST_CASE("the EWMA estimate weighs gaps by their age", "[sim][rate]") {
  EwmaRateEstimator e(1.0);
  CHECK(e.Observe(At(0.0)) == 0.0);
  CHECK(e.Observe(At(0.5)) == Approx(2.0));  // first gap: 0.5 s
  // Second gap 1.0 s: keep = 2^-1 = 0.5, mean gap = 0.5 * 0.5 + 0.5 * 1.0 = 0.75.
  CHECK(e.Observe(At(1.5)) == Approx(1.0 / 0.75));
}

TEST_CASE("the true-rate estimator reads the generator's rate and refuses traces without one", "[sim][rate]") {
  TrueRateEstimator e;
  CHECK(e.Observe(At(1.0, 7.5)) == 7.5);
  CHECK_THROWS_WITH(e.Observe(At(2.0)), Catch::Contains("needs the workload's nominal rate"));
}

TEST_CASE("rate estimator sections parse and reject unknown kinds", "[sim][rate]") {
  CHECK(MakeRateEstimator(std::nullopt)->Describe() == "last_k(k=5)");
  CHECK(MakeRateEstimator(ConfigNode::LoadString("kind: ewma\nhalf_life_s: 2", "r.yaml"))->Describe() ==
        "ewma(half_life_s=2)");
  CHECK_THROWS_WITH(MakeRateEstimator(ConfigNode::LoadString("kind: oracle", "r.yaml")),
                    Catch::Contains("r.yaml:1:7: at 'kind': unknown rate estimator 'oracle'; valid: last_k, ewma, true"));
}

}  // namespace bestserve
