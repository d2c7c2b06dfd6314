// bestserve's deployable router: load an exported policy file and decide, per request, which
// model serves it, in about a microsecond, with no libtorch (standard library only).
//
//   #include <bestserve/router.h>
//   auto router = bestserve::Router::Load("router.bsp");        // throws bestserve::RouterError
//   const int task = router->TaskIndex("hellaswag");
//   int32_t in_flight[3] = {...};   // per model, in router->model_names() order
//   int model = router->Route(task, now_seconds, in_flight);  // records the arrival, decides
//
// Thread safety: every method may be called from many threads at once. ObserveArrival/Route
// update the arrival-rate estimate under a mutex (arrivals are serialized, as the estimate is a
// property of the whole stream); Decide reads the latest estimate and runs the network on the
// caller's stack: no allocation and no shared mutable state per decision.
//
// Decisions equal the trainer's greedy decisions on the same observation bit for bit: the
// network arithmetic (router/policy/mlp.h), the observation encoding (router/core/observation.h) and the
// rate estimator (router/core/rate_tracker.h) are the very code the trainer and simulator run.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace bestserve {

class RouterError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Everything a decision may read, as the gateway knows it: one struct, so that an encoding that
// reads more adds a field, not an argument. Which fields a policy reads depends on its
// observation encoding (router/core/observation.h); needs_*() below say which.
struct RouteRequest {
  int task = -1;
  const int32_t* in_flight = nullptr;  // per model: running + queued (every encoding)
  const int32_t* queued = nullptr;     // per model (extended-v1, request-v1, gateway-v1)
  int32_t prompt_tokens = -1;          // this request's (request-v1, gateway-v1)
  // gateway-v1:
  const int64_t* in_flight_prompt_tokens = nullptr;  // per model: prompt tokens of requests in flight
  int32_t max_tokens = 0;              // the client's max_tokens; 0: not sent
  double deadline_base_s = -1.0;       // the latency objective: base + per output token,
  double deadline_per_token_s = -1.0;  //   seconds (an end-to-end deadline: base, per token 0)
};

class Router {
 public:
  // Loads a policy file (`bestserve export` or a `bestserve train` .bsw). Throws RouterError
  // naming the file and what is wrong (missing, truncated, corrupt, wrong version, shapes that
  // disagree, not a routing policy).
  static std::unique_ptr<Router> Load(const std::string& path);
  // The same from bytes in memory; `what` names them in errors.
  static std::unique_ptr<Router> FromBytes(std::string_view bytes, const std::string& what);
  ~Router();

  int num_models() const;
  int num_tasks() const;
  const std::vector<std::string>& model_names() const;
  const std::vector<std::string>& task_names() const;
  // The index of a task name, or -1.
  int TaskIndex(std::string_view name) const;
  // Inputs the network takes (for batch buffers); "paper-v1", "extended-v1", "request-v1" or
  // "gateway-v1".
  int observation_size() const;
  const std::string& observation_encoding() const;
  // The estimator the policy was trained with: "last_k(k=5)", "ewma(half_life_s=1)", "true".
  const std::string& rate_estimator() const;
  // What a decision needs besides the task and in-flight counts: the per-model queued counts
  // (extended-v1 and later) and this request's prompt length in tokens (request-v1 and later).
  bool needs_queued() const;
  bool needs_prompt_tokens() const;
  // gateway-v1: in_flight_prompt_tokens, max_tokens and the deadline of RouteRequest; those
  // policies decide only through the RouteRequest overloads (the others return -1).
  bool needs_gateway_facts() const;

  // Records an arrival at gateway time `now_s` (seconds, non-decreasing) and returns the new
  // rate estimate (requests/s). With a "true"-rate policy, use SetArrivalRate instead. Also
  // updates the slow estimate gateway-v1 reads (a decayed count, kSlowRateHalfLifeS), whatever
  // the policy's estimator.
  double ObserveArrival(double now_s);
  // Overrides the estimate (e.g. a rate the gateway knows); the next ObserveArrival replaces it.
  void SetArrivalRate(double rate_rps);
  double arrival_rate_rps() const;
  double slow_arrival_rate_rps() const;

  // The model for `request` (see RouteRequest), with the current estimates / with given ones;
  // -1 on an invalid task or an input the policy needs that is missing or negative.
  int Decide(const RouteRequest& request) const;
  int DecideWithRates(const RouteRequest& request, double rate_rps, double slow_rate_rps) const;
  // ObserveArrival(now_s), then Decide(request).
  int Route(const RouteRequest& request, double now_s);
  // `count` decisions: requests[i] with rates[i] and slow_rates[i] (nullptr: 0); models[i]
  // receives each (-1 where invalid).
  void DecideBatch(int count, const RouteRequest* requests, const double* rates, const double* slow_rates,
                   int32_t* models) const;
  // The Q-values (num_models() floats) behind DecideWithRates; false (nothing written) where it
  // would return -1.
  bool QValues(const RouteRequest& request, double rate_rps, double slow_rate_rps, float* q_values) const;

  // The positional forms of the above, for paper-v1, extended-v1 and request-v1 policies:

  // The model for a request of `task` given the per-model in-flight counts (running + queued,
  // num_models() entries), for extended-v1 and request-v1 policies the per-model queued counts
  // (else nullptr), and for request-v1 policies the request's prompt tokens (else -1). Uses the
  // current rate estimate. Returns -1 on an invalid task or a missing input the policy needs.
  int Decide(int task, const int32_t* in_flight, const int32_t* queued = nullptr, int32_t prompt_tokens = -1) const;
  // The same with an explicit rate estimate.
  int DecideWithRate(int task, const int32_t* in_flight, const int32_t* queued, double rate_rps,
                     int32_t prompt_tokens = -1) const;
  // ObserveArrival(now_s), then Decide.
  int Route(int task, double now_s, const int32_t* in_flight, const int32_t* queued = nullptr,
            int32_t prompt_tokens = -1);
  // `count` decisions at once: tasks[i], in_flight[i * num_models() ...], queued likewise (or
  // nullptr), rates[i], prompt_tokens[i] (or nullptr); models[i] receives each decision (-1
  // where invalid).
  void DecideBatch(int count, const int32_t* tasks, const int32_t* in_flight, const int32_t* queued,
                   const double* rates, int32_t* models, const int32_t* prompt_tokens = nullptr) const;
  // The Q-values (num_models() floats) behind a decision, for diagnostics.
  void QValues(int task, const int32_t* in_flight, const int32_t* queued, double rate_rps, float* q_values,
               int32_t prompt_tokens = -1) const;

 private:
  struct Impl;
  explicit Router(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace bestserve
