// Metrics: summaries computed after a run from per-request records only.
//
// Glossary (docs/metrics.md has the long form; symbols as in ../shared/PAPER.md):
//   r_i            reward of request i (sim/reward.h), 0 for rejected requests
//   p_i            peak reward of request i = max_m A[task_i][m] (1.0 with the paper's matrix)
//   mean_reward_fraction = sum r_i / sum p_i                  ("performance", fraction of peak)
//   window average w_j = (1/W) sum_{i=j}^{j+W-1} r_i / p_i    (sliding, W = 20, in arrival order;
//                                                             n - W + 1 windows)
//   threshold counts: windows with w_j = 1.00, >= 0.99, >= 0.98, >= 0.96, >= 0.94 (Tables 2-4;
//                     compared with a 1e-9 tolerance so that float sums of exact values count)
//   latency        completion - arrival, over completed (not rejected) requests; quantiles by
//                  linear interpolation between order statistics
//   ttft           time to first token: first_token - arrival, over completed requests
//   tpot           time per output token after the first: (completion - first_token) /
//                  (output_tokens - 1), over completed requests with more than one output token
//                  (as vLLM's benchmark and DistServe report it)
//   deadline_miss_rate  (requests not meeting their deadline, rejected included) / n
//   throughput_rps completed requests / (last completion - first arrival)
//   hardware_utility    mean_reward_fraction / number of GPUs (the paper's Figures 13-14)
//   mean_in_system (L)  time average of requests dispatched and not finished, from the
//                  simulator's own integral; Little's law says L = lambda * W with
//                  lambda = n / (last finish - first arrival) and W the mean sojourn time.
#pragma once

#include <fmt/format.h>

#include <functional>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "common/double_list.h"
#include "common/tasks.h"
#include "sim/simulator.h"

namespace bestserve {

struct MetricsOptions {
  int32_t window = 20;
  std::vector<double> thresholds = {1.00, 0.99, 0.98, 0.96, 0.94};
  int32_t selection_bin_requests = 500;  // selection mix over time, per bin of this many requests
};

// Mean and quantiles of one per-request quantity.
struct Distribution {
  int64_t count = 0;
  double mean = 0.0;
  double p50 = 0.0;
  double p90 = 0.0;
  double p99 = 0.0;
};
// Of `values` in any order (0s for an empty list).
Distribution Describe(std::vector<double> values);

class JsonWriter;
// Writes `"key": {"count", "mean", "p50", "p90", "p99"}` into an open JSON object.
void WriteDistribution(JsonWriter& writer, const char* key, const Distribution& d);

// Per-request TTFT and TPOT in seconds; NaN where undefined (rejected; TPOT of one token).
double TimeToFirstToken(const RequestRecord& record);
double TimePerOutputToken(const RequestRecord& record);

struct Summary {
  int64_t num_requests = 0;
  int64_t completed = 0;
  int64_t rejected = 0;
  // By reason, every reason listed: no_replica, exceeds_context_window, exceeds_kv_capacity.
  std::vector<std::pair<std::string, int64_t>> rejected_by_reason;
  double total_reward = 0.0;
  double total_peak = 0.0;
  double mean_reward_fraction = 0.0;
  double deadline_miss_rate = 0.0;
  double latency_p50_s = 0.0;
  double latency_p90_s = 0.0;
  double latency_p99_s = 0.0;
  double latency_mean_s = 0.0;
  Distribution ttft_s;
  Distribution tpot_s;
  std::string engine;  // cluster.engine.kind
  double throughput_rps = 0.0;
  double offered_rate_rps = 0.0;  // n / (last arrival - first arrival)
  double hardware_utility = 0.0;
  double mean_in_system = 0.0;
  double little_lambda_w = 0.0;  // lambda * W, to compare with mean_in_system
  int32_t num_gpus = 0;
  std::vector<std::string> model_names;
  std::vector<std::string> task_names;
  std::vector<int64_t> selections;                     // by model
  std::vector<std::vector<int64_t>> selections_by_task;  // [task][model]
  std::vector<std::vector<int64_t>> selections_over_time;  // [bin][model]
  std::vector<double> window_averages;  // empty when a SummaryBuilder streamed them elsewhere
  int64_t num_windows = 0;
  std::vector<double> thresholds;
  std::vector<int64_t> threshold_counts;
  SimCounters counters;
};

Summary Summarize(const Simulator& sim, const TaskTable& tasks, const MetricsOptions& options);

// Builds a Summary from finished records given one at a time, in id order; Summarize is this
// over a span, so both give the same Summary bit for bit. Its memory grows with the run only
// in what needs every value: latencies, TTFTs and TPOTs for their quantiles (8 bytes a request
// each) and the window averages. SpillTo moves the first to unlinked temporary files and
// StreamWindowsTo hands the second on as they are made, so that a run of millions of requests
// holds O(window) (sim/README.md, "Streaming").
class SummaryBuilder {
 public:
  SummaryBuilder(const ServingSystem& system, const TaskTable& tasks, const MetricsOptions& options);
  // Call before the first Add.
  void SpillTo(const std::string& dir);
  // Window averages go to `sink` (index, average) instead of Summary::window_averages.
  void StreamWindowsTo(std::function<void(int64_t, double)> sink);

  void Add(const RequestRecord& rec);
  // `counters` supplies start_s, end_s and in_system_area (and is copied into the Summary).
  Summary Finish(const SimCounters& counters);

 private:
  void AddWindowValue(double normalized);
  void EmitWindow(double sum);

  MetricsOptions options_;
  Summary s_;
  int64_t index_ = 0;
  double first_arrival_ = 0.0;
  double last_arrival_ = 0.0;
  double last_finish_ = 0.0;
  double sojourn_sum_ = 0.0;
  int64_t misses_ = 0;
  int64_t server_errors_ = 0;
  DoubleList latencies_;
  DoubleList ttfts_;
  DoubleList tpots_;
  // The last `window` normalized rewards, oldest at ring_head_, and the running sum.
  std::vector<double> ring_;
  size_t ring_head_ = 0;
  double window_sum_ = 0.0;
  std::function<void(int64_t, double)> window_sink_;
};
// The same from records made elsewhere (a live run against a server, serve/loadgen.h): every
// record finished, in id order; a record with model -1 (no model answered) counts in no
// selection. `counters` supplies start_s, end_s and in_system_area.
Summary Summarize(std::span<const RequestRecord> records, const ServingSystem& system,
                  const SimCounters& counters, const TaskTable& tasks, const MetricsOptions& options);


// Per-request log: one CSV row per request, in id (arrival) order.
std::string FormatRequestLog(const Simulator& sim, const TaskTable& tasks);
// requests.csv rows written to a stream as records come (in id order), 64 KiB at a time.
class RequestLogWriter {
 public:
  // Writes the header. `out`, `names` and `tasks` must outlive the writer.
  RequestLogWriter(std::ostream& out, const std::vector<std::string>& names, const TaskTable& tasks);
  void Add(const RequestRecord& rec);
  // Writes what is buffered (call at the end).
  void Flush();

 private:
  std::ostream* out_;
  const std::vector<std::string>* names_;
  const TaskTable* tasks_;
  fmt::memory_buffer rows_;
};
// requests.csv written row by row into `path` (WriteFileAtomically), never held as one string:
// the same bytes as FormatRequestLog.
void WriteRequestLog(const std::string& path, std::span<const RequestRecord> records,
                     const std::vector<std::string>& names, const TaskTable& tasks);
std::string FormatRequestLog(std::span<const RequestRecord> records,
                             const std::vector<std::string>& model_names, const TaskTable& tasks);
// The summary as JSON (windowed averages go to FormatWindows, not here).
std::string FormatSummaryJson(const Summary& summary);
// index,window_average CSV.
std::string FormatWindows(const Summary& summary);

}  // namespace bestserve
