#include "agent/env/gym_env.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "common/rng.h"

namespace bestserve {

uint64_t TrainerEpisodeSeed(uint64_t master_seed, int64_t episode) {
  return CounterSeed(DeriveSeed(master_seed, "agent/episodes"), static_cast<uint64_t>(episode));
}

void CompletedBatch::Clear() {
  env.clear();
  decision.clear();
  observation.clear();
  action.clear();
  reward.clear();
  next_observation.clear();
  terminal.clear();
}

void CompletedBatch::Append(int32_t env_index, const Transition& t) {
  BS_CHECK(static_cast<int32_t>(t.observation.size()) == observation_size);
  BS_CHECK(static_cast<int32_t>(t.next_observation.size()) == observation_size);
  env.push_back(env_index);
  decision.push_back(t.decision);
  observation.insert(observation.end(), t.observation.begin(), t.observation.end());
  action.push_back(t.action);
  reward.push_back(t.reward);
  next_observation.insert(next_observation.end(), t.next_observation.begin(),
                          t.next_observation.end());
  terminal.push_back(t.terminal ? 1 : 0);
}

GymRoutingEnv::GymRoutingEnv(std::shared_ptr<const Scenario> scenario,
                             std::shared_ptr<const WorkloadGenerator> training_workload,
                             RoutingEnvSettings settings, uint64_t master_seed)
    : scenario_(std::move(scenario)),
      env_(*scenario_, std::move(training_workload), settings),
      master_seed_(master_seed) {}

void GymRoutingEnv::Seed(uint64_t master_seed) {
  master_seed_ = master_seed;
  episode_ = 0;
}

void GymRoutingEnv::Reset(float* observation) {
  episode_seed_ = TrainerEpisodeSeed(master_seed_, episode_);
  const std::vector<float> first = env_.Reset(episode_seed_);
  ++episode_;
  decision_ = 0;
  over_ = false;
  last_ = StepResult{};
  std::copy(first.begin(), first.end(), observation);
}

GymRoutingEnv::Outcome GymRoutingEnv::Step(int32_t action, float* observation) {
  const int32_t num_actions = env_.spec().num_actions;
  if (action < 0 || action >= num_actions) {
    throw std::invalid_argument(fmt::format(
        "action {} is out of range: expected a model index in [0, {})", action, num_actions));
  }
  if (over_)
    throw std::logic_error("step on a finished (or never started) episode: call reset() first");
  last_ = env_.Step(action);
  ++decision_;
  Outcome outcome;
  for (const Transition& t : last_.completed) outcome.reward += t.reward;
  outcome.terminated = last_.episode_over;
  over_ = last_.episode_over;
  if (over_) {
    std::fill_n(observation, env_.spec().observation_size, 0.0f);
  } else {
    std::copy(last_.observation.begin(), last_.observation.end(), observation);
  }
  return outcome;
}

VectorGymRoutingEnv::VectorGymRoutingEnv(std::shared_ptr<const Scenario> scenario,
                                         std::shared_ptr<const WorkloadGenerator> training_workload,
                                         RoutingEnvSettings settings, int32_t num_envs,
                                         uint64_t seed) {
  if (num_envs <= 0)
    throw std::invalid_argument(fmt::format("num_envs: expected >= 1, got {}", num_envs));
  envs_.reserve(static_cast<size_t>(num_envs));
  for (int32_t i = 0; i < num_envs; ++i) {
    envs_.emplace_back(scenario, training_workload, settings, seed + static_cast<uint64_t>(i));
  }
}

void VectorGymRoutingEnv::Reset(uint64_t seed, float* observations) {
  for (size_t i = 0; i < envs_.size(); ++i) envs_[i].Seed(seed + i);
  Reset(observations);
}

void VectorGymRoutingEnv::Reset(float* observations) {
  const auto size = static_cast<size_t>(spec().observation_size);
  for (size_t i = 0; i < envs_.size(); ++i) envs_[i].Reset(observations + i * size);
}

void VectorGymRoutingEnv::Step(const int32_t* actions, float* observations, float* rewards,
                               uint8_t* terminated, CompletedBatch* completed) {
  const int32_t num_actions = spec().num_actions;
  for (size_t i = 0; i < envs_.size(); ++i) {
    if (actions[i] < 0 || actions[i] >= num_actions) {
      throw std::invalid_argument(
          fmt::format("actions[{}] = {} is out of range: expected a model index in [0, {})", i,
                      actions[i], num_actions));
    }
    if (envs_[i].episode_over()) throw std::logic_error("step before reset(): call reset() first");
  }
  const auto size = static_cast<size_t>(spec().observation_size);
  completed->Clear();
  completed->observation_size = static_cast<int32_t>(size);
  for (size_t i = 0; i < envs_.size(); ++i) {
    GymRoutingEnv& env = envs_[i];
    float* observation = observations + i * size;
    const GymRoutingEnv::Outcome outcome = env.Step(actions[i], observation);
    for (const Transition& t : env.completed()) completed->Append(static_cast<int32_t>(i), t);
    rewards[i] = static_cast<float>(outcome.reward);
    terminated[i] = outcome.terminated ? 1 : 0;
    if (outcome.terminated) env.Reset(observation);  // SAME_STEP autoreset
  }
}

}  // namespace bestserve
