// policy:FILE: a learned policy as a router: the Q-network's greedy action on the observation
// encoded from the view (router/core/view_encoding.h), exactly as the trainer's greedy policy acts.
//
//   | form                          | settings                                       |
//   |-------------------------------|------------------------------------------------|
//   | policy:FILE                   | a policy weights file written by `bestserve train` |
//   | {name: policy, path: FILE}    | same                                           |
//
// Loading checks that the file's models and tasks are the scenario's, in the same order, and that
// the scenario's rate estimator is the one the policy was trained with; a mismatch is a
// ConfigError naming the file and both values. The class is public because the trainer
// evaluates candidate networks through it (agent/train/train_run.cpp).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "router/core/routing_policy.h"
#include "router/core/view_encoding.h"
#include "router/policy/mlp.h"

namespace bestserve {

class PolicyRouter : public RoutingPolicy {
 public:
  PolicyRouter(MlpPolicy policy, const ObservationSpec& spec, std::string name);
  std::string Describe() const override { return name_; }
  const MlpPolicy& policy() const { return policy_; }

 protected:
  ModelId DoRoute(const RouterView& view) override;

 private:
  MlpPolicy policy_;
  ViewEncoder encoder_;
  std::string name_;
  std::vector<float> observation_;
  std::vector<float> q_values_;
  std::vector<float> scratch_;
};

}  // namespace bestserve
