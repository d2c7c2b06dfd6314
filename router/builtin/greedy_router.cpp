// greedy: the best-quality model for this task whose predicted latency meets the objective.
//
//   | form                            | settings                                            |
//   |---------------------------------|-----------------------------------------------------|
//   | greedy                          | slack 1.0                                           |
//   | {name: greedy, slack: s}        | accept a model when predicted latency <= s x budget |
//
// If no model meets it, the fastest predicted. The prediction uses only what a gateway knows
// (view + profiles + the task table's mean output length; the true output length only with
// oracle_view): on the replica the load balancer would choose (fewest in flight), latency =
// ((queued + 1) prefills of this prompt + (output_tokens - 1) decode steps at batch
// running + queued + 1 + J) / (1 - r * prefill), where r = estimated arrival rate / replicas of
// the model, and J = r * (calm latency) / 2 the requests expected to join during the run:
// pessimistic, as if every future arrival came here. A heuristic baseline: it knows the profiles
// exactly, which a learned policy does not.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "router/builtin/registry.h"

namespace bestserve {
namespace {

class GreedyRouter : public RoutingPolicy {
 public:
  GreedyRouter(const ServingSystem& system, const TaskTable& tasks, std::vector<std::vector<double>> quality,
               double slack);
  std::string Describe() const override { return fmt::format("greedy(slack={})", slack_); }

  // Predicted latency (s) of the request in `view` if sent to `model`; +inf when the model
  // has no replica.
  double PredictLatency(const RouterView& view, ModelId model) const;

 protected:
  ModelId DoRoute(const RouterView& view) override;

 private:
  const ServingSystem* system_;
  std::vector<double> mean_output_tokens_;  // by task
  std::vector<std::vector<ModelId>> preference_;  // by task: models best quality first
  double slack_;
};

GreedyRouter::GreedyRouter(const ServingSystem& system, const TaskTable& tasks,
                           std::vector<std::vector<double>> quality, double slack)
    : system_(&system), slack_(slack) {
  for (TaskId t = 0; t < tasks.num_tasks(); ++t) {
    mean_output_tokens_.push_back(tasks.task(t).output_tokens.Mean());
    std::vector<ModelId> order(system.model_names.size());
    std::iota(order.begin(), order.end(), 0);
    const auto& q = quality[static_cast<size_t>(t)];
    // Best quality first; equal quality: the later (larger) model in action order first.
    std::stable_sort(order.begin(), order.end(), [&](ModelId a, ModelId b) {
      const double qa = q[static_cast<size_t>(a)];
      const double qb = q[static_cast<size_t>(b)];
      return qa != qb ? qa > qb : a > b;
    });
    preference_.push_back(order);
  }
}


double GreedyRouter::PredictLatency(const RouterView& view, ModelId model) const {
  const ModelLoad& load = view.models[static_cast<size_t>(model)];
  if (load.num_replicas == 0) return std::numeric_limits<double>::infinity();
  // The replica the smallest-batch balancer would pick.
  int32_t best = -1;
  int64_t best_in_flight = 0;
  for (size_t r = 0; r < view.replicas.size(); ++r) {
    const ReplicaLoad& replica = view.replicas[r];
    if (replica.model != model) continue;
    const int64_t in_flight = replica.running + replica.waiting;
    if (best < 0 || in_flight < best_in_flight) {
      best = static_cast<int32_t>(r);
      best_in_flight = in_flight;
    }
  }
  const ReplicaLoad& replica = view.replicas[static_cast<size_t>(best)];
  // Under shared queueing the queue is the model's; assume it drains evenly over the replicas.
  const double queued = system_->queueing == Queueing::kShared
                            ? static_cast<double>(load.waiting) / load.num_replicas
                            : static_cast<double>(replica.waiting);
  const double output_tokens = view.oracle_output_tokens > 0
                                   ? view.oracle_output_tokens
                                   : mean_output_tokens_[static_cast<size_t>(view.task)];
  const auto& profile = *system_->model_profiles[static_cast<size_t>(model)];
  const double context = view.prompt_tokens + 0.5 * output_tokens;
  const double clamped_context =
      std::min(context, static_cast<double>(profile.model().max_context_tokens));
  const double prefill = profile.PrefillSeconds(std::max<int32_t>(view.prompt_tokens, 1));
  auto step_at = [&](double batch) {
    const double b = std::clamp(batch, 1.0, static_cast<double>(replica.max_batch_size));
    return profile.DecodeStepSeconds(static_cast<int32_t>(std::lround(b)), clamped_context);
  };
  const double base_batch = replica.running + queued + 1.0;
  const double calm = (queued + 1.0) * prefill + std::max(output_tokens - 1.0, 0.0) * step_at(base_batch);
  // Pessimistic about the future: assume every arrival at the estimated rate may land on this
  // replica while the request runs. Each one pauses decoding for a prefill (the factor
  // 1 / (1 - rate * prefill)) and joins the batch (half of them on average over the run).
  const double replica_rate = view.arrival_rate_rps / load.num_replicas;
  const double prefill_share = replica_rate * prefill;
  if (prefill_share >= 1.0) return std::numeric_limits<double>::infinity();
  const double joined = 0.5 * replica_rate * calm;
  const double busy = (queued + 1.0) * prefill + std::max(output_tokens - 1.0, 0.0) * step_at(base_batch + joined);
  return busy / (1.0 - prefill_share);
}

ModelId GreedyRouter::DoRoute(const RouterView& view) {
  const auto& order = preference_[static_cast<size_t>(view.task)];
  // The budget for the length PredictLatency assumes: the true deadline with the oracle, else
  // the per-token objective times the task's mean output length.
  const double budget = view.oracle_deadline_s > 0.0
                            ? view.oracle_deadline_s
                            : view.deadline_base_s + view.deadline_per_token_s *
                                                         mean_output_tokens_[static_cast<size_t>(view.task)];
  ModelId fastest = order.front();
  double fastest_latency = std::numeric_limits<double>::infinity();
  for (ModelId model : order) {
    const double latency = PredictLatency(view, model);
    if (latency <= slack_ * budget) return model;
    if (latency < fastest_latency) {
      fastest = model;
      fastest_latency = latency;
    }
  }
  return fastest;
}

std::unique_ptr<RoutingPolicy> Make(const RouterSpec& spec, const RouterContext& ctx) {
  spec.CheckKeys({"slack"});
  if (spec.has_argument()) spec.Fail("greedy takes no argument (slack goes in the map form)");
  double slack = 1.0;
  if (auto setting = spec.Setting("slack")) {
    slack = setting->AsDouble();
    if (!(slack > 0.0) || !std::isfinite(slack)) setting->Fail(fmt::format("expected a finite slack > 0, got {}", slack));
  }
  return std::make_unique<GreedyRouter>(*ctx.system, *ctx.tasks, ctx.quality, slack);
}

std::vector<std::string> DefaultSpecs(const ServingSystem&) { return {"greedy"}; }

}  // namespace

extern const RouterKind kGreedyRouter{"greedy", "greedy",
                                      "the best model whose predicted latency meets the deadline", Make,
                                      DefaultSpecs};

}  // namespace bestserve
