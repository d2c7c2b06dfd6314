// The serving path in one process, on loopback: emulated instances (serve/emulator.h) behind a
// gateway (serve/gateway.h), driven by a client written here. Checks timing against the
// profile's closed form, routing, faults and bad requests.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "common/error.h"
#include "scenario/scenario.h"
#include "serve/emulator.h"
#include "serve/gateway.h"
#include "router/policy/policy_io.h"
#include "tests/router/router_fixtures.h"

namespace bestserve::serve {
namespace {

using nlohmann::json;
const std::string kScenario = std::string(BESTSERVE_SOURCE_DIR) + "/tests/serve/data/tiny_box.yaml";

// An io_context on its own thread; Run() executes a coroutine there and waits for its result.
// Servers made with Make() live on that thread and are destroyed after it stops.
class Loop {
 public:
  Loop() : guard_(asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
  ~Loop() {
    io_.stop();
    thread_.join();
    owned_.clear();
  }
  asio::io_context& io() { return io_; }
  template <class T, class... Args>
  T* Make(Args&&... args) {
    return Call([&] {
      auto made = std::make_shared<T>(io_, std::forward<Args>(args)...);
      owned_.push_back(made);
      made->Start();
      return made.get();
    });
  }
  template <class T>
  T Run(asio::awaitable<T> work) {
    return asio::co_spawn(io_, std::move(work), asio::use_future).get();
  }
  template <class F>
  auto Call(F f) {  // a plain function on the loop thread
    std::promise<decltype(f())> done;
    asio::post(io_, [&] { done.set_value(f()); });
    return done.get_future().get();
  }

 private:
  asio::io_context io_;
  std::vector<std::shared_ptr<void>> owned_;  // declared after io_: destroyed before it
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::thread thread_;
};

struct Reply {
  int status = 0;
  std::string model_header;
  std::string body;
  std::vector<std::string> events;  // data payloads of a stream
  double first_s = -1.0;            // seconds to the first body piece
  double total_s = 0.0;
};

asio::awaitable<Reply> Post(uint16_t port, std::string target, std::string body, Headers headers = {},
                            size_t stop_after_events = 0) {
  HttpClient client(co_await asio::this_coro::executor);
  const auto start = Clock::now();
  // (a named HostPort: GCC 12 mishandles aggregate temporaries inside co_await expressions)
  HostPort address;
  address.host = "127.0.0.1";
  address.port = port;
  co_await client.Connect(address, std::chrono::milliseconds(2000));
  HttpRequest request = MakeRequest(http::verb::post, target, "127.0.0.1", std::move(body));
  for (const auto& [name, value] : headers) request.set(name, value);
  co_await client.Send(request, std::chrono::milliseconds(2000));
  co_await client.ReadHeader(std::chrono::milliseconds(20000));
  Reply reply;
  reply.status = client.status();
  reply.model_header = std::string(client.Header("x-bestserve-model"));
  std::string pending;
  while (auto piece = co_await client.ReadSome(std::chrono::milliseconds(20000))) {
    if (reply.first_s < 0) reply.first_s = std::chrono::duration<double>(Clock::now() - start).count();
    reply.body += *piece;
    pending += *piece;
    size_t end;
    while ((end = pending.find("\n\n")) != std::string::npos) {
      if (pending.rfind("data: ", 0) == 0) reply.events.push_back(pending.substr(6, end - 6));
      pending.erase(0, end + 2);
    }
    if (stop_after_events > 0 && reply.events.size() >= stop_after_events) {
      client.Close();  // a client that leaves mid-stream
      break;
    }
  }
  reply.total_s = std::chrono::duration<double>(Clock::now() - start).count();
  co_return reply;
}

asio::awaitable<Reply> Get(uint16_t port, std::string target) {
  HttpClient client(co_await asio::this_coro::executor);
  // (a named HostPort: GCC 12 mishandles aggregate temporaries inside co_await expressions)
  HostPort address;
  address.host = "127.0.0.1";
  address.port = port;
  co_await client.Connect(address, std::chrono::milliseconds(2000));
  HttpRequest request = MakeRequest(http::verb::get, target, "127.0.0.1");
  co_await client.Send(request, std::chrono::milliseconds(2000));
  co_await client.ReadHeader(std::chrono::milliseconds(5000));
  Reply reply;
  reply.status = client.status();
  reply.body = co_await client.ReadAll(std::chrono::milliseconds(5000), 1 << 20);
  co_return reply;
}

// A profile with constant iteration times, so a request's timing has a closed form.
std::shared_ptr<const LatencyProfile> ConstantProfile(const ProfileSet& set) { return set.Find("opt-125m"); }

ProfileSet ConstantProfileSet() {
  return ProfileSet::Parse(ConfigNode::LoadString(R"(
name: constant
gpu: {name: test-gpu, memory_gib: 80}
provenance: {kind: derived, sources: [test], method: "constant iteration times"}
models:
  opt-125m:
    weight_bytes: 1
    kv_bytes_per_token: 1
    max_context_tokens: 2048
    decode_step_ms: {batch_sizes: [1, 256], context_tokens: [0, 4096], values: [[20, 20], [20, 20]]}
    prefill_ms: {tokens: [1, 4096], values: [60, 60]}
)",
                                                  "constant-profile"));
}

EmulatedInstanceSpec ConstantInstance(const ProfileSet& set) {
  EmulatedInstanceSpec spec;
  spec.model = "opt-125m";
  spec.profile = ConstantProfile(set);
  spec.engine.kind = EngineKind::kVllm;
  spec.kv_capacity_tokens = 100'000;
  return spec;
}

TEST_CASE("the emulator keeps the profile's time: TTFT = prefill, total = prefill + (n-1) decode steps",
          "[serve][emulator]") {
  const ProfileSet set = ConstantProfileSet();
  Loop loop;
  EmulatedInstance* instance = loop.Make<EmulatedInstance>(ConstantInstance(set), EmulatorOptions{});
  const uint16_t port = instance->port();
  const Reply reply = loop.Run(Post(port, "/v1/completions",
                                    R"({"model":"opt-125m","prompt":[1,2,3,4,5,6,7,8],"max_tokens":6,"stream":true})"));
  REQUIRE(reply.status == 200);
  REQUIRE(reply.events.size() == 7);  // 6 tokens and [DONE]
  CHECK(reply.events.back() == "[DONE]");
  CHECK(json::parse(reply.events[5])["choices"][0]["finish_reason"] == "length");
  // Timers never fire early; late by scheduling noise only (bounded generously for loaded CI).
  CHECK(reply.first_s >= 0.060);
  CHECK(reply.first_s < 0.060 + 0.080);
  CHECK(reply.total_s >= 0.060 + 5 * 0.020);
  CHECK(reply.total_s < 0.160 + 0.150);

  // Non-streamed: the same tokens in one body, with usage.
  const Reply whole = loop.Run(Post(port, "/v1/completions", R"({"model":"opt-125m","prompt":"abcdefgh","max_tokens":3})"));
  REQUIRE(whole.status == 200);
  const json body = json::parse(whole.body);
  CHECK(body["usage"]["prompt_tokens"] == 2);
  CHECK(body["usage"]["completion_tokens"] == 3);
  CHECK(body["choices"][0]["text"] == " the model serves");
  CHECK(whole.total_s >= 0.060 + 2 * 0.020);

  // vLLM's refusals: over the context window, unknown model.
  const Reply over = loop.Run(Post(port, "/v1/completions", R"({"model":"opt-125m","prompt":[1,2,3],"max_tokens":2046})"));
  CHECK(over.status == 400);
  CHECK(json::parse(over.body)["error"]["message"].get<std::string>().find("maximum context length is 2048") !=
        std::string::npos);
  CHECK(loop.Run(Post(port, "/v1/completions", R"({"model":"opt-9b","prompt":"x"})")).status == 404);
  CHECK(loop.Run(Get(port, "/health")).status == 200);
  const Reply metrics = loop.Run(Get(port, "/metrics"));
  CHECK(metrics.body.find("vllm:num_requests_running{model_name=\"opt-125m\"} 0") != std::string::npos);
}

TEST_CASE("a client that leaves mid-stream has its sequence aborted and its KV freed", "[serve][emulator]") {
  const ProfileSet set = ConstantProfileSet();
  Loop loop;
  EmulatedInstance* instance = loop.Make<EmulatedInstance>(ConstantInstance(set), EmulatorOptions{});
  const Reply partial = loop.Run(Post(instance->port(), "/v1/completions",
                                      R"({"model":"opt-125m","prompt":[1,2,3],"max_tokens":200,"stream":true})", {}, 2));
  CHECK(partial.events.size() == 2);
  // The server notices at its next write (one decode step later).
  for (int i = 0; i < 100 && loop.Call([&] { return instance->counters().aborted; }) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(loop.Call([&] { return instance->counters().aborted; }) == 1);
  CHECK(loop.Call([&] { return instance->in_flight(); }) == 0);
  // Aborted mid-iteration, the sequence leaves the batch when that iteration ends.
  Reply metrics;
  for (int i = 0; i < 100; ++i) {
    metrics = loop.Run(Get(instance->port(), "/metrics"));
    if (metrics.body.find("vllm:num_requests_running{model_name=\"opt-125m\"} 0\n") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  INFO(metrics.body);
  CHECK(metrics.body.find("vllm:gpu_cache_usage_perc{model_name=\"opt-125m\"} 0\n") != std::string::npos);
}

// The tiny box emulated, a gateway with `router` in front.
struct Box {
  explicit Box(Loop& loop, const std::string& router, const std::function<void(GatewayConfig&)>& adjust = {}) {
    const Scenario scenario = LoadScenario(kScenario);
    config.scenario_path = kScenario;
    config.router_spec = router;
    config.host = "127.0.0.1";
    config.port = 0;
    config.connect_timeout = std::chrono::milliseconds(300);
    config.probe_interval = std::chrono::milliseconds(50);
    config.max_body_bytes = 4096;
    for (auto& spec : EmulatedInstances(scenario.system, 0)) {
      instances.push_back(loop.Make<EmulatedInstance>(spec, EmulatorOptions{}));
      config.backends.push_back(BackendSpec{spec.model, ParseHttpUrl(instances.back()->url())});
    }
    if (adjust) adjust(config);
    gateway = loop.Make<Gateway>(config);
    port = loop.Call([&] { return gateway->port(); });
  }
  GatewayConfig config;
  std::vector<EmulatedInstance*> instances;
  Gateway* gateway = nullptr;
  uint16_t port = 0;
};

std::string BackendLabels(const BackendSpec& backend) {
  return fmt::format("backend=\"{}\",model=\"{}\"", backend.address.Url(), backend.model);
}

// The value of one series on a metrics page ("name{labels}" or "name"), or -1 when absent.
double MetricValue(const std::string& metrics, const std::string& series) {
  const std::string line_start = series + " ";
  for (size_t at = 0; at < metrics.size();) {
    const size_t end = std::min(metrics.find('\n', at), metrics.size());
    if (metrics.compare(at, line_start.size(), line_start) == 0) {
      return std::stod(metrics.substr(at + line_start.size(), end - at - line_start.size()));
    }
    at = end + 1;
  }
  return -1;
}

TEST_CASE("the gateway routes, rewrites the model field and names its choice", "[serve][gateway]") {
  Loop loop;
  Box box(loop, "static:opt-1.3b");
  const Reply streamed = loop.Run(Post(box.port, "/v1/completions",
                                       R"({"model":"opt","prompt":[5,6,7],"max_tokens":3,"stream":true})",
                                       {{"x-bestserve-task", "copa"}}));
  REQUIRE(streamed.status == 200);
  CHECK(streamed.model_header == "opt-1.3b");
  REQUIRE(streamed.events.size() == 4);
  for (size_t i = 0; i < 3; ++i) CHECK(json::parse(streamed.events[i])["model"] == "opt");
  CHECK(streamed.events.back() == "[DONE]");

  const Reply chat = loop.Run(Post(box.port, "/v1/chat/completions",
                                   R"({"model":"opt","messages":[{"role":"user","content":"hi"}],"max_tokens":2})"));
  REQUIRE(chat.status == 200);
  CHECK(json::parse(chat.body)["model"] == "opt");
  CHECK(json::parse(chat.body)["choices"][0]["message"]["content"] == " the model");

  // A client naming a size is served by it, counted as pinned.
  const Reply pinned = loop.Run(Post(box.port, "/v1/completions", R"({"model":"opt-6.7b","prompt":"x","max_tokens":1})"));
  CHECK(pinned.model_header == "opt-6.7b");

  const std::string metrics = loop.Run(Get(box.port, "/metrics")).body;
  CHECK(metrics.find("bestserve_gateway_decisions_total{model=\"opt-1.3b\",reason=\"router\"} 2") != std::string::npos);
  CHECK(metrics.find("bestserve_gateway_decisions_total{model=\"opt-6.7b\",reason=\"pinned\"} 1") != std::string::npos);
  CHECK(metrics.find("bestserve_gateway_requests_total{model=\"opt-1.3b\",status=\"200\"} 2") != std::string::npos);
  CHECK(metrics.find("bestserve_gateway_ttft_seconds_count{model=\"opt-1.3b\"} 2") != std::string::npos);
  CHECK(metrics.find("bestserve_gateway_in_flight{backend=") != std::string::npos);
  // Nothing left open: every backend's in-flight gauge is back to 0.
  int backends_seen = 0;
  for (size_t at = metrics.find("\nbestserve_gateway_in_flight{"); at != std::string::npos;
       at = metrics.find("\nbestserve_gateway_in_flight{", at + 1)) {
    const size_t end = metrics.find('\n', at + 1);
    CHECK(metrics.substr(end - 2, 2) == " 0");
    ++backends_seen;
  }
  CHECK(backends_seen == 6);
}

// A one-layer policy by hand for the paper's three models: Q(opt-125m) = 0, Q(opt-1.3b) = -1,
// Q(opt-6.7b) = 1 + sum of weight x feature over `weights` (feature index from the end when
// negative: -1 is the last). Returns the file it wrote (temp folder, `name`).
std::string SaveLinearPolicy(ObservationEncoding encoding, const std::string& name,
                             const std::vector<std::pair<int, float>>& weights) {
  PolicyWeights w = testing::RandomRoutingPolicy(1, {}, encoding);
  REQUIRE(w.shape.num_layers() == 1);
  std::fill(w.parameters.begin(), w.parameters.end(), 0.0f);
  const int inputs = w.shape.input_size;
  for (const auto& [feature, weight] : weights) {
    const int index = feature < 0 ? inputs + feature : feature;
    w.parameters[w.shape.WeightOffset(0) + static_cast<size_t>(2 * inputs + index)] = weight;
  }
  w.parameters[w.shape.BiasOffset(0) + 2] = 1.0f;
  w.parameters[w.shape.BiasOffset(0) + 1] = -1.0f;
  const std::string path = (std::filesystem::temp_directory_path() / ("bestserve_serve_" + name + ".bsp")).string();
  SavePolicyWeights(path, w);
  return path;
}

TEST_CASE("an exported request-v1 policy routes on the prompt's length through the gateway", "[serve][gateway]") {
  // A linear policy by hand: Q(opt-6.7b) = 1 - 2 x prompt feature, Q(opt-125m) = 0, Q(opt-1.3b)
  // = -1. The feature log1p(tokens) / log1p(2048) is 0.18 for a 3-token prompt (-> opt-6.7b)
  // and 0.75 for 300 tokens (-> opt-125m). Before the gateway passed queued counts and the
  // prompt length, every request to such a policy (or to an extended-v1 one) failed with 503.
  const std::string policy = SaveLinearPolicy(ObservationEncoding::kRequestV1, "request_v1", {{-1, -2.0f}});
  Loop loop;
  Box box(loop, "", [&](GatewayConfig& c) {
    c.router_spec.clear();
    c.policy_path = policy;
  });
  std::string long_prompt = "[1";
  for (int i = 1; i < 300; ++i) long_prompt += ",1";
  long_prompt += "]";
  for (int round = 0; round < 2; ++round) {
    const Reply short_reply = loop.Run(Post(box.port, "/v1/completions", R"({"model":"opt","prompt":[5,6,7],"max_tokens":2})"));
    REQUIRE(short_reply.status == 200);
    CHECK(short_reply.model_header == "opt-6.7b");
    const Reply long_reply = loop.Run(
        Post(box.port, "/v1/completions", R"({"model":"opt","prompt":)" + long_prompt + R"(,"max_tokens":2})"));
    REQUIRE(long_reply.status == 200);
    CHECK(long_reply.model_header == "opt-125m");
  }
  const std::string metrics = loop.Run(Get(box.port, "/metrics")).body;
  CHECK(metrics.find("bestserve_gateway_decisions_total{model=\"opt-6.7b\",reason=\"router\"} 2") != std::string::npos);
  CHECK(metrics.find("bestserve_gateway_decisions_total{model=\"opt-125m\",reason=\"router\"} 2") != std::string::npos);
  std::filesystem::remove(policy);
}

TEST_CASE("a gateway-v1 policy routes on the client's max_tokens and deadline through the gateway", "[serve][gateway]") {
  // A linear policy by hand: Q(opt-6.7b) = 1 - 2 x max_tokens feature - 2 x base deadline
  // feature, Q(opt-125m) = 0, Q(opt-1.3b) = -1. max_tokens 2: feature log(3) / log(2049) = 0.14
  // (-> opt-6.7b); max_tokens 100: 0.61 (-> opt-125m); a client deadline of 10 s: base feature
  // about 1 (-> opt-125m whatever max_tokens).
  REQUIRE(ObservationSpec{ObservationEncoding::kGatewayV1, 4, 3}.size() == 4 + 3 * 3 + 6);
  // The last four features: slow rate, max_tokens, base deadline, per-token deadline.
  const std::string policy = SaveLinearPolicy(ObservationEncoding::kGatewayV1, "gateway_v1", {{-3, -2.0f}, {-2, -2.0f}});
  Loop loop;
  Box box(loop, "", [&](GatewayConfig& c) {
    c.router_spec.clear();
    c.policy_path = policy;
  });
  for (int round = 0; round < 2; ++round) {
    const Reply small = loop.Run(Post(box.port, "/v1/completions", R"({"model":"opt","prompt":[5,6,7],"max_tokens":2})"));
    REQUIRE(small.status == 200);
    CHECK(small.model_header == "opt-6.7b");
    const Reply large = loop.Run(Post(box.port, "/v1/completions", R"({"model":"opt","prompt":[5,6,7],"max_tokens":100})"));
    REQUIRE(large.status == 200);
    CHECK(large.model_header == "opt-125m");
    const Reply relaxed = loop.Run(
        Post(box.port, "/v1/completions", R"({"model":"opt","prompt":[5,6,7],"max_tokens":2,"deadline_ms":10000})"));
    REQUIRE(relaxed.status == 200);
    CHECK(relaxed.model_header == "opt-125m");
  }
  std::filesystem::remove(policy);
}

TEST_CASE("bad requests get OpenAI-style errors and the gateway keeps serving", "[serve][gateway][bad-input]") {
  Loop loop;
  Box box(loop, "static:opt-125m");
  const Reply malformed = loop.Run(Post(box.port, "/v1/completions", "{\"model\": \"opt\", \"prompt\": "));
  CHECK(malformed.status == 400);
  CHECK(json::parse(malformed.body)["error"]["type"] == "invalid_request_error");
  const Reply unknown = loop.Run(Post(box.port, "/v1/completions", R"({"model":"gpt-4","prompt":"x"})"));
  CHECK(unknown.status == 404);
  CHECK(json::parse(unknown.body)["error"]["param"] == "model");
  const Reply big = loop.Run(Post(box.port, "/v1/completions", R"({"model":"opt","prompt":")" + std::string(8000, 'a') + "\"}"));
  CHECK(big.status == 413);
  const Reply task = loop.Run(Post(box.port, "/v1/completions", R"({"model":"opt","prompt":"x","task":"chess"})"));
  CHECK(task.status == 400);
  CHECK(json::parse(task.body)["error"]["param"] == "task");
  CHECK(loop.Run(Get(box.port, "/nowhere")).status == 404);
  CHECK(loop.Run(Get(box.port, "/v1/completions")).status == 405);
  // Still serving.
  CHECK(loop.Run(Post(box.port, "/v1/completions", R"({"model":"opt","prompt":"x","max_tokens":1})")).status == 200);
}

TEST_CASE("a dead backend is retried on another, ejected, and re-admitted once it answers", "[serve][gateway][faults]") {
  Loop loop;
  // Two opt-125m backends; the first is a port nothing listens on.
  uint16_t dead_port = 0;
  {
    asio::io_context scratch;
    tcp::acceptor probe(scratch, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    dead_port = probe.local_endpoint().port();
  }
  Box box(loop, "static:opt-125m", [&](GatewayConfig& config) {
    config.backends.insert(config.backends.begin(), BackendSpec{"opt-125m", HostPort{"127.0.0.1", dead_port}});
  });
  for (int i = 0; i < 3; ++i) {
    const Reply reply = loop.Run(Post(box.port, "/v1/completions", R"({"model":"opt","prompt":"x","max_tokens":1})"));
    CHECK(reply.status == 200);
    CHECK(reply.model_header == "opt-125m");
  }
  const std::string metrics = loop.Run(Get(box.port, "/metrics")).body;
  const std::string dead = fmt::format("backend=\"http://127.0.0.1:{}\",model=\"opt-125m\"", dead_port);
  CHECK(metrics.find("bestserve_gateway_backend_healthy{" + dead + "} 0") != std::string::npos);
  CHECK(metrics.find("bestserve_gateway_retries_total 1\n") != std::string::npos);  // tried once, then ejected

  // Every opt-125m backend gone: the next size is not up but... opt-125m is the smallest, so 503.
  loop.Call([&] {
    for (EmulatedInstance* instance : box.instances) {
      if (instance->model() == "opt-125m") instance->StopAccepting();
    }
    return 0;
  });
  const Reply none = loop.Run(Post(box.port, "/v1/completions", R"({"model":"opt","prompt":"x","max_tokens":1})"));
  CHECK(none.status == 503);
  CHECK(json::parse(none.body)["error"]["type"] == "server_error");
  // A larger model's backend is still there: a request routed to opt-1.3b is served.
  CHECK(loop.Run(Post(box.port, "/v1/completions", R"({"model":"opt-1.3b","prompt":"x","max_tokens":1})")).status == 200);
}

TEST_CASE("a request routed to a model with no live backend falls back to the next size down",
          "[serve][gateway][faults]") {
  Loop loop;
  Box box(loop, "static:opt-6.7b");
  loop.Call([&] {
    for (EmulatedInstance* instance : box.instances) {
      if (instance->model() == "opt-6.7b") instance->StopAccepting();
    }
    return 0;
  });
  const Reply reply = loop.Run(Post(box.port, "/v1/completions", R"({"model":"opt","prompt":"x","max_tokens":1})"));
  CHECK(reply.status == 200);
  CHECK(reply.model_header == "opt-1.3b");
}

TEST_CASE("a client leaving mid-stream through the gateway cancels the backend request", "[serve][gateway][faults]") {
  Loop loop;
  Box box(loop, "static:opt-125m");
  const Reply partial = loop.Run(Post(box.port, "/v1/completions",
                                      R"({"model":"opt","prompt":[1,2],"max_tokens":500,"stream":true})", {}, 2));
  CHECK(partial.events.size() == 2);
  const auto aborted = [&] {
    return loop.Call([&] {
      int64_t sum = 0;
      for (const EmulatedInstance* instance : box.instances) sum += instance->counters().aborted;
      return sum;
    });
  };
  for (int i = 0; i < 200 && aborted() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(aborted() == 1);
  const std::string metrics = loop.Run(Get(box.port, "/metrics")).body;
  CHECK(metrics.find("bestserve_gateway_client_disconnects_total 1\n") != std::string::npos);
  CHECK(metrics.find("status=\"499\"} 1") != std::string::npos);
  // The cancelled request's connection was closed, not pooled: the next request opens another.
  const std::string first = BackendLabels(box.config.backends.front());
  CHECK(MetricValue(metrics, "bestserve_gateway_backend_idle_connections{" + first + "}") == 0);
  CHECK(loop.Run(Post(box.port, "/v1/completions", R"({"model":"opt","prompt":"x","max_tokens":1})")).status == 200);
  const std::string after = loop.Run(Get(box.port, "/metrics")).body;
  CHECK(MetricValue(after, "bestserve_gateway_backend_connections_opened_total{" + first + "}") == 2);
  CHECK(MetricValue(after, "bestserve_gateway_backend_connections_reused_total{" + first + "}") == 0);
  CHECK(MetricValue(after, "bestserve_gateway_backend_idle_connections{" + first + "}") == 1);
}

int64_t SumOver(Loop& loop, const std::vector<EmulatedInstance*>& instances, int64_t (EmulatedInstance::*count)() const) {
  return loop.Call([&] {
    int64_t sum = 0;
    for (const EmulatedInstance* instance : instances) sum += (instance->*count)();
    return sum;
  });
}

// A two-token completion of the logical model through the gateway, streamed or whole.
asio::awaitable<Reply> TwoTokens(uint16_t port, bool stream) {
  return Post(port, "/v1/completions",
              stream ? R"({"model":"opt","prompt":"x","max_tokens":2,"stream":true})"
                     : R"({"model":"opt","prompt":"x","max_tokens":2})");
}

TEST_CASE("sequential requests through the gateway share one kept-alive backend connection", "[serve][gateway][pool]") {
  Loop loop;
  Box box(loop, "static:opt-125m");
  constexpr int kRequests = 20;
  for (int i = 0; i < kRequests; ++i) {
    // Whole answers and streams alternate on the same connection.
    const bool stream = i % 2 == 1;
    const Reply reply = loop.Run(TwoTokens(box.port, stream));
    REQUIRE(reply.status == 200);
    CHECK(reply.model_header == "opt-125m");
    if (stream) {
      REQUIRE(reply.events.size() == 3);
      CHECK(reply.events.back() == "[DONE]");
    } else {
      CHECK(json::parse(reply.body)["choices"][0]["text"] == " the model");
    }
  }
  // Counted where the connections arrive, and by the gateway.
  CHECK(SumOver(loop, box.instances, &EmulatedInstance::connections_accepted) == 1);
  CHECK(SumOver(loop, box.instances, &EmulatedInstance::connections_open) == 1);
  const std::string metrics = loop.Run(Get(box.port, "/metrics")).body;
  const std::string first = BackendLabels(box.config.backends.front());
  CHECK(MetricValue(metrics, "bestserve_gateway_backend_connections_opened_total{" + first + "}") == 1);
  CHECK(MetricValue(metrics, "bestserve_gateway_backend_connections_reused_total{" + first + "}") == kRequests - 1);
  CHECK(MetricValue(metrics, "bestserve_gateway_backend_connections_stale_total{" + first + "}") == 0);
  CHECK(MetricValue(metrics, "bestserve_gateway_backend_idle_connections{" + first + "}") == 1);
  CHECK(MetricValue(metrics, "bestserve_gateway_requests_total{model=\"opt-125m\",status=\"200\"}") == kRequests);

  // Shutdown closes the idle connection: the backend sees it go.
  loop.Call([&] {
    box.gateway->Drain([] {});
    return 0;
  });
  for (int i = 0; i < 200 && SumOver(loop, box.instances, &EmulatedInstance::connections_open) > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(SumOver(loop, box.instances, &EmulatedInstance::connections_open) == 0);
}

TEST_CASE("with pooling off every request opens a backend connection", "[serve][gateway][pool]") {
  Loop loop;
  Box box(loop, "static:opt-125m", [](GatewayConfig& config) { config.pool_max_idle_per_backend = 0; });
  constexpr int kRequests = 6;
  for (int i = 0; i < kRequests; ++i) {
    CHECK(loop.Run(TwoTokens(box.port, i % 2 == 1)).status == 200);
  }
  CHECK(SumOver(loop, box.instances, &EmulatedInstance::connections_accepted) == kRequests);
  const std::string metrics = loop.Run(Get(box.port, "/metrics")).body;
  const std::string first = BackendLabels(box.config.backends.front());
  CHECK(MetricValue(metrics, "bestserve_gateway_backend_connections_opened_total{" + first + "}") == kRequests);
  CHECK(MetricValue(metrics, "bestserve_gateway_backend_connections_reused_total{" + first + "}") == 0);
  CHECK(MetricValue(metrics, "bestserve_gateway_backend_idle_connections{" + first + "}") == 0);
}

// A backend that answers one request per connection, saying keep-alive, and then closes the
// connection: at once (the close reaches the gateway while the connection idles in its pool), or
// only when the next request arrives (the gateway has sent it and reads the end of the stream).
class OneAnswerServer {
 public:
  enum class Close { kAfterAnswer, kOnNextRequest };
  OneAnswerServer(asio::io_context& io, Close close)
      : acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), close_(close) {}
  void Start() { asio::co_spawn(acceptor_.get_executor(), Accept(), asio::detached); }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  int64_t accepted() const { return accepted_; }

 private:
  asio::awaitable<void> Accept() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      ++accepted_;
      asio::co_spawn(acceptor_.get_executor(), Serve(std::move(socket), close_), asio::detached);
    }
  }
  static asio::awaitable<void> Serve(tcp::socket socket, Close close) {
    beast::flat_buffer buffer;
    HttpRequest request;
    boost::system::error_code ec;
    co_await http::async_read(socket, buffer, request, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    const json body = json::parse(request.body(), nullptr, /*allow_exceptions=*/false);
    const bool stream = body.is_object() && body.value("stream", false);
    const std::string answer =
        R"({"id":"one","object":"text_completion","created":1,"model":"opt-125m","choices":[{"index":0,"text":" a","finish_reason":"length"}]})";
    http::response<http::string_body> response{http::status::ok, 11};
    response.keep_alive(true);
    if (stream) {
      response.set(http::field::content_type, "text/event-stream");
      response.body() = "data: " + answer + "\n\ndata: [DONE]\n\n";
      response.chunked(true);
    } else {
      response.set(http::field::content_type, "application/json");
      response.body() = answer;
      response.prepare_payload();
    }
    co_await http::async_write(socket, response, asio::redirect_error(asio::use_awaitable, ec));
    if (!ec && close == Close::kOnNextRequest) {
      HttpRequest next;
      co_await http::async_read(socket, buffer, next, asio::redirect_error(asio::use_awaitable, ec));
    }
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
  }

  tcp::acceptor acceptor_;
  Close close_;
  int64_t accepted_ = 0;
};

TEST_CASE("a backend closing its kept-alive connections costs no client an error and is not ejected",
          "[serve][gateway][pool][faults]") {
  const auto close = GENERATE(OneAnswerServer::Close::kAfterAnswer, OneAnswerServer::Close::kOnNextRequest);
  INFO((close == OneAnswerServer::Close::kAfterAnswer ? "closes after answering" : "closes on the next request"));
  Loop loop;
  OneAnswerServer* server = loop.Make<OneAnswerServer>(close);
  const uint16_t server_port = loop.Call([&] { return server->port(); });
  GatewayConfig config;
  config.scenario_path = kScenario;
  config.router_spec = "static:opt-125m";
  config.host = "127.0.0.1";
  config.port = 0;
  config.connect_timeout = std::chrono::milliseconds(300);
  config.backends.push_back(BackendSpec{"opt-125m", HostPort{"127.0.0.1", server_port}});
  Gateway* gateway = loop.Make<Gateway>(config);
  const uint16_t port = loop.Call([&] { return gateway->port(); });
  constexpr int kRequests = 10;
  for (int i = 0; i < kRequests; ++i) {
    const bool stream = i % 2 == 1;
    const Reply reply = loop.Run(Post(port, "/v1/completions",
                                      stream ? R"({"model":"opt","prompt":"x","max_tokens":1,"stream":true})"
                                             : R"({"model":"opt","prompt":"x","max_tokens":1})"));
    REQUIRE(reply.status == 200);
    if (stream) {
      REQUIRE(reply.events.size() == 2);
      CHECK(json::parse(reply.events[0])["model"] == "opt");
    } else {
      CHECK(json::parse(reply.body)["model"] == "opt");
    }
  }
  CHECK(loop.Call([&] { return server->accepted(); }) == kRequests);
  const std::string metrics = loop.Run(Get(port, "/metrics")).body;
  const std::string labels = BackendLabels(config.backends.front());
  CHECK(MetricValue(metrics, "bestserve_gateway_backend_healthy{" + labels + "}") == 1);
  CHECK(MetricValue(metrics, "bestserve_gateway_backend_ejections_total{" + labels + "}") == 0);
  CHECK(MetricValue(metrics, "bestserve_gateway_retries_total") == 0);
  CHECK(MetricValue(metrics, "bestserve_gateway_backend_connections_opened_total{" + labels + "}") == kRequests);
  // Each request after the first found its pooled connection closed, or lost it unanswered.
  CHECK(MetricValue(metrics, "bestserve_gateway_backend_connections_stale_total{" + labels + "}") == kRequests - 1);
  if (close == OneAnswerServer::Close::kOnNextRequest) {
    // The close arrives only after the gateway sent on the reused connection: every one retried.
    CHECK(MetricValue(metrics, "bestserve_gateway_backend_connections_reused_total{" + labels + "}") == kRequests - 1);
  }
  CHECK(MetricValue(metrics, "bestserve_gateway_requests_total{model=\"opt-125m\",status=\"200\"}") == kRequests);
}

// A server that accepts connections and never answers: a hung backend.
class SilentServer {
 public:
  explicit SilentServer(asio::io_context& io) : acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}
  void Start() { asio::co_spawn(acceptor_.get_executor(), Accept(), asio::detached); }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  asio::awaitable<void> Accept() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      held_.push_back(std::move(socket));
    }
  }
  tcp::acceptor acceptor_;
  std::vector<tcp::socket> held_;
};

TEST_CASE("a backend that never answers is abandoned after the first-byte timeout and retried", "[serve][gateway][faults]") {
  Loop loop;
  SilentServer* silent = loop.Make<SilentServer>();
  const uint16_t silent_port = loop.Call([&] { return silent->port(); });
  Box box(loop, "static:opt-125m", [&](GatewayConfig& config) {
    config.first_byte_timeout = std::chrono::milliseconds(300);
    config.backends.insert(config.backends.begin(), BackendSpec{"opt-125m", HostPort{"127.0.0.1", silent_port}});
  });
  const Reply reply = loop.Run(Post(box.port, "/v1/completions", R"({"model":"opt","prompt":"x","max_tokens":1})"));
  CHECK(reply.status == 200);
  CHECK(reply.total_s >= 0.3);
  CHECK(reply.total_s < 3.0);
  const std::string metrics = loop.Run(Get(box.port, "/metrics")).body;
  CHECK(metrics.find(fmt::format("bestserve_gateway_backend_healthy{{backend=\"http://127.0.0.1:{}\",model=\"opt-125m\"}} 0",
                                 silent_port)) != std::string::npos);
}

asio::awaitable<double> SecondsUntilClosed(uint16_t port, std::string partial_request) {
  tcp::socket socket(co_await asio::this_coro::executor);
  co_await socket.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), asio::use_awaitable);
  co_await asio::async_write(socket, asio::buffer(partial_request), asio::use_awaitable);
  const auto start = Clock::now();
  std::array<char, 4096> buffer{};
  boost::system::error_code ec;
  while (!ec) co_await socket.async_read_some(asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
  co_return std::chrono::duration<double>(Clock::now() - start).count();
}

TEST_CASE("a client that sends half a request is cut off after the read timeout", "[serve][gateway][faults]") {
  Loop loop;
  Box box(loop, "static:opt-125m", [](GatewayConfig& config) { config.read_timeout = std::chrono::milliseconds(300); });
  const double seconds = loop.Run(SecondsUntilClosed(box.port, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Le"));
  CHECK(seconds >= 0.25);
  CHECK(seconds < 3.0);
  // And the gateway still serves.
  CHECK(loop.Run(Post(box.port, "/v1/completions", R"({"model":"opt","prompt":"x","max_tokens":1})")).status == 200);
}

TEST_CASE("backend URLs parse and print back, IPv6 in brackets", "[serve][gateway]") {
  CHECK(ParseHttpUrl("http://127.0.0.1:8001").Url() == "http://127.0.0.1:8001");
  CHECK(ParseHttpUrl("http://[::1]:8001/").Url() == "http://[::1]:8001");
  CHECK(ParseHttpUrl("http://[::1]:8001").host == "::1");
  CHECK_THROWS_AS(ParseHttpUrl("http://host:0"), std::invalid_argument);
  CHECK_THROWS_AS(ParseHttpUrl("http://host:8000/v1"), std::invalid_argument);
  CHECK_THROWS_AS(ParseHttpUrl("https://host:8000"), std::invalid_argument);
}

TEST_CASE("bad gateway configs name the file, the line and the key", "[serve][gateway][bad-input]") {
  const std::string dir = std::string(BESTSERVE_SOURCE_DIR) + "/tests/serve/data";
  const auto message = [&](const std::string& yaml) -> std::string {
    const std::string path = "gateway_bad_config.yaml";
    {
      std::ofstream out(path);
      out << yaml;
    }
    try {
      LoadGatewayConfig(path);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  };
  CHECK_THAT(message("backends: []\n"), Catch::Contains("gateway_bad_config.yaml:1") && Catch::Contains("at least one"));
  CHECK_THAT(message("backends:\n  - {model: opt-125m, url: \"ftp://x\"}\n"),
             Catch::Contains(":2") && Catch::Contains("backends[0].url") && Catch::Contains("http://HOST:PORT"));
  CHECK_THAT(message("listen: nowhere\nbackends: [{model: m, url: \"http://127.0.0.1:1\"}]\n"),
             Catch::Contains("listen") && Catch::Contains("HOST:PORT"));
  CHECK_THAT(message("backend: []\n"), Catch::Contains("backend") && Catch::Contains("valid keys"));
  CHECK_THAT(message("backends: [{model: m, url: \"http://127.0.0.1:1\"}]\ntimeouts_ms: {connect: -1}\n"),
             Catch::Contains("timeouts_ms.connect"));
  CHECK_THAT(message("backends: [{model: m, url: \"http://127.0.0.1:1\"}]\npool: {max_idle_per_backend: -1}\n"),
             Catch::Contains(":2") && Catch::Contains("pool.max_idle_per_backend"));
  CHECK_THAT(message("backends: [{model: m, url: \"http://127.0.0.1:1\"}]\npool: {idle_timeout_ms: 0}\n"),
             Catch::Contains("pool.idle_timeout_ms"));
  CHECK_THAT(message("backends: [{model: m, url: \"http://127.0.0.1:1\"}]\npool: {max_idle: 4}\n"),
             Catch::Contains("max_idle") && Catch::Contains("valid keys"));
}

}  // namespace
}  // namespace bestserve::serve
