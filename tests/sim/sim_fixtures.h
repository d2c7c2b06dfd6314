// Small builders for simulator tests: systems and workloads made in code, so that sim tests
// depend on nothing but sim/ and common/.
#pragma once

#include <fmt/format.h>

#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/rng.h"
#include "common/tasks.h"
#include "sim/cluster.h"
#include "sim/latency_profile.h"
#include "router/core/rate_estimator.h"
#include "sim/reward.h"
#include "sim/simulator.h"

namespace bestserve::testing {

// A profile set whose single model "m" serves a request in prompt_tokens * seconds_per_token
// seconds: one prefill iteration, linear in tokens through the origin, and one output token.
// With geometric prompt lengths of large mean this is exponential service to within 1/mean.
inline ProfileSet LinearServiceProfile(double seconds_per_token, int max_batch = 1) {
  const double ms = seconds_per_token * 1e3;
  const std::string yaml = fmt::format(R"(
name: linear
gpu: {{name: test-gpu, memory_gib: 1024}}
provenance: {{kind: derived, sources: [test], method: "service time = tokens x {ms} ms"}}
models:
  m:
    weight_bytes: 1
    kv_bytes_per_token: 0.001
    max_batch_size: {batch}
    max_context_tokens: 2000000000
    decode_step_ms: {{batch_sizes: [1, {batch_end}], context_tokens: [0, 2000000000], values: [[{ms}, {ms}], [{ms}, {ms}]]}}
    prefill_ms: {{tokens: [1, 1000000000], values: [{ms}, {ms_big}]}}
)",
                                       fmt::arg("ms", ms), fmt::arg("ms_big", ms * 1e9),
                                       fmt::arg("batch", max_batch),
                                       fmt::arg("batch_end", std::max(max_batch, 2)));
  return ProfileSet::Parse(ConfigNode::LoadString(yaml, "linear-profile"));
}

inline ServingSystem SingleModelSystem(const ProfileSet& profiles, int replicas, Queueing queueing,
                                       int max_batch = 1) {
  const std::string yaml = fmt::format(R"(
gpu_groups:
  - count: {replicas}
    instances: [{{model: m, memory_fraction: 1.0, max_batch_size: {batch}}}]
queueing: {queueing}
max_prefill_tokens: 2000000000
)",
                                       fmt::arg("replicas", replicas), fmt::arg("batch", max_batch),
                                       fmt::arg("queueing", ToString(queueing)));
  return ParseServingSystem(ConfigNode::LoadString(yaml, "system"), profiles, {});
}

// Poisson arrivals at `rate_rps`; every request of task 0 with prompt tokens from `prompt`
// (output 1 token) and a deadline long enough never to matter.
inline Workload PoissonRequests(double rate_rps, int64_t n, const TokenLengthSpec& prompt,
                                uint64_t seed) {
  Rng arrivals(DeriveSeed(seed, "arrivals"));
  Rng lengths(DeriveSeed(seed, "lengths"));
  Workload w;
  double t = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    t += arrivals.Exponential(rate_rps);
    Request r;
    r.id = i;
    r.arrival_s = t;
    r.prompt_tokens = prompt.Sample(lengths);
    r.output_tokens = 1;
    r.deadline_s = 1e12;
    r.nominal_rate_rps = rate_rps;
    w.push_back(r);
  }
  return w;
}

inline std::unique_ptr<Simulator> MakeSim(const ServingSystem& system, size_t num_tasks = 1,
                                          DeadlineSpec deadline = {}, uint64_t seed = 1) {
  std::vector<std::vector<double>> quality(
      num_tasks, std::vector<double>(system.model_names.size(), 1.0));
  return std::make_unique<Simulator>(system, quality, deadline,
                                     std::make_unique<LastKRateEstimator>(5), false, seed);
}

// Runs every request to `model` (or round-robin over models when model < 0).
inline void RunAll(Simulator& sim, Workload w, ModelId model = 0) {
  sim.Reset(std::move(w));
  int64_t i = 0;
  const auto num_models = static_cast<int64_t>(sim.system().model_names.size());
  while (sim.AdvanceToNextArrival()) {
    sim.Dispatch(model >= 0 ? model : static_cast<ModelId>(i++ % num_models));
  }
  sim.Drain();
}

// Mean and standard error by the method of batch means (consecutive batches absorb the
// autocorrelation of queueing delays), skipping a warm-up prefix.
struct BatchMeans {
  double mean = 0.0;
  double standard_error = 0.0;
};
inline BatchMeans ComputeBatchMeans(const std::vector<double>& values, size_t warmup, size_t batches) {
  const size_t n = (values.size() - warmup) / batches;
  std::vector<double> means;
  for (size_t b = 0; b < batches; ++b) {
    double sum = 0.0;
    for (size_t i = 0; i < n; ++i) sum += values[warmup + b * n + i];
    means.push_back(sum / static_cast<double>(n));
  }
  double grand = 0.0;
  for (double m : means) grand += m;
  grand /= static_cast<double>(batches);
  double var = 0.0;
  for (double m : means) var += (m - grand) * (m - grand);
  var /= static_cast<double>(batches - 1);
  return {grand, std::sqrt(var / static_cast<double>(batches))};
}

}  // namespace bestserve::testing
