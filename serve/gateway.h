// An OpenAI-compatible gateway that routes each request through a bestserve router: the client
// asks for a logical model ("opt"), the router picks a size, the load balancer a backend of that
// size, and the response streams back unchanged but for the model field (the logical name) and
// a header naming the choice (x-bestserve-model, x-bestserve-backend).
//
// Config (YAML; `bestserve gateway --config FILE`):
//
//   | key                 | meaning                                                       | default |
//   |---------------------|---------------------------------------------------------------|---------|
//   | listen              | HOST:PORT to serve on ([::1]:PORT for IPv6; port 0 picks one)  | 127.0.0.1:8000 |
//   | logical_model       | the model name clients ask for                                | opt     |
//   | scenario            | scenario file: tasks, utilities, deadline rule, rate estimator,| built-in paper |
//   |                     |   profiles (what built-in routers reason with)               |         |
//   | policy              | an exported policy file (`bestserve export`, or a training    | -       |
//   |                     |   .bsw), run by the router library (router/lib/router.h)     |         |
//   | router              | a built-in router spec (router/builtin/registry.h), when no   | scenario's |
//   |                     |   policy is given                                            |         |
//   | backends            | list of {model, url}: the servers of each model size          | required |
//   |                     |   (or a file holding such a list, as `emulate --backends-out` |         |
//   |                     |   writes it)                                                 |         |
//   | default_task        | task of a request that names none                             | first task |
//   | max_body_bytes      | larger request bodies: 413                                    | 1048576 |
//   | timeouts_ms         | connect (1000), first_byte (60000), read (60000: between two  |         |
//   |                     |   pieces of a response), client_write (10000), drain (30000)  |         |
//   | ejection            | failures (consecutive, before a backend is ejected: 1),       |         |
//   |                     |   probe_interval_ms (1000: GET /health until it answers 200)  |         |
//   | pool                | kept-alive backend connections: max_idle_per_backend (32;     |         |
//   |                     |   0: a new connection per request), idle_timeout_ms (4000:    |         |
//   |                     |   below vLLM's 5 s keep-alive, so the gateway closes first)   |         |
//
// Per request: task from the `x-bestserve-task` header or the body's `task` field, else
// default_task; deadline from `x-bestserve-deadline-ms` or `deadline_ms`, else the scenario's
// rule (the deadline reaches built-in routers; a policy was trained with its scenario's rule).
// A client may also name a size directly (model "opt-6.7b"): no decision, counted as pinned.
//
// State the router sees is the gateway's own: in-flight requests per model (sent and not yet
// answered in full) and the arrival rate of its own traffic, exactly what the router library
// expects (router/lib/router.h). Models are in the router's order, smallest first (bestserve's
// profiles list them so), which is what "the next size down" means for retries.
//
// Connections: a backend connection whose response was read to its end, with both sides keeping
// it alive, goes back to its backend's pool of idle connections, and the next request to that
// backend takes the most recent one instead of connecting. One whose response was not read to
// the end (client gone, backend error, timeout) is closed, never pooled. A pooled connection the
// backend has closed meanwhile is no failure: found closed when taken, or failing before the
// first byte of the response, the request goes again once on a fresh connection, and the backend
// is not charged. Idle connections close after the idle timeout, when their backend is ejected,
// and at shutdown.
//
// Faults: a backend that refuses the connection, times out, or answers 5xx before the first
// byte of the body is retried on another backend of the same size, then of the next size down;
// it is ejected after `failures` consecutive failures and probed until it answers again.
// Nothing left: 503 with an OpenAI error body. A backend that fails mid-stream ends the client's
// stream with an error event; a client that leaves mid-stream closes the backend connection
// (the server aborts the request). Shutdown (SIGINT/SIGTERM) stops accepting and drains the
// streams in flight, up to the drain timeout.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "router/core/observation.h"
#include "router/core/rate_tracker.h"
#include "serve/http.h"
#include "serve/openai_api.h"

namespace bestserve {
class Router;
class RoutingPolicy;
class RateEstimator;
struct Scenario;
}  // namespace bestserve

namespace bestserve::serve {

struct BackendSpec {
  std::string model;
  HostPort address;
};

struct GatewayConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 8000;
  std::string logical_model = "opt";
  std::string scenario_path;  // empty: built-in paper scenario
  std::string policy_path;    // empty: a built-in router
  std::string router_spec;    // empty: the scenario's router
  std::vector<BackendSpec> backends;
  std::string default_task;
  size_t max_body_bytes = 1 << 20;
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds first_byte_timeout{60'000};
  std::chrono::milliseconds read_timeout{60'000};
  std::chrono::milliseconds client_write_timeout{10'000};
  std::chrono::milliseconds drain_timeout{30'000};
  int32_t ejection_failures = 1;
  std::chrono::milliseconds probe_interval{1000};
  int32_t pool_max_idle_per_backend = 32;  // 0: no pooling
  std::chrono::milliseconds pool_idle_timeout{4000};
};

// Parses a gateway config file; throws ConfigError naming file, line and key. Paths are
// resolved as in scenarios (next to the config, else in the data folder).
GatewayConfig LoadGatewayConfig(const std::string& path);
// "HOST:PORT" or "[V6]:PORT"; throws ConfigError at `node`.
HostPort ParseListenAddress(const ConfigNode& node);
// A backends list: [{model, url}, ...]; throws ConfigError at the element and key.
std::vector<BackendSpec> ParseBackends(const ConfigNode& node);

class Gateway {
 public:
  // Loads the scenario and the router; throws ConfigError when the backends name models the
  // router does not know, the default task is unknown, or a policy does not fit the scenario.
  Gateway(asio::io_context& io, GatewayConfig config);
  ~Gateway();

  uint16_t port() const;
  void Start();
  // Stops accepting, lets the requests in flight finish (up to the drain timeout), then calls
  // `done`. /health answers 503 while draining.
  void Drain(std::function<void()> done);
  const std::vector<std::string>& model_names() const { return models_; }
  std::string MetricsText() const;

 private:
  struct Backend;
  struct Metrics;
  struct Decision {
    int32_t model = -1;
    const char* reason = "router";
  };

  asio::awaitable<void> Handle(Exchange& exchange);
  asio::awaitable<void> Proxy(Exchange& exchange, CompletionRequest request);
  Decision Decide(const CompletionRequest& request, int32_t task, double deadline_s, double now_s);
  // Backends to try, in order: the chosen model's healthy ones by fewest in flight, then the
  // next size down's, and so on.
  std::vector<Backend*> Candidates(int32_t model);
  void RecordFailure(Backend& backend);
  void RecordSuccess(Backend& backend);
  asio::awaitable<void> Probe(Backend& backend);
  // The backend's most recent idle connection that is still open, or null.
  std::unique_ptr<HttpClient> TakeIdle(Backend& backend);
  // Pools a connection that can carry another exchange; closes any other.
  void ReturnConnection(Backend& backend, std::unique_ptr<HttpClient> client);
  void CloseIdle(Backend& backend);
  // Closes idle connections past the idle timeout, until shutdown.
  asio::awaitable<void> SweepIdle();
  double NowSeconds() const;
  int32_t ResolveTask(const Exchange& exchange, const CompletionRequest& request) const;

  asio::io_context& io_;
  GatewayConfig config_;
  std::unique_ptr<Scenario> scenario_;
  std::unique_ptr<Router> library_router_;
  std::unique_ptr<RoutingPolicy> builtin_router_;
  std::unique_ptr<RateEstimator> rate_estimator_;
  std::vector<std::string> models_;        // the router's order
  std::vector<std::string> task_names_;    // the router's tasks
  std::vector<std::unique_ptr<Backend>> backends_;
  std::vector<int32_t> in_flight_by_model_;
  std::vector<int32_t> queued_by_model_;  // estimated per decision (Decide)
  std::vector<int64_t> in_flight_prompt_tokens_by_model_;  // prompt tokens of the requests in flight
  DecayedCountRate slow_rate_{kSlowRateHalfLifeS};           // RouterView::slow_arrival_rate_rps
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<HttpServer> server_;
  Clock::time_point start_;
  int64_t active_ = 0;
  int64_t next_request_id_ = 0;
  bool draining_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace bestserve::serve
