// Measured serving runs, read for `bestserve validate`: per request, when it arrived, its
// lengths and what a real server measured (TTFT, TPOT, end-to-end latency).
//
// Formats:
//  * distserve: DistServe's ground-truth pair. The measured file's first line is a Python
//    literal list of dicts (prompt_len, output_len, issue_time, first_token_time,
//    complete_time, ttft_ms, tpot_ms, latency_ms; later lines are a summary block and are
//    ignored); the workload file is a JSON list of {prompt_len, output_len, start_time}. Sorted
//    by issue time, measured record i must have workload entry i's lengths.
//  * csv: our plain format, one row per request, header
//      arrival_s,prompt_tokens,output_tokens,ttft_s,tpot_s,e2e_s
//    (seconds; tpot_s may be empty when output_tokens is 1).
// Errors name the file and the record (index, or line), say what was expected, and are
// ConfigErrors (exit 3).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bestserve {

struct MeasuredRequest {
  double arrival_s = 0.0;  // from the first request
  int32_t prompt_tokens = 1;
  int32_t output_tokens = 1;
  double ttft_s = 0.0;
  double tpot_s = 0.0;  // NaN when output_tokens is 1
  double e2e_s = 0.0;
};

struct MeasuredRun {
  std::string source;
  std::vector<MeasuredRequest> requests;  // by arrival
};

MeasuredRun ReadDistServeRun(const std::string& measured_path, const std::string& workload_path);
MeasuredRun ReadMeasuredCsv(const std::string& path);

}  // namespace bestserve
