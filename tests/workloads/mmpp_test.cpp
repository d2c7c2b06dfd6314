// MMPP: the stationary solver, state occupancy against pi (with a tolerance from the chain's
// own asymptotic variance), arrival counts per state, semi-Markov dwells, and config errors.
#include "workloads/mmpp.h"

#include <Eigen/Dense>
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "tests/workloads/test_support.h"
#include "workloads/registry.h"

namespace bestserve {
namespace {

using testing::kSigmas;
using testing::TestTasks;
using testing::Yaml;

const char* kThreeStates = R"(
kind: mmpp
states:
  - {name: quiet, rate_rps: 0.5}
  - {name: busy, rate_rps: 4}
  - {name: burst, rate_rps: 20}
generator:
  - [-0.02, 0.015, 0.005]
  - [0.03, -0.05, 0.02]
  - [0.1, 0.1, -0.2]
duration_s: 200000
)";

Eigen::MatrixXd ToEigen(const std::vector<std::vector<double>>& m) {
  Eigen::MatrixXd e(m.size(), m.size());
  for (size_t i = 0; i < m.size(); ++i) {
    for (size_t j = 0; j < m.size(); ++j)
      e(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = m[i][j];
  }
  return e;
}

TEST_CASE("The stationary solver satisfies pi Q = 0, sums to 1, and agrees with Eigen",
          "[workloads][mmpp]") {
  const auto generator = MmppWorkload::FromConfig(Yaml(kThreeStates));
  const auto& mmpp = dynamic_cast<const MmppWorkload&>(*generator);
  const std::vector<double>& pi = mmpp.time_stationary();
  REQUIRE(pi.size() == 3);
  const Eigen::MatrixXd q = ToEigen(mmpp.settings().generator);
  Eigen::RowVectorXd p(3);
  for (int i = 0; i < 3; ++i) p(i) = pi[static_cast<size_t>(i)];
  CHECK((p * q).cwiseAbs().maxCoeff() < 1e-12);
  CHECK(std::abs(p.sum() - 1.0) < 1e-12);
  // Independent solve: the left null vector of Q from Eigen's full-pivot LU.
  Eigen::MatrixXd a = q.transpose();
  a.row(2).setOnes();
  Eigen::VectorXd b = Eigen::VectorXd::Zero(3);
  b(2) = 1.0;
  const Eigen::VectorXd x = a.fullPivLu().solve(b);
  for (int i = 0; i < 3; ++i) CHECK(std::abs(x(i) - pi[static_cast<size_t>(i)]) < 1e-12);
  // A reducible chain (two closed classes) has no unique answer.
  CHECK_FALSE(
      SolveStationary({{-1, 1, 0, 0}, {1, -1, 0, 0}, {0, 0, -2, 2}, {0, 0, 3, -3}}).has_value());
}

TEST_CASE("MMPP state occupancy matches the stationary distribution of Q",
          "[workloads][statistical][mmpp]") {
  const TaskTable tasks = TestTasks();
  const auto generator = MmppWorkload::FromConfig(Yaml(kThreeStates));
  const auto& mmpp = dynamic_cast<const MmppWorkload&>(*generator);
  std::vector<StateVisit> path;
  const Workload w = mmpp.GenerateWithPath(WorkloadContext{&tasks, 31}, &path);
  const double horizon = 200000.0;
  std::vector<double> occupancy(3, 0.0);
  std::vector<int64_t> arrivals(3, 0);
  int64_t total = 0;
  for (const StateVisit& v : path) {
    occupancy[static_cast<size_t>(v.state)] += v.end_s - v.start_s;
    arrivals[static_cast<size_t>(v.state)] += v.requests;
    total += v.requests;
  }
  REQUIRE(total == static_cast<int64_t>(w.size()));
  REQUIRE(std::abs(occupancy[0] + occupancy[1] + occupancy[2] - horizon) < 1e-6);

  // Tolerance: the time average of 1{X_t = i} over [0, T], started in pi, has variance
  // ~ sigma_i^2 / T with sigma_i^2 = 2 pi_i D_ii, D = (1 pi - Q)^-1 - 1 pi the deviation matrix
  // (the CTMC central limit theorem; e.g. Asmussen, Applied Probability and Queues, II.4).
  const Eigen::MatrixXd q = ToEigen(mmpp.settings().generator);
  Eigen::RowVectorXd pi(3);
  for (int i = 0; i < 3; ++i) pi(i) = mmpp.time_stationary()[static_cast<size_t>(i)];
  const Eigen::MatrixXd one_pi = Eigen::VectorXd::Ones(3) * pi;
  const Eigen::MatrixXd deviation = (one_pi - q).inverse() - one_pi;
  for (int i = 0; i < 3; ++i) {
    const double sigma2 = 2.0 * pi(i) * deviation(i, i);
    REQUIRE(sigma2 > 0.0);
    const double fraction = occupancy[static_cast<size_t>(i)] / horizon;
    INFO("state " << i << ": fraction " << fraction << " vs pi " << pi(i));
    CHECK(std::abs(fraction - pi(i)) < kSigmas * std::sqrt(sigma2 / horizon));
    // Given the time spent in a state, its arrivals are Poisson(rate x time).
    const double expected =
        mmpp.settings().states[static_cast<size_t>(i)].rate_rps * occupancy[static_cast<size_t>(i)];
    CHECK(std::abs(static_cast<double>(arrivals[static_cast<size_t>(i)]) - expected) <
          kSigmas * std::sqrt(expected));
  }
  for (const Request& r : w) {
    const double rate = r.nominal_rate_rps;
    REQUIRE((rate == 0.5 || rate == 4.0 || rate == 20.0));
  }
}

TEST_CASE("Semi-Markov MMPP: request-count dwells serve exactly their count and alternate",
          "[workloads][mmpp]") {
  const TaskTable tasks = TestTasks();
  const auto generator = MmppWorkload::FromConfig(Yaml(R"(
kind: mmpp
states:
  - {name: on, rate_rps: 10, dwell: {kind: fixed_requests, requests: 7}}
  - {name: off, rate_rps: 0, dwell: {kind: pareto, min_s: 2, alpha: 1.5}}
transitions: [[0, 1], [1, 0]]
initial_state: on
num_requests: 700
)"));
  const auto& mmpp = dynamic_cast<const MmppWorkload&>(*generator);
  std::vector<StateVisit> path;
  const Workload w = mmpp.GenerateWithPath(WorkloadContext{&tasks, 5}, &path);
  REQUIRE(w.size() == 700);
  REQUIRE(path.size() == 199);  // 100 "on" visits of 7 requests, 99 "off" visits between
  for (size_t i = 0; i < path.size(); ++i) {
    REQUIRE(path[i].state == static_cast<int>(i % 2));
    REQUIRE(path[i].requests == (i % 2 == 0 ? 7 : 0));
    if (i % 2 == 1) REQUIRE(path[i].end_s - path[i].start_s >= 2.0);  // Pareto scale 2 s
    if (i > 0) REQUIRE(path[i].start_s == path[i - 1].end_s);
  }
  // Time-stationary law of a semi-Markov chain: pi_jump x mean dwell, normalized. Jump chain
  // (1/2, 1/2); mean dwells 7/10 s and 2 x 1.5 / 0.5 = 6 s.
  const std::vector<double>& pi = mmpp.time_stationary();
  CHECK(pi[0] == Approx(0.7 / 6.7).epsilon(1e-12));
  CHECK(pi[1] == Approx(6.0 / 6.7).epsilon(1e-12));
}

TEST_CASE("Semi-Markov MMPP: geometric request dwells have the requested mean",
          "[workloads][statistical][mmpp]") {
  const TaskTable tasks = TestTasks();
  const auto generator = MmppWorkload::FromConfig(Yaml(R"(
kind: mmpp
states:
  - {name: a, rate_rps: 3, dwell: {kind: geometric_requests, mean_requests: 12}}
  - {name: b, rate_rps: 30, dwell: {kind: exponential, mean_s: 0.5}}
transitions: [[0, 1], [1, 0]]
num_requests: 400000
)"));
  const auto& mmpp = dynamic_cast<const MmppWorkload&>(*generator);
  std::vector<StateVisit> path;
  mmpp.GenerateWithPath(WorkloadContext{&tasks, 8}, &path);
  path.pop_back();  // the last visit is cut by the request count
  double sum = 0.0;
  int64_t n = 0;
  double b_time = 0.0;
  int64_t b_visits = 0;
  for (const StateVisit& v : path) {
    if (v.state == 0) {
      sum += static_cast<double>(v.requests);
      ++n;
    } else {
      b_time += v.end_s - v.start_s;
      ++b_visits;
    }
  }
  // Geometric on {1, ...} with mean 12: variance 12^2 (1 - 1/12). Exponential dwell: sd = mean.
  CHECK(std::abs(sum / static_cast<double>(n) - 12.0) <
        kSigmas * 12.0 * std::sqrt((1.0 - 1.0 / 12.0) / static_cast<double>(n)));
  CHECK(std::abs(b_time / static_cast<double>(b_visits) - 0.5) <
        kSigmas * 0.5 / std::sqrt(static_cast<double>(b_visits)));
}

TEST_CASE("MMPP configs that define no process are refused, naming the problem",
          "[workloads][config][mmpp]") {
  CHECK_THROWS_WITH(MakeWorkloadGenerator(Yaml(R"(
kind: mmpp
states: [{name: a, rate_rps: 1}, {name: b, rate_rps: 2}]
generator: [[-1, 1], [2, -1]]
)"),
                                          ""),
                    Catch::Contains("test.yaml:2:1") &&
                        Catch::Contains("generator row 1 ('b'): the diagonal must equal minus the "
                                        "sum of the other entries (-2), got -1"));
  CHECK_THROWS_WITH(MakeWorkloadGenerator(Yaml(R"(
kind: mmpp
states: [{name: a, rate_rps: 1}, {name: b, rate_rps: 2}]
transitions: [[0, 1], [1, 0]]
)"),
                                          ""),
                    Catch::Contains("state 'a': expected a 'dwell'"));
  CHECK_THROWS_WITH(MakeWorkloadGenerator(Yaml(R"(
kind: mmpp
states: [{name: a, rate_rps: 1}]
generator: [[0]]
transitions: [[1]]
)"),
                                          ""),
                    Catch::Contains("exactly one of 'generator'"));
  CHECK_THROWS_WITH(MakeWorkloadGenerator(Yaml(R"(
kind: mmpp
states: [{name: a, rate_rps: 1}, {name: b, rate_rps: 2}, {name: c, rate_rps: 3}, {name: d, rate_rps: 4}]
generator: [[-1, 1, 0, 0], [1, -1, 0, 0], [0, 0, -2, 2], [0, 0, 3, -3]]
)"),
                                          ""),
                    Catch::Contains("reducible") && Catch::Contains("name an initial_state"));
  CHECK_THROWS_WITH(
      MakeWorkloadGenerator(Yaml(R"(
kind: mmpp
states: [{name: a, rate_rps: 1, dwell: {kind: weibull, mean_s: 1}}]
transitions: [[1]]
)"),
                            ""),
      Catch::Contains("unknown dwell kind 'weibull'; valid kinds: exponential, fixed"));
  CHECK_THROWS_WITH(MakeWorkloadGenerator(Yaml(R"(
kind: mmpp
states: [{name: a, rate_rps: 0, dwell: {kind: fixed_requests, requests: 3}}]
transitions: [[1]]
)"),
                                          ""),
                    Catch::Contains("request-count dwell needs rate_rps > 0"));
  CHECK_THROWS_WITH(MakeWorkloadGenerator(Yaml(R"(
kind: mmpp
states: [{name: a, rate_rps: 1}, {name: b, rate_rps: 2}]
generator: [[-1, 1], [1, -1]]
initial_state: c
)"),
                                          ""),
                    Catch::Contains("unknown state 'c'; expected 'stationary' or one of: a, b"));
}

}  // namespace
}  // namespace bestserve
