// The simulator configured as textbook queues, checked against closed forms nobody here wrote.
//
// Service: one prefill iteration of `prompt` tokens at 1e-4 s/token, one output token. With
// prompt ~ Geometric(mean 10^4) the service time S is geometric in steps of 1e-4 s: its exact
// moments E[S] = 1 s, E[S^2] = (2 - p) / p^2 * 1e-8 s^2 with p = 1e-4, which differ from the
// exponential's by p/2 = 5e-5 relative (M/M/1 to that accuracy); a fixed prompt gives M/D/1.
//
// Tolerance: the method of batch means over 20 batches gives a standard error SE from the run
// itself; we accept |simulated - theory| <= 4.5 SE (two-sided p about 2e-4 under a t(19)) and
// also require SE to be under 5% of the theory so that the check has power.
#include <catch2/catch.hpp>

#include <cmath>

#include "sim/metrics.h"
#include "tests/sim/sim_fixtures.h"

namespace bestserve {
namespace {

using testing::ComputeBatchMeans;

constexpr double kSecondsPerToken = 1e-4;
constexpr double kMeanTokens = 1e4;  // E[S] = 1 s, mu = 1 / s
constexpr int64_t kRequests = 200000;

struct Waits {
  std::vector<double> waiting;  // admitted - arrival
  std::vector<double> sojourn;  // completion - arrival
};

Waits Collect(const Simulator& sim) {
  Waits w;
  for (const auto& rec : sim.records()) {
    w.waiting.push_back(rec.admitted_s - rec.request.arrival_s);
    w.sojourn.push_back(rec.completion_s - rec.request.arrival_s);
  }
  return w;
}

void CheckAgainst(const std::vector<double>& values, double theory, const char* what) {
  const auto bm = ComputeBatchMeans(values, /*warmup=*/2000, /*batches=*/20);
  INFO(what << ": simulated " << bm.mean << " +- " << bm.standard_error << ", theory " << theory);
  CHECK(bm.standard_error < 0.05 * theory);
  CHECK(std::abs(bm.mean - theory) <= 4.5 * bm.standard_error);
}

// Erlang C: probability that an arrival waits in M/M/c with offered load a = lambda/mu.
double ErlangC(int c, double a) {
  double sum = 0.0;
  double term = 1.0;  // a^k / k!
  for (int k = 0; k < c; ++k) {
    sum += term;
    term *= a / (k + 1);
  }
  const double rho = a / c;
  const double top = term / (1.0 - rho);  // a^c / c! / (1 - rho)
  return top / (sum + top);
}

}  // namespace

TEST_CASE("one replica with batch size one and exponential service is M/M/1", "[sim][analytic]") {
  const double lambda = 0.5;
  const double mu = 1.0;
  const auto profiles = testing::LinearServiceProfile(kSecondsPerToken);
  const auto system = testing::SingleModelSystem(profiles, 1, Queueing::kPerReplica);
  TokenLengthSpec prompt;
  prompt.kind = TokenLengthSpec::Kind::kGeometric;
  prompt.mean_tokens = kMeanTokens;
  auto sim = testing::MakeSim(system);
  testing::RunAll(*sim, testing::PoissonRequests(lambda, kRequests, prompt, 11));
  const Waits w = Collect(*sim);

  // Pollaczek-Khinchine with the exact moments of the geometric service time.
  const double p = 1.0 / kMeanTokens;
  const double es = kSecondsPerToken / p;
  const double es2 = kSecondsPerToken * kSecondsPerToken * (2.0 - p) / (p * p);
  const double rho = lambda * es;
  const double wq = lambda * es2 / (2.0 * (1.0 - rho));
  CheckAgainst(w.waiting, wq, "mean wait (P-K, geometric service)");
  CheckAgainst(w.sojourn, wq + es, "mean sojourn (P-K)");
  // And the M/M/1 closed forms themselves, which differ from the above by ~5e-5 relative.
  CheckAgainst(w.sojourn, 1.0 / (mu - lambda), "mean sojourn 1/(mu - lambda)");
  CheckAgainst(w.waiting, rho / (mu - lambda), "mean wait rho/(mu - lambda)");

  // Utilization: the fraction of time the server is busy is rho.
  double busy = 0.0;
  for (const auto& rec : sim->records()) busy += rec.completion_s - rec.admitted_s;
  const double span = sim->counters().end_s - sim->counters().start_s;
  CHECK(busy / span == Approx(rho).margin(0.01));
}

TEST_CASE("one replica with deterministic service is M/D/1 (Pollaczek-Khinchine)", "[sim][analytic]") {
  const double lambda = 0.7;
  const auto profiles = testing::LinearServiceProfile(kSecondsPerToken);
  const auto system = testing::SingleModelSystem(profiles, 1, Queueing::kPerReplica);
  TokenLengthSpec prompt;  // fixed 10^4 tokens: S = 1 s exactly
  prompt.fixed_tokens = static_cast<int32_t>(kMeanTokens);
  auto sim = testing::MakeSim(system);
  testing::RunAll(*sim, testing::PoissonRequests(lambda, kRequests, prompt, 12));
  const Waits w = Collect(*sim);
  const double rho = lambda * 1.0;
  const double wq = rho / (2.0 * 1.0 * (1.0 - rho));  // lambda E[S^2] / (2 (1 - rho)), S = 1
  CheckAgainst(w.waiting, wq, "M/D/1 mean wait");
  CheckAgainst(w.sojourn, wq + 1.0, "M/D/1 mean sojourn");
  for (const auto& rec : sim->records()) {
    REQUIRE(rec.completion_s - rec.admitted_s == Approx(1.0).epsilon(1e-9));
  }
}

TEST_CASE("three replicas sharing one FIFO queue are M/M/3 (Erlang C)", "[sim][analytic]") {
  const int c = 3;
  const double lambda = 2.1;
  const double mu = 1.0;
  const auto profiles = testing::LinearServiceProfile(kSecondsPerToken);
  const auto system = testing::SingleModelSystem(profiles, c, Queueing::kShared);
  TokenLengthSpec prompt;
  prompt.kind = TokenLengthSpec::Kind::kGeometric;
  prompt.mean_tokens = kMeanTokens;
  auto sim = testing::MakeSim(system);
  testing::RunAll(*sim, testing::PoissonRequests(lambda, kRequests, prompt, 13));
  const Waits w = Collect(*sim);
  const double a = lambda / mu;
  const double wq = ErlangC(c, a) / (c * mu - lambda);
  CheckAgainst(w.waiting, wq, "M/M/3 mean wait (Erlang C)");
  CheckAgainst(w.sojourn, wq + 1.0 / mu, "M/M/3 mean sojourn");
  // Probability of waiting at all, against Erlang C, with a binomial-style bound widened for
  // correlation by the batch-means SE of the indicator.
  std::vector<double> waited;
  for (double x : w.waiting) waited.push_back(x > 0.0 ? 1.0 : 0.0);
  CheckAgainst(waited, ErlangC(c, a), "P(wait) (Erlang C)");
}

TEST_CASE("Little's law holds: time-average number in system equals lambda times W",
          "[sim][analytic]") {
  // The simulator integrates the number in system itself; the records give lambda * W. They
  // are computed independently, so a lost or double-counted request breaks the equality.
  const auto profiles = testing::LinearServiceProfile(kSecondsPerToken, 8);
  for (Queueing q : {Queueing::kPerReplica, Queueing::kShared}) {
    const auto system = testing::SingleModelSystem(profiles, 2, q, 8);
    TokenLengthSpec prompt;
    prompt.kind = TokenLengthSpec::Kind::kGeometric;
    prompt.mean_tokens = kMeanTokens;
    auto sim = testing::MakeSim(system);
    testing::RunAll(*sim, testing::PoissonRequests(3.0, 20000, prompt, 14));
    TaskTable tasks = TaskTable::Parse(ConfigNode::LoadString(
        "models: [m]\ntasks: [{name: t, prompt_tokens: 1, output_tokens: 1, quality: [1]}]", "tasks"));
    const Summary s = Summarize(*sim, tasks, MetricsOptions{});
    INFO("queueing " << ToString(q));
    CHECK(s.mean_in_system == Approx(s.little_lambda_w).epsilon(1e-9));
    CHECK(s.mean_in_system > 0.5);
  }
}

}  // namespace bestserve
