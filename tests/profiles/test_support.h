// Helpers of the profiling tests: fixture paths, plus the shared command runner and scratch
// folders of tests/apps/cli_helpers.h.
#pragma once

#include <string>

#include "tests/apps/cli_helpers.h"

namespace bestserve::profiling::testing {

using bestserve::testing::CommandResult;
using bestserve::testing::ScratchDir;

inline std::string DataPath(const std::string& file) {
  return std::string(BESTSERVE_SOURCE_DIR) + "/tests/profiles/data/" + file;
}

inline std::string ReadText(const std::string& path) { return bestserve::testing::ReadAll(path); }

inline CommandResult Run(const std::string& command) { return bestserve::testing::RunCommand(command); }

}  // namespace bestserve::profiling::testing
