// Shared by the sweep tests: tiny grids, scratch folders, running the bestserve binary.
#pragma once

#include <fmt/format.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <array>
#include <filesystem>
#include <string>
#include <vector>

#include "common/config.h"
#include "tests/apps/cli_helpers.h"

extern char** environ;

namespace bestserve::testing {

// A tiny grid on the built-in paper scenario: 3 rates x 2 routers x 2 seeds = 12 cells of 10
// simulated seconds.
inline const char* kTinyGrid = R"(name: tiny
fixed:
  workload.duration_s: 10
axes:
  rate_rps: [1, 4, 12]
  router: [greedy, dedicated:opt-6.7b]
  seed: {count: 2}
)";

// Finished cell files (<id>.json, not error files or temporaries) in DIR/cells.
inline int CountCellFiles(const std::string& dir) {
  int n = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(dir) / "cells", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() == 21 && name.ends_with(".json")) ++n;  // 16 hex digits + ".json"
  }
  return n;
}

// Starts the bestserve binary with `args` (no shell), output to /dev/null; returns its pid.
inline pid_t SpawnBestserve(const std::vector<std::string>& args) {
  std::vector<std::string> argv_strings = {BESTSERVE_BINARY};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, BESTSERVE_BINARY, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

}  // namespace bestserve::testing
