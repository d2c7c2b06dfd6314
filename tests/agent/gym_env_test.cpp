// The Gymnasium-shaped adapters: the same episodes as the trainer's environment, step rewards
// that add up to the episode's reward, validated actions, and a vector env equal to n singles.
#include "agent/env/gym_env.h"

#include <catch2/catch.hpp>
#include <numeric>
#include <stdexcept>

namespace bestserve {
namespace {

std::shared_ptr<const Scenario> SmallScenario() {
  ScenarioOverrides o;
  o.rate_rps = 6.0;
  o.duration_s = 60.0;
  return std::make_shared<const Scenario>(LoadScenario("", o));
}

RoutingEnvSettings Settings(int64_t episode_requests) {
  RoutingEnvSettings s;
  s.episode_requests = episode_requests;
  return s;
}

// A fixed, state-dependent action sequence (so trajectories differ when states differ).
int32_t ActionFor(const float* obs, int32_t size, int32_t step, int32_t num_actions) {
  float sum = 0.0f;
  for (int32_t i = 0; i < size; ++i) sum += obs[i];
  return (step + static_cast<int32_t>(sum * 7.0f)) % num_actions;
}

}  // namespace

TEST_CASE("a gym env's episode is the trainer's episode of that seed, with delayed step rewards",
          "[env]") {
  const auto scenario = SmallScenario();
  GymRoutingEnv gym(scenario, nullptr, Settings(120), /*master_seed=*/7);
  RoutingEnvironment reference(*scenario, nullptr, Settings(120));
  const int32_t size = gym.spec().observation_size;
  const int32_t num_actions = gym.spec().num_actions;
  for (int64_t episode = 0; episode < 2; ++episode) {
    std::vector<float> obs(static_cast<size_t>(size));
    gym.Reset(obs.data());
    CHECK(gym.episode() == episode);
    CHECK(gym.episode_seed() == TrainerEpisodeSeed(7, episode));
    std::vector<float> expected = reference.Reset(TrainerEpisodeSeed(7, episode));
    REQUIRE(obs == expected);
    double step_reward_total = 0.0;
    int32_t steps = 0;
    std::vector<int64_t> credited;
    while (true) {
      const int32_t action = ActionFor(obs.data(), size, steps, num_actions);
      const auto outcome = gym.Step(action, obs.data());
      const StepResult r = reference.Step(action);
      ++steps;
      step_reward_total += outcome.reward;
      double completed_sum = 0.0;
      REQUIRE(gym.completed().size() == r.completed.size());
      for (size_t k = 0; k < r.completed.size(); ++k) {
        CHECK(gym.completed()[k].decision == r.completed[k].decision);
        CHECK(gym.completed()[k].reward == r.completed[k].reward);
        CHECK(gym.completed()[k].decision < steps);  // only decisions already taken are credited
        completed_sum += r.completed[k].reward;
        credited.push_back(r.completed[k].decision);
      }
      CHECK(outcome.reward == completed_sum);
      CHECK(outcome.terminated == r.episode_over);
      if (outcome.terminated) {
        CHECK(std::all_of(obs.begin(), obs.end(), [](float v) { return v == 0.0f; }));
        break;
      }
      REQUIRE(obs == r.observation);
    }
    CHECK(steps == 120);
    // Each decision credited exactly once; the step rewards add up to the episode's reward.
    std::sort(credited.begin(), credited.end());
    std::vector<int64_t> all(120);
    std::iota(all.begin(), all.end(), 0);
    CHECK(credited == all);
    double episode_reward = 0.0;
    for (const auto& record : gym.environment().simulator().records())
      episode_reward += record.reward;
    CHECK(step_reward_total == Approx(episode_reward).epsilon(1e-6));
    CHECK_THROWS_AS(gym.Step(0, obs.data()), std::logic_error);
  }
  // Seed() restarts the stream: episode 0 again.
  gym.Seed(7);
  std::vector<float> obs(static_cast<size_t>(size));
  gym.Reset(obs.data());
  CHECK(gym.episode_seed() == TrainerEpisodeSeed(7, 0));
}

TEST_CASE("an out-of-range action throws and leaves the env as it was", "[env]") {
  const auto scenario = SmallScenario();
  GymRoutingEnv a(scenario, nullptr, Settings(50), 3);
  GymRoutingEnv b(scenario, nullptr, Settings(50), 3);
  const int32_t size = a.spec().observation_size;
  std::vector<float> obs_a(static_cast<size_t>(size)), obs_b(static_cast<size_t>(size));
  a.Reset(obs_a.data());
  b.Reset(obs_b.data());
  CHECK_THROWS_AS(a.Step(-1, obs_a.data()), std::invalid_argument);
  CHECK_THROWS_AS(a.Step(a.spec().num_actions, obs_a.data()), std::invalid_argument);
  for (int32_t step = 0; step < 50; ++step) {
    const auto ra = a.Step(step % 3, obs_a.data());
    const auto rb = b.Step(step % 3, obs_b.data());
    REQUIRE(obs_a == obs_b);
    REQUIRE(ra.reward == rb.reward);
  }
}

TEST_CASE("a vector env equals n single envs seeded seed + i, with same-step autoreset", "[env]") {
  const auto scenario = SmallScenario();
  constexpr int32_t kEnvs = 3;
  VectorGymRoutingEnv vec(scenario, nullptr, Settings(40), kEnvs, /*seed=*/11);
  std::vector<GymRoutingEnv> singles;
  for (int32_t i = 0; i < kEnvs; ++i) singles.emplace_back(scenario, nullptr, Settings(40), 11 + i);
  const int32_t size = vec.spec().observation_size;
  std::vector<float> obs(static_cast<size_t>(kEnvs * size));
  vec.Reset(11, obs.data());
  std::vector<std::vector<float>> single_obs(kEnvs, std::vector<float>(static_cast<size_t>(size)));
  for (int32_t i = 0; i < kEnvs; ++i) {
    singles[i].Reset(single_obs[i].data());
    REQUIRE(std::equal(single_obs[i].begin(), single_obs[i].end(), obs.begin() + i * size));
  }
  std::vector<int32_t> actions(kEnvs);
  std::vector<float> rewards(kEnvs);
  std::vector<uint8_t> terminated(kEnvs);
  CompletedBatch batch;
  int32_t resets = 0;
  for (int32_t step = 0; step < 100; ++step) {  // 2.5 episodes each
    for (int32_t i = 0; i < kEnvs; ++i)
      actions[i] = ActionFor(single_obs[i].data(), size, step + i, 3);
    vec.Step(actions.data(), obs.data(), rewards.data(), terminated.data(), &batch);
    size_t k = 0;
    for (int32_t i = 0; i < kEnvs; ++i) {
      const auto outcome = singles[i].Step(actions[i], single_obs[i].data());
      CHECK(rewards[i] == static_cast<float>(outcome.reward));
      CHECK(terminated[i] == (outcome.terminated ? 1 : 0));
      for (const Transition& t : singles[i].completed()) {
        REQUIRE(k < batch.size());
        CHECK(batch.env[k] == i);
        CHECK(batch.decision[k] == t.decision);
        CHECK(batch.reward[k] == t.reward);
        CHECK(batch.terminal[k] == (t.terminal ? 1 : 0));
        CHECK(std::equal(t.observation.begin(), t.observation.end(),
                         batch.observation.begin() + k * size));
        CHECK(std::equal(t.next_observation.begin(), t.next_observation.end(),
                         batch.next_observation.begin() + k * size));
        ++k;
      }
      if (outcome.terminated) {
        singles[i].Reset(single_obs[i].data());
        ++resets;
      }
      REQUIRE(std::equal(single_obs[i].begin(), single_obs[i].end(), obs.begin() + i * size));
    }
    CHECK(k == batch.size());
  }
  CHECK(resets == kEnvs * 2);
  // An invalid action anywhere moves no env.
  actions[1] = 5;
  const auto before = obs;
  CHECK_THROWS_AS(vec.Step(actions.data(), obs.data(), rewards.data(), terminated.data(), &batch),
                  std::invalid_argument);
  CHECK(obs == before);
  CHECK(vec.env(0).decision() == singles[0].decision());
}

}  // namespace bestserve
