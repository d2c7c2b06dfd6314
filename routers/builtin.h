// Built-in routers. Each is documented with its settings; all are registered in registry.cpp.
//
//   | name            | settings                          | decision                                  |
//   |-----------------|-----------------------------------|-------------------------------------------|
//   | static:<model>  | -                                 | always <model> (the paper's baselines)    |
//   | random          | weights (optional, per model)     | a model drawn from the "router" stream    |
//   | threshold       | thresholds_rps: ascending list of | rate < t1: the model with the best mean   |
//   |                 |   M-1 rates                       |   quality; each threshold crossed steps   |
//   |                 |                                   |   down to the next-best model             |
//   | greedy          | slack (default 1.0)               | the best-quality model for this task      |
//   |                 |                                   |   whose predicted latency <= slack x      |
//   |                 |                                   |   deadline; if none, the fastest predicted |
//
// greedy's prediction uses only what a gateway knows (view + profiles + the task table's mean
// output length; the true output length only with oracle_view): on the replica the load
// balancer would choose (fewest in flight), latency = ((queued + 1) prefills of this prompt
//   + (output_tokens - 1) decode steps at batch running + queued + 1 + J) / (1 - r * prefill),
// where r = estimated arrival rate / replicas of the model, and J = r * (calm latency) / 2 the
// requests expected to join during the run: pessimistic, as if every future arrival came here.
// A heuristic baseline: it knows the profiles exactly, which a learned policy does not.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/rng.h"
#include "common/tasks.h"
#include "sim/cluster.h"
#include "sim/router.h"

namespace bestserve {

class StaticRouter : public RoutingPolicy {
 public:
  StaticRouter(ModelId model, std::string model_name) : model_(model), name_(std::move(model_name)) {}
  std::string Describe() const override { return "static:" + name_; }

 protected:
  ModelId DoRoute(const RouterView&) override { return model_; }

 private:
  ModelId model_;
  std::string name_;
};

class RandomRouter : public RoutingPolicy {
 public:
  RandomRouter(std::vector<double> weights, uint64_t seed);
  std::string Describe() const override { return "random"; }

 protected:
  ModelId DoRoute(const RouterView& view) override;
  void DoReset() override { rng_ = Rng(seed_); }

 private:
  std::vector<double> cumulative_;
  uint64_t seed_;
  Rng rng_;
};

class ThresholdRouter : public RoutingPolicy {
 public:
  // models_by_quality: ModelIds from best to worst mean quality; thresholds ascending, one
  // fewer than models.
  ThresholdRouter(std::vector<ModelId> models_by_quality, std::vector<double> thresholds_rps);
  std::string Describe() const override;

 protected:
  ModelId DoRoute(const RouterView& view) override;

 private:
  std::vector<ModelId> models_by_quality_;
  std::vector<double> thresholds_rps_;
};

class GreedyRouter : public RoutingPolicy {
 public:
  GreedyRouter(const ServingSystem& system, const TaskTable& tasks,
               std::vector<std::vector<double>> quality, double slack);
  std::string Describe() const override;

  // Predicted latency (s) of the request in `view` if sent to `model`; +inf when the model
  // has no replica. Public so tests can check it against hand computation.
  double PredictLatency(const RouterView& view, ModelId model) const;

 protected:
  ModelId DoRoute(const RouterView& view) override;

 private:
  const ServingSystem* system_;
  std::vector<double> mean_output_tokens_;  // by task
  std::vector<std::vector<ModelId>> preference_;  // by task: models best quality first
  double slack_;
};

}  // namespace bestserve
