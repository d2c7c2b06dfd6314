// The simulator as a reinforcement-learning environment: one step per routing decision.
//
// Observation: router/core/observation.h (from the RouterView only, so a learned policy needs no
// simulator internals). Actions: the scenario's models, in its order. Reward: the decided
// request's own reward (sim/reward.h), known only when that request completes.
//
// Credit assignment (the paper leaves it open): decision t's transition is
//   (s_t, a_t, r_t, s_{t+1}, terminal = false)
// where r_t is request t's reward and s_{t+1} the observation at the next decision, and it is
// handed to the learner when r_t becomes known (at the request's completion, or at dispatch for
// a rejected request), in completion order. The discount then applies per decision: Q(s, a) is
// the reward of this request plus the discounted rewards of the requests routed after it, which
// is what the paper's per-decision DQN with gamma = 0.99 optimizes. The last decision of an
// episode has no next decision: it is returned with terminal = true (one transition per episode
// of thousands; bootstrapping it from an invented state would be worse).
//
// Episodes: Reset(seed) draws a workload from the training generator with that seed (so each
// episode is reproducible), keeps its first `episode_requests` requests, and fills deadlines by
// the scenario's rule.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "agent/env/environment.h"
#include "router/core/observation.h"
#include "router/core/view_encoding.h"
#include "scenario/scenario.h"

namespace bestserve {

struct RoutingEnvSettings {
  ObservationSpec observation;       // num_tasks / num_models are filled from the scenario
  int64_t episode_requests = 2000;   // <= 0: the whole generated workload
};

class RoutingEnvironment : public Environment {
 public:
  // `training_workload` null: the scenario's own workload.
  RoutingEnvironment(const Scenario& scenario, std::shared_ptr<const WorkloadGenerator> training_workload,
                     RoutingEnvSettings settings);

  const EnvSpec& spec() const override { return spec_; }
  const ObservationSpec& observation_spec() const { return settings_.observation; }
  std::vector<float> Reset(uint64_t episode_seed) override;
  StepResult Step(int32_t action) override;

  // The simulator of the current episode (for tests and diagnostics).
  const Simulator& simulator() const { return *sim_; }

 private:
  std::vector<float> Observe() const;
  void CollectFinished(StepResult& result, bool episode_over);

  const Scenario* scenario_;
  std::shared_ptr<const WorkloadGenerator> training_workload_;
  RoutingEnvSettings settings_;
  EnvSpec spec_;
  std::unique_ptr<Simulator> sim_;
  std::unique_ptr<ViewEncoder> encoder_;  // scratch only: Observe() stays logically const
  struct Decision {
    std::vector<float> observation;
    std::vector<float> next_observation;
    int32_t action = -1;
    bool has_next = false;
  };
  std::vector<Decision> decisions_;  // by request id
  std::vector<float> current_;       // observation of the pending decision
  size_t finished_cursor_ = 0;
  bool over_ = true;
};

}  // namespace bestserve
