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
  // Inputs the network takes (for batch buffers); "paper-v1", "extended-v1" or "request-v1".
  int observation_size() const;
  const std::string& observation_encoding() const;
  // The estimator the policy was trained with: "last_k(k=5)", "ewma(half_life_s=1)", "true".
  const std::string& rate_estimator() const;
  // What a decision needs besides the task and in-flight counts: the per-model queued counts
  // (extended-v1, request-v1) and this request's prompt length in tokens (request-v1).
  bool needs_queued() const;
  bool needs_prompt_tokens() const;

  // Records an arrival at gateway time `now_s` (seconds, non-decreasing) and returns the new
  // rate estimate (requests/s). With a "true"-rate policy, use SetArrivalRate instead.
  double ObserveArrival(double now_s);
  // Overrides the estimate (e.g. a rate the gateway knows); the next ObserveArrival replaces it.
  void SetArrivalRate(double rate_rps);
  double arrival_rate_rps() const;

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
