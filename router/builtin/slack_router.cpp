// slack: the largest model whose predicted completion meets the deadline (SlackFit-style).
//
//   | form                      | settings                                                    |
//   |---------------------------|-------------------------------------------------------------|
//   | slack                     | -                                                           |
//
// Models are ranked by size (the profile's parameter count; equal counts: the later model in
// action order first). For each request the router predicts the latency on every model
// (latency_prediction.h, the prediction greedy uses) and takes the largest model whose slack,
// budget - predicted latency, is >= 0. If none leaves slack, the one with the most (the fastest
// predicted); if no model can serve the request at all (every prediction +inf), the largest, which
// the simulator rejects with the counted reason. Unlike greedy it ignores the task's quality
// table: size stands in for quality, as SlackFit does.
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <numeric>

#include "router/builtin/latency_prediction.h"
#include "router/builtin/registry.h"

namespace bestserve {
namespace {

class SlackRouter : public RoutingPolicy {
 public:
  SlackRouter(const ServingSystem& system, const TaskTable& tasks) : predictor_(system, tasks) {
    largest_first_.resize(system.model_names.size());
    std::iota(largest_first_.begin(), largest_first_.end(), 0);
    auto size = [&](ModelId m) { return system.model_profiles[static_cast<size_t>(m)]->model().parameters; };
    std::stable_sort(largest_first_.begin(), largest_first_.end(), [&](ModelId a, ModelId b) {
      return size(a) != size(b) ? size(a) > size(b) : a > b;
    });
  }
  std::string Describe() const override { return "slack"; }

 protected:
  ModelId DoRoute(const RouterView& view) override {
    const double budget = predictor_.Budget(view);
    ModelId most_slack = largest_first_.front();
    double most_slack_s = -std::numeric_limits<double>::infinity();
    for (ModelId model : largest_first_) {
      const double slack_s = budget - predictor_.PredictLatency(view, model);
      if (slack_s >= 0.0) return model;
      if (slack_s > most_slack_s) {
        most_slack = model;
        most_slack_s = slack_s;
      }
    }
    return most_slack;
  }

 private:
  LatencyPredictor predictor_;
  std::vector<ModelId> largest_first_;
};

std::unique_ptr<RoutingPolicy> Make(const RouterSpec& spec, const RouterContext& ctx) {
  spec.CheckKeys({});
  if (spec.has_argument()) spec.Fail("slack takes no argument");
  return std::make_unique<SlackRouter>(*ctx.system, *ctx.tasks);
}

std::vector<std::string> DefaultSpecs(const ServingSystem&) { return {"slack"}; }

}  // namespace

extern const RouterKind kSlackRouter{"slack", "slack",
                                     "the largest model whose predicted latency leaves slack >= 0 (SlackFit-style)",
                                     Make, DefaultSpecs};

}  // namespace bestserve
