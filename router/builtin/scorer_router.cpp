// scorer: the model with the best quality - lambda x latency score (RouteBalance-style).
//
//   | form                          | settings                                                |
//   |-------------------------------|---------------------------------------------------------|
//   | scorer                        | lambda 1.0                                              |
//   | scorer:<lambda>               | score = quality / peak - lambda x predicted / budget    |
//   | {name: scorer, lambda: <l>}   | same                                                    |
//
// For each request: quality is the task's quality of the model divided by the task's best
// (peak) quality, so 1 for the best model; predicted latency (latency_prediction.h, greedy's
// prediction) is divided by the request's latency budget, so 1 when it just meets the deadline.
// The model with the highest score wins; equal scores: the earlier model in action order. A model
// that cannot serve the request (prediction +inf) scores -inf; if every model does, the best
// quality one, which the simulator rejects with the counted reason. lambda = 0 is "best quality
// always"; a large lambda is "fastest predicted". The default 1.0 is not tuned per workload.
#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <limits>

#include "router/builtin/latency_prediction.h"
#include "router/builtin/registry.h"

namespace bestserve {
namespace {

class ScorerRouter : public RoutingPolicy {
 public:
  ScorerRouter(const ServingSystem& system, const TaskTable& tasks, const std::vector<std::vector<double>>& quality,
               double lambda)
      : predictor_(system, tasks), quality_fraction_(QualityFractionOfPeak(quality)), lambda_(lambda) {}
  std::string Describe() const override { return fmt::format("scorer(lambda={})", lambda_); }

 protected:
  ModelId DoRoute(const RouterView& view) override {
    const auto& quality = quality_fraction_[static_cast<size_t>(view.task)];
    const double budget = predictor_.Budget(view);
    ModelId best = 0;
    double best_score = -std::numeric_limits<double>::infinity();
    ModelId best_quality = 0;
    for (ModelId m = 0; m < view.num_models(); ++m) {
      const double q = quality[static_cast<size_t>(m)];
      if (q > quality[static_cast<size_t>(best_quality)]) best_quality = m;
      const double latency = predictor_.PredictLatency(view, m);
      if (!std::isfinite(latency)) continue;
      const double score = q - lambda_ * latency / budget;
      if (score > best_score) {
        best = m;
        best_score = score;
      }
    }
    return std::isfinite(best_score) ? best : best_quality;
  }

 private:
  LatencyPredictor predictor_;
  std::vector<std::vector<double>> quality_fraction_;  // [task][model]: quality / the task's best
  double lambda_;
};

std::unique_ptr<RoutingPolicy> Make(const RouterSpec& spec, const RouterContext& ctx) {
  spec.CheckKeys({"lambda"});
  double lambda = 1.0;
  if (auto setting = spec.Setting("lambda")) {
    lambda = setting->AsDouble();
    if (!(lambda >= 0.0) || !std::isfinite(lambda)) setting->Fail(fmt::format("expected a finite lambda >= 0, got {}", lambda));
  } else if (spec.has_argument()) {
    const std::string& text = spec.argument();
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), lambda);
    if (error != std::errc() || end != text.data() + text.size() || !(lambda >= 0.0) || !std::isfinite(lambda)) {
      spec.Fail(fmt::format("expected scorer:<lambda>, a finite number >= 0, got '{}'", text));
    }
  }
  return std::make_unique<ScorerRouter>(*ctx.system, *ctx.tasks, ctx.quality, lambda);
}

std::vector<std::string> DefaultSpecs(const ServingSystem&) { return {"scorer"}; }

}  // namespace

extern const RouterKind kScorerRouter{"scorer", "scorer[:lambda]",
                                      "the best quality/peak - lambda x predicted latency/budget (RouteBalance-style)",
                                      Make, DefaultSpecs};

}  // namespace bestserve
