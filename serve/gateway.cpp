#include "serve/gateway.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <deque>
#include <filesystem>

#include "common/error.h"
#include "router/core/rate_estimator.h"
#include "router/core/routing_policy.h"
#include "router/lib/router.h"
#include "scenario/scenario.h"

namespace bestserve::serve {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::chrono::milliseconds PositiveMs(const ConfigNode& node, std::string_view key, std::chrono::milliseconds fallback) {
  if (!node.Has(key)) return fallback;
  const int64_t ms = node.GetPositiveInt(key, fallback.count());
  if (ms > 86'400'000) node.Child(key).Fail(fmt::format("expected at most 86400000 ms (a day), got {}", ms));
  return std::chrono::milliseconds(ms);
}

// Latency histogram buckets (seconds), Prometheus' default spread widened to a minute.
constexpr std::array<double, 14> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                             1.0,   2.5,  5.0,   10.0, 20.0, 40.0, 60.0};

struct Histogram {
  std::array<int64_t, kBuckets.size()> counts{};
  int64_t count = 0;
  double sum = 0.0;
  void Observe(double seconds) {
    for (size_t i = 0; i < kBuckets.size(); ++i) counts[i] += seconds <= kBuckets[i] ? 1 : 0;
    ++count;
    sum += seconds;
  }
};

}  // namespace

struct Gateway::Backend {
  struct IdleConnection {
    std::unique_ptr<HttpClient> client;
    Clock::time_point since;
  };
  BackendSpec spec;
  int32_t model = 0;
  int32_t in_flight = 0;
  int32_t consecutive_failures = 0;
  bool ejected = false;
  int64_t requests = 0;
  int64_t failures = 0;
  int64_t ejections = 0;
  std::deque<IdleConnection> idle;  // oldest first
  int64_t connections_opened = 0;
  int64_t connections_reused = 0;
  int64_t connections_stale = 0;
};

struct Gateway::Metrics {
  std::map<std::pair<std::string, int>, int64_t> requests;          // (model, status)
  std::map<std::pair<std::string, std::string>, int64_t> decisions;  // (model, reason)
  std::map<std::string, int64_t> rejections;                         // reason
  std::map<std::string, Histogram> ttft;                             // model
  std::map<std::string, Histogram> total;                            // model
  int64_t retries = 0;
  int64_t client_disconnects = 0;
  int64_t backend_stream_failures = 0;
};

HostPort ParseListenAddress(const ConfigNode& node) {
  const std::string text = node.AsString();
  try {
    return ParseHttpUrl("http://" + text);
  } catch (const std::invalid_argument&) {
    // Port 0 (pick one) is valid here, unlike in a backend url.
    const size_t colon = text.rfind(':');
    if (colon != std::string::npos && text.substr(colon + 1) == "0") {
      HostPort any;
      any.host = text.substr(0, colon);
      if (any.host.size() > 2 && any.host.front() == '[' && any.host.back() == ']') any.host = any.host.substr(1, any.host.size() - 2);
      if (!any.host.empty()) return any;
    }
    node.Fail(fmt::format("expected HOST:PORT (e.g. 127.0.0.1:8000, [::1]:8000), got '{}'", text));
  }
}

std::vector<BackendSpec> ParseBackends(const ConfigNode& node) {
  node.ExpectSequence("backends: a list of {model, url}");
  if (node.size() == 0) node.Fail("expected at least one backend");
  std::vector<BackendSpec> backends;
  for (size_t i = 0; i < node.size(); ++i) {
    const ConfigNode element = node.Element(i);
    element.ExpectMap("a backend: {model, url}");
    element.CheckKeys({"model", "url"});
    BackendSpec spec;
    spec.model = element.GetString("model");
    const ConfigNode url = element.Child("url");
    try {
      spec.address = ParseHttpUrl(url.AsString());
    } catch (const std::invalid_argument& e) {
      url.Fail(e.what());
    }
    backends.push_back(std::move(spec));
  }
  return backends;
}

GatewayConfig LoadGatewayConfig(const std::string& path) {
  const ConfigNode root = ConfigNode::LoadFile(path);
  root.ExpectMap("a gateway config");
  root.CheckKeys({"listen", "logical_model", "scenario", "policy", "router", "backends", "default_task",
                  "max_body_bytes", "timeouts_ms", "ejection", "pool"});
  const std::string dir = fs::path(path).parent_path().string();
  GatewayConfig config;
  if (const auto listen = root.MaybeChild("listen")) {
    const HostPort address = ParseListenAddress(*listen);
    config.host = address.host;
    config.port = address.port;
  }
  config.logical_model = root.GetString("logical_model", config.logical_model);
  if (config.logical_model.empty()) root.Child("logical_model").Fail("expected a non-empty name");
  if (const auto scenario = root.MaybeChild("scenario")) config.scenario_path = ResolveDataPath(*scenario, dir);
  if (const auto policy = root.MaybeChild("policy")) config.policy_path = ResolveDataPath(*policy, dir);
  if (const auto router = root.MaybeChild("router")) {
    if (!config.policy_path.empty()) router->Fail("give either policy (an exported file) or router (a built-in), not both");
    config.router_spec = router->AsString();
  }
  const ConfigNode backends = root.Child("backends");
  if (backends.IsScalar()) {
    const std::string file = ResolveDataPath(backends, dir);
    config.backends = ParseBackends(ConfigNode::LoadFile(file));
  } else {
    config.backends = ParseBackends(backends);
  }
  config.default_task = root.GetString("default_task", "");
  if (root.Has("max_body_bytes")) {
    const int64_t limit = root.GetPositiveInt("max_body_bytes", 0);
    if (limit > (int64_t{1} << 30)) root.Child("max_body_bytes").Fail(fmt::format("expected at most 1073741824, got {}", limit));
    config.max_body_bytes = static_cast<size_t>(limit);
  }
  if (const auto timeouts = root.MaybeChild("timeouts_ms")) {
    timeouts->ExpectMap("timeouts in milliseconds");
    timeouts->CheckKeys({"connect", "first_byte", "read", "client_write", "drain"});
    config.connect_timeout = PositiveMs(*timeouts, "connect", config.connect_timeout);
    config.first_byte_timeout = PositiveMs(*timeouts, "first_byte", config.first_byte_timeout);
    config.read_timeout = PositiveMs(*timeouts, "read", config.read_timeout);
    config.client_write_timeout = PositiveMs(*timeouts, "client_write", config.client_write_timeout);
    config.drain_timeout = PositiveMs(*timeouts, "drain", config.drain_timeout);
  }
  if (const auto ejection = root.MaybeChild("ejection")) {
    ejection->ExpectMap("backend ejection settings");
    ejection->CheckKeys({"failures", "probe_interval_ms"});
    const int64_t failures = ejection->GetPositiveInt("failures", config.ejection_failures);
    if (failures > 1000) ejection->Child("failures").Fail(fmt::format("expected at most 1000, got {}", failures));
    config.ejection_failures = static_cast<int32_t>(failures);
    config.probe_interval = PositiveMs(*ejection, "probe_interval_ms", config.probe_interval);
  }
  if (const auto pool = root.MaybeChild("pool")) {
    pool->ExpectMap("backend connection pool settings");
    pool->CheckKeys({"max_idle_per_backend", "idle_timeout_ms"});
    const int64_t max_idle = pool->GetInt("max_idle_per_backend", config.pool_max_idle_per_backend);
    if (max_idle < 0 || max_idle > 10'000) {
      pool->Child("max_idle_per_backend").Fail(fmt::format("expected 0 (no pooling) to 10000, got {}", max_idle));
    }
    config.pool_max_idle_per_backend = static_cast<int32_t>(max_idle);
    config.pool_idle_timeout = PositiveMs(*pool, "idle_timeout_ms", config.pool_idle_timeout);
  }
  return config;
}

Gateway::Gateway(asio::io_context& io, GatewayConfig config)
    : io_(io), config_(std::move(config)), metrics_(std::make_unique<Metrics>()), start_(Clock::now()) {
  ScenarioOverrides overrides;
  scenario_ = std::make_unique<Scenario>(LoadScenario(config_.scenario_path, overrides));
  if (!config_.policy_path.empty()) {
    try {
      library_router_ = Router::Load(config_.policy_path);
    } catch (const RouterError& e) {
      throw ConfigError(fmt::format("policy: {}", e.what()));
    }
    models_ = library_router_->model_names();
    task_names_ = library_router_->task_names();
  } else {
    builtin_router_ = MakeScenarioRouter(*scenario_, config_.router_spec);
    builtin_router_->Reset(static_cast<int32_t>(scenario_->system.model_names.size()));
    models_ = scenario_->system.model_names;
    for (const TaskSpec& task : scenario_->tasks.tasks()) task_names_.push_back(task.name);
  }
  rate_estimator_ = scenario_->rate_estimator->Clone();
  if (config_.default_task.empty()) config_.default_task = task_names_.front();
  if (std::find(task_names_.begin(), task_names_.end(), config_.default_task) == task_names_.end()) {
    throw ConfigError(fmt::format("default_task: '{}' is not a task of the router (tasks: {})", config_.default_task,
                                  fmt::join(task_names_, ", ")));
  }
  if (std::find(models_.begin(), models_.end(), config_.logical_model) != models_.end()) {
    throw ConfigError(fmt::format("logical_model: '{}' is also a concrete model; pick another name",
                                  config_.logical_model));
  }
  in_flight_by_model_.assign(models_.size(), 0);
  in_flight_prompt_tokens_by_model_.assign(models_.size(), 0);
  queued_by_model_.assign(models_.size(), 0);
  for (size_t i = 0; i < config_.backends.size(); ++i) {
    const BackendSpec& spec = config_.backends[i];
    const auto it = std::find(models_.begin(), models_.end(), spec.model);
    if (it == models_.end()) {
      throw ConfigError(fmt::format("backends[{}].model: '{}' is not a model of the router (models: {})", i,
                                    spec.model, fmt::join(models_, ", ")));
    }
    auto backend = std::make_unique<Backend>();
    backend->spec = spec;
    backend->model = static_cast<int32_t>(it - models_.begin());
    backends_.push_back(std::move(backend));
  }
  ServerOptions options;
  options.max_body_bytes = config_.max_body_bytes;
  options.write_timeout = config_.client_write_timeout;
  options.read_timeout = config_.read_timeout;
  server_ = std::make_unique<HttpServer>(io_, config_.host, config_.port, options,
                                         [this](Exchange& exchange) { return Handle(exchange); });
}

Gateway::~Gateway() { *alive_ = false; }

uint16_t Gateway::port() const { return server_->port(); }

void Gateway::Start() {
  server_->Start();
  if (config_.pool_max_idle_per_backend > 0) asio::co_spawn(io_, SweepIdle(), asio::detached);
}

double Gateway::NowSeconds() const {
  return std::chrono::duration<double>(Clock::now() - start_).count();
}

void Gateway::Drain(std::function<void()> done) {
  draining_ = true;
  server_->StopAccepting();
  for (const auto& backend : backends_) CloseIdle(*backend);  // and none is pooled from now on
  const auto deadline = Clock::now() + config_.drain_timeout;
  asio::co_spawn(
      io_,
      [this, deadline, done = std::move(done)]() -> asio::awaitable<void> {
        asio::steady_timer timer(io_);
        while (active_ > 0 && Clock::now() < deadline) {
          timer.expires_after(std::chrono::milliseconds(20));
          co_await timer.async_wait(asio::use_awaitable);
        }
        done();
      },
      asio::detached);
}

int32_t Gateway::ResolveTask(const Exchange& exchange, const CompletionRequest& request) const {
  std::string name = std::string(exchange.Header("x-bestserve-task"));
  if (name.empty()) name = request.task.value_or(config_.default_task);
  const auto it = std::find(task_names_.begin(), task_names_.end(), name);
  if (it == task_names_.end()) {
    throw ApiError(400, "invalid_request_error",
                   fmt::format("unknown task '{}' (tasks: {})", name, fmt::join(task_names_, ", ")), "task");
  }
  return static_cast<int32_t>(it - task_names_.begin());
}

asio::awaitable<void> Gateway::Handle(Exchange& exchange) {
  const HttpRequest& request = exchange.request();
  const std::string_view target = exchange.target();
  const bool post = exchange.is_post();
  std::optional<ApiError> failure;
  try {
    if (target == "/health") {
      co_await exchange.Respond(draining_ ? http::status::service_unavailable : http::status::ok, "text/plain",
                                draining_ ? "draining\n" : "ok\n");
    } else if (target == "/metrics") {
      co_await exchange.Respond(http::status::ok, "text/plain; version=0.0.4", MetricsText());
    } else if (target == "/v1/models") {
      std::vector<std::string> names{config_.logical_model};
      names.insert(names.end(), models_.begin(), models_.end());
      co_await exchange.Respond(http::status::ok, "application/json", ModelListBody(names, 0));
    } else if (target == "/v1/completions" || target == "/v1/chat/completions") {
      if (!post) throw ApiError(405, "invalid_request_error", fmt::format("{} takes POST", target));
      if (draining_) throw ApiError(503, "server_error", "the gateway is shutting down");
      const Endpoint endpoint = target == "/v1/completions" ? Endpoint::kCompletions : Endpoint::kChatCompletions;
      CompletionRequest parsed = ParseCompletionRequest(request.body(), endpoint);
      co_await Proxy(exchange, std::move(parsed));
    } else {
      throw ApiError(404, "not_found_error", fmt::format("no route for {}", target));
    }
  } catch (const ApiError& error) {
    failure = error;  // answered below: C++ allows no co_await inside a handler
  }
  if (failure) {
    ++metrics_->requests[{"", failure->status()}];
    if (failure->status() == 503) ++metrics_->rejections["unavailable"];
    if (!exchange.responded()) {
      co_await exchange.Respond(static_cast<http::status>(failure->status()), "application/json", ErrorBody(*failure));
    }
  }
}

Gateway::Decision Gateway::Decide(const CompletionRequest& request, int32_t task, double deadline_s, double now_s) {
  const auto pinned = std::find(models_.begin(), models_.end(), request.model);
  // The latency objective as the router sees it: the client's end-to-end deadline, whatever the
  // length, or else the scenario's base + per output token.
  struct {
    double base_s;
    double per_token_s;
  } deadline{deadline_s, 0.0};
  if (std::isnan(deadline_s)) {
    const TaskSpec& spec = scenario_->tasks.task(task);
    deadline.base_s = scenario_->deadline.base_ms * 1e-3;
    deadline.per_token_s = scenario_->deadline.PerTokenDeadlineSeconds(spec.deadline_ms_per_token_override, now_s);
  }
  if (library_router_) {
    if (pinned != models_.end()) {
      library_router_->ObserveArrival(now_s);
      return {static_cast<int32_t>(pinned - models_.begin()), "pinned"};
    }
    // What the policy may read beyond in-flight counts. The gateway does not see the backends'
    // queues; it estimates each model's queued requests as what its backends hold beyond their
    // batch limit (the scenario's max_batch_size), the part a backend cannot be running.
    std::fill(queued_by_model_.begin(), queued_by_model_.end(), 0);
    for (const auto& backend : backends_) {
      if (backend->ejected) continue;
      const int32_t limit =
          scenario_->system.model_profiles[static_cast<size_t>(backend->model)]->model().max_batch_size;
      queued_by_model_[static_cast<size_t>(backend->model)] += std::max<int32_t>(0, backend->in_flight - limit);
    }
    RouteRequest route;
    route.task = task;
    route.in_flight = in_flight_by_model_.data();
    route.queued = queued_by_model_.data();
    route.prompt_tokens = std::max<int32_t>(request.prompt_tokens, 0);
    route.in_flight_prompt_tokens = in_flight_prompt_tokens_by_model_.data();
    route.max_tokens = std::max<int32_t>(request.max_tokens.value_or(0), 0);
    route.deadline_base_s = deadline.base_s;
    route.deadline_per_token_s = deadline.per_token_s;
    return {library_router_->Route(route, now_s), "router"};
  }
  Request arrival;
  arrival.id = next_request_id_;
  arrival.arrival_s = now_s;
  arrival.task = task;
  arrival.prompt_tokens = request.prompt_tokens;
  const double rate = rate_estimator_->Observe(arrival);
  const double slow_rate = slow_rate_.Observe(now_s);
  if (pinned != models_.end()) return {static_cast<int32_t>(pinned - models_.begin()), "pinned"};
  std::vector<ModelLoad> models(models_.size());
  std::vector<ReplicaLoad> replicas;
  for (const auto& backend : backends_) {
    if (backend->ejected) continue;
    ModelLoad& load = models[static_cast<size_t>(backend->model)];
    ++load.num_replicas;
    ReplicaLoad replica;
    replica.model = backend->model;
    replica.gpu = static_cast<int32_t>(replicas.size());
    replica.running = backend->in_flight;
    replica.max_batch_size = scenario_->system.model_profiles[static_cast<size_t>(backend->model)]->model().max_batch_size;
    replicas.push_back(replica);
  }
  for (size_t m = 0; m < models.size(); ++m) {
    models[m].running = in_flight_by_model_[m];
    models[m].in_flight = in_flight_by_model_[m];
    models[m].in_flight_prompt_tokens = in_flight_prompt_tokens_by_model_[m];
  }
  RouterView view;
  view.now_s = now_s;
  view.request_id = next_request_id_;
  view.task = task;
  view.prompt_tokens = request.prompt_tokens;
  view.max_tokens = std::max<int32_t>(request.max_tokens.value_or(0), 0);
  view.deadline_base_s = deadline.base_s;
  view.deadline_per_token_s = deadline.per_token_s;
  view.arrival_rate_rps = rate;
  view.slow_arrival_rate_rps = slow_rate;
  view.models = models;
  view.replicas = replicas;
  return {builtin_router_->Route(view), "router"};
}

std::vector<Gateway::Backend*> Gateway::Candidates(int32_t model) {
  std::vector<Backend*> candidates;
  for (int32_t m = model; m >= 0; --m) {
    std::vector<Backend*> of_model;
    for (const auto& backend : backends_) {
      if (backend->model == m && !backend->ejected) of_model.push_back(backend.get());
    }
    std::stable_sort(of_model.begin(), of_model.end(),
                     [](const Backend* a, const Backend* b) { return a->in_flight < b->in_flight; });
    candidates.insert(candidates.end(), of_model.begin(), of_model.end());
  }
  return candidates;
}

void Gateway::RecordFailure(Backend& backend) {
  ++backend.failures;
  ++backend.consecutive_failures;
  if (!backend.ejected && backend.consecutive_failures >= config_.ejection_failures) {
    backend.ejected = true;
    ++backend.ejections;
    CloseIdle(backend);
    asio::co_spawn(io_, Probe(backend), asio::detached);
  }
}

void Gateway::RecordSuccess(Backend& backend) { backend.consecutive_failures = 0; }

asio::awaitable<void> Gateway::Probe(Backend& backend) {
  const auto alive = alive_;
  asio::steady_timer timer(io_);
  while (*alive && backend.ejected && !draining_) {
    timer.expires_after(config_.probe_interval);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!*alive || draining_) break;
    try {
      HttpClient client(io_.get_executor());
      co_await client.Connect(backend.spec.address, config_.connect_timeout);
      HttpRequest request = MakeRequest(http::verb::get, "/health", backend.spec.address.host);
      co_await client.Send(request, config_.connect_timeout);
      co_await client.ReadHeader(config_.connect_timeout);
      if (client.status() == 200) {
        backend.ejected = false;
        backend.consecutive_failures = 0;
      }
      client.Close();
    } catch (const std::exception&) {
      // still down; probe again after the interval
    }
  }
}

std::unique_ptr<HttpClient> Gateway::TakeIdle(Backend& backend) {
  const Clock::time_point now = Clock::now();
  while (!backend.idle.empty()) {
    std::unique_ptr<HttpClient> client = std::move(backend.idle.back().client);
    const Clock::time_point since = backend.idle.back().since;
    backend.idle.pop_back();
    if (now - since >= config_.pool_idle_timeout) {  // the newest is past it, so are the others
      client->Close();
      CloseIdle(backend);
      break;
    }
    if (client->IdleAndOpen()) return client;
    ++backend.connections_stale;  // the backend closed it while it was idle
    client->Close();
  }
  return nullptr;
}

void Gateway::ReturnConnection(Backend& backend, std::unique_ptr<HttpClient> client) {
  if (config_.pool_max_idle_per_backend == 0 || draining_ || backend.ejected || !client->Reusable()) {
    client->Close();
    return;
  }
  if (static_cast<int64_t>(backend.idle.size()) >= config_.pool_max_idle_per_backend) {
    backend.idle.front().client->Close();
    backend.idle.pop_front();
  }
  backend.idle.push_back({std::move(client), Clock::now()});
}

void Gateway::CloseIdle(Backend& backend) {
  for (auto& idle : backend.idle) idle.client->Close();
  backend.idle.clear();
}

asio::awaitable<void> Gateway::SweepIdle() {
  const auto alive = alive_;
  const auto period = std::clamp<std::chrono::milliseconds>(config_.pool_idle_timeout / 4, std::chrono::milliseconds(10),
                                                            std::chrono::milliseconds(1000));
  asio::steady_timer timer(io_);
  while (*alive && !draining_) {
    timer.expires_after(period);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!*alive || draining_) break;
    const Clock::time_point now = Clock::now();
    for (const auto& backend : backends_) {
      while (!backend->idle.empty() && now - backend->idle.front().since >= config_.pool_idle_timeout) {
        backend->idle.front().client->Close();
        backend->idle.pop_front();
      }
    }
  }
}

asio::awaitable<void> Gateway::Proxy(Exchange& exchange, CompletionRequest request) {
  const double now_s = NowSeconds();
  const Clock::time_point arrival = Clock::now();
  const int32_t task = ResolveTask(exchange, request);
  double deadline_s = std::nan("");
  if (const std::string_view header = exchange.Header("x-bestserve-deadline-ms"); !header.empty()) {
    char* end = nullptr;
    const std::string text(header);
    const double ms = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size() || !std::isfinite(ms) || ms <= 0.0) {
      throw ApiError(400, "invalid_request_error", "x-bestserve-deadline-ms: expected a positive number", "deadline_ms");
    }
    deadline_s = ms * 1e-3;
  } else if (request.deadline_ms) {
    deadline_s = *request.deadline_ms * 1e-3;
  }
  if (request.model != config_.logical_model && std::find(models_.begin(), models_.end(), request.model) == models_.end()) {
    throw ApiError(404, "not_found_error",
                   fmt::format("The model `{}` does not exist (this gateway serves `{}`, or one of {} directly).",
                               request.model, config_.logical_model, fmt::join(models_, ", ")),
                   "model");
  }
  const Decision decision = Decide(request, task, deadline_s, now_s);
  ++next_request_id_;
  if (decision.model < 0 || decision.model >= static_cast<int32_t>(models_.size())) {
    throw ApiError(503, "server_error", "the router chose no model for this request");
  }
  ++metrics_->decisions[{models_[static_cast<size_t>(decision.model)], decision.reason}];
  ++active_;
  struct Active {
    int64_t& count;
    ~Active() { --count; }
  } active{active_};

  // The body the backend gets: the concrete model, without bestserve's own fields.
  json body = request.body;
  body.erase("task");
  body.erase("deadline_ms");

  std::string failures;
  for (Backend* backend : Candidates(decision.model)) {
    if (backend->ejected) continue;  // ejected while an earlier candidate was tried
    const std::string& model = models_[static_cast<size_t>(backend->model)];
    body["model"] = model;
    ++backend->in_flight;
    ++in_flight_by_model_[static_cast<size_t>(backend->model)];
    const int64_t prompt_tokens = std::max<int32_t>(request.prompt_tokens, 0);
    in_flight_prompt_tokens_by_model_[static_cast<size_t>(backend->model)] += prompt_tokens;
    ++backend->requests;
    struct InFlight {
      Backend& backend;
      int32_t& by_model;
      int64_t& prompt_tokens_by_model;
      int64_t prompt_tokens;
      ~InFlight() {
        --backend.in_flight;
        --by_model;
        prompt_tokens_by_model -= prompt_tokens;
      }
    } in_flight{*backend, in_flight_by_model_[static_cast<size_t>(backend->model)],
                in_flight_prompt_tokens_by_model_[static_cast<size_t>(backend->model)], prompt_tokens};

    HttpRequest forward = MakeRequest(http::verb::post, std::string_view(exchange.request().target().data(),
                                                                          exchange.request().target().size()),
                                      backend->spec.address.host, body.dump());
    // A pooled connection first; if the backend turns out to have closed it (the send fails, or
    // the connection ends before any byte of an answer), once more on a fresh one, uncharged.
    std::unique_ptr<HttpClient> client = TakeIdle(*backend);
    bool failed = false;
    std::string error;
    for (int attempt = 0; attempt < 2; ++attempt) {
      const bool reused = client != nullptr;
      if (!reused) client = std::make_unique<HttpClient>(io_.get_executor());
      bool stale = false;
      failed = true;
      try {
        if (reused) {
          ++backend->connections_reused;
        } else {
          co_await client->Connect(backend->spec.address, config_.connect_timeout);
          ++backend->connections_opened;
        }
        co_await client->Send(forward, config_.connect_timeout);
        co_await client->ReadHeader(config_.first_byte_timeout);
        failed = false;
      } catch (const boost::system::system_error& e) {
        error = e.what();
        stale = reused && client->NothingReceived() && e.code() != beast::error::timeout;
      } catch (const std::exception& e) {
        error = e.what();
      }
      if (!failed) break;
      client->Close();
      client.reset();
      if (!stale) break;
      ++backend->connections_stale;
    }
    if (failed) {
      RecordFailure(*backend);
      failures += fmt::format("{}{}: {}", failures.empty() ? "" : "; ", backend->spec.address.Url(), error);
      ++metrics_->retries;
      continue;
    }
    if (client->status() >= 500) {
      RecordFailure(*backend);
      failures += fmt::format("{}{}: status {}", failures.empty() ? "" : "; ", backend->spec.address.Url(), client->status());
      ++metrics_->retries;
      client->Close();
      continue;
    }
    RecordSuccess(*backend);
    const Headers headers = {{"x-bestserve-model", model}, {"x-bestserve-backend", backend->spec.address.Url()}};
    const bool streamed = client->status() == 200 && client->Header("content-type").find("text/event-stream") == 0;
    if (!streamed) {
      // A whole body (or a 4xx the client should see as the backend said it).
      std::string response;
      std::string read_error;
      try {
        response = co_await client->ReadAll(config_.read_timeout, 64 << 20);
      } catch (const std::exception& e) {
        read_error = e.what();
      }
      if (!read_error.empty()) {
        RecordFailure(*backend);
        ++metrics_->backend_stream_failures;
        ++metrics_->requests[{model, 502}];
        co_await exchange.Respond(http::status::bad_gateway, "application/json",
                                  ErrorBody(502, "server_error", "backend failed mid-response: " + read_error), headers);
        co_return;
      }
      // Read to its end: the connection can serve the next request while this answer goes out.
      const int status = client->status();
      std::string content_type(client->Header("content-type"));
      ReturnConnection(*backend, std::move(client));
      json parsed = json::parse(response, nullptr, /*allow_exceptions=*/false);
      if (status == 200 && parsed.is_object() && parsed.contains("model")) {
        parsed["model"] = request.model;
        response = parsed.dump();
      }
      const double total = std::chrono::duration<double>(Clock::now() - arrival).count();
      if (status == 200) {
        metrics_->ttft[model].Observe(total);  // the whole answer is the first token a client sees
        metrics_->total[model].Observe(total);
      }
      ++metrics_->requests[{model, status}];
      // Named, not a conditional inside the co_await: GCC 12 destroys such a temporary twice.
      if (content_type.empty()) content_type = "application/json";
      co_await exchange.Respond(static_cast<http::status>(status), std::move(content_type),
                                std::move(response), headers);
      co_return;
    }
    // Streaming: relay whole events, each with the model field rewritten.
    if (!co_await exchange.BeginStream("text/event-stream", headers)) {
      ++metrics_->client_disconnects;
      client->Close();
      co_return;
    }
    std::string pending;
    bool first = true;
    bool client_ok = true;
    std::string backend_error;
    for (;;) {
      std::optional<std::string> piece;
      try {
        piece = co_await client->ReadSome(config_.read_timeout);
      } catch (const std::exception& e) {
        backend_error = e.what();
        break;
      }
      if (!piece) break;
      pending += *piece;
      const size_t complete = pending.rfind("\n\n");
      if (complete == std::string::npos) continue;
      const std::string events = RewriteModelInEvents(std::string_view(pending).substr(0, complete + 2), request.model);
      pending.erase(0, complete + 2);
      if (first) {
        metrics_->ttft[model].Observe(std::chrono::duration<double>(Clock::now() - arrival).count());
        first = false;
      }
      if (!co_await exchange.WriteChunk(events)) {
        client_ok = false;
        break;
      }
    }
    if (!client_ok) {
      // The client left: closing the backend connection makes the server abort the request.
      ++metrics_->client_disconnects;
      ++metrics_->requests[{model, 499}];
      client->Close();
      co_return;
    }
    if (!backend_error.empty() || !pending.empty()) {
      if (backend_error.empty()) backend_error = "stream ended inside an event";
      client->Close();
      RecordFailure(*backend);
      ++metrics_->backend_stream_failures;
      ++metrics_->requests[{model, 502}];
      co_await exchange.WriteChunk(SseEvent(ErrorBody(502, "server_error", "backend failed mid-stream: " + backend_error)));
      co_await exchange.EndStream();
      co_return;
    }
    ReturnConnection(*backend, std::move(client));
    metrics_->total[model].Observe(std::chrono::duration<double>(Clock::now() - arrival).count());
    ++metrics_->requests[{model, 200}];
    co_await exchange.EndStream();
    co_return;
  }
  ++metrics_->rejections["no_backend"];
  ++metrics_->requests[{"", 503}];
  co_await exchange.Respond(
      http::status::service_unavailable, "application/json",
      ErrorBody(503, "server_error",
                fmt::format("no backend could serve {} or a smaller model{}{}", models_[static_cast<size_t>(decision.model)],
                            failures.empty() ? " (all ejected)" : ": ", failures)));
}

std::string Gateway::MetricsText() const {
  std::string text;
  const auto header = [&](const char* name, const char* type, const char* help) {
    text += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  header("bestserve_gateway_requests_total", "counter", "Requests answered, by model served and HTTP status (499: client left).");
  for (const auto& [key, count] : metrics_->requests) {
    text += fmt::format("bestserve_gateway_requests_total{{model=\"{}\",status=\"{}\"}} {}\n", key.first, key.second, count);
  }
  header("bestserve_gateway_decisions_total", "counter", "Routing decisions, by model chosen and reason (router, pinned).");
  for (const auto& [key, count] : metrics_->decisions) {
    text += fmt::format("bestserve_gateway_decisions_total{{model=\"{}\",reason=\"{}\"}} {}\n", key.first, key.second, count);
  }
  header("bestserve_gateway_rejections_total", "counter", "Requests refused with 503, by reason.");
  for (const auto& [reason, count] : metrics_->rejections) {
    text += fmt::format("bestserve_gateway_rejections_total{{reason=\"{}\"}} {}\n", reason, count);
  }
  header("bestserve_gateway_retries_total", "counter", "Backend attempts that failed before the first byte and were retried.");
  text += fmt::format("bestserve_gateway_retries_total {}\n", metrics_->retries);
  header("bestserve_gateway_client_disconnects_total", "counter", "Clients that left before their answer ended.");
  text += fmt::format("bestserve_gateway_client_disconnects_total {}\n", metrics_->client_disconnects);
  header("bestserve_gateway_backend_stream_failures_total", "counter", "Backends that failed after the answer began.");
  text += fmt::format("bestserve_gateway_backend_stream_failures_total {}\n", metrics_->backend_stream_failures);
  header("bestserve_gateway_in_flight", "gauge", "Requests sent to a backend and not yet answered in full.");
  for (const auto& backend : backends_) {
    text += fmt::format("bestserve_gateway_in_flight{{backend=\"{}\",model=\"{}\"}} {}\n", backend->spec.address.Url(),
                        backend->spec.model, backend->in_flight);
  }
  header("bestserve_gateway_backend_healthy", "gauge", "1 while the backend takes requests, 0 while ejected.");
  for (const auto& backend : backends_) {
    text += fmt::format("bestserve_gateway_backend_healthy{{backend=\"{}\",model=\"{}\"}} {}\n",
                        backend->spec.address.Url(), backend->spec.model, backend->ejected ? 0 : 1);
  }
  header("bestserve_gateway_backend_ejections_total", "counter", "Times a backend was ejected.");
  for (const auto& backend : backends_) {
    text += fmt::format("bestserve_gateway_backend_ejections_total{{backend=\"{}\",model=\"{}\"}} {}\n",
                        backend->spec.address.Url(), backend->spec.model, backend->ejections);
  }
  const auto per_backend = [&](const char* name, const char* type, const char* help, auto value) {
    header(name, type, help);
    for (const auto& backend : backends_) {
      text += fmt::format("{}{{backend=\"{}\",model=\"{}\"}} {}\n", name, backend->spec.address.Url(), backend->spec.model,
                          value(*backend));
    }
  };
  per_backend("bestserve_gateway_backend_connections_opened_total", "counter",
              "Connections opened to the backend for requests (health probes not counted).",
              [](const Backend& b) { return b.connections_opened; });
  per_backend("bestserve_gateway_backend_connections_reused_total", "counter",
              "Requests sent on a kept-alive connection taken from the pool.",
              [](const Backend& b) { return b.connections_reused; });
  per_backend("bestserve_gateway_backend_connections_stale_total", "counter",
              "Pooled connections the backend had closed, found when taken or before the first byte of an answer "
              "(the request went again on a fresh connection; not a backend failure).",
              [](const Backend& b) { return b.connections_stale; });
  per_backend("bestserve_gateway_backend_idle_connections", "gauge", "Kept-alive connections in the pool.",
              [](const Backend& b) { return static_cast<int64_t>(b.idle.size()); });
  header("bestserve_gateway_arrival_rate_rps", "gauge", "The router's arrival-rate estimate.");
  text += fmt::format("bestserve_gateway_arrival_rate_rps {}\n",
                      library_router_ ? library_router_->arrival_rate_rps() : 0.0);
  const auto histogram = [&](const char* name, const char* help, const std::map<std::string, Histogram>& by_model) {
    header(name, "histogram", help);
    for (const auto& [model, h] : by_model) {
      for (size_t i = 0; i < kBuckets.size(); ++i) {
        text += fmt::format("{}_bucket{{model=\"{}\",le=\"{}\"}} {}\n", name, model, kBuckets[i], h.counts[i]);
      }
      text += fmt::format("{}_bucket{{model=\"{}\",le=\"+Inf\"}} {}\n", name, model, h.count);
      text += fmt::format("{}_sum{{model=\"{}\"}} {}\n{}_count{{model=\"{}\"}} {}\n", name, model, h.sum, name, model, h.count);
    }
  };
  histogram("bestserve_gateway_ttft_seconds", "Time from arrival to the first event relayed (streams) or the whole answer.",
            metrics_->ttft);
  histogram("bestserve_gateway_request_seconds", "Time from arrival to the end of the answer.", metrics_->total);
  return text;
}

}  // namespace bestserve::serve
