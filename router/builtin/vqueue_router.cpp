// vqueue: Lyapunov drift-plus-penalty over a virtual queue of deadline pressure (MESS+-style).
//
//   | form                         | settings                                                  |
//   |------------------------------|-----------------------------------------------------------|
//   | vqueue                       | V 1.0                                                     |
//   | vqueue:<V>                   | the weight of quality against the queue                   |
//   | {name: vqueue, v: <V>}       | same                                                      |
//
// The constraint is "predicted latency within the budget on average": for each request the
// router predicts r(m) = predicted latency on m / budget (latency_prediction.h), capped at
// kMaxRatio so that one saturated prediction cannot swamp the queue, and chooses
//     argmax_m  V x quality(m) / peak  -  Q x r(m),
// then updates the virtual queue Q <- max(0, Q + r(chosen) - 1): Q grows while the chosen models
// are predicted late and drains while they are early, trading quality for speed only as much
// as the constraint needs. Q starts at 0 each run (the best-quality model first). Models that
// cannot serve the request (prediction +inf) are skipped; if every model is, the best quality one,
// which the simulator rejects with the counted reason, and Q is left unchanged. Equal scores:
// the earlier model in action order.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "router/builtin/latency_prediction.h"
#include "router/builtin/registry.h"

namespace bestserve {
namespace {

constexpr double kMaxRatio = 10.0;

class VirtualQueueRouter : public RoutingPolicy {
 public:
  VirtualQueueRouter(const ServingSystem& system, const TaskTable& tasks,
                     const std::vector<std::vector<double>>& quality, double v)
      : predictor_(system, tasks), quality_fraction_(QualityFractionOfPeak(quality)), v_(v) {}
  std::string Describe() const override { return fmt::format("vqueue(v={})", v_); }

 protected:
  ModelId DoRoute(const RouterView& view) override {
    const auto& quality = quality_fraction_[static_cast<size_t>(view.task)];
    const double budget = predictor_.Budget(view);
    ModelId best = -1;
    double best_score = -std::numeric_limits<double>::infinity();
    double best_ratio = 0.0;
    ModelId best_quality = 0;
    for (ModelId m = 0; m < view.num_models(); ++m) {
      const double q = quality[static_cast<size_t>(m)];
      if (q > quality[static_cast<size_t>(best_quality)]) best_quality = m;
      const double latency = predictor_.PredictLatency(view, m);
      if (!std::isfinite(latency)) continue;
      const double ratio = budget > 0.0 ? std::min(latency / budget, kMaxRatio) : kMaxRatio;
      const double score = v_ * q - queue_ * ratio;
      if (best < 0 || score > best_score) {
        best = m;
        best_score = score;
        best_ratio = ratio;
      }
    }
    if (best < 0) return best_quality;
    queue_ = std::max(0.0, queue_ + best_ratio - 1.0);
    return best;
  }
  void DoReset() override { queue_ = 0.0; }

 private:
  LatencyPredictor predictor_;
  std::vector<std::vector<double>> quality_fraction_;  // [task][model]: quality / the task's best
  double v_;
  double queue_ = 0.0;  // the virtual queue Q
};

std::unique_ptr<RoutingPolicy> Make(const RouterSpec& spec, const RouterContext& ctx) {
  spec.CheckKeys({"v"});
  double v = 1.0;
  if (auto setting = spec.Setting("v")) {
    v = setting->AsDouble();
    if (!(v > 0.0) || !std::isfinite(v)) setting->Fail(fmt::format("expected a finite v > 0, got {}", v));
  } else if (spec.has_argument()) {
    const std::string& text = spec.argument();
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (error != std::errc() || end != text.data() + text.size() || !(v > 0.0) || !std::isfinite(v)) {
      spec.Fail(fmt::format("expected vqueue:<V>, a finite number > 0, got '{}'", text));
    }
  }
  return std::make_unique<VirtualQueueRouter>(*ctx.system, *ctx.tasks, ctx.quality, v);
}

std::vector<std::string> DefaultSpecs(const ServingSystem&) { return {"vqueue"}; }

}  // namespace

extern const RouterKind kVirtualQueueRouter{
    "vqueue", "vqueue[:V]", "drift-plus-penalty: V x quality - virtual queue x latency/budget (MESS+-style)", Make,
    DefaultSpecs};

}  // namespace bestserve
