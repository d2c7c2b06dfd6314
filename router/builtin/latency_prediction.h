// The gateway-side latency prediction shared by the routers that weigh predicted latency
// (greedy, slack): what a request would take on a model, from the view and the profiles only.
//
// On the replica the load balancer would choose (fewest in flight), latency =
// ((queued + 1) prefills of this prompt + (output_tokens - 1) decode steps at batch
// running + queued + 1 + J) / (1 - r * prefill), where r = estimated arrival rate / replicas of
// the model, and J = r * (calm latency) / 2 the requests expected to join during the run:
// pessimistic, as if every future arrival came here. The output length is the task table's mean
// (the true one only with oracle_view).
//
// Requests a model cannot serve, and lookups outside its tables (documented, never an abort):
//   * +inf when the model has no replica, when the prompt leaves no room for one output token in
//     the model's window (prompt >= max_context_tokens; with oracle_view, prompt + true output >
//     window), or when the replica's prefill share r * prefill reaches 1 (saturated);
//   * a prompt longer than the prefill table's last row costs that row's time scaled linearly
//     with the tokens (prefill grows at least linearly with the prompt), so no lookup leaves the
//     table; decode lookups clamp batch and context to the table's edges.
// Inside the tables the arithmetic is the one greedy has always used, bit for bit.
#pragma once

#include <vector>

#include "common/tasks.h"
#include "router/core/routing_policy.h"
#include "sim/cluster.h"

namespace bestserve {

class LatencyPredictor {
 public:
  LatencyPredictor(const ServingSystem& system, const TaskTable& tasks);

  // Predicted latency (s) of the request in `view` if sent to `model`; +inf when the model
  // cannot serve it (see above). Never throws and never returns NaN.
  double PredictLatency(const RouterView& view, ModelId model) const;

  // The output length the prediction assumes: the true one with oracle_view, else the task's
  // mean.
  double OutputTokens(const RouterView& view) const;
  // The latency objective for that length: the true deadline with the oracle, else the per-token
  // objective times the task's mean output length.
  double Budget(const RouterView& view) const;

 private:
  const ServingSystem* system_;
  std::vector<double> mean_output_tokens_;  // by task
};

// quality[task][model] as a fraction of the task's best model (0 where no model is positive):
// what the score-based routers (scorer, vqueue) weigh against predicted latency.
std::vector<std::vector<double>> QualityFractionOfPeak(const std::vector<std::vector<double>>& quality);

}  // namespace bestserve
