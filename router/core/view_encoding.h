// The one conversion from the simulator's RouterView to what a gateway knows (GatewayState) and
// its observation (router/core/observation.h). The environment a policy is trained in
// (agent/env/routing_env.h) and the policy router that evaluates it (router/builtin/
// policy_router.h) both encode through it, so they see identical observations; the deployable
// router (router/lib/router.h) builds the same GatewayState from a gateway's own counters.
#pragma once

#include <cstdint>
#include <vector>

#include "common/error.h"
#include "router/core/observation.h"
#include "router/core/routing_policy.h"

namespace bestserve {

class ViewEncoder {
 public:
  explicit ViewEncoder(const ObservationSpec& spec)
      : encoder_(spec),
        in_flight_(static_cast<size_t>(spec.num_models)),
        queued_(static_cast<size_t>(spec.num_models)),
        in_flight_prompt_tokens_(static_cast<size_t>(spec.num_models)) {}

  const ObservationSpec& spec() const { return encoder_.spec(); }

  // Writes spec().size() floats to `out`. Precondition: the view has spec().num_models models.
  // Allocates nothing.
  void Encode(const RouterView& view, float* out) {
    BS_CHECK(view.num_models() == encoder_.spec().num_models);
    for (size_t m = 0; m < view.models.size(); ++m) {
      in_flight_[m] = view.models[m].in_flight;
      queued_[m] = view.models[m].waiting;
      in_flight_prompt_tokens_[m] = view.models[m].in_flight_prompt_tokens;
    }
    GatewayState state{view.task, in_flight_.data(), queued_.data(), view.arrival_rate_rps, view.prompt_tokens};
    state.in_flight_prompt_tokens = in_flight_prompt_tokens_.data();
    state.slow_rate_rps = view.slow_arrival_rate_rps;
    state.max_tokens = view.max_tokens;
    state.deadline_base_s = view.deadline_base_s;
    state.deadline_per_token_s = view.deadline_per_token_s;
    encoder_.Encode(state, out);
  }

 private:
  ObservationEncoder encoder_;
  std::vector<int32_t> in_flight_;
  std::vector<int32_t> queued_;
  std::vector<int64_t> in_flight_prompt_tokens_;
};

}  // namespace bestserve
