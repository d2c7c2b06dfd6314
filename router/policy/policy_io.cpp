#include "router/policy/policy_io.h"

#include <filesystem>

#include "common/error.h"
#include "common/files.h"
#include "router/policy/policy_metadata.h"

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

PolicyMetadata PolicyMetadataOf(const PolicyWeights& weights, const std::string& path) {
  PolicyMetadata metadata;
  const std::string problem = DecodePolicyMetadata(weights.metadata, &metadata);
  if (!problem.empty()) {
    ThrowConfigError("{}: not a routing policy file: {} (write policies with `bestserve train`)", path, problem);
  }
  if (metadata.observation.size() != weights.shape.input_size) {
    ThrowConfigError("{}: the network takes {} inputs but its observation encoding {} gives {}", path,
                     weights.shape.input_size, ToString(metadata.observation.encoding), metadata.observation.size());
  }
  if (static_cast<int>(metadata.model_names.size()) != weights.shape.num_actions) {
    ThrowConfigError("{}: the network has {} actions but the file names {} models", path, weights.shape.num_actions,
                     metadata.model_names.size());
  }
  return metadata;
}

}  // namespace bestserve
