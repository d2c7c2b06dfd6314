// Deadlines and rewards: the one place a request's reward is defined.
//
// Config section `deadline`:
//
//   | key                      | meaning                                                 | default |
//   |--------------------------|---------------------------------------------------------|---------|
//   | ms_per_token             | deadline per output token, end to end (arrival to last | 40      |
//   |                          |   token); a task's deadline_ms_per_token overrides it   |         |
//   | base_ms                  | fixed allowance added to every deadline                 | 0       |
//   | reward                   | hard | soft                                             | hard    |
//   | soft.shape               | percent_per_ms | linear_to_cutoff | exponential          | percent_per_ms |
//   | soft.penalty_per_ms      | percent_per_ms: fraction of the reward lost per ms late | 0.01    |
//   | soft.cutoff_fraction     | reward is 0 once lateness exceeds this fraction of the  | 0.10    |
//   |                          |   deadline                                              |         |
//   | soft.half_life_ms        | exponential: lateness that halves the reward            | 10      |
//
// Hard (paper): reward = A[task][model] if latency <= deadline, else 0.
// Soft (paper, "percent_per_ms"): reward = A * max(0, 1 - 0.01 * late_ms) while
// late_ms <= 0.1 * deadline_ms, and 0 once lateness exceeds 10% of the deadline.
// linear_to_cutoff: A * (1 - late / (cutoff * deadline)); exponential: A * 2^(-late/half_life),
// both also 0 past the cutoff.
#pragma once

#include "common/config.h"
#include "common/request.h"
#include "common/tasks.h"

namespace bestserve {

enum class RewardKind { kHard, kSoft };
enum class SoftShape { kPercentPerMs, kLinearToCutoff, kExponential };

struct DeadlineSpec {
  double ms_per_token = 40.0;
  double base_ms = 0.0;
  RewardKind reward = RewardKind::kHard;
  SoftShape soft_shape = SoftShape::kPercentPerMs;
  double penalty_per_ms = 0.01;
  double cutoff_fraction = 0.10;
  double half_life_ms = 10.0;

  // Parses a `deadline` section; absent keys keep the defaults above.
  static DeadlineSpec Parse(const ConfigNode& section);

  // Deadline in seconds for a request of `task` with `output_tokens` tokens.
  double DeadlineSeconds(const TaskSpec& task, int32_t output_tokens) const;

  // Fills every request whose deadline_s is NaN (the workload did not carry one).
  void ApplyTo(Workload& workload, const TaskTable& tasks) const;
};

// The reward of a request served with utility `quality`, finishing `latency_s` after arrival,
// against `deadline_s`. Pure; defined here and nowhere else.
double ComputeReward(const DeadlineSpec& spec, double quality, double latency_s, double deadline_s);

const char* ToString(RewardKind kind);
const char* ToString(SoftShape shape);

}  // namespace bestserve
