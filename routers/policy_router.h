// A learned policy as a router: the Q-network's greedy action on the observation encoded from
// the view (router/observation.h), exactly as the trainer's greedy policy acts.
//
// Named "policy:FILE" (a policy weights file written by `bestserve train`). Loading checks that
// the file's models and tasks are the scenario's, in the same order, and that the scenario's
// rate estimator is the one the policy was trained with; a mismatch is a ConfigError naming the
// file and both values.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/mlp.h"
#include "agent/weights_format.h"
#include "router/policy_metadata.h"
#include "sim/router.h"

namespace bestserve {

class PolicyRouter : public RoutingPolicy {
 public:
  PolicyRouter(MlpPolicy policy, ObservationSpec spec, std::string name);
  std::string Describe() const override { return name_; }
  const MlpPolicy& policy() const { return policy_; }

 protected:
  ModelId DoRoute(const RouterView& view) override;

 private:
  MlpPolicy policy_;
  ObservationSpec spec_;
  std::string name_;
  std::vector<float> observation_;
  std::vector<float> q_values_;
  std::vector<float> scratch_;
  std::vector<int32_t> in_flight_;
  std::vector<int32_t> queued_;
};

// The metadata of a policy file, or a ConfigError naming `path` and the problem.
PolicyMetadata PolicyMetadataOf(const PolicyWeights& weights, const std::string& path);

// "last_k(k=5)"-style description of a policy's estimator, comparable with
// RateEstimator::Describe().
std::string DescribeRateEstimator(const RateEstimatorSettings& settings);

}  // namespace bestserve
