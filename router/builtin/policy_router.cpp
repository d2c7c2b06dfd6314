#include "router/builtin/policy_router.h"

#include <fmt/format.h>

#include "common/error.h"
#include "router/builtin/registry.h"
#include "router/core/rate_estimator.h"
#include "router/policy/policy_io.h"

namespace bestserve {

PolicyRouter::PolicyRouter(MlpPolicy policy, const ObservationSpec& spec, std::string name)
    : policy_(std::move(policy)), encoder_(spec), name_(std::move(name)) {
  BS_CHECK(policy_.shape().input_size == spec.size());
  BS_CHECK(policy_.shape().num_actions == spec.num_models);
  observation_.resize(static_cast<size_t>(spec.size()));
  q_values_.resize(static_cast<size_t>(spec.num_models));
  scratch_.resize(policy_.scratch_size());
}

ModelId PolicyRouter::DoRoute(const RouterView& view) {
  encoder_.Encode(view, observation_.data());
  return policy_.Act(observation_.data(), q_values_.data(), scratch_.data());
}

namespace {

std::unique_ptr<RoutingPolicy> Make(const RouterSpec& spec, const RouterContext& ctx) {
  spec.CheckKeys({"path"});
  const std::string path = spec.Text("path");
  if (path.empty()) spec.Fail("expected policy:<file>, a policy weights file written by `bestserve train`");
  try {
    PolicyWeights weights = LoadPolicyWeights(path);
    const PolicyMetadata metadata = PolicyMetadataOf(weights, path);
    if (metadata.model_names != ctx.system->model_names) {
      ThrowConfigError(
          "{}: the policy routes to models [{}] but the scenario serves [{}] (same names, same order needed)",
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
      ThrowConfigError(
          "{}: the policy was trained with rate estimator {} but the scenario uses {}; set `rate_estimator` to "
          "match",
          path, estimator, ctx.rate_estimator);
    }
    return std::make_unique<PolicyRouter>(MlpPolicy(weights.shape, std::move(weights.parameters)),
                                          metadata.observation, "policy:" + path);
  } catch (const ConfigError& e) {
    if (spec.is_map()) spec.Setting("path")->Fail(e.what());
    throw;
  }
}

std::vector<std::string> NoDefaultSpecs(const ServingSystem&) { return {}; }

}  // namespace

extern const RouterKind kPolicyRouter{"policy", "policy:<file>",
                                      "a learned policy written by `bestserve train` (greedy on its Q-values)",
                                      Make, NoDefaultSpecs};

}  // namespace bestserve
