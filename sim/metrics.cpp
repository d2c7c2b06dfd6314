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
  BS_CHECK(sim.all_finished());
  return Summarize(sim.records(), sim.system(), sim.counters(), tasks, options);
}

Summary Summarize(std::span<const RequestRecord> records, const ServingSystem& system,
                  const SimCounters& counters, const TaskTable& tasks, const MetricsOptions& options) {
  Summary s;
  s.num_requests = static_cast<int64_t>(records.size());
  s.num_gpus = system.num_gpus;
  s.model_names = system.model_names;
  for (const auto& t : tasks.tasks()) s.task_names.push_back(t.name);
  const size_t num_models = system.model_names.size();
  s.selections.assign(num_models, 0);
  s.selections_by_task.assign(s.task_names.size(), std::vector<int64_t>(num_models, 0));
  s.counters = counters;
  s.engine = ToString(system.engine.kind);

  std::vector<double> latencies;
  latencies.reserve(records.size());
  std::vector<double> normalized;
  normalized.reserve(records.size());
  double sojourn_sum = 0.0;
  double last_finish = records.empty() ? 0.0 : records.front().request.arrival_s;
  int64_t misses = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    const RequestRecord& rec = records[i];
    BS_CHECK(rec.finished && (rec.model >= 0 || rec.reject == RejectReason::kServerError));
    s.total_reward += rec.reward;
    s.total_peak += rec.peak_reward;
    normalized.push_back(rec.peak_reward > 0.0 ? rec.reward / rec.peak_reward : 0.0);
    const size_t bin = i / static_cast<size_t>(options.selection_bin_requests);
    if (bin >= s.selections_over_time.size()) s.selections_over_time.emplace_back(num_models, 0);
    if (rec.model >= 0) {
      ++s.selections[static_cast<size_t>(rec.model)];
      ++s.selections_by_task[static_cast<size_t>(rec.request.task)][static_cast<size_t>(rec.model)];
      ++s.selections_over_time[bin][static_cast<size_t>(rec.model)];
    }
    if (!rec.deadline_met) ++misses;
    const double sojourn = rec.completion_s - rec.request.arrival_s;
    sojourn_sum += sojourn;
    last_finish = std::max(last_finish, rec.completion_s);
    if (rec.reject == RejectReason::kNone) {
      ++s.completed;
      latencies.push_back(sojourn);
    } else {
      ++s.rejected;
    }
  }
  const double n = static_cast<double>(records.size());
  if (!records.empty()) {
    s.mean_reward_fraction = s.total_peak > 0.0 ? s.total_reward / s.total_peak : 0.0;
    s.deadline_miss_rate = static_cast<double>(misses) / n;
    const double first_arrival = records.front().request.arrival_s;
    const double last_arrival = records.back().request.arrival_s;
    const double span = last_finish - first_arrival;
    s.throughput_rps = span > 0.0 ? static_cast<double>(s.completed) / span : 0.0;
    s.offered_rate_rps = last_arrival > first_arrival ? (n - 1.0) / (last_arrival - first_arrival) : 0.0;
    const double sim_span = s.counters.end_s - s.counters.start_s;
    s.mean_in_system = sim_span > 0.0 ? s.counters.in_system_area / sim_span : 0.0;
    // Little: lambda = n / span, W = mean sojourn => lambda * W = sum of sojourns / span.
    s.little_lambda_w = sim_span > 0.0 ? sojourn_sum / sim_span : 0.0;
  }
  for (RejectReason reason : {RejectReason::kNoReplica, RejectReason::kExceedsContextWindow,
                              RejectReason::kExceedsKvCapacity}) {
    s.rejected_by_reason.emplace_back(ToString(reason), 0);
  }
  // Listed only when it happened: simulated runs never have it (and their outputs stay as they were).
  if (std::any_of(records.begin(), records.end(),
                  [](const RequestRecord& r) { return r.reject == RejectReason::kServerError; })) {
    s.rejected_by_reason.emplace_back(ToString(RejectReason::kServerError), 0);
  }
  std::vector<double> ttfts;
  std::vector<double> tpots;
  for (const RequestRecord& rec : records) {
    if (rec.reject != RejectReason::kNone) {
      for (auto& [name, count] : s.rejected_by_reason) count += name == ToString(rec.reject) ? 1 : 0;
    }
    if (const double ttft = TimeToFirstToken(rec); !std::isnan(ttft)) ttfts.push_back(ttft);
    if (const double tpot = TimePerOutputToken(rec); !std::isnan(tpot)) tpots.push_back(tpot);
  }
  s.ttft_s = Describe(std::move(ttfts));
  s.tpot_s = Describe(std::move(tpots));
  std::sort(latencies.begin(), latencies.end());
  s.latency_p50_s = Quantile(latencies, 0.50, 0.0);
  s.latency_p90_s = Quantile(latencies, 0.90, 0.0);
  s.latency_p99_s = Quantile(latencies, 0.99, 0.0);
  double latency_sum = 0.0;
  for (double l : latencies) latency_sum += l;
  s.latency_mean_s = latencies.empty() ? 0.0 : latency_sum / static_cast<double>(latencies.size());
  s.hardware_utility = s.num_gpus > 0 ? s.mean_reward_fraction / s.num_gpus : 0.0;

  // Sliding windows by a running sum; each window re-sums exactly every 4096 steps so that
  // rounding drift cannot cross a threshold.
  const auto window = static_cast<size_t>(options.window);
  if (normalized.size() >= window) {
    double sum = 0.0;
    for (size_t i = 0; i < window; ++i) sum += normalized[i];
    s.window_averages.push_back(sum / static_cast<double>(window));
    for (size_t j = 1; j + window <= normalized.size(); ++j) {
      if (j % 4096 == 0) {
        sum = 0.0;
        for (size_t i = j; i < j + window; ++i) sum += normalized[i];
      } else {
        sum += normalized[j + window - 1] - normalized[j - 1];
      }
      s.window_averages.push_back(sum / static_cast<double>(window));
    }
  }
  s.thresholds = options.thresholds;
  for (double threshold : options.thresholds) {
    int64_t count = 0;
    for (double w : s.window_averages) count += w >= threshold - kThresholdTolerance ? 1 : 0;
    s.threshold_counts.push_back(count);
  }
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

void WriteRequestLog(const std::string& path, std::span<const RequestRecord> records,
                     const std::vector<std::string>& names, const TaskTable& tasks) {
  WriteFileAtomically(path, [&](std::ostream& out) {
    out << kRequestLogHeader;
    fmt::memory_buffer rows;
    for (const RequestRecord& rec : records) {
      AppendRequestRow(rows, rec, names, tasks);
      if (rows.size() >= (size_t{1} << 16)) {
        out.write(rows.data(), static_cast<std::streamsize>(rows.size()));
        rows.clear();
      }
    }
    out.write(rows.data(), static_cast<std::streamsize>(rows.size()));
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
  w.FieldInt("num_windows", static_cast<int64_t>(s.window_averages.size()));
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
