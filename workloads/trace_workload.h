// kind: trace: replays a production trace (trace_reader.h lists the formats and trace clocks).
//
//   | key               | meaning                                                 | default      |
//   |-------------------|---------------------------------------------------------|--------------|
//   | format            | azure_functions_2019, azure_functions_2021, azure_llm,  | required     |
//   |                   | mooncake, burstgpt                                      |              |
//   | path              | the file (.csv, .csv.gz, .jsonl); relative to the config | required     |
//   | window_s          | [start, end): keep arrivals in it, on the trace clock   | [0, +inf)    |
//   | rate_scale        | multiply the rate (divide times after the window start) | 1            |
//   | target_rate_rps   | instead: scale so the kept requests' mean rate N/T is   | -            |
//   |                   | this (N/T as in shared/traces/README.md)                |              |
//   | start_s           | where the window start lands in workload time           | 0            |
//   | max_requests      | keep only the first this-many requests (0: all)         | 0            |
//   | tokens            | trace: lengths from the trace; task_table: drawn from   | trace if the |
//   |                   | the task's TokenLengthSpec                              | format has   |
//   | zero_tokens       | a 0 token count in the trace: error, drop the request,  | error        |
//   |                   | or raise_to_1 (a named, counted substitution)           |              |
//   | task_assignment   | mix: from task_mix; by_function: FNV-1a(function id or  | mix          |
//   |                   | model) mod number of tasks (a function keeps its task)  |              |
//   | task_mix          | task_mix.h; schedules by start_s use workload time      | uniform      |
//   | spread            | azure_functions_2019: uniform, equidistant, poisson     | uniform      |
//   | include_functions | keep only these functions (full "owner/app/function" or | all          |
//   | exclude_functions | "app/func" id, or the last part alone); 2019 and 2021   | none         |
//   | triggers          | azure_functions_2019: keep these Trigger values         | all          |
//   | models            | burstgpt: keep these Model values                       | all          |
//   | log_types         | burstgpt: keep these Log Type values                    | all          |
//
// Workload time = start_s + (trace time - window start) / rate_scale. Requests are sorted by
// arrival (a stable sort: 2019 cells and 2021 end-minus-duration arrivals are not in file
// order). nominal_rate_rps is NaN (a trace has no "true rate"). Streams: "trace_spread" (2019
// spread), "tasks", "lengths".
#pragma once

#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "workloads/trace_reader.h"
#include "workloads/workload_generator.h"

namespace bestserve {

struct TraceWorkloadSettings {
  enum class Tokens { kTrace, kTaskTable };
  enum class ZeroTokens { kError, kDrop, kRaiseToOne };
  enum class TaskAssignment { kMix, kByFunction };

  std::string path;
  TraceFormat format = TraceFormat::kAzureLlm;
  double window_start_s = 0.0;
  double window_end_s = std::numeric_limits<double>::infinity();
  double rate_scale = 1.0;
  double target_rate_rps = 0.0;  // > 0: overrides rate_scale
  double start_s = 0.0;
  int64_t max_requests = 0;
  Tokens tokens = Tokens::kTrace;
  ZeroTokens zero_tokens = ZeroTokens::kError;
  TaskAssignment task_assignment = TaskAssignment::kMix;
  std::optional<ConfigNode> task_mix;
  MinuteSpread spread = MinuteSpread::kUniform;
  std::vector<std::string> include_functions, exclude_functions, triggers, models, log_types;
};

// What a replay kept and dropped, for logs and tests.
struct TraceReplayReport {
  int64_t records_read = 0;
  int64_t outside_window = 0;
  int64_t filtered_out = 0;
  int64_t zero_token_dropped = 0;
  int64_t zero_token_raised = 0;
  int64_t beyond_max_requests = 0;
  double rate_scale = 1.0;  // the factor applied (after target_rate_rps)
};

class TraceWorkload : public WorkloadGenerator {
 public:
  explicit TraceWorkload(TraceWorkloadSettings settings) : settings_(std::move(settings)) {}
  static std::unique_ptr<WorkloadGenerator> FromConfig(const ConfigNode& section,
                                                       const std::string& base_dir);

  Workload Generate(const WorkloadContext& ctx) const override {
    return GenerateWithReport(ctx, nullptr);
  }
  Workload GenerateWithReport(const WorkloadContext& ctx, TraceReplayReport* report) const;
  std::string Describe() const override;
  const TraceWorkloadSettings& settings() const { return settings_; }

 private:
  TraceWorkloadSettings settings_;
};

}  // namespace bestserve
