// The config of `bestserve workload generate`, and the one call that turns it into requests.
//
//   | key         | meaning                                                  | default  |
//   |-------------|----------------------------------------------------------|----------|
//   | seed        | master seed (integer >= 0); every stream derives from it | 1        |
//   | tasks       | task table YAML (common/tasks.h)                          | (1)      |
//   | workload    | the workload section: `kind` + its settings (registry.h) | required |
//   | name, notes | free text                                                | -        |
//   (1) profiles/tasks/opt_zero_shot.yaml in the data folder
//
// A scenario file (experiments/scenarios/*.yaml) is accepted as well: its simulator sections
// (profile, models, cluster, deadline, router, rate_estimator, metrics, oracle_view) are ignored
// here, so `generate` writes exactly the workload that scenario simulates (before deadlines).
//
// Paths (tasks, trace and csv files) follow the scenario rule: absolute; else relative to the
// config's folder when the file exists there; else relative to the data folder
// (BESTSERVE_DATA_DIR, default: the source tree).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/config.h"
#include "common/request.h"
#include "common/tasks.h"
#include "workloads/workload_generator.h"

namespace bestserve {

// The folder holding profiles/ and experiments/: $BESTSERVE_DATA_DIR, else the source tree.
std::string WorkloadDataDir();

// `path` as written in a config: absolute; else under `config_dir` when it exists there; else
// under WorkloadDataDir() when it exists there; else under `config_dir` (so the error that
// follows names the path the user most likely meant).
std::string ResolveDataPath(const std::string& path, const std::string& config_dir);

struct WorkloadRunConfig {
  uint64_t seed = 1;
  std::string tasks_path;
  std::string config_dir;
  std::string source;
  std::optional<ConfigNode> workload;
};

// Reads and checks the top-level keys (not yet the workload section). `seed` overrides the
// file's seed when set.
WorkloadRunConfig LoadWorkloadRunConfig(const std::string& path,
                                        std::optional<uint64_t> seed = std::nullopt);

struct GeneratedWorkload {
  TaskTable tasks;
  std::string description;  // the generator's Describe()
  Workload workload;
};

// Builds the generator and runs it. Throws ConfigError on bad settings or inputs.
GeneratedWorkload GenerateWorkload(const WorkloadRunConfig& config);

}  // namespace bestserve
