#include "routers/policy_router.h"

#include <fmt/format.h>

#include "common/error.h"

namespace bestserve {

PolicyRouter::PolicyRouter(MlpPolicy policy, ObservationSpec spec, std::string name)
    : policy_(std::move(policy)), spec_(spec), name_(std::move(name)) {
  BS_CHECK(policy_.shape().input_size == spec_.size());
  BS_CHECK(policy_.shape().num_actions == spec_.num_models);
  observation_.resize(static_cast<size_t>(spec_.size()));
  q_values_.resize(static_cast<size_t>(spec_.num_models));
  scratch_.resize(policy_.scratch_size());
  in_flight_.resize(static_cast<size_t>(spec_.num_models));
  queued_.resize(static_cast<size_t>(spec_.num_models));
}

ModelId PolicyRouter::DoRoute(const RouterView& view) {
  BS_CHECK(view.num_models() == spec_.num_models);
  for (size_t m = 0; m < view.models.size(); ++m) {
    in_flight_[m] = view.models[m].in_flight;
    queued_[m] = view.models[m].waiting;
  }
  const GatewayState state{view.task, in_flight_.data(), queued_.data(), view.arrival_rate_rps};
  EncodeObservation(spec_, state, observation_.data());
  return policy_.Act(observation_.data(), q_values_.data(), scratch_.data());
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

std::string DescribeRateEstimator(const RateEstimatorSettings& s) {
  if (s.kind == "last_k") return fmt::format("last_k(k={})", s.k);
  if (s.kind == "ewma") return fmt::format("ewma(half_life_s={})", s.half_life_s);
  return s.kind;
}

}  // namespace bestserve
