// The routing environment in Gymnasium's shape, one or many at a time, on flat arrays: what the
// Python package binds (python/), and usable by any batched C++ learner.
//
// GymRoutingEnv wraps one RoutingEnvironment (env/routing_env.h) without changing its dynamics:
//   * episodes: episode e of master seed s is RoutingEnvironment::Reset(CounterSeed(
//     DeriveSeed(s, "agent/episodes"), e)), the very episode the C++ trainer (agent/train/trainer.h)
//     runs as its e-th with master seed s. Seed(s) restarts that stream at e = 0.
//   * Step(action) -> (reward, terminated): `reward` is the sum of the rewards of the decisions
//     whose request finished during this step (completed, or rejected at dispatch), usually
//     decisions made earlier; `completed()` lists them with the trainer's per-decision credit
//     assignment: (s_t, a_t, r_t, s_{t+1}, terminal) for decision t. Over an episode the step
//     rewards add up to the episode's total reward. `terminated` is true at the episode's last
//     decision (after which every decision of the episode has been credited); never truncated.
//   * an out-of-range action, or a step on a finished episode, throws std::invalid_argument /
//     std::logic_error and leaves the environment unchanged.
//
// VectorGymRoutingEnv steps n of them in one call; env i is seeded with seed + i (Gymnasium's
// vector convention). Autoreset is Gymnasium's SAME_STEP mode: an env whose episode ends in a
// step is reset within that step, so the observation returned for it is the first of its next
// episode while reward and terminated belong to the step that ended the old one. (The last
// decision of an episode has no next observation to return, so NEXT_STEP's extra "reset step"
// would carry nothing.)
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "agent/env/routing_env.h"

namespace bestserve {

// The seed of episode `episode` of master seed `master_seed`, as the trainer draws it.
uint64_t TrainerEpisodeSeed(uint64_t master_seed, int64_t episode);

// Completed decisions of one batched step, as flat arrays (struct of arrays).
struct CompletedBatch {
  int32_t observation_size = 0;
  std::vector<int32_t> env;        // which env
  std::vector<int64_t> decision;   // index of the decision in its episode
  std::vector<float> observation;  // size() x observation_size
  std::vector<int32_t> action;
  std::vector<float> reward;
  std::vector<float> next_observation;  // size() x observation_size (zeros when terminal)
  std::vector<uint8_t> terminal;

  size_t size() const { return action.size(); }
  void Clear();
  void Append(int32_t env_index, const Transition& t);
};

class GymRoutingEnv {
 public:
  // `scenario` and `training_workload` are shared (both immutable); null workload: the
  // scenario's own.
  GymRoutingEnv(std::shared_ptr<const Scenario> scenario,
                std::shared_ptr<const WorkloadGenerator> training_workload,
                RoutingEnvSettings settings, uint64_t master_seed);

  const EnvSpec& spec() const { return env_.spec(); }
  const ObservationSpec& observation_spec() const { return env_.observation_spec(); }

  // Restarts the episode stream of `master_seed`; the next Reset starts its episode 0.
  void Seed(uint64_t master_seed);
  // Starts the stream's next episode; writes spec().observation_size floats to `observation`.
  void Reset(float* observation);
  struct Outcome {
    double reward = 0.0;
    bool terminated = false;
  };
  // Applies `action` to the pending decision and writes the next observation (zeros when
  // terminated). Throws std::invalid_argument on an action outside [0, num_actions) and
  // std::logic_error before the first Reset or after the episode ended.
  Outcome Step(int32_t action, float* observation);
  // The decisions credited by the last Step, in completion order.
  const std::vector<Transition>& completed() const { return last_.completed; }

  uint64_t master_seed() const { return master_seed_; }
  int64_t episode() const { return episode_ - 1; }  // index of the current episode (-1: none)
  uint64_t episode_seed() const { return episode_seed_; }
  int64_t decision() const { return decision_; }  // decisions taken in this episode
  bool episode_over() const { return over_; }
  const RoutingEnvironment& environment() const { return env_; }

 private:
  std::shared_ptr<const Scenario> scenario_;  // env_ points into it
  RoutingEnvironment env_;
  uint64_t master_seed_ = 0;
  int64_t episode_ = 0;  // next episode of the stream
  uint64_t episode_seed_ = 0;
  int64_t decision_ = 0;
  bool over_ = true;
  StepResult last_;
};

class VectorGymRoutingEnv {
 public:
  VectorGymRoutingEnv(std::shared_ptr<const Scenario> scenario,
                      std::shared_ptr<const WorkloadGenerator> training_workload,
                      RoutingEnvSettings settings, int32_t num_envs, uint64_t seed);

  int32_t num_envs() const { return static_cast<int32_t>(envs_.size()); }
  const EnvSpec& spec() const { return envs_.front().spec(); }
  GymRoutingEnv& env(int32_t i) { return envs_[static_cast<size_t>(i)]; }

  // Seeds env i with seed + i and resets every env. `observations`: num_envs x observation_size.
  void Reset(uint64_t seed, float* observations);
  // Resets every env to its stream's next episode without reseeding.
  void Reset(float* observations);
  // One step of every env: actions[num_envs] in; observations (num_envs x observation_size),
  // rewards[num_envs] and terminated[num_envs] out; the credited decisions of every env are
  // appended to `completed` (cleared first). Envs that terminated are reset (SAME_STEP). All
  // actions are validated before any env moves: an invalid one throws std::invalid_argument
  // naming the env, and nothing has changed.
  void Step(const int32_t* actions, float* observations, float* rewards, uint8_t* terminated,
            CompletedBatch* completed);

 private:
  std::vector<GymRoutingEnv> envs_;
};

}  // namespace bestserve
