#include "router/builtin/latency_prediction.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace bestserve {

std::vector<std::vector<double>> QualityFractionOfPeak(const std::vector<std::vector<double>>& quality) {
  std::vector<std::vector<double>> fractions;
  for (const auto& row : quality) {
    double peak = 0.0;
    for (double q : row) peak = std::max(peak, q);
    std::vector<double> normalized;
    for (double q : row) normalized.push_back(peak > 0.0 ? q / peak : 0.0);
    fractions.push_back(std::move(normalized));
  }
  return fractions;
}
namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();

// Prefill seconds of `prompt_tokens`, never outside the table: past its last row, that row's
// time scaled by tokens / last row's tokens.
double PrefillSecondsInTable(const LatencyProfile& profile, int32_t prompt_tokens) {
  const auto& xs = profile.model().prefill_ms.xs();
  const double tokens = std::max<double>(prompt_tokens, 1.0);
  const double first = xs.empty() ? 1.0 : std::max(xs.front(), 1.0);
  const double last = xs.empty() ? tokens : xs.back();
  if (tokens < first) return profile.PrefillSeconds(static_cast<int64_t>(std::ceil(first)));
  if (tokens <= last) return profile.PrefillSeconds(prompt_tokens < 1 ? 1 : prompt_tokens);
  return profile.PrefillSeconds(static_cast<int64_t>(last)) * (tokens / last);
}

}  // namespace

LatencyPredictor::LatencyPredictor(const ServingSystem& system, const TaskTable& tasks) : system_(&system) {
  for (TaskId t = 0; t < tasks.num_tasks(); ++t) mean_output_tokens_.push_back(tasks.task(t).output_tokens.Mean());
}

double LatencyPredictor::OutputTokens(const RouterView& view) const {
  return view.oracle_output_tokens > 0 ? view.oracle_output_tokens
                                       : mean_output_tokens_[static_cast<size_t>(view.task)];
}

double LatencyPredictor::Budget(const RouterView& view) const {
  return view.oracle_deadline_s > 0.0
             ? view.oracle_deadline_s
             : view.deadline_base_s + view.deadline_per_token_s * mean_output_tokens_[static_cast<size_t>(view.task)];
}

double LatencyPredictor::PredictLatency(const RouterView& view, ModelId model) const {
  const ModelLoad& load = view.models[static_cast<size_t>(model)];
  if (load.num_replicas == 0) return kInfinity;
  const auto& profile = *system_->model_profiles[static_cast<size_t>(model)];
  const int64_t window = profile.model().max_context_tokens;
  if (view.prompt_tokens >= window) return kInfinity;
  if (view.oracle_output_tokens >= 0 &&
      static_cast<int64_t>(view.prompt_tokens) + view.oracle_output_tokens > window) {
    return kInfinity;
  }
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
  if (best < 0) return kInfinity;
  const ReplicaLoad& replica = view.replicas[static_cast<size_t>(best)];
  // Under shared queueing the queue is the model's; assume it drains evenly over the replicas.
  const double queued = system_->queueing == Queueing::kShared
                            ? static_cast<double>(load.waiting) / load.num_replicas
                            : static_cast<double>(replica.waiting);
  const double output_tokens = OutputTokens(view);
  const double context = view.prompt_tokens + 0.5 * output_tokens;
  // A table profile is asked only inside its grid; a fitted (parametric) one has no tables and
  // answers for any batch and context.
  const Table2D& decode = profile.model().decode_step_ms;
  const bool tabulated = !decode.xs().empty();
  const double context_in_window = std::min(context, static_cast<double>(window));
  const double clamped_context =
      tabulated ? std::clamp(context_in_window, decode.ys().front(), decode.ys().back()) : context_in_window;
  const double prefill = PrefillSecondsInTable(profile, view.prompt_tokens);
  const double replica_batch = static_cast<double>(std::max(replica.max_batch_size, 1));
  const double max_batch = tabulated ? std::min(replica_batch, decode.xs().back()) : replica_batch;
  const double min_batch = tabulated ? std::max(1.0, decode.xs().front()) : 1.0;
  auto step_at = [&](double batch) {
    const double b = std::clamp(batch, min_batch, std::max(max_batch, 1.0));
    return profile.DecodeStepSeconds(static_cast<int32_t>(std::lround(b)), clamped_context);
  };
  const double base_batch = replica.running + queued + 1.0;
  const double calm = (queued + 1.0) * prefill + std::max(output_tokens - 1.0, 0.0) * step_at(base_batch);
  // Pessimistic about the future: assume every arrival at the estimated rate may land on this
  // replica while the request runs. Each one pauses decoding for a prefill (the factor
  // 1 / (1 - rate * prefill)) and joins the batch (half of them on average over the run).
  const double replica_rate = view.arrival_rate_rps / load.num_replicas;
  const double prefill_share = replica_rate * prefill;
  if (!(prefill_share < 1.0)) return kInfinity;
  const double joined = 0.5 * replica_rate * calm;
  const double busy = (queued + 1.0) * prefill + std::max(output_tokens - 1.0, 0.0) * step_at(base_batch + joined);
  const double latency = busy / (1.0 - prefill_share);
  return std::isnan(latency) ? kInfinity : latency;
}

}  // namespace bestserve
