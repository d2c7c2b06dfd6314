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
//  * vllm-json: vLLM's `benchmark_serving.py --save-result` JSON. Per request, in the order the
//    client sent them: input_lens, output_lens, ttfts (s) and itls (s, the gaps between streamed
//    chunks after the first); e2e = ttft + sum(itls), tpot = sum(itls) / (output_len - 1). The
//    script does not save when each request was sent, so arrivals come from elsewhere (an
//    "arrivals spec"):
//      - a file with one arrival time in seconds per line, one line per request, in order (a
//        gateway or client log); blank lines and lines starting with '#' are skipped;
//      - poisson:SEED, the schedule the script drew: it seeds numpy's legacy generator with
//        --seed and sleeps np.random.exponential(1 / request_rate) (newer versions:
//        np.random.gamma(burstiness 1), the same numbers) after sending each request, so request
//        i was sent at the sum of the first i draws. Exact when nothing else drew from numpy's
//        global generator first (ShareGPT sampling uses Python's `random`); the client's
//        sleep overshoot and event-loop delays are not recovered. Needs a finite request_rate.
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
MeasuredRun ReadVllmBenchmarkJson(const std::string& path, const std::string& arrivals_spec);

// numpy's legacy `np.random.seed(seed); np.random.exponential(1 / rate)`, n times (MT19937,
// 53-bit uniforms, -log(1 - u)): arrival i = sum of the first i intervals, arrival 0 = 0.
std::vector<double> VllmBenchmarkPoissonArrivals(size_t n, double rate, uint32_t seed);

}  // namespace bestserve
