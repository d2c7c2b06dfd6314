#include "workloads/workload_stats.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "common/error.h"
#include "common/json_writer.h"
#include "common/quantile.h"
#include "workloads/line_reader.h"

namespace bestserve {
namespace {

constexpr std::string_view kRequestCsvHeader =
    "id,arrival_s,task,prompt_tokens,output_tokens,deadline_s,nominal_rate_rps";

TokenSummary SummarizeTokens(const std::vector<int32_t>& tokens) {
  TokenSummary s;
  if (tokens.empty()) return s;
  std::vector<double> sorted(tokens.begin(), tokens.end());
  std::sort(sorted.begin(), sorted.end());
  double sum = 0.0;
  for (double v : sorted) sum += v;
  s.count = static_cast<int64_t>(sorted.size());
  s.min = sorted.front();
  s.max = sorted.back();
  s.mean = sum / static_cast<double>(sorted.size());
  s.p50 = Quantile(sorted, 0.50, kUnset);
  s.p90 = Quantile(sorted, 0.90, kUnset);
  s.p99 = Quantile(sorted, 0.99, kUnset);
  return s;
}

std::string Num(double v) {
  if (std::isnan(v)) return "n/a";
  return fmt::format("{:.6g}", v);
}

// Reads a request CSV without a task table: tasks are tallied by name in order of appearance.
ArrivalData LoadRequestCsv(const std::string& path) {
  LineReader reader(path);
  ArrivalData data;
  data.source = path;
  std::string_view line;
  if (!reader.Next(&line)) ThrowConfigError("{}: empty file; expected a request CSV header", path);
  if (line != kRequestCsvHeader) {
    ThrowConfigError("{}:1: expected the request CSV header '{}', got '{}'", path,
                     kRequestCsvHeader, line);
  }
  std::vector<std::string_view> fields;
  std::vector<size_t> columns;
  constexpr const char* kNames[] = {
      "id",         "arrival_s",       "task", "prompt_tokens", "output_tokens",
      "deadline_s", "nominal_rate_rps"};
  while (reader.Next(&line)) {
    if (line.empty()) continue;
    const int64_t n = reader.line_number();
    fields.clear();
    columns.clear();
    size_t pos = 0;
    while (true) {
      columns.push_back(pos + 1);
      const size_t comma = line.find(',', pos);
      fields.push_back(line.substr(pos, comma == std::string_view::npos ? comma : comma - pos));
      if (comma == std::string_view::npos) break;
      pos = comma + 1;
    }
    if (fields.size() != 7) {
      ThrowConfigError("{}:{}:1: expected 7 comma-separated fields, got {}", path, n,
                       fields.size());
    }
    auto fail = [&](size_t f, std::string_view what) {
      ThrowConfigError("{}:{}:{}: column '{}': expected {}, got '{}'", path, n, columns[f],
                       kNames[f], what, fields[f]);
    };
    double t = 0.0;
    {
      const auto [end, ec] =
          std::from_chars(fields[1].data(), fields[1].data() + fields[1].size(), t);
      if (fields[1].empty() || ec != std::errc() || end != fields[1].data() + fields[1].size() ||
          !std::isfinite(t) || t < 0.0) {
        fail(1, "a time >= 0 seconds");
      }
    }
    if (!data.arrival_s.empty() && t < data.arrival_s.back()) {
      fail(1, fmt::format("rows sorted by arrival time (>= {})", data.arrival_s.back()));
    }
    data.arrival_s.push_back(t);
    const std::string_view task = fields[2];
    if (task.empty()) fail(2, "a task name");
    size_t id = 0;
    while (id < data.task_names.size() && data.task_names[id] != task) ++id;
    if (id == data.task_names.size()) {
      data.task_names.emplace_back(task);
      data.task_counts.push_back(0);
    }
    ++data.task_counts[id];
    for (size_t f : {size_t{3}, size_t{4}}) {
      int32_t tokens = 0;
      const auto [end, ec] =
          std::from_chars(fields[f].data(), fields[f].data() + fields[f].size(), tokens);
      if (fields[f].empty() || ec != std::errc() || end != fields[f].data() + fields[f].size() ||
          tokens < 1) {
        fail(f, "an integer >= 1");
      }
      (f == 3 ? data.prompt_tokens : data.output_tokens).push_back(tokens);
    }
  }
  return data;
}

}  // namespace

WindowCounts CountWindows(std::span<const double> t, double window_s) {
  WindowCounts w;
  w.window_s = window_s;
  if (t.empty()) return w;
  const double span = t.back() - t.front();
  w.windows = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(span / window_s)));
  std::vector<int64_t> counts(static_cast<size_t>(w.windows), 0);
  for (double x : t) {
    auto index = static_cast<int64_t>((x - t.front()) / window_s);
    index = std::min(index, w.windows - 1);  // the right-edge arrival (see the header)
    ++counts[static_cast<size_t>(index)];
  }
  w.max_count = *std::max_element(counts.begin(), counts.end());
  const double mean = static_cast<double>(t.size()) / static_cast<double>(w.windows);
  w.peak_to_mean = static_cast<double>(w.max_count) / mean;
  double var = 0.0;
  for (int64_t c : counts) var += (static_cast<double>(c) - mean) * (static_cast<double>(c) - mean);
  var /= static_cast<double>(w.windows);
  w.cv = std::sqrt(var) / mean;
  if (w.windows >= 3 && var > 0.0) {
    double cov = 0.0;
    for (size_t i = 0; i + 1 < counts.size(); ++i) {
      cov += (static_cast<double>(counts[i]) - mean) * (static_cast<double>(counts[i + 1]) - mean);
    }
    w.lag1 = (cov / static_cast<double>(w.windows)) / var;
  }
  return w;
}

WorkloadStats ComputeStats(const ArrivalData& data) {
  WorkloadStats s;
  const std::vector<double>& t = data.arrival_s;
  BS_CHECK(std::is_sorted(t.begin(), t.end()));
  s.source = data.source;
  s.note = data.note;
  s.count = static_cast<int64_t>(t.size());
  s.task_names = data.task_names;
  s.task_counts = data.task_counts;
  if (!data.prompt_tokens.empty()) s.prompt_tokens = SummarizeTokens(data.prompt_tokens);
  if (!data.output_tokens.empty()) s.output_tokens = SummarizeTokens(data.output_tokens);
  if (t.empty()) return s;
  s.first_s = t.front();
  s.last_s = t.back();
  s.duration_s = t.back() - t.front();
  if (s.count >= 2 && s.duration_s > 0.0)
    s.mean_rate_rps = static_cast<double>(s.count) / s.duration_s;
  s.windows_1s = CountWindows(t, 1.0);
  s.windows_60s = CountWindows(t, 60.0);
  if (s.count >= 2) {
    // Two passes (mean, then squared deviations): stable for millions of gaps.
    const auto gaps = static_cast<double>(s.count - 1);
    const double mean = s.duration_s / gaps;
    double var = 0.0;
    for (size_t i = 1; i < t.size(); ++i) {
      const double g = t[i] - t[i - 1];
      if (g == 0.0) ++s.zero_gaps;
      var += (g - mean) * (g - mean);
    }
    var /= gaps;
    s.mean_interarrival_s = mean;
    if (mean > 0.0) s.cv_interarrival = std::sqrt(var) / mean;
  }
  return s;
}

ArrivalData ArrivalDataFromWorkload(const Workload& workload, const TaskTable& tasks) {
  ArrivalData data;
  data.arrival_s.reserve(workload.size());
  data.prompt_tokens.reserve(workload.size());
  data.output_tokens.reserve(workload.size());
  for (const TaskSpec& task : tasks.tasks()) data.task_names.push_back(task.name);
  data.task_counts.assign(data.task_names.size(), 0);
  for (const Request& r : workload) {
    data.arrival_s.push_back(r.arrival_s);
    data.prompt_tokens.push_back(r.prompt_tokens);
    data.output_tokens.push_back(r.output_tokens);
    ++data.task_counts.at(static_cast<size_t>(r.task));
  }
  return data;
}

ArrivalData LoadArrivalData(const std::string& path, const std::string& format, MinuteSpread spread,
                            uint64_t spread_seed) {
  bool request_csv = format == "request_csv";
  if (format == "auto") {
    LineReader probe(path);
    std::string_view first;
    request_csv = probe.Next(&first) && first == kRequestCsvHeader;
  }
  if (request_csv) return LoadRequestCsv(path);
  TraceFormat trace_format = TraceFormat::kAzureLlm;
  if (format == "auto") {
    trace_format = DetectTraceFormat(path);
  } else if (const auto f = TraceFormatFromName(format)) {
    trace_format = *f;
  } else {
    std::vector<std::string> names = {"auto", "request_csv"};
    for (const std::string& n : TraceFormatNames()) names.push_back(n);
    ThrowConfigError("unknown workload file format '{}'; valid formats: {}", format,
                     fmt::join(names, ", "));
  }
  ArrivalData data;
  data.source = path;
  const bool tokens = TraceFormatHasTokens(trace_format);
  TraceReadOptions options;
  options.spread = spread;
  options.spread_seed = spread_seed;
  ReadTrace(path, trace_format, options, [&](const TraceRecord& r) {
    data.arrival_s.push_back(r.time_s);
    if (tokens) {
      data.prompt_tokens.push_back(
          static_cast<int32_t>(std::min<int64_t>(r.prompt_tokens, INT32_MAX)));
      data.output_tokens.push_back(
          static_cast<int32_t>(std::min<int64_t>(r.output_tokens, INT32_MAX)));
    }
  });
  if (!std::is_sorted(data.arrival_s.begin(), data.arrival_s.end())) {
    // Sort arrivals with their token counts (2019 cells and 2021 rows are not in time order).
    std::vector<size_t> order(data.arrival_s.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return data.arrival_s[a] < data.arrival_s[b]; });
    auto permute = [&](auto& v) {
      if (v.empty()) return;
      auto copy = v;
      for (size_t i = 0; i < order.size(); ++i) v[i] = copy[order[i]];
    };
    permute(data.arrival_s);
    permute(data.prompt_tokens);
    permute(data.output_tokens);
  }
  data.note = fmt::format("{} trace", TraceFormatName(trace_format));
  if (trace_format == TraceFormat::kAzureFunctions2019) {
    data.note += fmt::format(
        "; per-minute counts spread within each minute ({}, seed {}), so "
        "the 1 s and inter-arrival statistics reflect that rule, not the data",
        MinuteSpreadName(spread), spread_seed);
  }
  return data;
}

std::vector<std::pair<double, double>> RateSeries(std::span<const double> t, double bin_s) {
  std::vector<std::pair<double, double>> series;
  if (t.empty()) return series;
  const WindowCounts w = CountWindows(t, bin_s);
  std::vector<int64_t> counts(static_cast<size_t>(w.windows), 0);
  for (double x : t) {
    const auto index = std::min(static_cast<int64_t>((x - t.front()) / bin_s), w.windows - 1);
    ++counts[static_cast<size_t>(index)];
  }
  for (size_t i = 0; i < counts.size(); ++i) {
    series.emplace_back(t.front() + static_cast<double>(i) * bin_s,
                        static_cast<double>(counts[i]) / bin_s);
  }
  return series;
}

std::string FormatStatsText(const WorkloadStats& s) {
  std::string out;
  auto line = [&](std::string_view name, const std::string& value) {
    out += fmt::format("{:<22} {}\n", fmt::format("{}:", name), value);
  };
  if (!s.source.empty()) line("source", s.source);
  line("requests", fmt::format("{}", s.count));
  line("first_arrival_s", Num(s.first_s));
  line("duration_s", Num(s.duration_s));
  line("mean_rate_rps", Num(s.mean_rate_rps));
  for (const WindowCounts* w : {&s.windows_1s, &s.windows_60s}) {
    line(fmt::format("peak_to_mean_{}s", w->window_s),
         fmt::format("{} (max {} in one of {} windows; count CV {}, lag-1 {})",
                     Num(w->peak_to_mean), w->max_count, w->windows, Num(w->cv), Num(w->lag1)));
  }
  line("mean_interarrival_s", Num(s.mean_interarrival_s));
  line("cv_interarrival", fmt::format("{} ({} zero gaps)", Num(s.cv_interarrival), s.zero_gaps));
  for (size_t i = 0; i < s.task_names.size(); ++i) {
    line(fmt::format("task {}", s.task_names[i]),
         fmt::format("{} ({})", s.task_counts[i],
                     s.count > 0
                         ? Num(static_cast<double>(s.task_counts[i]) / static_cast<double>(s.count))
                         : "n/a"));
  }
  for (const auto* tokens : {&s.prompt_tokens, &s.output_tokens}) {
    if (!*tokens) continue;
    const TokenSummary& t = **tokens;
    line(tokens == &s.prompt_tokens ? "prompt_tokens" : "output_tokens",
         fmt::format("min {} p50 {} mean {} p90 {} p99 {} max {}", Num(t.min), Num(t.p50),
                     Num(t.mean), Num(t.p90), Num(t.p99), Num(t.max)));
  }
  if (!s.note.empty()) line("note", s.note);
  return out;
}

std::string FormatStatsJson(const WorkloadStats& s) {
  JsonWriter json;
  json.BeginObject();
  json.FieldString("source", s.source);
  json.FieldInt("requests", s.count);
  json.Field("first_arrival_s", s.first_s);
  json.Field("duration_s", s.duration_s);
  json.Field("mean_rate_rps", s.mean_rate_rps);
  for (const WindowCounts* w : {&s.windows_1s, &s.windows_60s}) {
    json.Key(fmt::format("windows_{}s", w->window_s)).BeginObject();
    json.FieldInt("windows", w->windows);
    json.FieldInt("max_count", w->max_count);
    json.Field("peak_to_mean", w->peak_to_mean);
    json.Field("count_cv", w->cv);
    json.Field("count_lag1", w->lag1);
    json.EndObject();
  }
  json.Field("mean_interarrival_s", s.mean_interarrival_s);
  json.Field("cv_interarrival", s.cv_interarrival);
  json.FieldInt("zero_gaps", s.zero_gaps);
  json.Key("tasks").BeginObject();
  for (size_t i = 0; i < s.task_names.size(); ++i) json.FieldInt(s.task_names[i], s.task_counts[i]);
  json.EndObject();
  for (const auto* tokens : {&s.prompt_tokens, &s.output_tokens}) {
    json.Key(tokens == &s.prompt_tokens ? "prompt_tokens" : "output_tokens");
    if (!*tokens) {
      json.Null();
      continue;
    }
    const TokenSummary& t = **tokens;
    json.BeginObject();
    json.Field("min", t.min).Field("p50", t.p50).Field("mean", t.mean);
    json.Field("p90", t.p90).Field("p99", t.p99).Field("max", t.max);
    json.EndObject();
  }
  json.FieldString("note", s.note);
  json.EndObject();
  return json.str();
}

}  // namespace bestserve
