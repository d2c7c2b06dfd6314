#include "workloads/workload_config.h"

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>

#include "common/error.h"
#include "workloads/registry.h"

#ifndef BESTSERVE_SOURCE_DIR
#define BESTSERVE_SOURCE_DIR "."
#endif

namespace bestserve {
namespace fs = std::filesystem;
namespace {

constexpr const char* kDefaultTasks = "profiles/tasks/opt_zero_shot.yaml";

}  // namespace

std::string WorkloadDataDir() {
  if (const char* env = std::getenv("BESTSERVE_DATA_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  return BESTSERVE_SOURCE_DIR;
}

std::string ResolveDataPath(const std::string& path, const std::string& config_dir) {
  const fs::path value(path);
  if (value.is_absolute()) return path;
  std::error_code ec;
  if (!config_dir.empty() && fs::exists(fs::path(config_dir) / value, ec)) {
    return (fs::path(config_dir) / value).string();
  }
  const fs::path in_data = fs::path(WorkloadDataDir()) / value;
  if (fs::exists(in_data, ec)) return in_data.string();
  return config_dir.empty() ? path : (fs::path(config_dir) / value).string();
}

WorkloadRunConfig LoadWorkloadRunConfig(const std::string& path, std::optional<uint64_t> seed) {
  const ConfigNode root = ConfigNode::LoadFile(path);
  root.ExpectMap("workload-generation settings");
  root.CheckKeys({"seed", "tasks", "workload", "name", "notes",
                  // a scenario's simulator sections, ignored here (see the header)
                  "profile", "models", "cluster", "deadline", "router", "rate_estimator", "metrics",
                  "oracle_view"});
  WorkloadRunConfig config;
  config.source = path;
  config.config_dir = fs::path(path).parent_path().string();
  const int64_t file_seed = root.GetInt("seed", 1);
  if (file_seed < 0)
    root.Child("seed").Fail(fmt::format("expected a seed >= 0, got {}", file_seed));
  config.seed = seed.value_or(static_cast<uint64_t>(file_seed));
  if (root.Has("tasks")) {
    const ConfigNode node = root.Child("tasks");
    config.tasks_path = ResolveDataPath(node.AsString(), config.config_dir);
    std::error_code ec;
    if (!fs::exists(config.tasks_path, ec)) {
      node.Fail(fmt::format(
          "task table '{}' not found next to the config ({}) nor in the data "
          "folder ({})",
          node.AsString(), config.config_dir.empty() ? "." : config.config_dir, WorkloadDataDir()));
    }
  } else {
    config.tasks_path = (fs::path(WorkloadDataDir()) / kDefaultTasks).string();
  }
  config.workload = root.Child("workload");
  return config;
}

GeneratedWorkload GenerateWorkload(const WorkloadRunConfig& config) {
  BS_CHECK(config.workload.has_value());
  GeneratedWorkload out;
  out.tasks = TaskTable::LoadFile(config.tasks_path);
  const auto generator = MakeWorkloadGenerator(*config.workload, config.config_dir);
  out.description = generator->Describe();
  out.workload = generator->Generate(WorkloadContext{&out.tasks, config.seed});
  return out;
}

}  // namespace bestserve
