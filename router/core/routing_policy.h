// The routing seam: what a router may see, and the interface every router implements.
//
// A router decides, per arriving request, which model serves it. It sees a read-only
// RouterView that holds only what a real gateway in front of the model servers could know:
// the request's task, prompt length and latency objective (per output token: a gateway does
// not know how many tokens a request will generate); its own dispatches and completions (in-flight
// counts per model and per replica); the servers' running-batch and queue sizes (vLLM reports
// these as num_running / num_waiting); its arrival-rate estimate; the clock. Simulator internals
// a gateway cannot see (the request's true output length, remaining tokens, KV use) enter the
// view only when the scenario sets `oracle_view: true`, so a policy learned without the oracle
// runs unchanged behind a real gateway. The load balancer, not the router, then picks the
// replica.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "common/request.h"

namespace bestserve {

struct ModelLoad {
  int32_t running = 0;    // sequences in running batches, over the model's replicas
  int32_t waiting = 0;    // requests queued (per-replica queues, or the shared queue)
  int32_t in_flight = 0;  // dispatched and not finished = running + waiting
  int32_t num_replicas = 0;
  // Prompt tokens of the requests in flight (as dispatched, after any truncation): a gateway
  // sums the prompts it sent and has not seen finish.
  int64_t in_flight_prompt_tokens = 0;
};

struct ReplicaLoad {
  ModelId model = 0;
  int32_t gpu = 0;
  int32_t running = 0;
  int32_t waiting = 0;  // 0 under shared queueing (the queue belongs to the model)
  int32_t max_batch_size = 0;
  // Oracle only (-1 otherwise): free KV tokens and output tokens still to generate.
  int64_t oracle_kv_free_tokens = -1;
  int64_t oracle_remaining_tokens = -1;
};

struct RouterView {
  double now_s = 0.0;
  int64_t request_id = 0;
  TaskId task = 0;
  int32_t prompt_tokens = 0;
  // The request's latency objective as a gateway knows it: base + per-token allowance.
  double deadline_base_s = 0.0;
  double deadline_per_token_s = 0.0;
  // Oracle only (-1 otherwise): the true output length and the absolute deadline it implies.
  int32_t oracle_output_tokens = -1;
  double oracle_deadline_s = -1.0;
  double arrival_rate_rps = 0.0;     // the scenario's rate estimator, this arrival included
  // The rate at a second, slower time scale: DecayedCountRate(kSlowRateHalfLifeS)
  // (router/core/observation.h), this arrival included, whatever the scenario's estimator.
  double slow_arrival_rate_rps = 0.0;
  int32_t max_tokens = 0;            // the client's max_tokens hint; 0: none sent
  bool oracle = false;
  std::span<const ModelLoad> models;      // indexed by ModelId
  std::span<const ReplicaLoad> replicas;  // indexed by replica

  int32_t num_models() const { return static_cast<int32_t>(models.size()); }
};

class RoutingPolicy {
 public:
  virtual ~RoutingPolicy() = default;

  // Returns the model for the request in `view`: a ModelId in [0, view.num_models()).
  // Validates the policy's answer (an out-of-range model is an invariant failure of the
  // policy) and counts decisions. A model with no replicas, or whose replicas cannot hold the
  // request, is a valid answer: the simulator rejects the request with the reason and reward 0.
  ModelId Route(const RouterView& view);

  // Called once before each run/episode with the number of models (action space size).
  void Reset(int32_t num_models);

  virtual std::string Describe() const = 0;
  int64_t decisions() const { return decisions_; }

 protected:
  // The policy's choice. Must not keep references into `view` past the call.
  virtual ModelId DoRoute(const RouterView& view) = 0;
  // Hook for per-run state (random streams, rate history).
  virtual void DoReset() {}

 private:
  int64_t decisions_ = 0;
};

}  // namespace bestserve
