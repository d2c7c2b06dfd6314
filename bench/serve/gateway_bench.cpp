// The load client of bench/serve/gateway_bench.sh: open-loop requests (exact schedule, one new
// connection per request, as serve/loadgen does) against any OpenAI-compatible URL, written on
// serve/http.h (HttpClient, one io_context thread), so the emulator alone, the gateway and a
// plain reverse proxy are measured by the same client on the same schedule.
//
//   gateway_bench open  --url U --rate 500 --duration 10 [--stream] [--max-tokens 1]
//   gateway_bench steps --url U --rates 500,1000,2000 --step 5 --p99-bound-ms 50 --max-total 60
//   gateway_bench hold  --url U --streams 2000 --max-tokens 100 --pid GATEWAY_PID
//
// Latency runs from each request's scheduled time (not its send time) to its last byte, so a
// client or server that falls behind the schedule shows up in the figures (no coordinated
// omission). Every run is bounded: a request times out after --timeout seconds, a run stops
// --timeout seconds after its last scheduled send, at most --max-in-flight requests are open
// (arrivals beyond are counted as not sent). Each result is printed and, with --json FILE,
// appended to FILE as one JSON object per line for the script's report.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "serve/http.h"

namespace {

namespace serve = bestserve::serve;
namespace asio = serve::asio;
namespace http = serve::http;
using serve::Clock;
using nlohmann::json;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

struct RequestSpec {
  serve::HostPort target;
  std::string body;
  bool stream = false;
  std::chrono::milliseconds timeout{10'000};
};

struct Outcome {
  bool started = false;
  bool finished = false;
  bool ok = false;
  std::string error;
  Clock::time_point scheduled, sent, headers, first_event, done;
};

// Counts the hold run watches as streams open and end.
struct Progress {
  int64_t headers = 0;
  int64_t first_events = 0;
  int64_t done = 0;
  int64_t errors = 0;
};

// One request on a new connection: status 200 and, streamed, at least one event and a final
// [DONE] with no error event; not streamed, a body with choices.
asio::awaitable<void> RunOne(const RequestSpec* spec, Outcome* out, Progress* progress) {
  serve::HttpClient client(co_await asio::this_coro::executor);
  std::string error;
  try {
    co_await client.Connect(spec->target, spec->timeout);
    serve::HttpRequest request = serve::MakeRequest(http::verb::post, "/v1/completions", spec->target.host, spec->body);
    co_await client.Send(request, spec->timeout);
    co_await client.ReadHeader(spec->timeout);
    out->headers = Clock::now();
    if (progress != nullptr) ++progress->headers;
    if (client.status() != 200) {
      error = fmt::format("status {}", client.status());
    } else if (!spec->stream) {
      const std::string body = co_await client.ReadAll(spec->timeout, 1 << 20);
      out->first_event = Clock::now();
      if (body.find("\"choices\"") == std::string::npos) error = "no choices in the body";
    } else {
      std::string window;  // the last bytes and the new piece: markers split across pieces are seen
      bool first = true;
      while (auto piece = co_await client.ReadSome(spec->timeout)) {
        window += *piece;
        if (first && window.find("data: ") != std::string::npos) {
          first = false;
          out->first_event = Clock::now();
          if (progress != nullptr) ++progress->first_events;
        }
        if (window.find("{\"error\"") != std::string::npos) error = "error event in the stream";
        if (window.size() > 32) window.erase(0, window.size() - 32);
      }
      if (first) {
        error = error.empty() ? "stream without events" : error;
      } else if (error.empty() && window.find("[DONE]") == std::string::npos) {
        error = "stream ended without [DONE]";
      }
    }
  } catch (const std::exception& e) {
    error = e.what();
  }
  client.Close();
  out->done = Clock::now();
  out->finished = true;
  out->ok = error.empty();
  out->error = std::move(error);
  if (progress != nullptr) ++(out->ok ? progress->done : progress->errors);
}

struct OpenLoop {
  const RequestSpec* spec = nullptr;
  Progress* progress = nullptr;
  double rate = 500.0;
  int64_t count = 0;
  int64_t max_in_flight = 4096;
  std::vector<Outcome> outcomes;
  int64_t in_flight = 0;
  int64_t not_sent = 0;
  bool scheduling_done = false;
  double max_lag_s = 0.0;
  Clock::time_point start;
};

asio::awaitable<void> Tracked(OpenLoop* loop, Outcome* out) {
  co_await RunOne(loop->spec, out, loop->progress);
  --loop->in_flight;
}

// Sends request i at start + i / rate (at once when already late), on a new coroutine each.
asio::awaitable<void> Schedule(OpenLoop* loop) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (int64_t i = 0; i < loop->count; ++i) {
    Outcome& out = loop->outcomes[static_cast<size_t>(i)];
    out.scheduled = loop->start + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(static_cast<double>(i) / loop->rate));
    if (Clock::now() < out.scheduled) {
      timer.expires_at(out.scheduled);
      co_await timer.async_wait(asio::use_awaitable);
    }
    out.sent = Clock::now();
    loop->max_lag_s = std::max(loop->max_lag_s, Seconds(out.sent - out.scheduled));
    if (loop->in_flight >= loop->max_in_flight) {
      ++loop->not_sent;
      continue;
    }
    out.started = true;
    ++loop->in_flight;
    asio::co_spawn(co_await asio::this_coro::executor, Tracked(loop, &out), asio::detached);
  }
  loop->scheduling_done = true;
}

// Stops the loop when everything sent has ended, or `grace` after the last send (the requests
// still open then count as errors).
asio::awaitable<void> Watchdog(OpenLoop* loop, std::chrono::milliseconds grace, asio::io_context* io) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  std::optional<Clock::time_point> deadline;
  for (;;) {
    timer.expires_after(std::chrono::milliseconds(20));
    co_await timer.async_wait(asio::use_awaitable);
    if (loop->scheduling_done && loop->in_flight == 0) co_return;
    if (loop->scheduling_done && !deadline) deadline = Clock::now() + grace;
    if (deadline && Clock::now() > *deadline) {
      io->stop();
      co_return;
    }
  }
}

double Quantile(std::vector<double> values, double q) {
  if (values.empty()) return std::nan("");
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::min(values.size() - 1, rank == 0 ? 0 : rank - 1)];
}

struct Summary {
  int64_t measured = 0;  // scheduled after the warm-up
  int64_t ok = 0;
  int64_t errors = 0;
  int64_t not_sent = 0;
  double offered_rps = 0.0;
  double achieved_rps = 0.0;
  double max_lag_ms = 0.0;
  std::vector<double> latency_ms;
  std::vector<double> ttft_ms;
  std::vector<std::string> first_errors;

  json Json() const {
    json j;
    j["measured"] = measured;
    j["ok"] = ok;
    j["errors"] = errors;
    j["not_sent"] = not_sent;
    j["offered_rps"] = offered_rps;
    j["achieved_rps"] = achieved_rps;
    j["max_send_lag_ms"] = max_lag_ms;
    for (const auto& [name, values] : {std::pair{"latency_ms", &latency_ms}, std::pair{"ttft_ms", &ttft_ms}}) {
      if (values->empty()) continue;
      j[name] = {{"p50", Quantile(*values, 0.50)}, {"p90", Quantile(*values, 0.90)},
                 {"p99", Quantile(*values, 0.99)}, {"max", Quantile(*values, 1.0)}};
    }
    j["first_errors"] = first_errors;
    return j;
  }
};

// Runs rate * (warmup + duration) requests on the exact schedule; figures from those scheduled
// after the warm-up. Achieved rate: requests answered in full, per second from the first measured
// schedule time to the last measured answer.
Summary RunOpenLoop(const RequestSpec& spec, double rate, double warmup_s, double duration_s, int64_t max_in_flight) {
  asio::io_context io(1);
  OpenLoop loop;
  loop.spec = &spec;
  loop.rate = rate;
  loop.count = std::llround((warmup_s + duration_s) * rate);
  loop.max_in_flight = max_in_flight;
  loop.outcomes.resize(static_cast<size_t>(loop.count));
  loop.start = Clock::now() + std::chrono::milliseconds(20);
  asio::co_spawn(io, Schedule(&loop), asio::detached);
  asio::co_spawn(io, Watchdog(&loop, spec.timeout + std::chrono::milliseconds(1000), &io), asio::detached);
  io.run();

  Summary s;
  const auto warm = static_cast<size_t>(std::llround(warmup_s * rate));
  s.offered_rps = rate;
  Clock::time_point last = loop.start;
  const Clock::time_point first = warm < loop.outcomes.size() ? loop.outcomes[warm].scheduled : loop.start;
  for (size_t i = warm; i < loop.outcomes.size(); ++i) {
    const Outcome& o = loop.outcomes[i];
    ++s.measured;
    s.max_lag_ms = std::max(s.max_lag_ms, 1e3 * Seconds(o.sent - o.scheduled));
    if (!o.started) {
      ++s.not_sent;
      continue;
    }
    if (!o.finished || !o.ok) {
      ++s.errors;
      if (s.first_errors.size() < 5) s.first_errors.push_back(o.finished ? o.error : "unfinished at the run's end");
      continue;
    }
    ++s.ok;
    last = std::max(last, o.done);
    s.latency_ms.push_back(1e3 * Seconds(o.done - o.scheduled));
    s.ttft_ms.push_back(1e3 * Seconds(o.first_event - o.scheduled));
  }
  const double span = Seconds(last - first);
  s.achieved_rps = span > 0.0 ? static_cast<double>(s.ok) / std::max(span, duration_s) : 0.0;
  if (!spec.stream) s.ttft_ms.clear();  // the whole answer is the first byte of the body
  return s;
}

std::string Body(const std::string& model, int max_tokens, bool stream) {
  json body;
  body["model"] = model;
  body["prompt"] = std::vector<int>{1, 2, 3, 4};
  body["max_tokens"] = max_tokens;
  body["stream"] = stream;
  body["ignore_eos"] = true;
  return body.dump();
}

int64_t ProcStatusKb(int pid, const std::string& key) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::stoll(line.substr(key.size() + 1));
  }
  return -1;
}

int64_t OpenFds(int pid) {
  std::error_code ec;
  int64_t n = 0;
  for (auto it = std::filesystem::directory_iterator(fmt::format("/proc/{}/fd", pid), ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return ec ? -1 : n;
}

int64_t RssKb(const std::vector<int>& pids) {
  int64_t total = 0;
  for (int pid : pids) total += std::max<int64_t>(0, ProcStatusKb(pid, "VmRSS"));
  return total;
}

void Emit(const std::string& path, json j) {
  if (path.empty()) return;
  std::ofstream out(path, std::ios::app);
  out << j.dump() << "\n";
}

std::string Brief(const Summary& s) {
  std::string text = fmt::format("ok {}/{}, errors {}, not sent {}, achieved {:.1f}/{:.0f} req/s, max send lag {:.2f} ms",
                                 s.ok, s.measured, s.errors, s.not_sent, s.achieved_rps, s.offered_rps, s.max_lag_ms);
  if (!s.latency_ms.empty()) {
    text += fmt::format("; latency p50 {:.3f} p90 {:.3f} p99 {:.3f} max {:.3f} ms", Quantile(s.latency_ms, 0.5),
                        Quantile(s.latency_ms, 0.9), Quantile(s.latency_ms, 0.99), Quantile(s.latency_ms, 1.0));
  }
  if (!s.ttft_ms.empty()) {
    text += fmt::format("; TTFT p50 {:.3f} p90 {:.3f} p99 {:.3f} ms", Quantile(s.ttft_ms, 0.5), Quantile(s.ttft_ms, 0.9),
                        Quantile(s.ttft_ms, 0.99));
  }
  for (const auto& e : s.first_errors) text += fmt::format("\n    error: {}", e);
  return text;
}

// Hold: opens `streams` streamed requests at `open_rate` per second and keeps them to their
// end; samples the RSS of `pids` (summed) idle, once every stream has its headers, and at its
// peak while streams are open.
asio::awaitable<void> Monitor(OpenLoop* loop, std::vector<int> pids, json* report, double settle_s,
                              std::chrono::milliseconds grace, asio::io_context* io) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  const auto start = Clock::now();
  std::optional<Clock::time_point> all_open;
  std::optional<Clock::time_point> deadline;
  bool sampled = false;
  int64_t peak = 0;
  int64_t peak_fds = 0;
  for (;;) {
    timer.expires_after(std::chrono::milliseconds(50));
    co_await timer.async_wait(asio::use_awaitable);
    const Progress& p = *loop->progress;
    if (!pids.empty() && p.done == 0) {
      peak = std::max(peak, RssKb(pids));
      peak_fds = std::max(peak_fds, OpenFds(pids.front()));
    }
    if (!all_open && p.headers + p.errors >= loop->count) {
      all_open = Clock::now();
      (*report)["seconds_to_open_all"] = Seconds(*all_open - start);
      (*report)["headers_received"] = p.headers;
      (*report)["done_when_all_open"] = p.done;
    }
    if (all_open && !sampled && Seconds(Clock::now() - *all_open) >= settle_s) {
      sampled = true;
      (*report)["rss_all_open_kb"] = RssKb(pids);
      (*report)["fds_all_open"] = pids.empty() ? -1 : OpenFds(pids.front());
      (*report)["done_when_sampled"] = p.done;
      (*report)["first_events_when_sampled"] = p.first_events;
    }
    if (loop->scheduling_done && loop->in_flight == 0) break;
    if (loop->scheduling_done && !deadline) deadline = Clock::now() + grace;
    if (deadline && Clock::now() > *deadline) {
      io->stop();
      break;
    }
  }
  (*report)["rss_peak_before_first_end_kb"] = peak;
  (*report)["fds_peak_before_first_end"] = peak_fds;
  (*report)["seconds_total"] = Seconds(Clock::now() - start);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gateway_bench: open-loop load for bench/serve/gateway_bench.sh"};
  app.require_subcommand(1);
  std::string url;
  std::string model = "opt";
  std::string json_path;
  std::string label;
  int max_tokens = 1;
  bool stream = false;
  double timeout_s = 10.0;
  int64_t max_in_flight = 4096;
  const auto common = [&](CLI::App* cmd) {
    cmd->add_option("--url", url, "http://127.0.0.1:PORT")->required();
    cmd->add_option("--model", model, "model each request asks for");
    cmd->add_option("--json", json_path, "append each result to this file (one JSON object per line)");
    cmd->add_option("--label", label, "name of the target in the report");
    cmd->add_option("--max-tokens", max_tokens, "max_tokens of each request")->check(CLI::Range(1, 2000));
    cmd->add_option("--timeout", timeout_s, "seconds per step of a request (connect, header, each read)")
        ->check(CLI::Range(0.1, 600.0));
    cmd->add_option("--max-in-flight", max_in_flight, "most requests open at once")->check(CLI::Range(1, 10000));
  };
  double rate = 500.0;
  double duration_s = 10.0;
  double warmup_s = 1.0;
  auto* open = app.add_subcommand("open", "one open-loop run at a fixed rate");
  common(open);
  open->add_option("--rate", rate, "requests per second (exact schedule)")->check(CLI::Range(1.0, 100000.0));
  open->add_option("--duration", duration_s, "measured seconds")->check(CLI::Range(0.1, 600.0));
  open->add_option("--warmup", warmup_s, "seconds at the same rate before measuring")->check(CLI::Range(0.0, 60.0));
  open->add_flag("--stream", stream, "stream: true (TTFT: first event)");

  std::vector<double> rates;
  double step_s = 5.0;
  double p99_bound_ms = 50.0;
  double max_total_s = 60.0;
  auto* steps = app.add_subcommand("steps", "step the offered rate up until it is no longer sustained");
  common(steps);
  steps->add_option("--rates", rates, "offered rates, increasing")->delimiter(',')->required();
  steps->add_option("--step", step_s, "measured seconds per rate")->check(CLI::Range(0.5, 120.0));
  steps->add_option("--warmup", warmup_s, "seconds before measuring, per rate")->check(CLI::Range(0.0, 60.0));
  steps->add_option("--p99-bound-ms", p99_bound_ms, "sustained: p99 latency at most this");
  steps->add_option("--max-total", max_total_s, "stop stepping after this many seconds")->check(CLI::Range(1.0, 3600.0));

  int64_t streams = 2000;
  double open_rate = 2000.0;
  double settle_s = 0.5;
  std::vector<int> pids;
  auto* hold = app.add_subcommand("hold", "hold many streams open; count errors, sample server memory");
  common(hold);
  hold->add_option("--streams", streams, "streams to open")->check(CLI::Range(1, 10000));
  hold->add_option("--open-rate", open_rate, "streams opened per second")->check(CLI::Range(1.0, 100000.0));
  hold->add_option("--settle", settle_s, "seconds after the last header before sampling memory");
  hold->add_option("--pid", pids, "processes whose RSS is summed (first: also open fds)");
  CLI11_PARSE(app, argc, argv);

  RequestSpec spec;
  try {
    spec.target = serve::ParseHttpUrl(url);
  } catch (const std::invalid_argument& e) {
    fmt::print(stderr, "--url {}\n", e.what());
    return 2;
  }
  spec.timeout = std::chrono::milliseconds(std::llround(timeout_s * 1000.0));
  if (label.empty()) label = url;
  fmt::print("gateway_bench: {} | build {} | commit {} | client: one thread, new connection per request\n",
             bestserve::bench::CpuModel(), bestserve::bench::BuildType(), bestserve::bench::GitCommit());

  if (open->parsed()) {
    spec.stream = stream;
    spec.body = Body(model, max_tokens, stream);
    const Summary s = RunOpenLoop(spec, rate, warmup_s, duration_s, max_in_flight);
    fmt::print("open {} ({}, max_tokens {}, {:.0f} req/s for {:.1f} s): {}\n", label,
               stream ? "streamed" : "not streamed", max_tokens, rate, duration_s, Brief(s));
    json j = s.Json();
    j["mode"] = "open";
    j["label"] = label;
    j["stream"] = stream;
    j["max_tokens"] = max_tokens;
    j["duration_s"] = duration_s;
    Emit(json_path, j);
    return 0;
  }
  if (steps->parsed()) {
    spec.body = Body(model, max_tokens, false);
    const bestserve::bench::Stopwatch total;
    double best = 0.0;
    json list = json::array();
    for (double r : rates) {
      if (total.Seconds() > max_total_s) {
        fmt::print("steps {}: stopped before {:.0f} req/s (over {:.0f} s in all)\n", label, r, max_total_s);
        break;
      }
      const Summary s = RunOpenLoop(spec, r, warmup_s, step_s, max_in_flight);
      const double p99 = s.latency_ms.empty() ? std::nan("") : Quantile(s.latency_ms, 0.99);
      const bool sustained = s.errors == 0 && s.not_sent == 0 && s.achieved_rps >= 0.98 * r && p99 <= p99_bound_ms;
      fmt::print("steps {} at {:.0f} req/s: {} -> {}\n", label, r, Brief(s), sustained ? "sustained" : "NOT sustained");
      std::fflush(stdout);
      json j = s.Json();
      j["sustained"] = sustained;
      list.push_back(j);
      if (!sustained) break;
      best = r;
    }
    fmt::print("steps {}: highest sustained {:.0f} req/s (achieved >= 98% of offered, no errors, p99 <= {:.0f} ms)\n", label,
               best, p99_bound_ms);
    json j;
    j["mode"] = "steps";
    j["label"] = label;
    j["highest_sustained_rps"] = best;
    j["p99_bound_ms"] = p99_bound_ms;
    j["step_s"] = step_s;
    j["steps"] = list;
    Emit(json_path, j);
    return 0;
  }
  // hold
  json report;
  report["mode"] = "hold";
  report["label"] = label;
  report["streams"] = streams;
  report["max_tokens"] = max_tokens;
  {
    // Warm-up: a few short streams one after another, so the idle figure is a server that has
    // served (allocator arenas, lazily built state), not a fresh one.
    asio::io_context io(1);
    RequestSpec warm = spec;
    warm.stream = true;
    warm.body = Body(model, 2, true);
    std::vector<Outcome> outs(20);
    asio::co_spawn(
        io,
        [](const RequestSpec* w, std::vector<Outcome>* o) -> asio::awaitable<void> {
          for (auto& out : *o) co_await RunOne(w, &out, nullptr);
        }(&warm, &outs),
        asio::detached);
    io.run();
    const auto failed = std::count_if(outs.begin(), outs.end(), [](const Outcome& o) { return !o.ok; });
    if (failed > 0) fmt::print("hold {}: {} of 20 warm-up streams failed: {}\n", label, failed, outs.front().error);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  report["rss_idle_kb"] = RssKb(pids);
  report["fds_idle"] = pids.empty() ? -1 : OpenFds(pids.front());
  spec.stream = true;
  spec.body = Body(model, max_tokens, true);
  asio::io_context io(1);
  Progress progress;
  OpenLoop loop;
  loop.spec = &spec;
  loop.progress = &progress;
  loop.rate = open_rate;
  loop.count = streams;
  loop.max_in_flight = streams;
  loop.outcomes.resize(static_cast<size_t>(streams));
  loop.start = Clock::now() + std::chrono::milliseconds(20);
  asio::co_spawn(io, Schedule(&loop), asio::detached);
  asio::co_spawn(io, Monitor(&loop, pids, &report, settle_s, spec.timeout + std::chrono::milliseconds(1000), &io),
                 asio::detached);
  io.run();
  int64_t ok = 0;
  std::vector<std::string> errors;
  std::vector<double> ttft;
  for (const Outcome& o : loop.outcomes) {
    if (o.finished && o.ok) {
      ++ok;
      ttft.push_back(1e3 * Seconds(o.first_event - o.scheduled));
    } else if (errors.size() < 5) {
      errors.push_back(!o.started ? "not sent" : o.finished ? o.error : "unfinished at the run's end");
    }
  }
  report["completed"] = ok;
  report["errors"] = streams - ok;
  report["first_errors"] = errors;
  report["ttft_ms"] = {{"p50", Quantile(ttft, 0.5)}, {"p99", Quantile(ttft, 0.99)}, {"max", Quantile(ttft, 1.0)}};
  const int64_t idle = report["rss_idle_kb"].get<int64_t>();
  const int64_t all_open = report.value("rss_all_open_kb", int64_t{-1});
  report["kb_per_stream"] = all_open >= 0 ? static_cast<double>(all_open - idle) / static_cast<double>(streams) : -1.0;
  fmt::print("hold {}: {} streams (max_tokens {}), completed {}, errors {}; open in {:.2f} s; RSS idle {} kB, all open {} kB "
             "({:.1f} kB per stream), peak before the first stream ended {} kB; fds idle {}, all open {}\n",
             label, streams, max_tokens, ok, streams - ok, report.value("seconds_to_open_all", -1.0), idle, all_open,
             report["kb_per_stream"].get<double>(), report.value("rss_peak_before_first_end_kb", int64_t{-1}),
             report.value("fds_idle", int64_t{-1}), report.value("fds_all_open", int64_t{-1}));
  for (const auto& e : errors) fmt::print("    error: {}\n", e);
  Emit(json_path, report);
  return 0;
}
