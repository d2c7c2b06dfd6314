// threshold: rate thresholds step down from the best model to the fastest.
//
//   | form                                        | settings                                  |
//   |---------------------------------------------|-------------------------------------------|
//   | threshold / threshold:r1,r2,..              | M-1 ascending rates (requests/s)          |
//   | {name: threshold, thresholds_rps: [r1, ..]} | same; absent: the defaults below          |
//
// Below r1 the model with the best mean quality (over tasks); each threshold crossed steps down
// to the next-best model.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "router/builtin/registry.h"

namespace bestserve {
namespace {

class ThresholdRouter : public RoutingPolicy {
 public:
  // models_by_quality: ModelIds from best to worst mean quality; thresholds ascending, one
  // fewer than models.
  ThresholdRouter(std::vector<ModelId> models_by_quality, std::vector<double> thresholds_rps)
      : models_by_quality_(std::move(models_by_quality)), thresholds_rps_(std::move(thresholds_rps)) {
    BS_CHECK(thresholds_rps_.size() + 1 == models_by_quality_.size());
  }
  std::string Describe() const override { return fmt::format("threshold({})", fmt::join(thresholds_rps_, ",")); }

 protected:
  ModelId DoRoute(const RouterView& view) override {
    size_t step = 0;
    while (step < thresholds_rps_.size() && view.arrival_rate_rps >= thresholds_rps_[step]) ++step;
    return models_by_quality_[step];
  }

 private:
  std::vector<ModelId> models_by_quality_;
  std::vector<double> thresholds_rps_;
};

// Step down one model at each of these rates (requests/s). For the paper's three models: below
// 2 rps the largest model (OPT-6.7B alone collapses past about 2 rps, PAPER.md), up to 24 rps the
// middle one, above it the smallest. Hand-set for the `paper` profile set; other systems should
// pass their own.
std::vector<double> DefaultThresholds(size_t num_models) {
  std::vector<double> thresholds;
  for (size_t i = 0; i + 1 < num_models; ++i) thresholds.push_back(2.0 * std::pow(12.0, static_cast<double>(i)));
  return thresholds;
}

// Models from the best mean quality (over tasks) to the worst; ties keep the later model first.
std::vector<ModelId> ModelsByMeanQuality(const RouterContext& ctx) {
  const size_t num_models = ctx.system->model_names.size();
  std::vector<double> mean(num_models, 0.0);
  for (const auto& row : ctx.quality) {
    for (size_t m = 0; m < num_models; ++m) mean[m] += row[m] / static_cast<double>(ctx.quality.size());
  }
  std::vector<ModelId> order(num_models);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](ModelId a, ModelId b) {
    return mean[static_cast<size_t>(a)] != mean[static_cast<size_t>(b)]
               ? mean[static_cast<size_t>(a)] > mean[static_cast<size_t>(b)]
               : a > b;
  });
  return order;
}

std::vector<double> ParseThresholdList(const RouterSpec& spec) {
  std::vector<double> values;
  const std::string& text = spec.argument();
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    try {
      size_t used = 0;
      values.push_back(std::stod(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      spec.Fail(fmt::format("threshold '{}' is not a number", item));
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return values;
}

std::unique_ptr<RoutingPolicy> Make(const RouterSpec& spec, const RouterContext& ctx) {
  spec.CheckKeys({"thresholds_rps"});
  std::vector<double> thresholds;
  if (auto t = spec.Setting("thresholds_rps")) {
    t->ExpectSequence("rates");
    for (size_t i = 0; i < t->size(); ++i) thresholds.push_back(t->Element(i).AsDouble());
  } else if (!spec.argument().empty()) {
    thresholds = ParseThresholdList(spec);
  }
  const size_t num_models = ctx.system->model_names.size();
  if (thresholds.empty()) thresholds = DefaultThresholds(num_models);
  if (thresholds.size() + 1 != num_models) {
    spec.Fail(fmt::format("expected {} thresholds (one fewer than the {} models), got {}", num_models - 1,
                          num_models, thresholds.size()));
  }
  for (size_t i = 0; i < thresholds.size(); ++i) {
    if (!(thresholds[i] > 0.0) || (i > 0 && !(thresholds[i] > thresholds[i - 1]))) {
      spec.Fail(fmt::format("expected positive, strictly increasing thresholds, got {}", fmt::join(thresholds, ", ")));
    }
  }
  return std::make_unique<ThresholdRouter>(ModelsByMeanQuality(ctx), std::move(thresholds));
}

std::vector<std::string> DefaultSpecs(const ServingSystem&) { return {"threshold"}; }

}  // namespace

extern const RouterKind kThresholdRouter{"threshold", "threshold[:r1,r2,..]",
                                         "step down to a faster model at each arrival rate crossed", Make,
                                         DefaultSpecs};

}  // namespace bestserve
