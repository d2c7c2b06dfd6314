// Raw latency measurements: the CSV that profiles/tools/profile_gpu.py writes.
//
// One row per measurement point. Columns (every one required, in any order; unknown columns
// are refused so that a misspelt one is not silently ignored):
//
//   | column              | meaning                                                              |
//   |---------------------|----------------------------------------------------------------------|
//   | model               | model name (becomes the key under `models:` in the profile set)      |
//   | measurement         | prefill, decode, decode_colocated, weight_bytes, kv_bytes_per_token,  |
//   |                     | activation_peak_bytes                                                |
//   | status              | ok, or why the point has no numbers: oom, skipped_memory,            |
//   |                     | skipped_token_cap                                                    |
//   | batch_size          | sequences in the iteration (prefill: prompts; decode: running batch) |
//   | context_tokens      | decode: positions each sequence attends over, the new token included |
//   | prompt_tokens       | prefill: tokens of each prompt                                       |
//   | peer_model          | decode_colocated: the model running concurrently on the same device  |
//   | peer_batch_size     | decode_colocated: the peer's batch size                              |
//   | peer_context_tokens | decode_colocated: the peer's context                                 |
//   | unit                | ms (latencies) or bytes (memory)                                     |
//   | repeats             | timed repetitions behind the statistics                              |
//   | median, p10, p90    | statistics over the repetitions (the fit uses the median)            |
//   | mean, min, max      | more statistics (kept, not used by the fit)                          |
//   | method              | how it was measured (timer; computed / cuda_allocator / tensor_nbytes)|
//   | samples             | every repetition, ';'-separated (kept for re-analysis)               |
//
// Integers that do not apply to a row are 0; the statistics of a row whose status is not ok are
// empty. Every problem is a ConfigError naming file:line:column (column = 1-based field index),
// the column name and what was expected.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bestserve::profiling {

enum class Measurement {
  kPrefill,
  kDecode,
  kDecodeColocated,
  kWeightBytes,
  kKvBytesPerToken,
  kActivationPeakBytes,
};

std::string_view MeasurementName(Measurement m);
// True for the memory measurements (unit bytes), false for latencies (unit ms).
bool IsMemoryMeasurement(Measurement m);

struct RawRow {
  std::string source;  // the file the row came from
  int64_t line = 0;    // 1-based line in that file, for messages
  std::string model;
  Measurement measurement = Measurement::kDecode;
  std::string status;  // "ok" or the reason the point has no numbers
  int64_t batch_size = 0;
  int64_t context_tokens = 0;
  int64_t prompt_tokens = 0;
  std::string peer_model;
  int64_t peer_batch_size = 0;
  int64_t peer_context_tokens = 0;
  std::string unit;
  int64_t repeats = 0;
  // Statistics in `unit`; meaningful only when ok().
  double median = 0.0;
  double p10 = 0.0;
  double p90 = 0.0;
  std::string method;

  bool ok() const { return status == "ok"; }
};

struct RawMeasurements {
  std::string source;               // the file the rows came from (several: comma-separated)
  std::vector<RawRow> rows;         // file order
  std::vector<std::string> models;  // model names in order of first appearance
};

// The column names, in the order the profiler writes them.
const std::vector<std::string>& RawColumns();

// Parses CSV text; `source_name` stands in for the file name in messages. Throws ConfigError.
RawMeasurements ParseRawCsv(std::string_view text, const std::string& source_name);
// Reads and parses a file. Throws ConfigError naming it when it cannot be read.
RawMeasurements LoadRawCsv(const std::string& path);

// Combines the files of several profiler runs on one device (e.g. one run per model, to stay
// within a machine's time limit). Each model must come from one file only: ConfigError naming
// both files otherwise. Precondition: !parts.empty().
RawMeasurements MergeRawMeasurements(const std::vector<RawMeasurements>& parts);

}  // namespace bestserve::profiling
