#include "serve/emulator.h"

#include <fmt/format.h>

#include <chrono>

namespace bestserve::serve {
namespace {

int64_t UnixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// A request inside the engine and the handler coroutine that streams it.
struct EmulatedInstance::Sequence {
  explicit Sequence(asio::any_io_executor executor) : notifier(std::move(executor)) {}
  int64_t id = 0;
  int32_t prompt_tokens = 0;
  int32_t output_tokens = 0;
  int32_t generated = 0;  // sampled by the engine so far
  bool finished = false;
  Notifier notifier;
};

std::vector<EmulatedInstanceSpec> EmulatedInstances(const ServingSystem& system, uint16_t first_port) {
  std::vector<EmulatedInstanceSpec> specs;
  for (size_t i = 0; i < system.instances.size(); ++i) {
    const InstanceSpec& instance = system.instances[i];
    EmulatedInstanceSpec spec;
    spec.model = system.model_names[static_cast<size_t>(instance.model)];
    spec.profile = system.model_profiles[static_cast<size_t>(instance.model)];
    spec.engine = instance.engine;
    spec.engine.kind = EngineKind::kVllm;
    spec.kv_capacity_tokens = instance.kv_capacity_tokens;
    spec.port = first_port == 0 ? 0 : static_cast<uint16_t>(first_port + i);
    specs.push_back(std::move(spec));
  }
  return specs;
}

EmulatedInstance::EmulatedInstance(asio::io_context& io, EmulatedInstanceSpec spec,
                                   const EmulatorOptions& options)
    : io_(io),
      spec_(std::move(spec)),
      options_(options),
      scheduler_(spec_.engine, spec_.kv_capacity_tokens, *spec_.profile),
      iteration_timer_(io) {
  server_ = std::make_unique<HttpServer>(io, options_.host, spec_.port, options_.server,
                                         [this](Exchange& exchange) { return Handle(exchange); });
}

EmulatedInstance::~EmulatedInstance() { *alive_ = false; }

std::string EmulatedInstance::url() const {
  return HostPort{options_.host, port()}.Url();
}

asio::awaitable<void> EmulatedInstance::Handle(Exchange& exchange) {
  const HttpRequest& request = exchange.request();
  const std::string_view target = exchange.target();
  const bool post = exchange.is_post();
  std::optional<ApiError> failure;
  try {
    if (target == "/health") {
      co_await exchange.Respond(http::status::ok, "text/plain", "");
    } else if (target == "/metrics") {
      co_await exchange.Respond(http::status::ok, "text/plain; version=0.0.4", MetricsText());
    } else if (target == "/v1/models") {
      // (built outside the co_await: GCC 12 cannot put an initializer list in a coroutine frame)
      const std::vector<std::string> models{spec_.model};
      co_await exchange.Respond(http::status::ok, "application/json", ModelListBody(models, UnixSeconds()));
    } else if (post && (target == "/v1/completions" || target == "/v1/chat/completions")) {
      const Endpoint endpoint = target == "/v1/completions" ? Endpoint::kCompletions : Endpoint::kChatCompletions;
      const CompletionRequest parsed = ParseCompletionRequest(request.body(), endpoint);
      co_await Complete(exchange, parsed);
    } else {
      throw ApiError(404, "not_found_error", fmt::format("no route for {} {}", std::string(request.method_string()), target));
    }
  } catch (const ApiError& error) {
    failure = error;  // answered below: C++ allows no co_await inside a handler
  }
  if (failure) {
    ++counters_.refused;
    if (!exchange.responded()) {
      co_await exchange.Respond(static_cast<http::status>(failure->status()), "application/json", ErrorBody(*failure));
    }
  }
}

asio::awaitable<void> EmulatedInstance::Complete(Exchange& exchange, const CompletionRequest& request) {
  if (request.model != spec_.model) {
    throw ApiError(404, "not_found_error", fmt::format("The model `{}` does not exist.", request.model), "model");
  }
  const int32_t output_tokens = request.max_tokens.value_or(
      request.endpoint == Endpoint::kCompletions ? 16 : options_.chat_default_max_tokens);
  const ModelProfile& profile = spec_.profile->model();
  const int64_t total = static_cast<int64_t>(request.prompt_tokens) + output_tokens;
  if (total > profile.max_context_tokens) {
    // vLLM's wording, so that clients written against it recognise the refusal.
    throw ApiError(400, "BadRequestError",
                   fmt::format("This model's maximum context length is {} tokens. However, you requested {} "
                               "tokens ({} in the messages, {} in the completion). Please reduce the length "
                               "of the messages or completion.",
                               profile.max_context_tokens, total, request.prompt_tokens, output_tokens),
                   "max_tokens");
  }
  if (!scheduler_.CanServe(request.prompt_tokens, output_tokens)) {
    throw ApiError(400, "BadRequestError",
                   fmt::format("{} prompt + {} output tokens can never fit this instance's KV cache ({} tokens) "
                               "or token budget ({} tokens per iteration)",
                               request.prompt_tokens, output_tokens, scheduler_.total_kv_tokens(),
                               spec_.engine.max_num_batched_tokens),
                   "max_tokens");
  }
  ++counters_.requests;
  auto seq = std::make_shared<Sequence>(io_.get_executor());
  seq->id = next_id_++;
  seq->prompt_tokens = request.prompt_tokens;
  seq->output_tokens = output_tokens;
  sequences_.emplace(seq->id, seq);
  scheduler_.Enqueue(EngineRequest{seq->id, request.prompt_tokens, output_tokens});
  Kick();

  const std::string id = fmt::format("cmpl-{}-{}", port(), seq->id);
  const int64_t created = UnixSeconds();
  const auto alive = alive_;
  const Usage usage{request.prompt_tokens, output_tokens};
  if (!request.stream) {
    while (!seq->finished) co_await seq->notifier.Wait();
    std::string text;
    for (int32_t i = 0; i < output_tokens; ++i) text += TokenText(i);
    co_await exchange.Respond(http::status::ok, "application/json",
                              CompletionBody(request.endpoint, id, created, spec_.model, text, usage));
    co_return;
  }
  bool ok = co_await exchange.BeginStream("text/event-stream");
  int32_t sent = 0;
  while (ok && sent < output_tokens) {
    if (sent == seq->generated) {
      co_await seq->notifier.Wait();
      continue;
    }
    // Tokens sampled since the last write go out as one event each, as vLLM streams them.
    std::string events;
    while (sent < seq->generated) {
      events += SseEvent(StreamChunk(request.endpoint, id, created, spec_.model, TokenText(sent), sent == 0,
                                     sent + 1 == output_tokens));
      ++sent;
    }
    if (sent == output_tokens) {
      if (request.include_usage) events += SseEvent(UsageChunk(request.endpoint, id, created, spec_.model, usage));
      events += kSseDone;
    }
    ok = co_await exchange.WriteChunk(events);
  }
  if (ok) ok = co_await exchange.EndStream();
  if (!ok && *alive && !seq->finished) {
    // The client went away: free the sequence's place in the engine, as vLLM aborts it.
    scheduler_.Abort(seq->id);
    ++counters_.aborted;
    Forget(seq->id);
  }
}

void EmulatedInstance::Kick() {
  if (scheduler_.busy()) return;
  const std::optional<double> seconds = scheduler_.StartIteration();
  if (!seconds) return;
  ++counters_.iterations;
  iteration_timer_.expires_after(std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(*seconds * options_.time_scale)));
  iteration_timer_.async_wait([this, alive = alive_](boost::system::error_code ec) {
    if (!*alive || ec) return;
    EndIteration();
  });
}

void EmulatedInstance::EndIteration() {
  for (const TokenOutput& out : scheduler_.FinishIteration()) {
    const auto it = sequences_.find(out.id);
    if (it == sequences_.end()) continue;
    Sequence& seq = *it->second;
    seq.generated = out.generated;
    ++counters_.generated_tokens;
    if (out.finished) {
      seq.finished = true;
      ++counters_.completed;
      seq.notifier.Notify();
      sequences_.erase(it);  // the handler holds its own reference
      continue;
    }
    seq.notifier.Notify();
  }
  Kick();
}

void EmulatedInstance::Forget(int64_t id) { sequences_.erase(id); }

std::string EmulatedInstance::MetricsText() const {
  const std::string label = fmt::format("model_name=\"{}\"", spec_.model);
  std::string text;
  const auto gauge = [&](const char* name, const char* help, auto value) {
    text += fmt::format("# HELP {} {}\n# TYPE {} gauge\n{}{{{}}} {}\n", name, help, name, name, label, value);
  };
  const auto counter = [&](const char* name, const char* help, int64_t value) {
    text += fmt::format("# HELP {} {}\n# TYPE {} counter\n{}{{{}}} {}\n", name, help, name, name, label, value);
  };
  gauge("vllm:num_requests_running", "Sequences in the running batch.", scheduler_.running());
  gauge("vllm:num_requests_waiting", "Requests waiting to be scheduled.", scheduler_.waiting());
  gauge("vllm:num_requests_swapped", "Requests swapped out to CPU memory.", scheduler_.swapped());
  gauge("vllm:gpu_cache_usage_perc", "Fraction of KV blocks in use.",
        scheduler_.total_kv_tokens() > 0
            ? 1.0 - static_cast<double>(scheduler_.free_kv_tokens()) / static_cast<double>(scheduler_.total_kv_tokens())
            : 0.0);
  counter("vllm:num_preemptions_total", "Sequences preempted (recompute or swap).",
          scheduler_.counters().preemptions);
  counter("bestserve_emulator_requests_total", "Requests accepted.", counters_.requests);
  counter("bestserve_emulator_completed_total", "Requests that received their last token.", counters_.completed);
  counter("bestserve_emulator_aborted_total", "Requests whose client left before the last token.", counters_.aborted);
  counter("bestserve_emulator_refused_total", "Requests answered with an error.", counters_.refused);
  counter("vllm:generation_tokens_total", "Output tokens sampled.", counters_.generated_tokens);
  counter("bestserve_emulator_iterations_total", "Engine iterations.", counters_.iterations);
  return text;
}

}  // namespace bestserve::serve
