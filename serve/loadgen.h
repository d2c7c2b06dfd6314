// An open-loop load generator for OpenAI-compatible endpoints: replays a bestserve workload
// (any kind or trace a scenario can name) at its exact arrival times and records each request
// as the simulator records it (sim/simulator.h RequestRecord), so that a live run and a
// simulated one are summarized, compared and validated by the same code (sim/metrics.h).
//
// Each request: POST /v1/completions {"model", "prompt": [prompt_tokens token ids],
// "max_tokens": output_tokens, "ignore_eos": true, "stream": true} with the header
// `x-bestserve-task: <task>`. Token ids make the prompt length exact on any server (vLLM counts
// them as sent); ignore_eos makes it generate exactly max_tokens. The model that served it is
// read from the gateway's x-bestserve-model header, else the response's model field.
//
// Bounds: at most `max_concurrency` requests open at once (an arrival beyond it is not sent and
// is recorded as a server_error, so the schedule stays open-loop); no request sent after
// `max_duration_s`; each request abandoned after `request_timeout`.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/request.h"
#include "serve/http.h"
#include "sim/simulator.h"

namespace bestserve {
struct Scenario;
}

namespace bestserve::serve {

struct LoadgenOptions {
  HostPort target;
  std::string model = "opt";  // what each request asks for
  int32_t max_concurrency = 4096;
  double max_duration_s = 3600.0;
  std::chrono::milliseconds request_timeout{600'000};
  std::chrono::milliseconds connect_timeout{5'000};
  // Wall seconds per workload second (must match the emulator's --time-scale); records are in
  // workload seconds.
  double time_scale = 1.0;
};

struct LoadgenResult {
  std::vector<RequestRecord> records;  // id order, every one finished
  SimCounters counters;
  int64_t not_sent = 0;     // over max_concurrency or past max_duration_s
  int64_t failed = 0;       // error answers, timeouts, refused connections
  std::vector<std::string> first_errors;  // up to 5 messages, for the log
};

// Runs `workload` (time-sorted, ids equal to positions, deadlines set) against the target;
// rewards from the scenario's utilities and deadline rule. Blocks until every request ended.
LoadgenResult RunLoad(const Scenario& scenario, const Workload& workload, const LoadgenOptions& options);

}  // namespace bestserve::serve
