// The one registry of routers: name -> factory and settings parser.
//
// A router is named on the command line as a string ("greedy", "static:opt-6.7b",
// "threshold:2,24") or in a config as a string or a map {name: threshold, thresholds_rps: [..]}.
// An unknown name lists the valid ones. Learned policies: "policy:FILE" (routers/policy_router.h).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/tasks.h"
#include "sim/cluster.h"
#include "sim/router.h"

namespace bestserve {

struct RouterContext {
  const ServingSystem* system = nullptr;
  const TaskTable* tasks = nullptr;
  std::vector<std::vector<double>> quality;  // [task][model], the system's model order
  uint64_t seed = 0;                         // the run's master seed
  // The scenario's rate estimator (Describe() text); a policy must have been trained with it.
  std::string rate_estimator;
};

// From a config node (string or map). Throws ConfigError with the node's location.
std::unique_ptr<RoutingPolicy> MakeRouter(const ConfigNode& spec, const RouterContext& ctx);
// From a command-line string; `source` names it in errors (e.g. "--router").
std::unique_ptr<RoutingPolicy> MakeRouter(const std::string& spec, const RouterContext& ctx,
                                          const std::string& source = "--router");

// Every built-in router spec for this system, for comparisons: the paper's baselines
// (dedicated:<model>: static routing on GPUs that hold that model alone, see scenario/compare.h),
// each static:<model> on the scenario's own system, random, threshold and greedy.
std::vector<std::string> BuiltinRouterSpecs(const ServingSystem& system);
std::vector<std::string> RouterNames();

// Default rate thresholds for `threshold` on a system with n models: documented in
// routers/registry.cpp.
std::vector<double> DefaultThresholds(size_t num_models);

}  // namespace bestserve
