// greedy: the best-quality model for this task whose predicted latency meets the objective.
//
//   | form                            | settings                                            |
//   |---------------------------------|-----------------------------------------------------|
//   | greedy                          | slack 1.0                                           |
//   | {name: greedy, slack: s}        | accept a model when predicted latency <= s x budget |
//
// If no model meets it, the fastest predicted; if no model can serve the request at all (every
// prediction +inf: a prompt longer than every window, no replica), the best-quality model, which
// the simulator then rejects with the counted reason. The prediction (latency_prediction.h) uses
// only what a gateway knows (view + profiles + the task table's mean output length; the true
// output length only with oracle_view). A heuristic baseline: it knows the profiles exactly,
// which a learned policy does not.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "router/builtin/latency_prediction.h"
#include "router/builtin/registry.h"

namespace bestserve {
namespace {

class GreedyRouter : public RoutingPolicy {
 public:
  GreedyRouter(const ServingSystem& system, const TaskTable& tasks, const std::vector<std::vector<double>>& quality,
               double slack);
  std::string Describe() const override { return fmt::format("greedy(slack={})", slack_); }

 protected:
  ModelId DoRoute(const RouterView& view) override;

 private:
  LatencyPredictor predictor_;
  std::vector<std::vector<ModelId>> preference_;  // by task: models best quality first
  double slack_;
};

GreedyRouter::GreedyRouter(const ServingSystem& system, const TaskTable& tasks,
                           const std::vector<std::vector<double>>& quality, double slack)
    : predictor_(system, tasks), slack_(slack) {
  for (TaskId t = 0; t < tasks.num_tasks(); ++t) {
    std::vector<ModelId> order(system.model_names.size());
    std::iota(order.begin(), order.end(), 0);
    const auto& q = quality[static_cast<size_t>(t)];
    // Best quality first; equal quality: the later (larger) model in action order first.
    std::stable_sort(order.begin(), order.end(), [&](ModelId a, ModelId b) {
      const double qa = q[static_cast<size_t>(a)];
      const double qb = q[static_cast<size_t>(b)];
      return qa != qb ? qa > qb : a > b;
    });
    preference_.push_back(order);
  }
}

ModelId GreedyRouter::DoRoute(const RouterView& view) {
  const auto& order = preference_[static_cast<size_t>(view.task)];
  const double budget = predictor_.Budget(view);
  ModelId fastest = order.front();
  double fastest_latency = std::numeric_limits<double>::infinity();
  for (ModelId model : order) {
    const double latency = predictor_.PredictLatency(view, model);
    if (latency <= slack_ * budget) return model;
    if (latency < fastest_latency) {
      fastest = model;
      fastest_latency = latency;
    }
  }
  return fastest;
}

std::unique_ptr<RoutingPolicy> Make(const RouterSpec& spec, const RouterContext& ctx) {
  spec.CheckKeys({"slack"});
  if (spec.has_argument()) spec.Fail("greedy takes no argument (slack goes in the map form)");
  double slack = 1.0;
  if (auto setting = spec.Setting("slack")) {
    slack = setting->AsDouble();
    if (!(slack > 0.0) || !std::isfinite(slack)) setting->Fail(fmt::format("expected a finite slack > 0, got {}", slack));
  }
  return std::make_unique<GreedyRouter>(*ctx.system, *ctx.tasks, ctx.quality, slack);
}

std::vector<std::string> DefaultSpecs(const ServingSystem&) { return {"greedy"}; }

}  // namespace

extern const RouterKind kGreedyRouter{"greedy", "greedy",
                                      "the best model whose predicted latency meets the deadline", Make,
                                      DefaultSpecs};

}  // namespace bestserve
