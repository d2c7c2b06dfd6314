// A scenario: everything one simulation needs, composed from the components' own sections.
//
// Top-level YAML keys (experiments/scenarios/paper_4gpu.yaml is the annotated example):
//
//   | key            | meaning                                                      | default |
//   |----------------|--------------------------------------------------------------|---------|
//   | name           | label for outputs                                            | file stem |
//   | seed           | master seed; every random stream derives from it             | 1       |
//   | tasks          | task table YAML (common/tasks.h)                             | profiles/tasks/opt_zero_shot.yaml |
//   | profile        | profile set: a name under profiles/ or a YAML path           | paper   |
//   | models         | action order of the models (default: the profile set's order) | -      |
//   | cluster        | sim/cluster.h                                                | required |
//   | deadline       | sim/reward.h                                                 | defaults |
//   | workload       | workloads/registry.h (kind + settings)                       | required |
//   | router         | router/builtin/registry.h (string or map)                           | greedy  |
//   | rate_estimator | router/core/rate_estimator.h                                         | last_k, k = 5 |
//   | metrics        | window (20), selection_bin_requests (500)                    | defaults |
//   | oracle_view    | expose simulator internals to routers (router/core/routing_policy.h)         | false   |
//
// Paths: absolute; else relative to the config file's folder when the file exists there; else
// relative to the data folder (BESTSERVE_DATA_DIR, default: the source tree). The resolved
// config, with every default written out, is saved beside each run's results and loads back to
// the same scenario.
#pragma once

#include <yaml-cpp/yaml.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/tasks.h"
#include "router/builtin/registry.h"
#include "sim/cluster.h"
#include "sim/latency_profile.h"
#include "sim/metrics.h"
#include "router/core/rate_estimator.h"
#include "sim/reward.h"
#include "sim/simulator.h"
#include "workloads/workload_generator.h"

namespace bestserve {

// Command-line overrides of a few documented keys.
struct ScenarioOverrides {
  std::optional<uint64_t> seed;          // seed
  std::optional<std::string> router;     // router
  std::optional<double> rate_rps;        // workload.rate_rps (poisson only)
  std::optional<double> duration_s;      // workload.duration_s (poisson only)
  // Generic overrides: (dotted key path, YAML value), applied in order before anything else,
  // e.g. {"cluster.gpu_groups[0].count", "8"}, {"workload", "{kind: poisson, rate_rps: 3}"}.
  // Used by `--set` and by sweeps. An index must name an existing list element; map keys are
  // created when missing (the component's own key check then rejects unknown ones).
  std::vector<std::pair<std::string, std::string>> set_values;
};

// Applies one generic override to a YAML tree; throws ConfigError naming the path on a bad
// path or value. `source` names the override in messages (e.g. "--set").
void ApplyOverride(YAML::Node root, const std::string& path, const std::string& value,
                   const std::string& source);

struct Scenario {
  std::string name;
  uint64_t seed = 1;
  TaskTable tasks;
  ProfileSet profiles;
  ServingSystem system;
  DeadlineSpec deadline;
  MetricsOptions metrics;
  bool oracle_view = false;
  std::vector<std::vector<double>> quality;  // [task][model] in the system's model order
  std::shared_ptr<const WorkloadGenerator> workload;
  std::shared_ptr<const RateEstimator> rate_estimator;  // a prototype; simulators get clones
  std::optional<ConfigNode> router;  // the router section
  YAML::Node resolved;               // the fully resolved config
  std::string source;                // the config file, or "<built-in paper_4gpu>"
};

// The folder that holds profiles/ and experiments/.
std::string DataDir();

// Resolves a file path from a config value: absolute; else next to the config (config_dir) if
// it exists there; else in the data folder. ConfigError at the node when it exists nowhere.
std::string ResolveDataPath(const ConfigNode& node, const std::string& config_dir);
// The path as a resolved config writes it: relative to the data folder when inside it.
std::string PortableDataPath(const std::string& path);

// Loads a scenario file (empty path: the built-in paper scenario) and applies overrides.
// Throws ConfigError naming file, key path and expectation on any bad input.
Scenario LoadScenario(const std::string& path, const ScenarioOverrides& overrides = {});

// The resolved config as YAML text.
std::string ResolvedConfigYaml(const Scenario& scenario);

// The scenario's workload with deadlines filled in.
Workload MakeScenarioWorkload(const Scenario& scenario);
// The same requests one at a time, read lazily where the workload kind can (a request CSV):
// what a replay of millions of requests runs on (RunRouterStreaming, scenario/compare.h).
std::unique_ptr<RequestSource> OpenScenarioWorkload(const Scenario& scenario);

// The scenario's router, or `spec` (a router string) when given.
std::unique_ptr<RoutingPolicy> MakeScenarioRouter(const Scenario& scenario,
                                                  const std::string& spec = "");
RouterContext MakeRouterContext(const Scenario& scenario);

std::unique_ptr<Simulator> MakeSimulator(const Scenario& scenario);

// Runs `router` over `workload` on a fresh simulator and returns the simulator (for records)
// after draining.
std::unique_ptr<Simulator> RunSimulation(const Scenario& scenario, Workload workload,
                                         RoutingPolicy& router);

}  // namespace bestserve
