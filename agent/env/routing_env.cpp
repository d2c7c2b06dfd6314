#include "agent/env/routing_env.h"

#include <fmt/format.h>

namespace bestserve {

RoutingEnvironment::RoutingEnvironment(const Scenario& scenario,
                                       std::shared_ptr<const WorkloadGenerator> training_workload,
                                       RoutingEnvSettings settings)
    : scenario_(&scenario),
      training_workload_(training_workload ? std::move(training_workload) : scenario.workload),
      settings_(settings) {
  settings_.observation.num_tasks = scenario.tasks.num_tasks();
  settings_.observation.num_models = static_cast<int32_t>(scenario.system.model_names.size());
  spec_.observation_size = settings_.observation.size();
  spec_.num_actions = settings_.observation.num_models;
  spec_.observation_encoding = ToString(settings_.observation.encoding);
  spec_.action_names = scenario.system.model_names;
  encoder_ = std::make_unique<ViewEncoder>(settings_.observation);
  sim_ = MakeSimulator(scenario);
}

std::vector<float> RoutingEnvironment::Observe() const {
  std::vector<float> obs(static_cast<size_t>(spec_.observation_size));
  encoder_->Encode(sim_->view(), obs.data());
  return obs;
}

std::vector<float> RoutingEnvironment::Reset(uint64_t episode_seed) {
  Workload workload = training_workload_->Generate(WorkloadContext{&scenario_->tasks, episode_seed});
  if (settings_.episode_requests > 0 && static_cast<int64_t>(workload.size()) > settings_.episode_requests) {
    workload.resize(static_cast<size_t>(settings_.episode_requests));
  }
  if (workload.empty()) throw Error("training workload produced no requests");
  scenario_->deadline.ApplyTo(workload, scenario_->tasks);
  decisions_.assign(workload.size(), Decision{});
  sim_->Reset(std::move(workload), episode_seed);
  finished_cursor_ = 0;
  over_ = false;
  BS_CHECK(sim_->AdvanceToNextArrival());
  current_ = Observe();
  return current_;
}

StepResult RoutingEnvironment::Step(int32_t action) {
  BS_CHECK_MSG(!over_, "Step called on a finished episode; call Reset");
  BS_CHECK(action >= 0 && action < spec_.num_actions);
  const auto id = static_cast<size_t>(sim_->pending().id);
  Decision& decision = decisions_[id];
  decision.observation = std::move(current_);
  decision.action = action;
  sim_->Dispatch(action);
  StepResult result;
  if (sim_->AdvanceToNextArrival()) {
    current_ = Observe();
    decision.next_observation = current_;
    decision.has_next = true;
    result.observation = current_;
    CollectFinished(result, false);
  } else {
    sim_->Drain();
    over_ = true;
    result.episode_over = true;
    CollectFinished(result, true);
  }
  return result;
}

void RoutingEnvironment::CollectFinished(StepResult& result, bool episode_over) {
  const auto& order = sim_->finish_order();
  const auto& records = sim_->records();
  for (; finished_cursor_ < order.size(); ++finished_cursor_) {
    const auto id = static_cast<size_t>(order[finished_cursor_]);
    Decision& decision = decisions_[id];
    BS_CHECK(decision.action >= 0);
    // Every decision but the episode's last has its next observation by now: it was set when
    // the following decision was reached, before any finishing was collected.
    BS_CHECK(decision.has_next || episode_over);
    Transition t;
    t.observation = std::move(decision.observation);
    t.action = decision.action;
    t.reward = static_cast<float>(records[id].reward);
    t.terminal = !decision.has_next;
    t.decision = static_cast<int64_t>(id);
    t.next_observation = decision.has_next ? std::move(decision.next_observation)
                                           : std::vector<float>(static_cast<size_t>(spec_.observation_size), 0.0f);
    result.completed.push_back(std::move(t));
  }
}

}  // namespace bestserve
