// Reading and writing policy weights files (router/policy/weights_format.h) with user-facing errors.
#pragma once

#include <string>

#include "router/policy/policy_metadata.h"
#include "router/policy/weights_format.h"

namespace bestserve {

// Writes atomically (temporary file + rename). Throws Error when the file cannot be written.
void SavePolicyWeights(const std::string& path, const PolicyWeights& weights);

// Throws ConfigError "<path>: policy weights file: <what is wrong>" on a missing, truncated,
// corrupt, wrong-version or inconsistent file.
PolicyWeights LoadPolicyWeights(const std::string& path);

// The routing metadata of a policy file (router/policy/policy_metadata.h), checked against its
// network; a ConfigError naming `path` and the problem otherwise.
PolicyMetadata PolicyMetadataOf(const PolicyWeights& weights, const std::string& path);

}  // namespace bestserve
