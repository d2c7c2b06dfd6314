#include "sim/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <string_view>

#include "common/files.h"
#include "common/json_writer.h"
#include "common/quantile.h"

namespace bestserve {
namespace {

constexpr double kThresholdTolerance = 1e-9;

std::string FormatTime(double t) { return std::isnan(t) ? std::string() : fmt::format("{}", t); }

}  // namespace

Distribution Describe(std::vector<double> values) {
  Distribution d;
  if (values.empty()) return d;
  std::sort(values.begin(), values.end());
  double sum = 0.0;
  for (double v : values) sum += v;
  d.count = static_cast<int64_t>(values.size());
  d.mean = sum / static_cast<double>(values.size());
  d.p50 = Quantile(values, 0.50, 0.0);
  d.p90 = Quantile(values, 0.90, 0.0);
  d.p99 = Quantile(values, 0.99, 0.0);
  return d;
}

void WriteDistribution(JsonWriter& w, const char* key, const Distribution& d) {
  w.Key(key).BeginObject();
  w.FieldInt("count", d.count).Field("mean", d.mean).Field("p50", d.p50).Field("p90", d.p90);
  w.Field("p99", d.p99).EndObject();
}

double TimeToFirstToken(const RequestRecord& rec) {
  if (rec.reject != RejectReason::kNone) return kUnset;
  return rec.first_token_s - rec.request.arrival_s;
}

double TimePerOutputToken(const RequestRecord& rec) {
  if (rec.reject != RejectReason::kNone || rec.request.output_tokens < 2) return kUnset;
  return (rec.completion_s - rec.first_token_s) / (rec.request.output_tokens - 1);
}

Summary Summarize(const Simulator& sim, const TaskTable& tasks, const MetricsOptions& options) {
  // Every record still held: not a streamed run (whose records went to its sink) or taken ones.
  BS_CHECK(sim.all_finished() && static_cast<int64_t>(sim.records().size()) == sim.counters().arrivals);
  return Summarize(sim.records(), sim.system(), sim.counters(), tasks, options);
}

Summary Summarize(std::span<const RequestRecord> records, const ServingSystem& system,
                  const SimCounters& counters, const TaskTable& tasks, const MetricsOptions& options) {
  SummaryBuilder builder(system, tasks, options);
  for (const RequestRecord& rec : records) builder.Add(rec);
  return builder.Finish(counters);
}

SummaryBuilder::SummaryBuilder(const ServingSystem& system, const TaskTable& tasks, const MetricsOptions& options)
    : options_(options) {
  s_.num_gpus = system.num_gpus;
  s_.model_names = system.model_names;
  for (const auto& t : tasks.tasks()) s_.task_names.push_back(t.name);
  const size_t num_models = system.model_names.size();
  s_.selections.assign(num_models, 0);
  s_.selections_by_task.assign(s_.task_names.size(), std::vector<int64_t>(num_models, 0));
  s_.engine = ToString(system.engine.kind);
  s_.thresholds = options.thresholds;
  s_.threshold_counts.assign(options.thresholds.size(), 0);
  for (RejectReason reason : {RejectReason::kNoReplica, RejectReason::kExceedsContextWindow,
                              RejectReason::kExceedsKvCapacity}) {
    s_.rejected_by_reason.emplace_back(ToString(reason), 0);
  }
}

void SummaryBuilder::SpillTo(const std::string& dir) {
  BS_CHECK(index_ == 0);
  latencies_.SpillTo(dir);
  ttfts_.SpillTo(dir);
  tpots_.SpillTo(dir);
}

void SummaryBuilder::StreamWindowsTo(std::function<void(int64_t, double)> sink) {
  BS_CHECK(index_ == 0);
  window_sink_ = std::move(sink);
}

void SummaryBuilder::Add(const RequestRecord& rec) {
  BS_CHECK(rec.finished && (rec.model >= 0 || rec.reject == RejectReason::kServerError));
  if (index_ == 0) {
    first_arrival_ = rec.request.arrival_s;
    last_finish_ = rec.request.arrival_s;
  }
  last_arrival_ = rec.request.arrival_s;
  s_.total_reward += rec.reward;
  s_.total_peak += rec.peak_reward;
  const size_t bin = static_cast<size_t>(index_) / static_cast<size_t>(options_.selection_bin_requests);
  if (bin >= s_.selections_over_time.size()) s_.selections_over_time.emplace_back(s_.model_names.size(), 0);
  if (rec.model >= 0) {
    ++s_.selections[static_cast<size_t>(rec.model)];
    ++s_.selections_by_task[static_cast<size_t>(rec.request.task)][static_cast<size_t>(rec.model)];
    ++s_.selections_over_time[bin][static_cast<size_t>(rec.model)];
  }
  if (!rec.deadline_met) ++misses_;
  const double sojourn = rec.completion_s - rec.request.arrival_s;
  sojourn_sum_ += sojourn;
  last_finish_ = std::max(last_finish_, rec.completion_s);
  if (rec.reject == RejectReason::kNone) {
    ++s_.completed;
    latencies_.Append(sojourn);
  } else {
    ++s_.rejected;
    if (rec.reject == RejectReason::kServerError) ++server_errors_;
    for (auto& [name, count] : s_.rejected_by_reason) count += name == ToString(rec.reject) ? 1 : 0;
  }
  if (const double ttft = TimeToFirstToken(rec); !std::isnan(ttft)) ttfts_.Append(ttft);
  if (const double tpot = TimePerOutputToken(rec); !std::isnan(tpot)) tpots_.Append(tpot);
  ++index_;
  AddWindowValue(rec.peak_reward > 0.0 ? rec.reward / rec.peak_reward : 0.0);
}

// Sliding windows by a running sum; each window re-sums exactly every 4096 steps so that
// rounding drift cannot cross a threshold. Window j covers requests j .. j + W - 1 and is made
// when request j + W - 1 arrives; the ring holds the W newest values, oldest first from
// ring_head_.
void SummaryBuilder::AddWindowValue(double normalized) {
  const auto window = static_cast<size_t>(options_.window);
  if (ring_.size() < window) {
    ring_.push_back(normalized);
    if (ring_.size() < window) return;
    double sum = 0.0;
    for (double v : ring_) sum += v;
    window_sum_ = sum;
    return EmitWindow(sum);
  }
  const double oldest = ring_[ring_head_];
  ring_[ring_head_] = normalized;
  ring_head_ = (ring_head_ + 1) % window;
  const auto j = static_cast<size_t>(index_) - window;  // the new window's first request
  if (j % 4096 == 0) {
    double sum = 0.0;
    for (size_t i = 0; i < window; ++i) sum += ring_[(ring_head_ + i) % window];
    window_sum_ = sum;
  } else {
    window_sum_ += normalized - oldest;
  }
  EmitWindow(window_sum_);
}

void SummaryBuilder::EmitWindow(double sum) {
  const double average = sum / static_cast<double>(options_.window);
  for (size_t i = 0; i < options_.thresholds.size(); ++i) {
    s_.threshold_counts[i] += average >= options_.thresholds[i] - kThresholdTolerance ? 1 : 0;
  }
  if (window_sink_) {
    window_sink_(s_.num_windows, average);
  } else {
    s_.window_averages.push_back(average);
  }
  ++s_.num_windows;
}

Summary SummaryBuilder::Finish(const SimCounters& counters) {
  Summary s = std::move(s_);
  s.num_requests = index_;
  s.counters = counters;
  const double n = static_cast<double>(index_);
  if (index_ > 0) {
    s.mean_reward_fraction = s.total_peak > 0.0 ? s.total_reward / s.total_peak : 0.0;
    s.deadline_miss_rate = static_cast<double>(misses_) / n;
    const double span = last_finish_ - first_arrival_;
    s.throughput_rps = span > 0.0 ? static_cast<double>(s.completed) / span : 0.0;
    s.offered_rate_rps = last_arrival_ > first_arrival_ ? (n - 1.0) / (last_arrival_ - first_arrival_) : 0.0;
    const double sim_span = s.counters.end_s - s.counters.start_s;
    s.mean_in_system = sim_span > 0.0 ? s.counters.in_system_area / sim_span : 0.0;
    // Little: lambda = n / span, W = mean sojourn => lambda * W = sum of sojourns / span.
    s.little_lambda_w = sim_span > 0.0 ? sojourn_sum_ / sim_span : 0.0;
  }
  // Listed only when it happened: simulated runs never have it (and their outputs stay as they were).
  if (server_errors_ > 0) s.rejected_by_reason.emplace_back(ToString(RejectReason::kServerError), server_errors_);
  // One list in memory at a time: a spilled run of millions holds only the one being sorted.
  s.ttft_s = Describe(ttfts_.Take());
  s.tpot_s = Describe(tpots_.Take());
  std::vector<double> latencies = latencies_.Take();
  std::sort(latencies.begin(), latencies.end());
  s.latency_p50_s = Quantile(latencies, 0.50, 0.0);
  s.latency_p90_s = Quantile(latencies, 0.90, 0.0);
  s.latency_p99_s = Quantile(latencies, 0.99, 0.0);
  double latency_sum = 0.0;
  for (double l : latencies) latency_sum += l;
  s.latency_mean_s = latencies.empty() ? 0.0 : latency_sum / static_cast<double>(latencies.size());
  s.hardware_utility = s.num_gpus > 0 ? s.mean_reward_fraction / s.num_gpus : 0.0;
  return s;
}

std::string FormatRequestLog(const Simulator& sim, const TaskTable& tasks) {
  return FormatRequestLog(sim.records(), sim.system().model_names, tasks);
}

namespace {

constexpr std::string_view kRequestLogHeader =
    "id,arrival_s,task,prompt_tokens,output_tokens,deadline_s,model,replica,admitted_s,"
    "first_token_s,completion_s,latency_s,deadline_met,reward,peak_reward,rejected,ttft_s,"
    "tpot_s\n";

// One row of requests.csv appended to `out`.
template <typename Out>
void AppendRequestRow(Out& out, const RequestRecord& rec, const std::vector<std::string>& names,
                      const TaskTable& tasks) {
  const Request& r = rec.request;
  fmt::format_to(std::back_inserter(out), "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", r.id,
                 r.arrival_s, tasks.task(r.task).name, r.prompt_tokens, r.output_tokens, r.deadline_s,
                 rec.model >= 0 ? names[static_cast<size_t>(rec.model)] : "", rec.replica,
                 FormatTime(rec.admitted_s), FormatTime(rec.first_token_s), FormatTime(rec.completion_s),
                 FormatTime(rec.completion_s - r.arrival_s), rec.deadline_met ? 1 : 0, rec.reward,
                 rec.peak_reward, ToString(rec.reject), FormatTime(TimeToFirstToken(rec)),
                 FormatTime(TimePerOutputToken(rec)));
}

}  // namespace

std::string FormatRequestLog(std::span<const RequestRecord> records,
                             const std::vector<std::string>& names, const TaskTable& tasks) {
  std::string out(kRequestLogHeader);
  for (const RequestRecord& rec : records) AppendRequestRow(out, rec, names, tasks);
  return out;
}

RequestLogWriter::RequestLogWriter(std::ostream& out, const std::vector<std::string>& names, const TaskTable& tasks)
    : out_(&out), names_(&names), tasks_(&tasks) {
  out << kRequestLogHeader;
}

void RequestLogWriter::Add(const RequestRecord& rec) {
  AppendRequestRow(rows_, rec, *names_, *tasks_);
  if (rows_.size() >= (size_t{1} << 16)) Flush();
}

void RequestLogWriter::Flush() {
  out_->write(rows_.data(), static_cast<std::streamsize>(rows_.size()));
  rows_.clear();
}

void WriteRequestLog(const std::string& path, std::span<const RequestRecord> records,
                     const std::vector<std::string>& names, const TaskTable& tasks) {
  WriteFileAtomically(path, [&](std::ostream& out) {
    RequestLogWriter log(out, names, tasks);
    for (const RequestRecord& rec : records) log.Add(rec);
    log.Flush();
  });
}

std::string FormatSummaryJson(const Summary& s) {
  JsonWriter w;
  w.BeginObject();
  w.FieldInt("num_requests", s.num_requests);
  w.FieldInt("completed", s.completed);
  w.FieldInt("rejected", s.rejected);
  w.Key("rejected_by_reason").BeginObject();
  for (const auto& [name, count] : s.rejected_by_reason) w.FieldInt(name, count);
  w.EndObject();
  w.Field("mean_reward_fraction", s.mean_reward_fraction);
  w.Field("total_reward", s.total_reward);
  w.Field("total_peak_reward", s.total_peak);
  w.Field("deadline_miss_rate", s.deadline_miss_rate);
  w.Key("latency_s").BeginObject();
  w.Field("mean", s.latency_mean_s).Field("p50", s.latency_p50_s).Field("p90", s.latency_p90_s);
  w.Field("p99", s.latency_p99_s).EndObject();
  WriteDistribution(w, "ttft_s", s.ttft_s);
  WriteDistribution(w, "tpot_s", s.tpot_s);
  w.Field("throughput_rps", s.throughput_rps);
  w.Field("offered_rate_rps", s.offered_rate_rps);
  w.FieldInt("num_gpus", s.num_gpus);
  w.Field("hardware_utility", s.hardware_utility);
  w.Key("littles_law").BeginObject();
  w.Field("mean_in_system", s.mean_in_system).Field("lambda_times_w", s.little_lambda_w).EndObject();
  w.Key("selection").BeginObject();
  for (size_t m = 0; m < s.model_names.size(); ++m) {
    w.Field(s.model_names[m], s.num_requests > 0 ? static_cast<double>(s.selections[m]) /
                                                       static_cast<double>(s.num_requests)
                                                 : 0.0);
  }
  w.EndObject();
  w.Key("selection_by_task").BeginObject();
  for (size_t t = 0; t < s.task_names.size(); ++t) {
    int64_t total = 0;
    for (int64_t c : s.selections_by_task[t]) total += c;
    w.Key(s.task_names[t]).BeginObject();
    for (size_t m = 0; m < s.model_names.size(); ++m) {
      w.Field(s.model_names[m], total > 0 ? static_cast<double>(s.selections_by_task[t][m]) /
                                                static_cast<double>(total)
                                          : 0.0);
    }
    w.EndObject();
  }
  w.EndObject();
  w.Key("selection_over_time").BeginArray();
  for (const auto& bin : s.selections_over_time) {
    w.BeginArray();
    for (int64_t c : bin) w.Int(c);
    w.EndArray();
  }
  w.EndArray();
  w.Key("window_threshold_counts").BeginObject();
  w.FieldInt("num_windows", s.num_windows);
  for (size_t i = 0; i < s.thresholds.size(); ++i) {
    const std::string key = s.thresholds[i] >= 1.0 ? fmt::format("eq_{:.2f}", s.thresholds[i])
                                                   : fmt::format("ge_{:.2f}", s.thresholds[i]);
    w.FieldInt(key, s.threshold_counts[i]);
  }
  w.EndObject();
  w.Key("simulator").BeginObject();
  w.FieldInt("events", s.counters.events);
  w.FieldInt("prefill_iterations", s.counters.prefill_iterations);
  w.FieldInt("decode_iterations", s.counters.decode_iterations);
  w.FieldInt("max_running_batch", s.counters.max_running_batch);
  w.Field("simulated_seconds", s.counters.end_s - s.counters.start_s);
  w.FieldString("engine", s.engine);
  w.FieldInt("mixed_iterations", s.counters.mixed_iterations);
  w.FieldInt("preemptions", s.counters.preemptions);
  w.FieldInt("recomputed_tokens", s.counters.recomputed_tokens);
  w.FieldInt("swap_preemptions", s.counters.swap_preemptions);
  w.FieldInt("swapped_out_blocks", s.counters.swapped_out_blocks);
  w.FieldInt("swapped_in_blocks", s.counters.swapped_in_blocks);
  w.FieldInt("truncated_requests", s.counters.truncated_requests);
  w.FieldInt("rerouted_requests", s.counters.rerouted_requests);
  w.EndObject();
  w.EndObject();
  return w.str();
}

std::string FormatWindows(const Summary& s) {
  std::string out = "window_start,window_average\n";
  for (size_t i = 0; i < s.window_averages.size(); ++i) {
    out += fmt::format("{},{}\n", i, s.window_averages[i]);
  }
  return out;
}

}  // namespace bestserve
