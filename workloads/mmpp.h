// kind: mmpp: a Markov-modulated Poisson process (MMPP), in two flavours.
//
// A hidden state moves between `states`; while in state i, requests arrive as a Poisson process
// at rate_rps[i]. How the state moves:
//  * `generator` (continuous-time Markov chain): Q[i][j] >= 0 (i != j) is the rate (1/s) of
//    jumping i -> j; the diagonal must be given and equal -(sum of the row's off-diagonal). The
//    holding time in i is exponential with rate -Q[i][i]; the next state is j with probability
//    Q[i][j] / -Q[i][i]. A row of zeros is an absorbing state.
//  * `transitions` (semi-Markov): P[i][j] is the probability that state j follows state i (rows
//    sum to 1; P[i][i] > 0 allowed: a fresh dwell in the same state), and every state gives its
//    own `dwell`, measured in time or in requests:
//      {kind: exponential, mean_s}      {kind: fixed, duration_s}
//      {kind: uniform, min_s, max_s}    {kind: pareto, min_s, alpha}   (heavy-tailed)
//      {kind: geometric_requests, mean_requests}  (on {1, 2, ...})
//      {kind: fixed_requests, requests}
//
//   | key            | meaning                                                      | default    |
//   |----------------|--------------------------------------------------------------|------------|
//   | states         | list of {name, rate_rps (>= 0), dwell (semi-Markov only)}    | required   |
//   | generator      | n x n rate matrix Q (1/s); exclusive with `transitions`      | -          |
//   | transitions    | n x n jump probabilities P, with per-state `dwell`           | -          |
//   | initial_state  | a state name, or `stationary`: drawn from the long-run       | stationary |
//   |                | fraction of time in each state                               |            |
//   | num_requests   | stop after this many requests                                | -          |
//   | duration_s     | stop at this time (exclusive with num_requests)              | 40         |
//   | start_s        | time origin                                                  | 0          |
//   | task_mix       | task_mix.h                                                   | uniform    |
//
// Simulation is exact: within a time-based dwell, gaps are drawn at the state's rate and the
// gap that would cross the dwell's end is discarded (memoryless), so the new state's process
// starts at the switch time. A request-count dwell serves its n requests at the state's rate
// and switches at the n-th arrival. A state with rate 0 is an "off" period (time-based dwell
// only). nominal_rate_rps = the current state's rate. Streams: "mmpp_states" (initial state,
// dwells, jumps), "arrivals" (gaps).
//
// With `initial_state: stationary` and a semi-Markov chain, the initial state is drawn from the
// time-stationary distribution pi_i * E[dwell_i] / sum (pi the jump chain's stationary law) and
// its dwell is a fresh draw: exactly stationary for exponential dwells, approximately otherwise.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/rng.h"
#include "workloads/workload_generator.h"

namespace bestserve {

struct DwellSpec {
  enum class Kind { kExponential, kFixed, kUniform, kPareto, kGeometricRequests, kFixedRequests };
  Kind kind = Kind::kExponential;
  double a = 1.0;  // mean_s | duration_s | min_s | min_s | mean_requests | requests
  double b = 0.0;  // -      | -          | max_s | alpha | -             | -

  static DwellSpec Parse(const ConfigNode& node);
  bool counts_requests() const {
    return kind == Kind::kGeometricRequests || kind == Kind::kFixedRequests;
  }
  // Expected dwell in seconds for a state with `rate_rps` (count-based: mean requests / rate);
  // +infinity when the mean is infinite (Pareto with alpha <= 1).
  double MeanSeconds(double rate_rps) const;
  double SampleSeconds(Rng& rng) const;    // precondition: !counts_requests()
  int64_t SampleRequests(Rng& rng) const;  // precondition: counts_requests()
  std::string Describe() const;
};

struct MmppState {
  std::string name;
  double rate_rps = 0.0;
  std::optional<DwellSpec> dwell;  // semi-Markov only
};

struct MmppSettings {
  std::vector<MmppState> states;
  std::vector<std::vector<double>> generator;    // CTMC mode when non-empty
  std::vector<std::vector<double>> transitions;  // semi-Markov mode when non-empty
  int initial_state = -1;                        // -1: stationary
  int64_t num_requests = 0;                      // > 0: stop by count
  double duration_s = 40.0;                      // used when num_requests == 0
  double start_s = 0.0;
  std::optional<ConfigNode> task_mix;
};

// One stay in a state, for tests and plots.
struct StateVisit {
  int state = 0;
  double start_s = 0.0;
  double end_s = 0.0;  // for the last visit: where generation stopped
  int64_t requests = 0;
};

class MmppWorkload : public WorkloadGenerator {
 public:
  // Validates (throws ConfigError quoting values).
  explicit MmppWorkload(MmppSettings settings);
  static std::unique_ptr<WorkloadGenerator> FromConfig(const ConfigNode& section);

  Workload Generate(const WorkloadContext& ctx) const override {
    return GenerateWithPath(ctx, nullptr);
  }
  // As Generate; also records the state path when `path` is not null.
  Workload GenerateWithPath(const WorkloadContext& ctx, std::vector<StateVisit>* path) const;
  std::string Describe() const override;

  const MmppSettings& settings() const { return settings_; }
  // Long-run fraction of time in each state (what `initial_state: stationary` draws from).
  const std::vector<double>& time_stationary() const { return time_stationary_; }

 private:
  MmppSettings settings_;
  std::vector<double> time_stationary_;  // empty when not unique (then initial_state is needed)
};

// Solves pi * A = 0 with sum(pi) = 1 for a square matrix A whose rows sum to 0 (a CTMC
// generator Q, or P - I for a jump chain P), by Gaussian elimination with partial pivoting.
// Returns nullopt when the solution is not unique (a reducible chain).
std::optional<std::vector<double>> SolveStationary(const std::vector<std::vector<double>>& a);

}  // namespace bestserve
