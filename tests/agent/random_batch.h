// Random transition batches for learner tests and benchmarks.
#pragma once

#include "agent/learn/learner.h"
#include "common/rng.h"

namespace bestserve::testing {

// Observations uniform in [-1, 1), actions uniform, rewards uniform in [0, 1), each transition
// terminal with `terminal_probability`.
inline TransitionBatch RandomBatch(const MlpShape& shape, int size, Rng& rng, double terminal_probability) {
  TransitionBatch b;
  b.Resize(size, shape.input_size);
  for (auto& v : b.observations) v = static_cast<float>(rng.Uniform(-1.0, 1.0));
  for (auto& v : b.next_observations) v = static_cast<float>(rng.Uniform(-1.0, 1.0));
  for (auto& a : b.actions) a = static_cast<int32_t>(rng.UniformIndex(shape.num_actions));
  for (auto& r : b.rewards) r = static_cast<float>(rng.Uniform01());
  for (auto& t : b.terminals) t = rng.Bernoulli(terminal_probability) ? 1.0f : 0.0f;
  return b;
}

}  // namespace bestserve::testing
