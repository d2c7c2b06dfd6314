// Summary statistics of a workload or a trace, defined exactly as in shared/traces/README.md:
//
// Let N arrivals have sorted times t, span T = t_last - t_first.
//  * mean rate: N / T.
//  * peak-to-mean over w-second windows: split [t_first, t_first + ceil(T/w) * w) into windows
//    of length w; (maximum count in one window) / (N / number of windows). Empty windows count.
//    Edge cases the README leaves open: an arrival exactly at t_first + ceil(T/w) * w (possible
//    only when T is a multiple of w) is counted in the last window; T = 0 gives one window.
//  * CV of inter-arrival times: population standard deviation / mean of the N - 1 gaps.
//  * token quantiles: linear interpolation between order statistics (numpy's default):
//    q(p) = x[floor(h)] + (h - floor(h)) (x[floor(h) + 1] - x[floor(h)]), h = (N - 1) p.
// Undefined values (N < 2, T = 0, no gaps) are NaN and print as "n/a".
//
// Also reported, for the MAF fits: the population CV and lag-1 autocorrelation of the per-window
// counts over 60 s windows.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/request.h"
#include "common/tasks.h"
#include "workloads/trace_reader.h"

namespace bestserve {

// Arrivals plus whatever else is known about them (empty vectors: unknown).
struct ArrivalData {
  std::vector<double> arrival_s;        // sorted ascending
  std::vector<int32_t> prompt_tokens;   // per arrival, or empty
  std::vector<int32_t> output_tokens;   // per arrival, or empty
  std::vector<std::string> task_names;  // per task id, or empty
  std::vector<int64_t> task_counts;     // per task id, or empty
  std::string source;                   // file or description
  std::string note;                     // e.g. "arrivals spread within minutes (uniform)"
};

struct WindowCounts {
  double window_s = 0.0;
  int64_t windows = 0;
  int64_t max_count = 0;
  double peak_to_mean = kUnset;
  double cv = kUnset;    // population CV of the per-window counts
  double lag1 = kUnset;  // lag-1 autocorrelation of the per-window counts
};

struct TokenSummary {
  int64_t count = 0;
  double min = kUnset, p50 = kUnset, mean = kUnset, p90 = kUnset, p99 = kUnset, max = kUnset;
};

struct WorkloadStats {
  int64_t count = 0;
  double first_s = kUnset;
  double last_s = kUnset;
  double duration_s = kUnset;  // T = t_last - t_first
  double mean_rate_rps = kUnset;
  WindowCounts windows_1s;
  WindowCounts windows_60s;
  double mean_interarrival_s = kUnset;
  double cv_interarrival = kUnset;
  int64_t zero_gaps = 0;
  std::vector<std::string> task_names;
  std::vector<int64_t> task_counts;
  std::optional<TokenSummary> prompt_tokens;
  std::optional<TokenSummary> output_tokens;
  std::string source;
  std::string note;
};

// Window counts of sorted arrival times (definition above). Precondition: sorted.
WindowCounts CountWindows(std::span<const double> sorted_s, double window_s);

WorkloadStats ComputeStats(const ArrivalData& data);

// From a generated workload (task names from the table).
ArrivalData ArrivalDataFromWorkload(const Workload& workload, const TaskTable& tasks);

// Loads a request CSV (format "request_csv", read without a task table: tasks are counted by
// name) or a trace in any trace_reader format, streaming. `format` "auto" detects it from the
// first line. 2019 traces are spread within minutes with `spread` and seed `spread_seed`.
ArrivalData LoadArrivalData(const std::string& path, const std::string& format,
                            MinuteSpread spread = MinuteSpread::kUniform, uint64_t spread_seed = 0);

// Requests per second in consecutive bins of `bin_s` from the first arrival: (bin start, rate).
std::vector<std::pair<double, double>> RateSeries(std::span<const double> sorted_s, double bin_s);

// Human-readable report (aligned "name: value" lines) and a JSON document with the same fields.
std::string FormatStatsText(const WorkloadStats& stats);
std::string FormatStatsJson(const WorkloadStats& stats);

}  // namespace bestserve
