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

  // A burst at start-up: no gap yet, so the burst over one half-life, never the 1 us floor.
  EwmaRateEstimator burst(2.0);
  CHECK(burst.Observe(At(3.0)) == 0.0);
  CHECK(burst.Observe(At(3.0)) == Approx(0.5));
  CHECK(burst.Observe(At(3.0)) == Approx(1.0));
  CHECK(burst.Observe(At(3.5)) == Approx(2.0));  // the first positive gap, 0.5 s, takes over
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
                    Catch::Contains("r.yaml:1:7: at 'kind': unknown rate estimator 'oracle'; valid: last_k, last_k_v2, ewma, two_scale, true"));
}

}  // namespace bestserve

namespace bestserve {

TEST_CASE("last_k_v2 equals last_k on a fine clock and counts one grid cell on a coarse one", "[sim][rate]") {
  // Gaps of at least the resolution: the paper's estimate, bit for bit.
  LastKRateEstimator paper(5);
  LastKV2RateEstimator v2(5, 1e-3);
  Rng rng(9);
  double t = 0.0;
  for (int i = 0; i < 1000; ++i) {
    t += 0.002 + rng.Exponential(4.0);
    const double a = paper.Observe(At(t));
    const double b = v2.Observe(At(t));
    REQUIRE(a == b);
  }
  // 100 arrivals at one timestamp of a one-second grid: the i-th sees i arrivals in the cell.
  LastKV2RateEstimator coarse(5, 1.0);
  CHECK(coarse.Observe(At(5.0)) == 0.0);  // start-up: nothing known
  for (int i = 2; i <= 100; ++i) CHECK(coarse.Observe(At(5.0)) == Approx(static_cast<double>(i)));
  // The next tick: the last 5 gaps span 1 s, the last_k estimate 5 / 1.
  CHECK(coarse.Observe(At(6.0)) == Approx(5.0));
  // The paper's estimator on the same stream: the 1 us floor.
  LastKRateEstimator floored(5);
  for (int i = 0; i < 10; ++i) floored.Observe(At(5.0));
  CHECK(floored.Observe(At(5.0)) == Approx(5e6));
  CHECK(MakeRateEstimator(ConfigNode::LoadString("kind: last_k_v2\nresolution_s: 1", "r.yaml"))->Describe() ==
        "last_k_v2(k=5,resolution_s=1)");
}

TEST_CASE("two_scale is the larger of two decayed counts of earlier arrivals", "[sim][rate]") {
  TwoScaleRateEstimator e(1.0, 2.0);
  CHECK(e.Observe(At(0.0)) == 0.0);
  // t = 1: fast 2^-1 ln2 / 1 = 0.3466; slow 2^-0.5 ln2 / 2 = 0.2451.
  CHECK(e.Observe(At(1.0)) == Approx(0.5 * std::log(2.0)));
  // A simultaneous arrival counts 1 more, undecayed: fast (0.5 + 1) ln2.
  CHECK(e.Observe(At(1.0)) == Approx(1.5 * std::log(2.0)));
  // After a 10 s lull the slow scale dominates: fast 2.5 * 2^-10 ln2; slow 2.5 * 2^-5 ln2 / 2.
  const double slow = (std::pow(2.0, -0.5) + 2.0) * std::pow(2.0, -5.0) * std::log(2.0) / 2.0;
  CHECK(e.Observe(At(11.0)) == Approx(slow));
  CHECK(e.Describe() == "two_scale(fast_half_life_s=1,slow_half_life_s=2)");
  CHECK_THROWS_WITH(
      MakeRateEstimator(ConfigNode::LoadString("kind: two_scale\nfast_half_life_s: 5\nslow_half_life_s: 1", "r.yaml")),
      Catch::Contains("slow_half_life_s >= fast_half_life_s"));
}

TEST_CASE("a decayed count of a Poisson stream has mean rate (1 - 2^(-t/h))", "[sim][rate][statistical]") {
  // Palm mean of the decayed count of earlier arrivals at an arrival: L h / ln2 (1 - 2^(-t/h)).
  const double rate = 20.0;
  const double half_life = 0.5;
  Rng rng(17);
  double sum = 0.0;
  double sum_sq = 0.0;
  int counted = 0;
  for (int run = 0; run < 400; ++run) {
    TwoScaleRateEstimator e(half_life, half_life);
    double t = 0.0;
    double estimate = 0.0;
    // The estimate at the first arrival after t = 5 half-lives.
    while (t < 5.0 * half_life) {
      t += rng.Exponential(rate);
      estimate = e.Observe(At(t));
    }
    sum += estimate;
    sum_sq += estimate * estimate;
    ++counted;
  }
  const double mean = sum / counted;
  const double sd = std::sqrt(sum_sq / counted - mean * mean);
  // The first arrival after 2.5 s lies a little past it; 2^-5 of ramp-up left at most.
  const double expected = rate * (1.0 - std::pow(2.0, -5.0));
  CHECK(std::abs(mean - expected) < 4.0 * sd / std::sqrt(counted) + rate * std::pow(2.0, -5.0));
}

}  // namespace bestserve
