// The seam between the learner and the world it learns in (envpool's EnvSpec / EnvFns idea).
//
// An environment is driven one routing decision at a time. Its observation and action shapes
// are declared up front. Rewards in serving arrive late (a request's reward is known only when
// it completes), so the environment, not the trainer, does the credit assignment: each Step
// returns the transitions that became complete since the last call, each crediting one decision
// with its own request's reward. The trainer only stores what it is given.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bestserve {

struct EnvSpec {
  int observation_size = 0;          // floats per observation
  int num_actions = 0;               // actions are 0 .. num_actions-1
  std::string observation_encoding;  // versioned name, e.g. "paper-v1"
  std::vector<std::string> action_names;
};

// One finished decision: (s, a, r, s', terminal). `terminal` means s' has no future value
// (episode end by the environment's own logic); time-limit truncation is not terminal.
struct Transition {
  std::vector<float> observation;
  int32_t action = 0;
  float reward = 0.0f;
  std::vector<float> next_observation;
  bool terminal = false;
  int64_t decision = -1;  // the decision's index in its episode (0-based), when the env knows it
};

struct StepResult {
  // The observation for the next decision. Meaningless when episode_over is true.
  std::vector<float> observation;
  // Decisions whose outcome became known during this step, in completion order.
  std::vector<Transition> completed;
  // True when the episode has no more decisions; call Reset() next. Every decision of the
  // episode has been returned in `completed` by then.
  bool episode_over = false;
};

// Contract (the trainer's checkpoint/resume depends on it, see agent/train/trainer.h): an episode is a
// pure function of its seed and the actions applied. Reset(seed) followed by the same actions
// must give the same observations and transitions, bit for bit, whatever happened before the
// Reset: draw all randomness from engines seeded by `episode_seed`, read no clock, and carry no
// state from one episode into the next. The trainer rebuilds an interrupted episode by calling
// Reset with its seed and replaying its logged actions, and refuses to resume (naming the
// checkpoint) when the replayed observation differs from the recorded one.
class Environment {
 public:
  virtual ~Environment() = default;
  virtual const EnvSpec& spec() const = 0;
  // Starts a new episode (abandoning any unfinished one); `episode_seed` makes it reproducible.
  // Returns the first observation.
  virtual std::vector<float> Reset(uint64_t episode_seed) = 0;
  // Applies `action` to the pending decision. Precondition: 0 <= action < spec().num_actions
  // and the episode is not over.
  virtual StepResult Step(int32_t action) = 0;
};

}  // namespace bestserve
