// Statistical checks of the stable (Poisson) and the paper's unpredictable workloads.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "tests/workloads/test_support.h"
#include "workloads/poisson.h"
#include "workloads/registry.h"
#include "workloads/unpredictable.h"

namespace bestserve {
namespace {

using testing::kSigmas;
using testing::TestTasks;
using testing::Yaml;

Workload Make(const std::string& yaml, uint64_t seed, const TaskTable& tasks) {
  return MakeWorkloadGenerator(Yaml(yaml), "")->Generate(WorkloadContext{&tasks, seed});
}

TEST_CASE("Poisson gaps have mean 1/rate and pass a Kolmogorov-Smirnov test against Exp(rate)",
          "[workloads][statistical]") {
  const TaskTable tasks = TestTasks();
  const double rate = 7.5;
  const Workload w = Make("{kind: poisson, rate_rps: 7.5, num_requests: 200000}", 11, tasks);
  REQUIRE(w.size() == 200000);
  std::vector<double> gaps;
  double previous = 0.0;  // start_s: the first gap runs from the origin
  for (const Request& r : w) {
    gaps.push_back(r.arrival_s - previous);
    previous = r.arrival_s;
  }
  double sum = 0.0;
  for (double g : gaps) sum += g;
  const double mean = sum / static_cast<double>(gaps.size());
  // Exp(rate) has sd 1/rate, so the sample mean's standard error is 1/(rate sqrt(n)).
  const double se = 1.0 / (rate * std::sqrt(static_cast<double>(gaps.size())));
  CHECK(std::abs(mean - 1.0 / rate) < kSigmas * se);
  const double d =
      testing::KolmogorovSmirnov(gaps, [&](double x) { return 1.0 - std::exp(-rate * x); });
  CHECK(std::sqrt(static_cast<double>(gaps.size())) * d <
        testing::KsCriticalValue(testing::kKsAlpha));
}

TEST_CASE("The Kolmogorov-Smirnov check rejects gaps at the wrong rate",
          "[workloads][statistical]") {
  // The test above has power: the same sample against a rate 2% off fails decisively.
  const TaskTable tasks = TestTasks();
  const Workload w = Make("{kind: poisson, rate_rps: 7.5, num_requests: 200000}", 11, tasks);
  std::vector<double> gaps;
  double previous = 0.0;
  for (const Request& r : w) {
    gaps.push_back(r.arrival_s - previous);
    previous = r.arrival_s;
  }
  const double d =
      testing::KolmogorovSmirnov(gaps, [](double x) { return 1.0 - std::exp(-7.65 * x); });
  CHECK(std::sqrt(static_cast<double>(gaps.size())) * d >
        testing::KsCriticalValue(testing::kKsAlpha));
}

TEST_CASE("A duration-bounded Poisson workload has a Poisson count and ends before the duration",
          "[workloads][statistical]") {
  const TaskTable tasks = TestTasks();
  const Workload w = Make("{kind: poisson, rate_rps: 48, duration_s: 2000, start_s: 5}", 3, tasks);
  const double expected = 48.0 * 2000.0;
  CHECK(std::abs(static_cast<double>(w.size()) - expected) < kSigmas * std::sqrt(expected));
  CHECK(w.front().arrival_s > 5.0);
  CHECK(w.back().arrival_s < 2005.0);
  for (const Request& r : w) REQUIRE(r.nominal_rate_rps == 48.0);
}

TEST_CASE(
    "Unpredictable #1 has exactly 10,000 requests, rates in the paper's bands, and nominal "
    "rates equal to the segment rate",
    "[workloads][statistical]") {
  const TaskTable tasks = TestTasks();
  const Workload w = Make("{kind: unpredictable1}", 1, tasks);
  REQUIRE(w.size() == 10000);
  for (size_t i = 0; i < w.size(); ++i) {
    REQUIRE(w[i].id == static_cast<int64_t>(i));
    REQUIRE(w[i].nominal_rate_rps >= 0.25);
    REQUIRE(w[i].nominal_rate_rps < 48.0);
    if (i > 0) REQUIRE(w[i].arrival_s >= w[i - 1].arrival_s);
  }
  CHECK(Make("{kind: unpredictable2}", 1, tasks).size() == 10000);
}

TEST_CASE("Unpredictable #1 picks the three rate bands with probabilities 0.90, 0.08, 0.02",
          "[workloads][statistical]") {
  const SegmentedRateSettings settings = SegmentedRateSettings::Unpredictable1();
  RateSegmentSampler sampler(settings, 2024);
  constexpr int kSegments = 200000;
  int64_t counts[3] = {0, 0, 0};
  for (int i = 0; i < kSegments; ++i) {
    const double r = sampler.Next().rate_rps;
    REQUIRE(r >= 0.25);
    REQUIRE(r < 48.0);
    ++counts[r < 2.0 ? 0 : (r < 40.0 ? 1 : 2)];
  }
  const double p[3] = {0.90, 0.08, 0.02};
  for (int b = 0; b < 3; ++b) {
    // Binomial proportion: standard error sqrt(p (1 - p) / n).
    const double se = std::sqrt(p[b] * (1.0 - p[b]) / kSegments);
    CHECK(std::abs(static_cast<double>(counts[b]) / kSegments - p[b]) < kSigmas * se);
  }
}

// Splits a workload into its segments by nominal-rate changes (rates are continuous, so two
// consecutive segments share a rate with probability 0) and drops the last, truncated one.
struct Segment {
  double rate;
  int64_t requests;
};
std::vector<Segment> Segments(const Workload& w) {
  std::vector<Segment> out;
  for (const Request& r : w) {
    if (out.empty() || out.back().rate != r.nominal_rate_rps)
      out.push_back({r.nominal_rate_rps, 0});
    ++out.back().requests;
  }
  out.pop_back();
  return out;
}

TEST_CASE(
    "Unpredictable #1 segments are geometric on {1, 2, ...} with mean 20 x rate, in the "
    "generated workload",
    "[workloads][statistical]") {
  const TaskTable tasks = TestTasks();
  const Workload w = Make("{kind: unpredictable1, num_requests: 1000000}", 5, tasks);
  const std::vector<Segment> segments = Segments(w);
  REQUIRE(segments.size() > 10000);
  // n_i / m_i has mean 1 and variance (1 - p_i)/(p_i m_i)^2 = 1 - 1/m_i for a geometric on
  // {1, 2, ...} with mean m_i = 20 r_i; the mean of the ratios has variance sum(1 - 1/m_i) / N^2.
  double ratio_sum = 0.0, variance_sum = 0.0;
  int64_t bands[3] = {0, 0, 0};
  for (const Segment& s : segments) {
    const double m = 20.0 * s.rate;
    REQUIRE(s.requests >= 1);
    ratio_sum += static_cast<double>(s.requests) / m;
    variance_sum += 1.0 - 1.0 / m;
    ++bands[s.rate < 2.0 ? 0 : (s.rate < 40.0 ? 1 : 2)];
  }
  const auto n = static_cast<double>(segments.size());
  CHECK(std::abs(ratio_sum / n - 1.0) < kSigmas * std::sqrt(variance_sum) / n);
  // The band proportions hold in the workload too (each segment is one independent pick).
  const double p[3] = {0.90, 0.08, 0.02};
  for (int b = 0; b < 3; ++b) {
    CHECK(std::abs(static_cast<double>(bands[b]) / n - p[b]) <
          kSigmas * std::sqrt(p[b] * (1 - p[b]) / n));
  }
}

TEST_CASE("Unpredictable #2 segments are geometric with mean 500 and rates uniform in [1, 48]",
          "[workloads][statistical]") {
  const SegmentedRateSettings settings = SegmentedRateSettings::Unpredictable2();
  RateSegmentSampler sampler(settings, 77);
  constexpr int kSegments = 100000;
  double length_sum = 0.0, rate_sum = 0.0;
  for (int i = 0; i < kSegments; ++i) {
    const RateSegment s = sampler.Next();
    REQUIRE(s.requests >= 1);
    REQUIRE(s.rate_rps >= 1.0);
    REQUIRE(s.rate_rps < 48.0);
    length_sum += static_cast<double>(s.requests);
    rate_sum += s.rate_rps;
  }
  // Geometric mean 500: sd sqrt(500^2 (1 - 1/500)); uniform [1, 48]: mean 24.5, sd 47/sqrt(12).
  CHECK(std::abs(length_sum / kSegments - 500.0) <
        kSigmas * 500.0 * std::sqrt(1.0 - 1.0 / 500.0) / std::sqrt(kSegments));
  CHECK(std::abs(rate_sum / kSegments - 24.5) <
        kSigmas * (47.0 / std::sqrt(12.0)) / std::sqrt(kSegments));
}

TEST_CASE(
    "Unpredictable #2's rate choices: log-uniform has the log-uniform mean, the random walk "
    "stays in range with bounded steps",
    "[workloads][statistical]") {
  SegmentedRateSettings s = SegmentedRateSettings::Unpredictable2();
  s.rate_choice = RateChoice::kLogUniform;
  RateSegmentSampler log_sampler(s, 9);
  constexpr int kSegments = 100000;
  double sum = 0.0, sum_sq = 0.0;
  for (int i = 0; i < kSegments; ++i) {
    const double r = log_sampler.Next().rate_rps;
    sum += r;
    sum_sq += r * r;
  }
  // Log-uniform on [a, b]: mean (b - a) / ln(b / a).
  const double expected = 47.0 / std::log(48.0);
  const double sd = std::sqrt(sum_sq / kSegments - (sum / kSegments) * (sum / kSegments));
  CHECK(std::abs(sum / kSegments - expected) < kSigmas * sd / std::sqrt(kSegments));

  s.rate_choice = RateChoice::kRandomWalk;
  s.random_walk_step_rps = 5.0;
  RateSegmentSampler walk(s, 9);
  double previous = walk.Next().rate_rps;
  for (int i = 0; i < 10000; ++i) {
    const double r = walk.Next().rate_rps;
    REQUIRE(r >= 1.0);
    REQUIRE(r <= 48.0);
    // Reflection can only shorten the distance moved.
    REQUIRE(std::abs(r - previous) <= 5.0 + 1e-12);
    previous = r;
  }
}

TEST_CASE("Segment lengths on {0, 1, ...} have the requested mean and may be empty",
          "[workloads][statistical]") {
  Rng rng(4);
  constexpr int kDraws = 200000;
  double sum = 0.0;
  int64_t zeros = 0;
  for (int i = 0; i < kDraws; ++i) {
    const int64_t x = GeometricAtLeastZero(rng, 3.0);
    REQUIRE(x >= 0);
    sum += static_cast<double>(x);
    zeros += x == 0 ? 1 : 0;
  }
  // Geometric on {0, ...} with mean m: p = 1/(1+m), variance m (1 + m); P(0) = p.
  CHECK(std::abs(sum / kDraws - 3.0) < kSigmas * std::sqrt(3.0 * 4.0 / kDraws));
  CHECK(std::abs(static_cast<double>(zeros) / kDraws - 0.25) <
        kSigmas * std::sqrt(0.25 * 0.75 / kDraws));
}

TEST_CASE("Unpredictable settings that cannot define the process are refused with the values",
          "[workloads][config]") {
  const TaskTable tasks = TestTasks();
  // 20 x 0.01 = 0.2 < 1: a geometric on {1, 2, ...} cannot have that mean.
  CHECK_THROWS_WITH(MakeWorkloadGenerator(Yaml(R"(
kind: unpredictable1
rate_bands: [{weight: 1, min_rps: 0.01, max_rps: 2}]
)"),
                                          ""),
                    Catch::Contains("test.yaml:2:1") &&
                        Catch::Contains("the smallest segment mean is 0 + 20 x 0.01 rps = 0.2") &&
                        Catch::Contains("segment_geometric_min: 0"));
  CHECK_THROWS_WITH(MakeWorkloadGenerator(Yaml("{kind: unpredictable2, rate_choice: zigzag}"), ""),
                    Catch::Contains("unknown rate_choice 'zigzag'; valid choices: uniform, "
                                    "log_uniform, random_walk"));
  CHECK_THROWS_WITH(
      MakeWorkloadGenerator(Yaml("{kind: unpredictable2, random_walk_step_rps: 3}"), ""),
      Catch::Contains("applies only with rate_choice: random_walk"));
  CHECK_THROWS_WITH(MakeWorkloadGenerator(Yaml("{kind: unpredictable1, rate: 3}"), ""),
                    Catch::Contains("rate_bands") && Catch::Contains("'rate'"));
  CHECK_THROWS_WITH(
      MakeWorkloadGenerator(Yaml("{kind: unpredictable1, num_requests: 5, duration_s: 4}"), ""),
      Catch::Contains("not both"));
}

}  // namespace
}  // namespace bestserve
