// A model server that keeps vLLM's timing from a bestserve latency profile, in real time: an
// OpenAI-compatible endpoint per model instance whose iterations are planned by the simulator's
// own InstanceScheduler (sim/instance_scheduler.h: continuous batching, KV blocks grown during
// decode, preemption by recompute) and last as long as the profile says. Tokens stream at the
// decode-step pace. With it the gateway can be exercised, demonstrated and benchmarked on a
// machine without GPUs, and a live run compared request by request with `simulate`.
//
// What it answers, as vLLM's OpenAI server does: POST /v1/completions and /v1/chat/completions
// (stream or not; a prompt over the model's context window, with its output budget, is refused
// with 400 and vLLM's message), GET /v1/models, /health, /metrics (vLLM's gauge names:
// vllm:num_requests_running, vllm:num_requests_waiting, plus counters). No text is computed:
// the output is max_tokens tokens of a fixed word cycle (no end-of-sequence), so every request
// generates exactly what it asked for, as vLLM's benchmark does with ignore_eos.
//
// A client that disconnects mid-stream has its sequence aborted (its KV blocks freed), as vLLM
// aborts a request whose connection closes.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "serve/http.h"
#include "serve/openai_api.h"
#include "sim/cluster.h"
#include "sim/engine_config.h"
#include "sim/instance_scheduler.h"
#include "sim/latency_profile.h"

namespace bestserve::serve {

struct EmulatedInstanceSpec {
  std::string model;
  std::shared_ptr<const LatencyProfile> profile;
  EngineConfig engine;
  int64_t kv_capacity_tokens = 0;
  uint16_t port = 0;  // 0: any free port
};

struct EmulatorOptions {
  std::string host = "127.0.0.1";
  // Wall seconds per profile second: 1 is real time; 0.5 runs twice as fast (tests).
  double time_scale = 1.0;
  // Output tokens for a chat request without max_tokens (vLLM would generate until the end of
  // sequence, which an emulator without text cannot know).
  int32_t chat_default_max_tokens = 128;
  ServerOptions server;
};

// One emulated instance per instance of a serving system (the scenario's cluster), in replica
// order, on consecutive ports from `first_port` (0: each picks a free one). The engine is the
// system's vLLM engine configuration; under `kind: paper` its defaults (the paper engine has no
// real-time counterpart: it reserves KV for the true output length, which a server cannot know).
std::vector<EmulatedInstanceSpec> EmulatedInstances(const ServingSystem& system, uint16_t first_port);

struct EmulatorCounters {
  int64_t requests = 0;
  int64_t completed = 0;
  int64_t aborted = 0;   // client gone before the last token
  int64_t refused = 0;   // 4xx answers
  int64_t iterations = 0;
  int64_t generated_tokens = 0;
};

class EmulatedInstance {
 public:
  EmulatedInstance(asio::io_context& io, EmulatedInstanceSpec spec, const EmulatorOptions& options);
  ~EmulatedInstance();
  EmulatedInstance(const EmulatedInstance&) = delete;
  EmulatedInstance& operator=(const EmulatedInstance&) = delete;

  const std::string& model() const { return spec_.model; }
  uint16_t port() const { return server_->port(); }
  std::string url() const;
  void Start() { server_->Start(); }
  // Closes the listening socket and idle kept-alive connections (serve/http.h).
  void StopAccepting() { server_->StopAccepting(); }
  int64_t connections_accepted() const { return server_->accepted_connections(); }
  int64_t connections_open() const { return server_->open_connections(); }
  int64_t in_flight() const { return static_cast<int64_t>(sequences_.size()); }
  const EmulatorCounters& counters() const { return counters_; }

 private:
  struct Sequence;
  asio::awaitable<void> Handle(Exchange& exchange);
  asio::awaitable<void> Complete(Exchange& exchange, const CompletionRequest& request);
  std::string MetricsText() const;
  // Starts the next iteration when idle and there is work; its end is a timer.
  void Kick();
  void EndIteration();
  void Forget(int64_t id);

  asio::io_context& io_;
  EmulatedInstanceSpec spec_;
  EmulatorOptions options_;
  InstanceScheduler scheduler_;
  asio::steady_timer iteration_timer_;
  std::unique_ptr<HttpServer> server_;
  std::map<int64_t, std::shared_ptr<Sequence>> sequences_;
  int64_t next_id_ = 0;
  EmulatorCounters counters_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace bestserve::serve
