// Reading and writing policy weights files (agent/weights_format.h) with user-facing errors.
#pragma once

#include <string>

#include "agent/weights_format.h"

namespace bestserve {

// Writes atomically (temporary file + rename). Throws Error when the file cannot be written.
void SavePolicyWeights(const std::string& path, const PolicyWeights& weights);

// Throws ConfigError "<path>: policy weights file: <what is wrong>" on a missing, truncated,
// corrupt, wrong-version or inconsistent file.
PolicyWeights LoadPolicyWeights(const std::string& path);

}  // namespace bestserve
