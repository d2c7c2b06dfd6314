// Small environments for the learner tests, written against the Environment seam exactly as
// the simulator-backed environment is: deterministic given the episode seed and the actions,
// with rewards that arrive late and are credited by the environment.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "agent/env/environment.h"
#include "common/rng.h"

namespace bestserve::testing {

// A two-model routing toy with a known best route. Observation: [arrival rate in [0, 1),
// distractor in [0, 1)]. Action 0 is the "large model": reward 1 at a low rate (< 0.5), 0 at a
// high rate (it misses its deadline). Action 1 is the "small model": reward 0.6 always. So the
// optimal route is 0 below rate 0.5 and 1 above, by a margin of 0.4 either way. The rate
// switches to a fresh uniform value with probability `switch_probability` per decision
// (random switching between rates, like the paper's training workload); the distractor is
// redrawn every decision and carries no information.
//
// Each decision's reward becomes known 0..max_delay decisions later (uniform), and is then
// returned as a completed transition whose next observation is the one that followed the
// decision. The episode ends after `episode_length` decisions; its last decision is terminal
// (next observation all zeros) and every pending decision is returned then.
class DelayedRoutingToy final : public Environment {
 public:
  explicit DelayedRoutingToy(int episode_length = 64, int max_delay = 3,
                             double switch_probability = 0.2)
      : episode_length_(episode_length),
        max_delay_(max_delay),
        switch_probability_(switch_probability) {
    spec_.observation_size = 2;
    spec_.num_actions = 2;
    spec_.observation_encoding = "toy-routing-v1";
    spec_.action_names = {"large", "small"};
  }

  static float Reward(float rate, int32_t action) {
    if (action == 1) return 0.6f;
    return rate < 0.5f ? 1.0f : 0.0f;
  }
  static int32_t OptimalAction(float rate) { return rate < 0.5f ? 0 : 1; }

  const EnvSpec& spec() const override { return spec_; }

  std::vector<float> Reset(uint64_t episode_seed) override {
    rng_ = Rng(episode_seed);
    decision_ = 0;
    pending_.clear();
    rate_ = static_cast<float>(rng_.Uniform01());
    current_ = Observe();
    ++resets_;
    return current_;
  }

  StepResult Step(int32_t action) override {
    StepResult result;
    Pending p;
    p.transition.observation = current_;
    p.transition.action = action;
    p.transition.reward = Reward(current_[0], action);
    p.due =
        decision_ + static_cast<int64_t>(rng_.UniformIndex(static_cast<uint64_t>(max_delay_) + 1));
    p.order = decision_;
    ++decision_;
    const bool over = decision_ >= episode_length_;
    if (over) {
      p.transition.next_observation.assign(current_.size(), 0.0f);
      p.transition.terminal = true;
    } else {
      if (rng_.Bernoulli(switch_probability_)) rate_ = static_cast<float>(rng_.Uniform01());
      current_ = Observe();
      p.transition.next_observation = current_;
      result.observation = current_;
    }
    pending_.push_back(std::move(p));
    // Complete what is due (everything at the episode's end), in completion order.
    std::stable_sort(pending_.begin(), pending_.end(),
                     [](const Pending& a, const Pending& b) { return a.due < b.due; });
    while (!pending_.empty() && (over || pending_.front().due < decision_)) {
      result.completed.push_back(std::move(pending_.front().transition));
      pending_.erase(pending_.begin());
    }
    result.episode_over = over;
    return result;
  }

  int64_t resets() const { return resets_; }
  size_t pending() const { return pending_.size(); }

 private:
  struct Pending {
    Transition transition;
    int64_t due = 0;
    int64_t order = 0;
  };

  std::vector<float> Observe() { return {rate_, static_cast<float>(rng_.Uniform01())}; }

  EnvSpec spec_;
  int episode_length_;
  int max_delay_;
  double switch_probability_;
  Rng rng_{0};
  int64_t decision_ = 0;
  float rate_ = 0.0f;
  std::vector<float> current_;
  std::vector<Pending> pending_;
  int64_t resets_ = 0;
};

// Breaks the determinism contract on purpose: its observations depend on how many episodes it
// has started, not only on the episode seed, so replaying an episode cannot reproduce it.
class ForgetfulToy final : public Environment {
 public:
  ForgetfulToy() {
    spec_.observation_size = 2;
    spec_.num_actions = 2;
    spec_.observation_encoding = "toy-routing-v1";
  }
  const EnvSpec& spec() const override { return spec_; }
  std::vector<float> Reset(uint64_t /*episode_seed*/) override {
    ++resets_;
    return {static_cast<float>(resets_), 0.0f};
  }
  StepResult Step(int32_t action) override {
    StepResult result;
    Transition t;
    t.observation = {static_cast<float>(resets_), 0.0f};
    t.action = action;
    t.reward = 0.5f;
    t.next_observation = t.observation;
    result.completed.push_back(t);
    result.observation = t.observation;
    return result;
  }

 private:
  EnvSpec spec_;
  int64_t resets_ = 0;
};

}  // namespace bestserve::testing
