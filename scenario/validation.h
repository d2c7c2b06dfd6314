// `bestserve validate`: a measured run replayed through a scenario, request by request.
//
// Every measured request is sent at its measured arrival time with its lengths to the
// scenario's one model; the simulated TTFT, TPOT and end-to-end latency are compared with the
// measured ones, one to one. Reported per metric: mean, p50, p90, p99 of each side (sim/metrics.h
// quantiles), the relative error of the mean (simulated / measured - 1) and the per-request
// mean absolute percentage error; and SLO attainment as DistServe reports it: the fraction of
// requests with TTFT <= ttft_slo and TPOT <= tpot_slo (a one-token output has no TPOT and
// meets that part). A request the simulator rejects misses the SLO and is left out of the
// latency comparisons (counted).
#pragma once

#include <string>
#include <vector>

#include "scenario/measured_run.h"
#include "scenario/scenario.h"
#include "sim/metrics.h"

namespace bestserve {

struct ValidationOptions {
  double ttft_slo_s = 0.2;
  double tpot_slo_s = 0.1;
};

struct ValidationRow {
  MeasuredRequest measured;
  double ttft_s = 0.0;  // simulated; NaN when rejected
  double tpot_s = 0.0;  // NaN when rejected or one output token
  double e2e_s = 0.0;
  bool rejected = false;
};

struct MetricComparison {
  Distribution measured;
  Distribution simulated;
  double mean_error = 0.0;  // simulated mean / measured mean - 1
  double mape = 0.0;        // mean over requests of |simulated - measured| / measured
};

struct ValidationResult {
  std::string scenario;
  std::string measured_source;
  std::string engine;
  std::vector<ValidationRow> rows;
  MetricComparison ttft_s;
  MetricComparison tpot_s;
  MetricComparison e2e_s;
  double slo_measured = 0.0;  // fraction of requests
  double slo_simulated = 0.0;
  ValidationOptions options;
  int64_t rejected = 0;
  SimCounters counters;
};

// Throws ConfigError when the scenario does not serve exactly one model.
ValidationResult Validate(const Scenario& scenario, const MeasuredRun& run,
                          const ValidationOptions& options);

std::string FormatValidationCsv(const ValidationResult& result);
std::string FormatValidationJson(const ValidationResult& result);
// The Markdown table of README "How close is the simulator to a real server".
std::string FormatValidationMarkdown(const ValidationResult& result);

}  // namespace bestserve
