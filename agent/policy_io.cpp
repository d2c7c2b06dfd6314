#include "agent/policy_io.h"

#include <filesystem>

#include "common/error.h"
#include "common/files.h"

namespace bestserve {

void SavePolicyWeights(const std::string& path, const PolicyWeights& weights) {
  BS_CHECK_MSG(weights.parameters.size() == weights.shape.NumParameters(),
               "network {} needs {} parameters, got {}", weights.shape.ToString(),
               weights.shape.NumParameters(), weights.parameters.size());
  WriteFileAtomically(path, EncodePolicyWeights(weights));
}

PolicyWeights LoadPolicyWeights(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) {
    ThrowConfigError("{}: policy weights file not found", path);
  }
  const std::string bytes = ReadFile(path);
  try {
    return DecodePolicyWeights(bytes, path + ": policy weights file");
  } catch (const BinaryFormatError& e) {
    throw ConfigError(e.what());
  }
}

}  // namespace bestserve
