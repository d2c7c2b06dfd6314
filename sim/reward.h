// Deadlines and rewards: the one place a request's reward is defined.
//
// Config section `deadline`:
// clang-format off
//
//   | key                  | meaning                                                          | default        |
//   |----------------------|------------------------------------------------------------------|----------------|
//   | ms_per_token         | deadline per output token, end to end (arrival to last token);   | 40             |
//   |                      |   a task's deadline_ms_per_token overrides it                    |                |
//   | schedule             | ms_per_token over time: [{start_s, ms_per_token}, ...] by arrival | none           |
//   |                      |   time, the first at 0, starts increasing; replaces ms_per_token |                |
//   |                      |   (tasks' overrides still win)                                   |                |
//   | base_ms              | fixed allowance added to every deadline                          | 0              |
//   | reward               | hard / soft                                                      | hard           |
//   | soft.shape           | percent_per_ms / linear_to_cutoff / exponential                  | percent_per_ms |
//   | soft.penalty_per_ms  | percent_per_ms: fraction of the reward lost per ms late          | 0.01           |
//   | soft.cutoff_fraction | reward is 0 once lateness exceeds this fraction of the deadline  | 0.10           |
//   | soft.half_life_ms    | exponential: lateness that halves the reward                     | 10             |
//   | soft.lateness        | end_to_end / per_output_token: how the soft reward reads the     | end_to_end     |
//   |                      |   end-to-end deadline (below)                                    |                |
//   | ttft_ms              | TTFT SLO: a deadline on the first token (arrival to first        | none           |
//   |                      |   token), beside the end-to-end one                              |                |
//   | tpot_ms              | TPOT SLO: a deadline on the mean time per output token after the | none           |
//   |                      |   first ((last - first token) / (output - 1)); a one-token       |                |
//   |                      |   output has no TPOT and always meets it                         |                |
//
// clang-format on
// Hard (paper): reward = A[task][model] if latency <= deadline, else 0.
// Soft (paper, "percent_per_ms"): reward = A * max(0, 1 - 0.01 * late_ms) while
// late_ms <= 0.1 * deadline_ms, and 0 once lateness exceeds 10% of the deadline.
// linear_to_cutoff: A * (1 - late / (cutoff * deadline)); exponential: A * 2^(-late/half_life),
// both also 0 past the cutoff.
//
// The paper states deadlines in ms per output token and the soft penalty in "% per ms", without
// saying which milliseconds. `soft.lateness` chooses: end_to_end (the default, the reading every
// earlier result used) counts the ms by which the whole request is late; per_output_token counts
// the ms by which its time per output token (latency / output tokens, the quantity the deadline
// is stated in) exceeds the per-token deadline, i.e. the end-to-end lateness divided by the
// output length. The cutoff (a fraction of the deadline) and the hard reward are the same under
// both; per token, long answers lose reward more slowly for the same total delay.
//
// With TTFT / TPOT SLOs (DistServe's "SLO attainment" as a reward): a request meets its deadline
// only if it meets every deadline it has (end to end, and each SLO set). Hard: A if all are met,
// else 0. Soft: each deadline gives a factor in [0, 1] by the same shape and cutoff, applied to
// its own latency and deadline (1 when met), and the reward is A x the smallest factor: the
// worst-missed objective decides. Without SLOs this is ComputeReward, bit for bit.
#pragma once

#include <cmath>
#include <utility>
#include <vector>

#include "common/config.h"
#include "common/request.h"
#include "common/tasks.h"

namespace bestserve {

enum class RewardKind { kHard, kSoft };
enum class SoftShape { kPercentPerMs, kLinearToCutoff, kExponential };
enum class SoftLateness { kEndToEnd, kPerOutputToken };

struct DeadlineSpec {
  double ms_per_token = 40.0;
  double base_ms = 0.0;
  RewardKind reward = RewardKind::kHard;
  SoftShape soft_shape = SoftShape::kPercentPerMs;
  double penalty_per_ms = 0.01;
  double cutoff_fraction = 0.10;
  double half_life_ms = 10.0;
  SoftLateness soft_lateness = SoftLateness::kEndToEnd;
  // Deadlines that change over time (the paper's open question): (start_s, ms_per_token) by
  // arrival time, the first starting at 0; empty: ms_per_token throughout. A task's own
  // deadline_ms_per_token is fixed and wins over both.
  std::vector<std::pair<double, double>> schedule;
  double ttft_slo_ms = NAN;  // NaN: no TTFT SLO
  double tpot_slo_ms = NAN;  // NaN: no TPOT SLO

  bool has_slos() const { return !std::isnan(ttft_slo_ms) || !std::isnan(tpot_slo_ms); }

  // Parses a `deadline` section; absent keys keep the defaults above.
  static DeadlineSpec Parse(const ConfigNode& section);

  // The ms per output token in force for a request arriving at `arrival_s` whose task overrides
  // it with `task_override_ms` (NaN: no override): the override, else the schedule's entry.
  double MsPerToken(double task_override_ms, double arrival_s) const;

  // What routers are told per output token (seconds, the base not included) for a request
  // arriving at `arrival_s`: one token's deadline less the base, computed as DeadlineSeconds
  // computes a deadline (same bits). The simulator's view and the gateway both use it.
  double PerTokenDeadlineSeconds(double task_override_ms, double arrival_s) const {
    return (base_ms + MsPerToken(task_override_ms, arrival_s)) * 1e-3 - base_ms * 1e-3;
  }

  // Deadline in seconds for a request of `task` with `output_tokens` tokens arriving at `arrival_s`.
  double DeadlineSeconds(const TaskSpec& task, int32_t output_tokens, double arrival_s = 0.0) const;

  // Fills every request whose deadline_s is NaN (the workload did not carry one).
  void ApplyTo(Workload& workload, const TaskTable& tasks) const;
};

// The reward of a request served with utility `quality`, finishing `latency_s` after arrival,
// against `deadline_s`. Pure; defined here and nowhere else.
double ComputeReward(const DeadlineSpec& spec, double quality, double latency_s, double deadline_s);

// The reward against the end-to-end deadline alone, reading soft lateness as the spec says
// (`soft.lateness`): under end_to_end this is ComputeReward, bit for bit.
double ComputeEndToEndReward(const DeadlineSpec& spec, double quality, double latency_s, double deadline_s,
                             int32_t output_tokens);

// What a finished request measured, for the SLO-aware reward.
struct ServedLatencies {
  double e2e_s = 0.0;
  double ttft_s = 0.0;
  double tpot_s = NAN;  // NaN for a one-token output
  int32_t output_tokens = 1;
};

// Whether every deadline of the request is met (end to end, and each SLO the spec sets).
bool MeetsDeadlines(const DeadlineSpec& spec, const ServedLatencies& latencies, double deadline_s);

// The reward against the end-to-end deadline and the spec's TTFT / TPOT SLOs (rules above).
double ComputeSloReward(const DeadlineSpec& spec, double quality, const ServedLatencies& latencies,
                        double deadline_s);

// How a finished request is judged: whether it met every deadline and its reward. The one rule
// for the simulator and for measured runs (serve/loadgen): the end-to-end deadline alone when the
// spec sets no SLO (the paper's rule, bit for bit), else every deadline (MeetsDeadlines,
// ComputeSloReward) with TTFT = first_token - arrival and TPOT over the tokens after the first.
struct RequestOutcome {
  bool deadline_met = false;
  double reward = 0.0;
};
RequestOutcome JudgeRequest(const DeadlineSpec& spec, double quality, double arrival_s, double first_token_s,
                            double completion_s, int32_t output_tokens, double deadline_s);

const char* ToString(RewardKind kind);
const char* ToString(SoftShape shape);
const char* ToString(SoftLateness lateness);

}  // namespace bestserve
