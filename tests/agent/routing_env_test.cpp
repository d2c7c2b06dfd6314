// The simulator-backed environment: shapes, credit assignment and determinism.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>

#include "agent/env/routing_env.h"

namespace bestserve {
namespace {

Scenario PaperScenario(double rate, double duration) {
  ScenarioOverrides o;
  o.rate_rps = rate;
  o.duration_s = duration;
  return LoadScenario("", o);
}

struct Episode {
  std::map<int64_t, Transition> by_request;  // keyed by decision order
  std::vector<std::vector<float>> observations;
  std::vector<Transition> in_order;
};

Episode RunEpisode(RoutingEnvironment& env, uint64_t seed) {
  Episode e;
  std::vector<float> obs = env.Reset(seed);
  int32_t step = 0;
  while (true) {
    e.observations.push_back(obs);
    const int32_t action = step++ % env.spec().num_actions;
    StepResult r = env.Step(action);
    for (auto& t : r.completed) e.in_order.push_back(t);
    if (r.episode_over) break;
    obs = r.observation;
  }
  return e;
}

}  // namespace

TEST_CASE("the paper observation is task one-hot, log per-model batch and log rate", "[env]") {
  ObservationSpec spec;
  spec.num_tasks = 4;
  spec.num_models = 3;
  REQUIRE(spec.size() == 8);
  const int32_t in_flight[] = {0, 1, 63};
  const int32_t queued[] = {0, 0, 5};
  GatewayState state{2, in_flight, queued, 63.0};
  float out[8];
  EncodeObservation(spec, state, out);
  CHECK(out[0] == 0.0f);
  CHECK(out[2] == 1.0f);
  CHECK(out[4] == 0.0f);
  CHECK(out[5] == Approx(std::log(2.0) / std::log(65.0)));
  CHECK(out[6] == Approx(1.0 - std::log(65.0 / 64.0) / std::log(65.0)));
  CHECK(out[7] == Approx(std::log(64.0) / std::log(65.0)));
  spec.encoding = ObservationEncoding::kExtendedV1;
  REQUIRE(spec.size() == 11);
  float extended[11];
  EncodeObservation(spec, state, extended);
  CHECK(extended[10] == Approx(std::log(6.0) / std::log(65.0)));
}

TEST_CASE("each decision is credited once with its own request's reward and the next decision's state",
          "[env]") {
  const Scenario scenario = PaperScenario(6.0, 60.0);
  RoutingEnvironment env(scenario, nullptr, RoutingEnvSettings{});
  REQUIRE(env.spec().observation_size == 8);
  REQUIRE(env.spec().num_actions == 3);
  REQUIRE(env.spec().action_names == std::vector<std::string>{"opt-125m", "opt-1.3b", "opt-6.7b"});
  const Episode e = RunEpisode(env, 5);
  const auto& records = env.simulator().records();
  REQUIRE(e.in_order.size() == records.size());
  REQUIRE(e.observations.size() == records.size());
  // Transitions come in completion order; map them back to decisions by matching observations.
  // Decision i's next observation must be decision i+1's observation, and its reward record i's.
  std::vector<int> terminal_count(1, 0);
  const auto& order = env.simulator().finish_order();
  for (size_t k = 0; k < order.size(); ++k) {
    const auto id = static_cast<size_t>(order[k]);
    const Transition& t = e.in_order[k];
    INFO("decision " << id);
    CHECK(t.observation == e.observations[id]);
    CHECK(t.action == static_cast<int32_t>(id % 3));
    CHECK(t.reward == Approx(records[id].reward));
    if (id + 1 < records.size()) {
      CHECK_FALSE(t.terminal);
      CHECK(t.next_observation == e.observations[id + 1]);
    } else {
      CHECK(t.terminal);
      ++terminal_count[0];
    }
  }
  CHECK(terminal_count[0] == 1);
}

TEST_CASE("episodes are reproducible from their seed and differ across seeds", "[env]") {
  const Scenario scenario = PaperScenario(4.0, 30.0);
  RoutingEnvironment env(scenario, nullptr, RoutingEnvSettings{});
  const Episode a = RunEpisode(env, 9);
  const Episode b = RunEpisode(env, 9);
  const Episode c = RunEpisode(env, 10);
  REQUIRE(a.in_order.size() == b.in_order.size());
  for (size_t i = 0; i < a.in_order.size(); ++i) {
    REQUIRE(a.in_order[i].observation == b.in_order[i].observation);
    REQUIRE(a.in_order[i].reward == b.in_order[i].reward);
  }
  CHECK(a.observations != c.observations);
}

TEST_CASE("a request-v1 observation ends with the pending request's own prompt length", "[env]") {
  const Scenario scenario = PaperScenario(4.0, 30.0);
  RoutingEnvSettings settings;
  settings.observation.encoding = ObservationEncoding::kRequestV1;
  RoutingEnvironment env(scenario, nullptr, settings);
  REQUIRE(env.spec().observation_size == 4 + 2 * 3 + 2);
  std::vector<float> obs = env.Reset(3);
  int checked = 0;
  for (int step = 0; step < 60; ++step) {
    const double expected = std::log1p(static_cast<double>(env.simulator().pending().prompt_tokens)) / std::log1p(2048.0);
    CHECK(obs.back() == Approx(expected).epsilon(1e-6));
    ++checked;
    StepResult r = env.Step(step % 3);
    if (r.episode_over) break;
    obs = r.observation;
  }
  CHECK(checked == 60);
}

TEST_CASE("episode_requests cuts the training workload", "[env]") {
  const Scenario scenario = PaperScenario(10.0, 100.0);
  RoutingEnvSettings settings;
  settings.episode_requests = 50;
  RoutingEnvironment env(scenario, nullptr, settings);
  CHECK(RunEpisode(env, 1).in_order.size() == 50);
}

}  // namespace bestserve
