// Rewards at hand-computed points, including the paper's soft-deadline edges.
#include <catch2/catch.hpp>

#include "sim/reward.h"

namespace bestserve {

TEST_CASE("hard deadlines pay the full utility when met and nothing when missed", "[sim][reward]") {
  DeadlineSpec hard;
  CHECK(ComputeReward(hard, 0.78, 1.0, 1.28) == 0.78);
  CHECK(ComputeReward(hard, 0.78, 1.28, 1.28) == 0.78);  // exactly on time counts as met
  CHECK(ComputeReward(hard, 0.78, 1.2800001, 1.28) == 0.0);
}

TEST_CASE("soft deadlines lose 1% per ms late and pay nothing past 10% lateness", "[sim][reward]") {
  DeadlineSpec soft;
  soft.reward = RewardKind::kSoft;
  // Deadline 2 s: the 10% cutoff is 200 ms, but 1%/ms reaches zero at 100 ms first.
  CHECK(ComputeReward(soft, 1.0, 2.0, 2.0) == 1.0);
  CHECK(ComputeReward(soft, 1.0, 2.010, 2.0) == Approx(0.90).margin(1e-9));
  CHECK(ComputeReward(soft, 0.5, 2.050, 2.0) == Approx(0.25).margin(1e-9));
  CHECK(ComputeReward(soft, 1.0, 2.100, 2.0) == Approx(0.0).margin(1e-9));
  CHECK(ComputeReward(soft, 1.0, 2.150, 2.0) == 0.0);
  // Deadline 0.32 s (8 tokens): the cutoff is 32 ms. At exactly 32 ms late the reward is
  // 1 - 0.32; one microsecond later the lateness exceeds 10% and the reward is 0.
  CHECK(ComputeReward(soft, 1.0, 0.352, 0.32) == Approx(0.68).margin(1e-6));
  CHECK(ComputeReward(soft, 1.0, 0.352001, 0.32) == 0.0);
}

TEST_CASE("other soft shapes follow their formulas", "[sim][reward]") {
  DeadlineSpec linear;
  linear.reward = RewardKind::kSoft;
  linear.soft_shape = SoftShape::kLinearToCutoff;
  // 1 s deadline, cutoff 100 ms: 25 ms late keeps 75%.
  CHECK(ComputeReward(linear, 0.8, 1.025, 1.0) == Approx(0.6).margin(1e-9));
  DeadlineSpec exponential;
  exponential.reward = RewardKind::kSoft;
  exponential.soft_shape = SoftShape::kExponential;
  exponential.half_life_ms = 10.0;
  CHECK(ComputeReward(exponential, 1.0, 1.020, 1.0) == Approx(0.25).margin(1e-9));
  CHECK(ComputeReward(exponential, 1.0, 1.2, 1.0) == 0.0);  // past the 10% cutoff
}

TEST_CASE("deadlines are 40 ms per output token unless the task overrides it", "[sim][reward]") {
  DeadlineSpec spec;
  TaskSpec task;
  CHECK(spec.DeadlineSeconds(task, 32) == Approx(1.28));
  task.deadline_ms_per_token_override = 80.0;
  CHECK(spec.DeadlineSeconds(task, 32) == Approx(2.56));
  spec.base_ms = 100.0;
  CHECK(spec.DeadlineSeconds(task, 10) == Approx(0.9));
}

}  // namespace bestserve
