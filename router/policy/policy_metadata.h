// What a policy file must say, beyond its network, for a router to use it exactly as trained:
// the observation encoding and its scales, the task and model names in index order, and the
// arrival-rate estimator. Stored as metadata entries of the policy weights file
// (router/policy/weights_format.h), under these keys:
//
//   | key                           | value                                              |
//   |-------------------------------|----------------------------------------------------|
//   | observation.encoding          | paper-v1 | extended-v1 | request-v1 | gateway-v1 (also the file's encoding) |
//   | observation.in_flight_scale   | float, shortest round-trip text                    |
//   | observation.rate_scale_rps    | float                                              |
//   | tasks                         | task names, comma-separated, in task-index order   |
//   | models                        | model names, comma-separated (= the action names)  |
//   | rate_estimator.kind           | last_k | last_k_v2 | ewma | two_scale | true      |
//   | rate_estimator.k              | last_k, last_k_v2: the number of gaps (paper: 5)   |
//   | rate_estimator.resolution_s   | last_k_v2: the time grid in seconds                |
//   | rate_estimator.half_life_s    | ewma: the half-life in seconds                     |
//   | rate_estimator.fast_half_life_s, .slow_half_life_s | two_scale: the half-lives (s) |
//
// Standard library only: the deployable router library compiles it as is.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "router/core/observation.h"
#include "router/core/rate_tracker.h"

namespace bestserve {


struct PolicyMetadata {
  ObservationSpec observation;
  std::vector<std::string> task_names;
  std::vector<std::string> model_names;
  RateEstimatorSettings rate_estimator;
};

using MetadataEntries = std::vector<std::pair<std::string, std::string>>;

MetadataEntries EncodePolicyMetadata(const PolicyMetadata& metadata);

// Reads the entries back. Returns an error message (empty on success) naming the missing or
// malformed key; `out` is filled only on success.
std::string DecodePolicyMetadata(const MetadataEntries& entries, PolicyMetadata* out);

std::string JoinNames(const std::vector<std::string>& names);
std::vector<std::string> SplitNames(const std::string& text);

}  // namespace bestserve
