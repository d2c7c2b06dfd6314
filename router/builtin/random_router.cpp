// random: a model drawn per request from the run's "router" stream.
//
//   | form                                | settings                                          |
//   |-------------------------------------|---------------------------------------------------|
//   | random                              | uniform over the models                           |
//   | {name: random, weights: [w0, ..]}   | one weight >= 0 per model, at least one positive |
#include <fmt/format.h>

#include <numeric>

#include "common/rng.h"
#include "router/builtin/registry.h"

namespace bestserve {
namespace {

class RandomRouter : public RoutingPolicy {
 public:
  RandomRouter(const std::vector<double>& weights, uint64_t seed) : seed_(seed), rng_(seed) {
    const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
    BS_CHECK(total > 0.0);
    double running = 0.0;
    for (double w : weights) {
      running += w;
      cumulative_.push_back(running / total);
    }
  }
  std::string Describe() const override { return "random"; }

 protected:
  ModelId DoRoute(const RouterView&) override {
    const double u = rng_.Uniform01();
    for (size_t m = 0; m < cumulative_.size(); ++m) {
      if (u < cumulative_[m]) return static_cast<ModelId>(m);
    }
    return static_cast<ModelId>(cumulative_.size() - 1);
  }
  void DoReset() override { rng_ = Rng(seed_); }

 private:
  std::vector<double> cumulative_;
  uint64_t seed_;
  Rng rng_;
};

std::unique_ptr<RoutingPolicy> Make(const RouterSpec& spec, const RouterContext& ctx) {
  spec.CheckKeys({"weights"});
  if (spec.has_argument()) spec.Fail("random takes no argument (weights go in the map form)");
  std::vector<double> weights(ctx.system->model_names.size(), 1.0);
  if (auto w = spec.Setting("weights")) {
    w->ExpectSequence("weights, one per model");
    if (w->size() != weights.size()) {
      w->Fail(fmt::format("expected {} weights (models: {}), got {}", weights.size(),
                          fmt::join(ctx.system->model_names, ", "), w->size()));
    }
    double total = 0.0;
    for (size_t m = 0; m < weights.size(); ++m) {
      weights[m] = w->Element(m).AsDouble();
      if (!(weights[m] >= 0.0)) w->Element(m).Fail(fmt::format("expected a weight >= 0, got {}", weights[m]));
      total += weights[m];
    }
    if (!(total > 0.0) || !std::isfinite(total)) w->Fail("expected at least one positive weight, all finite");
  }
  return std::make_unique<RandomRouter>(weights, DeriveSeed(ctx.seed, "router"));
}

std::vector<std::string> DefaultSpecs(const ServingSystem&) { return {"random"}; }

}  // namespace

extern const RouterKind kRandomRouter{"random", "random", "a model drawn per request (weights in the map form)",
                                      Make, DefaultSpecs};

}  // namespace bestserve
