#include "agent/learn/double_dqn.h"

#include <algorithm>
#include <cmath>

#include "router/policy/mlp.h"

namespace bestserve {

void ComputeDoubleDqnTargets(const float* q_online_next, const float* q_target_next,
                             const float* rewards, const float* terminals, int batch,
                             int num_actions, float gamma, float* targets) {
  for (int i = 0; i < batch; ++i) {
    const size_t row = static_cast<size_t>(i) * static_cast<size_t>(num_actions);
    // Crucial step (van Hasselt 2016): select a* with the ONLINE network ...
    const int best_next = GreedyAction(q_online_next + row, num_actions);
    // ... and evaluate it with the TARGET network, so one network's overestimation is not
    // both chosen and believed.
    const float next_value = q_target_next[row + static_cast<size_t>(best_next)];
    // Crucial step: a terminal s' has no future; a truncated one (time limit) is not terminal
    // and keeps its bootstrap (the environment decides which is which).
    targets[i] = rewards[i] + gamma * (1.0f - terminals[i]) * next_value;
  }
}

float TdLossValue(TdLoss loss, float delta, float difference) {
  if (loss == TdLoss::kMse) return difference * difference;
  const float magnitude = std::fabs(difference);
  return magnitude <= delta ? 0.5f * difference * difference : delta * (magnitude - 0.5f * delta);
}

float TdLossGradient(TdLoss loss, float delta, float difference) {
  if (loss == TdLoss::kMse) return 2.0f * difference;
  return std::clamp(difference, -delta, delta);
}

}  // namespace bestserve
