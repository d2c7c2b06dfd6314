// `bestserve train`: a training config, a run folder, and the Double-DQN trainer driving the
// simulator environment.
//
// Training config (experiments/train/paper_hard.yaml is the annotated example):
//
//   | key                 | meaning                                                     | default |
//   |---------------------|-------------------------------------------------------------|---------|
//   | name                | run label                                                   | file stem |
//   | seed                | master seed (network init, exploration, replay, episodes)    | 1       |
//   | scenario            | scenario YAML: system, tasks, deadline rule, rate estimator  | built-in paper_4gpu |
//   | set                 | map of key path -> value overrides of the scenario           | {}      |
//   | training_workload   | workload section (workloads/registry.h) for episodes        | the scenario's |
//   | episode_requests    | requests per training episode                               | 2000    |
//   | observation         | {encoding: paper-v1|extended-v1|request-v1|gateway-v1, in_flight_scale, rate_scale_rps} | paper-v1, 64, 64 |
//   | learner             | agent/learn/learner_settings.h                                    | paper defaults |
//   | validation          | {workload: section, seeds: [..], requests: N}: keep-best    | training workload, seeds [1000001, 1000002], 5000 |
//
// Run folder: config.yaml (resolved training config), scenario.yaml (resolved scenario),
// curve.csv (training curve), checkpoint.bsc (latest checkpoint), best.bsw (best validated
// policy), final.bsw (the last online network), average.bsw (runs with learner.average_from_fraction
// < 1: the weight average, scored by validation at the last iteration), run.json (seed, revision,
// timings). Every file
// is written atomically. `--resume` continues from checkpoint.bsc and ends with the same final
// weights as an uninterrupted run.
#pragma once

#include <yaml-cpp/yaml.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/env/routing_env.h"
#include "agent/learn/learner_settings.h"
#include "router/core/observation.h"
#include "router/policy/weights_format.h"
#include "scenario/scenario.h"

namespace bestserve {

struct TrainConfig {
  std::string name;
  std::string source;
  uint64_t seed = 1;
  std::string scenario_path;  // empty: built-in
  ScenarioOverrides scenario_overrides;
  std::optional<ConfigNode> training_workload;
  int64_t episode_requests = 2000;
  ObservationSpec observation;
  LearnerSettings learner;
  std::optional<ConfigNode> validation_workload;
  std::vector<uint64_t> validation_seeds = {1000001, 1000002};
  int64_t validation_requests = 5000;
  YAML::Node resolved;
};

struct TrainOverrides {
  std::optional<uint64_t> seed;
  std::optional<int64_t> iterations;
  // Generic overrides of the training config's keys: (dotted key path, YAML value), applied in
  // order before parsing, e.g. {"episode_requests", "500"}, {"set", "{deadline.reward: soft}"}.
  std::vector<std::pair<std::string, std::string>> set_values;
};

// Parses and validates a training config (and the scenario it names). ConfigError on bad input.
TrainConfig LoadTrainConfig(const std::string& path, const TrainOverrides& overrides = {});

struct TrainOptions {
  std::string out_dir;
  bool resume = false;
  std::string init_from;  // a policy file to fine-tune from
  // Stop after this many iterations (as if killed; for tests and staged runs); < 0: run all.
  int64_t stop_at_iteration = -1;
  std::function<void(const std::string&)> log;  // progress and status lines
  // Called at every progress period (learner.progress_every_iterations) with the iteration
  // reached and the total, for callers that show their own progress (`reproduce`).
  std::function<void(int64_t, int64_t)> progress;
  std::function<double()> clock;                // monotonic seconds for it/s and ETA only
  // Threads of the fast learner's updates, 1 or 2: the same policy bits for either, so it is an
  // execution setting, not part of the config (agent/learn/two_part_runner.h).
  int learner_threads = 1;
};

struct TrainResult {
  int64_t iterations = 0;
  double wall_seconds = 0.0;
  double best_score = 0.0;
  std::string final_policy;  // paths
  std::string best_policy;
  std::string average_policy;  // empty unless the run averages weights
};

TrainResult RunTraining(const TrainConfig& config, const TrainOptions& options);

// Builds the scenario, environment settings and validation routine a config describes
// (exposed for tests and for `evaluate`).
Scenario LoadTrainScenario(const TrainConfig& config);

// What the trainer's environment is built from (shared, so many environments can use them).
struct TrainEnvironmentParts {
  std::shared_ptr<const Scenario> scenario;
  std::shared_ptr<const WorkloadGenerator> training_workload;  // the config's, else the scenario's
  RoutingEnvSettings settings;
};
TrainEnvironmentParts MakeTrainEnvironmentParts(const TrainConfig& config);

// `weights` with the metadata a router needs to use it as trained (router/policy_metadata.h:
// observation spec, task and model names, rate estimator) plus the run name, scenario and
// reward kind. The trainer writes its policies through it; so does the Python package.
PolicyWeights WithRoutingMetadata(PolicyWeights weights, const Scenario& scenario,
                                  const ObservationSpec& spec, const std::string& run_name);

}  // namespace bestserve
