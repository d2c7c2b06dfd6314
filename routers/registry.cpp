#include "routers/registry.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "agent/policy_io.h"
#include "routers/builtin.h"
#include "routers/policy_router.h"

namespace bestserve {
namespace {

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

std::unique_ptr<RoutingPolicy> MakeStatic(const std::string& model_name, const RouterContext& ctx,
                                          const ConfigNode* where) {
  const ModelId model = ctx.system->FindModel(model_name);
  if (model < 0) {
    const std::string message =
        fmt::format("router 'static:{}': no such model; models: {}", model_name,
                    fmt::join(ctx.system->model_names, ", "));
    if (where != nullptr) where->Fail(message);
    throw ConfigError(message);
  }
  return std::make_unique<StaticRouter>(model, model_name);
}

std::vector<double> ParseThresholdList(const std::string& text, const std::string& source) {
  std::vector<double> values;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    try {
      size_t used = 0;
      values.push_back(std::stod(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      ThrowConfigError("{}: threshold '{}' is not a number", source, item);
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return values;
}

std::unique_ptr<RoutingPolicy> MakeThreshold(std::vector<double> thresholds, const RouterContext& ctx,
                                             const std::string& where) {
  const size_t num_models = ctx.system->model_names.size();
  if (thresholds.empty()) thresholds = DefaultThresholds(num_models);
  if (thresholds.size() + 1 != num_models) {
    ThrowConfigError("{}: expected {} thresholds (one fewer than the {} models), got {}", where,
                     num_models - 1, num_models, thresholds.size());
  }
  for (size_t i = 0; i < thresholds.size(); ++i) {
    if (!(thresholds[i] > 0.0) || (i > 0 && !(thresholds[i] > thresholds[i - 1]))) {
      ThrowConfigError("{}: expected positive, strictly increasing thresholds, got {}", where,
                       fmt::join(thresholds, ", "));
    }
  }
  return std::make_unique<ThresholdRouter>(ModelsByMeanQuality(ctx), std::move(thresholds));
}

std::unique_ptr<RoutingPolicy> MakePolicy(const std::string& path, const RouterContext& ctx) {
  PolicyWeights weights = LoadPolicyWeights(path);
  const PolicyMetadata metadata = PolicyMetadataOf(weights, path);
  if (metadata.model_names != ctx.system->model_names) {
    ThrowConfigError("{}: the policy routes to models [{}] but the scenario serves [{}] (same names, same order "
                     "needed)",
                     path, fmt::join(metadata.model_names, ", "), fmt::join(ctx.system->model_names, ", "));
  }
  std::vector<std::string> tasks;
  for (const auto& t : ctx.tasks->tasks()) tasks.push_back(t.name);
  if (metadata.task_names != tasks) {
    ThrowConfigError("{}: the policy knows tasks [{}] but the scenario's task table has [{}]", path,
                     fmt::join(metadata.task_names, ", "), fmt::join(tasks, ", "));
  }
  const std::string estimator = DescribeRateEstimator(metadata.rate_estimator);
  if (!ctx.rate_estimator.empty() && estimator != ctx.rate_estimator) {
    ThrowConfigError("{}: the policy was trained with rate estimator {} but the scenario uses {}; set "
                     "`rate_estimator` to match",
                     path, estimator, ctx.rate_estimator);
  }
  return std::make_unique<PolicyRouter>(MlpPolicy(weights.shape, std::move(weights.parameters)),
                                        metadata.observation, "policy:" + path);
}

}  // namespace

std::vector<double> DefaultThresholds(size_t num_models) {
  // Step down one model at each of these rates (requests/s). For the paper's three models:
  // below 2 rps the largest model (OPT-6.7B alone collapses past about 2 rps, PAPER.md), up to
  // 24 rps the middle one, above it the smallest. Hand-set for the `paper` profile set; other
  // systems should pass their own.
  std::vector<double> thresholds;
  for (size_t i = 0; i + 1 < num_models; ++i) thresholds.push_back(2.0 * std::pow(12.0, static_cast<double>(i)));
  return thresholds;
}

std::vector<std::string> RouterNames() {
  return {"static:<model>", "random", "threshold", "greedy", "policy:<file>"};
}

std::vector<std::string> BuiltinRouterSpecs(const ServingSystem& system) {
  std::vector<std::string> specs;
  for (const auto& name : system.model_names) specs.push_back("dedicated:" + name);
  for (const auto& name : system.model_names) specs.push_back("static:" + name);
  specs.push_back("random");
  specs.push_back("threshold");
  specs.push_back("greedy");
  return specs;
}

std::unique_ptr<RoutingPolicy> MakeRouter(const std::string& spec, const RouterContext& ctx,
                                          const std::string& source) {
  BS_CHECK(ctx.system != nullptr && ctx.tasks != nullptr);
  const size_t colon = spec.find(':');
  const std::string name = spec.substr(0, colon);
  const std::string arg = colon == std::string::npos ? "" : spec.substr(colon + 1);
  const std::string where = fmt::format("{} '{}'", source, spec);
  if (name == "static") {
    if (arg.empty()) ThrowConfigError("{}: expected static:<model>, one of: {}", where, fmt::join(ctx.system->model_names, ", "));
    return MakeStatic(arg, ctx, nullptr);
  }
  if (name == "random" && arg.empty()) {
    return std::make_unique<RandomRouter>(std::vector<double>(ctx.system->model_names.size(), 1.0),
                                          DeriveSeed(ctx.seed, "router"));
  }
  if (name == "threshold") {
    return MakeThreshold(arg.empty() ? std::vector<double>{} : ParseThresholdList(arg, where), ctx, where);
  }
  if (name == "greedy" && arg.empty()) {
    return std::make_unique<GreedyRouter>(*ctx.system, *ctx.tasks, ctx.quality, 1.0);
  }
  if (name == "policy" && !arg.empty()) return MakePolicy(arg, ctx);
  ThrowConfigError("{}: unknown router; valid routers: {}", where, fmt::join(RouterNames(), ", "));
}

std::unique_ptr<RoutingPolicy> MakeRouter(const ConfigNode& spec, const RouterContext& ctx) {
  if (spec.IsScalar()) {
    try {
      return MakeRouter(spec.AsString(), ctx, "router");
    } catch (const ConfigError& e) {
      spec.Fail(e.what());
    }
  }
  spec.ExpectMap("router settings");
  const std::string name = spec.GetString("name");
  if (name == "static") {
    spec.CheckKeys({"name", "model"});
    const ConfigNode model = spec.Child("model");
    return MakeStatic(model.AsString(), ctx, &model);
  }
  if (name == "random") {
    spec.CheckKeys({"name", "weights"});
    std::vector<double> weights(ctx.system->model_names.size(), 1.0);
    if (auto w = spec.MaybeChild("weights")) {
      w->ExpectSequence("weights, one per model");
      if (w->size() != weights.size()) {
        w->Fail(fmt::format("expected {} weights (models: {}), got {}", weights.size(),
                            fmt::join(ctx.system->model_names, ", "), w->size()));
      }
      double total = 0.0;
      for (size_t m = 0; m < weights.size(); ++m) {
        weights[m] = w->Element(m).AsDouble();
        if (weights[m] < 0.0) w->Element(m).Fail(fmt::format("expected a weight >= 0, got {}", weights[m]));
        total += weights[m];
      }
      if (!(total > 0.0)) w->Fail("expected at least one positive weight");
    }
    return std::make_unique<RandomRouter>(weights, DeriveSeed(ctx.seed, "router"));
  }
  if (name == "threshold") {
    spec.CheckKeys({"name", "thresholds_rps"});
    std::vector<double> thresholds;
    if (auto t = spec.MaybeChild("thresholds_rps")) {
      t->ExpectSequence("rates");
      for (size_t i = 0; i < t->size(); ++i) thresholds.push_back(t->Element(i).AsDouble());
    }
    try {
      return MakeThreshold(thresholds, ctx, "router");
    } catch (const ConfigError& e) {
      spec.Fail(e.what());
    }
  }
  if (name == "policy") {
    spec.CheckKeys({"name", "path"});
    const ConfigNode path = spec.Child("path");
    try {
      return MakePolicy(path.AsString(), ctx);
    } catch (const ConfigError& e) {
      path.Fail(e.what());
    }
  }
  if (name == "greedy") {
    spec.CheckKeys({"name", "slack"});
    return std::make_unique<GreedyRouter>(*ctx.system, *ctx.tasks, ctx.quality,
                                          spec.GetPositiveDouble("slack", 1.0));
  }
  spec.Child("name").Fail(
      fmt::format("unknown router '{}'; valid routers: static, random, threshold, greedy, policy", name));
}

}  // namespace bestserve
