// Shared by the sweep tests: tiny grids, scratch folders, running the bestserve binary.
#pragma once

#include <fmt/format.h>

#include <array>
#include <filesystem>
#include <string>
#include <vector>

#include "common/config.h"
#include "tests/apps/cli_helpers.h"

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

}  // namespace bestserve::testing
