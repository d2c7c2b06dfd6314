#include "serve/loadgen.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "scenario/scenario.h"
#include "sim/reward.h"

namespace bestserve::serve {
namespace {

using nlohmann::json;

// Distinct, valid OPT token ids (the vocabulary has 50,272), deterministic per position.
std::vector<int32_t> PromptIds(int32_t tokens) {
  std::vector<int32_t> ids(static_cast<size_t>(tokens));
  for (int32_t i = 0; i < tokens; ++i) ids[static_cast<size_t>(i)] = 4 + static_cast<int32_t>((int64_t{i} * 7919) % 50000);
  return ids;
}

class LoadRun {
 public:
  LoadRun(const Scenario& scenario, const Workload& workload, const LoadgenOptions& options)
      : scenario_(scenario), workload_(workload), options_(options) {
    result_.records.resize(workload.size());
    for (size_t i = 0; i < workload.size(); ++i) {
      RequestRecord& rec = result_.records[i];
      rec.request = workload[i];
      double peak = 0.0;
      for (double q : scenario.quality[static_cast<size_t>(rec.request.task)]) peak = std::max(peak, q);
      rec.peak_reward = peak;
    }
  }

  LoadgenResult Run() {
    start_ = Clock::now() + std::chrono::milliseconds(50);
    asio::co_spawn(io_, Schedule(), asio::detached);
    io_.run();
    Finalize();
    return std::move(result_);
  }

 private:
  // Workload seconds since the run's time zero.
  double Elapsed() const {
    return std::chrono::duration<double>(Clock::now() - start_).count() / options_.time_scale;
  }
  Clock::time_point WallTime(double workload_s) const {
    return start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(workload_s * options_.time_scale));
  }

  asio::awaitable<void> Schedule() {
    asio::steady_timer timer(io_);
    const double t0 = workload_.empty() ? 0.0 : workload_.front().arrival_s;
    for (size_t i = 0; i < workload_.size(); ++i) {
      const double at = workload_[i].arrival_s - t0;
      if (at > options_.max_duration_s) {
        for (size_t j = i; j < workload_.size(); ++j) Fail(j, at, "not sent: past max_duration_s", true);
        break;
      }
      timer.expires_at(WallTime(at));
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (open_ >= options_.max_concurrency) {
        Fail(i, Elapsed(), "not sent: max_concurrency requests already open", true);
        continue;
      }
      ++open_;
      asio::co_spawn(io_, Send(i, t0), asio::detached);
    }
  }

  asio::awaitable<void> Send(size_t index, double t0) {
    const Request& r = workload_[index];
    const double sent_s = Elapsed();
    RequestRecord& rec = result_.records[index];
    const std::string task = scenario_.tasks.task(r.task).name;
    json body = {{"model", options_.model},
                 {"prompt", PromptIds(r.prompt_tokens)},
                 {"max_tokens", r.output_tokens},
                 {"ignore_eos", true},
                 {"stream", true}};
    HttpClient client(io_.get_executor());
    // The whole exchange is bounded by the request timeout, whatever the server does.
    asio::steady_timer watchdog(io_);
    watchdog.expires_after(options_.request_timeout);
    bool timed_out = false;
    watchdog.async_wait([&client, &timed_out](boost::system::error_code ec) {
      if (!ec) {
        timed_out = true;
        client.Close();
      }
    });
    std::string served_model;
    try {
      co_await client.Connect(options_.target, options_.connect_timeout);
      HttpRequest request = MakeRequest(http::verb::post, "/v1/completions", options_.target.host, body.dump());
      request.set("x-bestserve-task", task);
      co_await client.Send(request, options_.connect_timeout);
      co_await client.ReadHeader(options_.request_timeout);
      if (client.status() != 200) {
        const std::string answer = co_await client.ReadAll(options_.request_timeout, 1 << 20);
        throw std::runtime_error(fmt::format("status {}: {}", client.status(), answer.substr(0, 300)));
      }
      served_model = std::string(client.Header("x-bestserve-model"));
      std::string pending;
      bool done = false;
      while (!done) {
        auto piece = co_await client.ReadSome(options_.request_timeout);
        if (!piece) break;
        pending += *piece;
        size_t end;
        while ((end = pending.find("\n\n")) != std::string::npos) {
          const std::string event = pending.substr(0, end);
          pending.erase(0, end + 2);
          if (event.rfind("data: ", 0) != 0) continue;
          const std::string_view data = std::string_view(event).substr(6);
          if (data == "[DONE]") {
            done = true;
            break;
          }
          const json chunk = json::parse(data.begin(), data.end(), nullptr, false);
          if (chunk.is_object() && chunk.contains("error")) {
            throw std::runtime_error("error event: " + std::string(data.substr(0, 300)));
          }
          if (std::isnan(rec.first_token_s)) rec.first_token_s = Elapsed() + t0;
          if (served_model.empty() && chunk.is_object() && chunk.contains("model") && chunk["model"].is_string()) {
            served_model = chunk["model"].get<std::string>();
          }
        }
      }
      if (!done) throw std::runtime_error("stream ended without [DONE]");
      const ModelId model = scenario_.system.FindModel(served_model);
      if (model < 0) throw std::runtime_error(fmt::format("served by '{}', a model the scenario does not have", served_model));
      rec.model = model;
      rec.admitted_s = sent_s + t0;
      rec.completion_s = Elapsed() + t0;
      rec.finished = true;
      // Judged as the simulator judges (TTFT/TPOT SLOs included), so a measured run and a
      // simulated one compare field for field.
      const double quality = scenario_.quality[static_cast<size_t>(r.task)][static_cast<size_t>(model)];
      const RequestOutcome outcome = JudgeRequest(scenario_.deadline, quality, r.arrival_s, rec.first_token_s,
                                                  rec.completion_s, r.output_tokens, r.deadline_s);
      rec.reward = outcome.reward;
      rec.deadline_met = outcome.deadline_met;
    } catch (const std::exception& e) {
      Fail(index, Elapsed(), timed_out ? std::string("timed out") : std::string(e.what()), false);
    }
    watchdog.cancel();
    client.Close();
    --open_;
  }

  void Fail(size_t index, double at_s, const std::string& why, bool not_sent) {
    RequestRecord& rec = result_.records[index];
    const double t0 = workload_.empty() ? 0.0 : workload_.front().arrival_s;
    rec.finished = true;
    rec.reject = RejectReason::kServerError;
    rec.model = -1;
    rec.reward = 0.0;
    rec.deadline_met = false;
    rec.first_token_s = kUnset;
    rec.completion_s = std::max(at_s + t0, rec.request.arrival_s);
    (not_sent ? result_.not_sent : result_.failed) += 1;
    if (result_.first_errors.size() < 5) result_.first_errors.push_back(fmt::format("request {}: {}", index, why));
  }

  void Finalize() {
    SimCounters& c = result_.counters;
    c.arrivals = static_cast<int64_t>(result_.records.size());
    c.events = c.arrivals;
    if (result_.records.empty()) return;
    c.start_s = result_.records.front().request.arrival_s;
    c.end_s = c.start_s;
    for (const RequestRecord& rec : result_.records) {
      c.end_s = std::max(c.end_s, rec.completion_s);
      c.in_system_area += rec.completion_s - rec.request.arrival_s;  // exact: each request's sojourn
    }
  }

  const Scenario& scenario_;
  const Workload& workload_;
  LoadgenOptions options_;
  asio::io_context io_;
  Clock::time_point start_;
  int32_t open_ = 0;
  LoadgenResult result_;
};

}  // namespace

LoadgenResult RunLoad(const Scenario& scenario, const Workload& workload, const LoadgenOptions& options) {
  LoadRun run(scenario, workload, options);
  return run.Run();
}

}  // namespace bestserve::serve
