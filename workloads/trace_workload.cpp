#include "workloads/trace_workload.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "common/error.h"
#include "common/rng.h"
#include "workloads/request_sink.h"
#include "workloads/task_mix.h"
#include "workloads/workload_config.h"
#include "workloads/registry.h"

namespace bestserve {
namespace {

constexpr int64_t kMaxTokens = int64_t{1} << 30;  // the request CSV's bound

std::vector<std::string> StringList(const ConfigNode& section, std::string_view key) {
  std::vector<std::string> values;
  const auto node = section.MaybeChild(key);
  if (!node) return values;
  node->ExpectSequence("a list of names");
  for (size_t i = 0; i < node->size(); ++i) values.push_back(node->Element(i).AsString());
  if (values.empty()) node->Fail("expected at least one name (omit the key to keep all)");
  return values;
}

bool Contains(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// A function id matches a listed name if it equals it, or its last '/'-separated part does.
bool MatchesFunction(const std::vector<std::string>& list, std::string_view id) {
  if (Contains(list, id)) return true;
  const size_t slash = id.rfind('/');
  return slash != std::string_view::npos && Contains(list, id.substr(slash + 1));
}

// One kept arrival, before sorting: 24 bytes, so a 100-million-request replay fits in memory.
struct Kept {
  double time_s;
  int32_t prompt_tokens;
  int32_t output_tokens;
  uint64_t group_hash;  // function id or model, for task_assignment: by_function
};

}  // namespace

std::unique_ptr<WorkloadGenerator> TraceWorkload::FromConfig(const ConfigNode& section,
                                                             const std::string& base_dir) {
  section.CheckKeys({"kind", "format", "path", "window_s", "rate_scale", "target_rate_rps",
                     "start_s", "max_requests", "tokens", "zero_tokens", "task_assignment",
                     "task_mix", "spread", "include_functions", "exclude_functions", "triggers",
                     "models", "log_types"});
  TraceWorkloadSettings s;
  const ConfigNode format_node = section.Child("format");
  const std::string format_name = format_node.AsString();
  const auto format = TraceFormatFromName(format_name);
  if (!format) {
    format_node.Fail(fmt::format("unknown trace format '{}'; valid formats: {}", format_name,
                                 fmt::join(TraceFormatNames(), ", ")));
  }
  s.format = *format;
  s.path = ResolveDataPath(section.GetString("path"), base_dir);
  if (const auto window = section.MaybeChild("window_s")) {
    window->ExpectSequence("[start, end] in seconds of the trace clock");
    if (window->size() != 2) window->Fail("expected [start, end]");
    s.window_start_s = window->Element(0).AsDouble();
    s.window_end_s = window->Element(1).AsDouble();
    if (!std::isfinite(s.window_start_s) || !(s.window_end_s > s.window_start_s)) {
      window->Fail(
          fmt::format("expected start < end, got [{}, {}]", s.window_start_s, s.window_end_s));
    }
  }
  if (section.Has("rate_scale") && section.Has("target_rate_rps")) {
    section.Fail("expected either 'rate_scale' or 'target_rate_rps', not both");
  }
  s.rate_scale = section.GetPositiveDouble("rate_scale", 1.0);
  if (section.Has("target_rate_rps"))
    s.target_rate_rps = section.GetPositiveDouble("target_rate_rps");
  s.start_s = section.GetNonNegativeDouble("start_s", 0.0);
  if (section.Has("max_requests")) s.max_requests = section.GetPositiveInt("max_requests", 0);

  s.tokens = TraceFormatHasTokens(s.format) ? TraceWorkloadSettings::Tokens::kTrace
                                            : TraceWorkloadSettings::Tokens::kTaskTable;
  if (const auto node = section.MaybeChild("tokens")) {
    const std::string value = node->AsString();
    if (value == "trace") {
      if (!TraceFormatHasTokens(s.format)) {
        node->Fail(
            fmt::format("format {} has no token counts; use tokens: task_table", format_name));
      }
      s.tokens = TraceWorkloadSettings::Tokens::kTrace;
    } else if (value == "task_table") {
      s.tokens = TraceWorkloadSettings::Tokens::kTaskTable;
    } else {
      node->Fail(fmt::format("unknown tokens '{}'; valid: trace, task_table", value));
    }
  }
  if (const auto node = section.MaybeChild("zero_tokens")) {
    const std::string value = node->AsString();
    if (value == "error") {
      s.zero_tokens = TraceWorkloadSettings::ZeroTokens::kError;
    } else if (value == "drop") {
      s.zero_tokens = TraceWorkloadSettings::ZeroTokens::kDrop;
    } else if (value == "raise_to_1") {
      s.zero_tokens = TraceWorkloadSettings::ZeroTokens::kRaiseToOne;
    } else {
      node->Fail(fmt::format("unknown zero_tokens '{}'; valid: error, drop, raise_to_1", value));
    }
  }
  if (const auto node = section.MaybeChild("task_assignment")) {
    const std::string value = node->AsString();
    if (value == "mix") {
      s.task_assignment = TraceWorkloadSettings::TaskAssignment::kMix;
    } else if (value == "by_function") {
      if (!TraceFormatHasFunctions(s.format) && s.format != TraceFormat::kBurstGpt) {
        node->Fail(
            fmt::format("format {} has no function ids or models; by_function needs "
                        "azure_functions_2019, azure_functions_2021 or burstgpt",
                        format_name));
      }
      s.task_assignment = TraceWorkloadSettings::TaskAssignment::kByFunction;
    } else {
      node->Fail(fmt::format("unknown task_assignment '{}'; valid: mix, by_function", value));
    }
  }
  s.task_mix = section.MaybeChild("task_mix");
  if (s.task_mix && s.task_assignment == TraceWorkloadSettings::TaskAssignment::kByFunction) {
    s.task_mix->Fail("task_mix has no effect with task_assignment: by_function");
  }
  if (const auto node = section.MaybeChild("spread")) {
    if (s.format != TraceFormat::kAzureFunctions2019) {
      node->Fail("'spread' applies only to format azure_functions_2019 (per-minute counts)");
    }
    const std::string value = node->AsString();
    if (value == "uniform") {
      s.spread = MinuteSpread::kUniform;
    } else if (value == "equidistant") {
      s.spread = MinuteSpread::kEquidistant;
    } else if (value == "poisson") {
      s.spread = MinuteSpread::kPoisson;
    } else {
      node->Fail(fmt::format("unknown spread '{}'; valid: uniform, equidistant, poisson", value));
    }
  }
  auto only_for = [&](std::string_view key, std::initializer_list<TraceFormat> formats) {
    if (!section.Has(key)) return;
    for (TraceFormat f : formats) {
      if (f == s.format) return;
    }
    std::vector<std::string> names;
    for (TraceFormat f : formats) names.emplace_back(TraceFormatName(f));
    section.Child(key).Fail(fmt::format("'{}' applies only to format {}; this trace is {}", key,
                                        fmt::join(names, " or "), format_name));
  };
  only_for("include_functions",
           {TraceFormat::kAzureFunctions2019, TraceFormat::kAzureFunctions2021});
  only_for("exclude_functions",
           {TraceFormat::kAzureFunctions2019, TraceFormat::kAzureFunctions2021});
  only_for("triggers", {TraceFormat::kAzureFunctions2019});
  only_for("models", {TraceFormat::kBurstGpt});
  only_for("log_types", {TraceFormat::kBurstGpt});
  s.include_functions = StringList(section, "include_functions");
  s.exclude_functions = StringList(section, "exclude_functions");
  s.triggers = StringList(section, "triggers");
  s.models = StringList(section, "models");
  s.log_types = StringList(section, "log_types");
  return std::make_unique<TraceWorkload>(std::move(s));
}

Workload TraceWorkload::GenerateWithReport(const WorkloadContext& ctx,
                                           TraceReplayReport* report_out) const {
  BS_CHECK(ctx.tasks != nullptr);
  const TraceWorkloadSettings& s = settings_;
  const TaskMixSchedule mix = TaskMixSchedule::Parse(s.task_mix, *ctx.tasks);
  TraceReplayReport report;
  const bool use_trace_tokens = s.tokens == TraceWorkloadSettings::Tokens::kTrace;
  const bool by_function = s.task_assignment == TraceWorkloadSettings::TaskAssignment::kByFunction;

  TraceReadOptions options;
  options.spread = s.spread;
  options.spread_seed = DeriveSeed(ctx.seed, "trace_spread");
  options.window_start_s = s.window_start_s;
  options.window_end_s = s.window_end_s;

  std::vector<Kept> kept;
  ReadTrace(s.path, s.format, options, [&](const TraceRecord& r) {
    ++report.records_read;
    if (!(r.time_s >= s.window_start_s && r.time_s < s.window_end_s)) {
      ++report.outside_window;
      return;
    }
    if ((!s.include_functions.empty() && !MatchesFunction(s.include_functions, r.function)) ||
        (!s.exclude_functions.empty() && MatchesFunction(s.exclude_functions, r.function)) ||
        (!s.triggers.empty() && !Contains(s.triggers, r.category)) ||
        (!s.models.empty() && !Contains(s.models, r.model)) ||
        (!s.log_types.empty() && !Contains(s.log_types, r.category))) {
      ++report.filtered_out;
      return;
    }
    Kept k{r.time_s, 0, 0, 0};
    if (use_trace_tokens) {
      int64_t prompt = r.prompt_tokens;
      int64_t output = r.output_tokens;
      if (prompt > kMaxTokens || output > kMaxTokens) {
        ThrowConfigError("{}:{}: a token count of {} exceeds the supported maximum {}", s.path,
                         r.line, std::max(prompt, output), kMaxTokens);
      }
      if (prompt == 0 || output == 0) {
        switch (s.zero_tokens) {
          case TraceWorkloadSettings::ZeroTokens::kError:
            ThrowConfigError(
                "{}:{}: a request with {} = 0 tokens; a request needs >= 1 (set "
                "zero_tokens: drop or raise_to_1 to replay such rows)",
                s.path, r.line, prompt == 0 ? "prompt (input)" : "output");
          case TraceWorkloadSettings::ZeroTokens::kDrop:
            ++report.zero_token_dropped;
            return;
          case TraceWorkloadSettings::ZeroTokens::kRaiseToOne:
            ++report.zero_token_raised;
            prompt = std::max<int64_t>(prompt, 1);
            output = std::max<int64_t>(output, 1);
            break;
        }
      }
      k.prompt_tokens = static_cast<int32_t>(prompt);
      k.output_tokens = static_cast<int32_t>(output);
    }
    if (by_function) k.group_hash = Fnv1a64(r.function.empty() ? r.model : r.function);
    if (static_cast<int64_t>(kept.size()) >= kMaxWorkloadRequests) {
      ThrowConfigError("{}:{}: the trace yields more than {} requests (the most one workload may hold); narrow "
                       "window_start_s/window_end_s or filter functions",
                       s.path, r.line, kMaxWorkloadRequests);
    }
    kept.push_back(k);
  });
  if (!std::is_sorted(kept.begin(), kept.end(),
                      [](const Kept& a, const Kept& b) { return a.time_s < b.time_s; })) {
    std::stable_sort(kept.begin(), kept.end(),
                     [](const Kept& a, const Kept& b) { return a.time_s < b.time_s; });
  }
  if (s.max_requests > 0 && static_cast<int64_t>(kept.size()) > s.max_requests) {
    report.beyond_max_requests = static_cast<int64_t>(kept.size()) - s.max_requests;
    kept.resize(static_cast<size_t>(s.max_requests));
  }
  if (kept.empty()) {
    ThrowConfigError(
        "{}: no requests left after the window [{}, {}) s and the filters ({} "
        "records read, {} outside the window, {} filtered out)",
        s.path, s.window_start_s, s.window_end_s, report.records_read, report.outside_window,
        report.filtered_out);
  }
  double scale = s.rate_scale;
  if (s.target_rate_rps > 0.0) {
    const double span = kept.back().time_s - kept.front().time_s;
    if (kept.size() < 2 || !(span > 0.0)) {
      ThrowConfigError(
          "{}: target_rate_rps needs at least two requests over a positive span; "
          "the window keeps {} request(s)",
          s.path, kept.size());
    }
    scale = s.target_rate_rps / (static_cast<double>(kept.size()) / span);
  }
  report.rate_scale = scale;

  Workload workload;
  workload.reserve(kept.size());
  RequestSink sink(ctx, mix, &workload);
  const auto num_tasks = static_cast<uint64_t>(ctx.tasks->num_tasks());
  for (const Kept& k : kept) {
    const double t = s.start_s + (k.time_s - s.window_start_s) / scale;
    if (by_function) {
      const auto task = static_cast<TaskId>(k.group_hash % num_tasks);
      if (use_trace_tokens) {
        sink.AddWithTaskAndTokens(t, kUnset, task, k.prompt_tokens, k.output_tokens);
      } else {
        sink.AddWithTask(t, kUnset, task);
      }
    } else if (use_trace_tokens) {
      sink.AddWithTokens(t, kUnset, k.prompt_tokens, k.output_tokens);
    } else {
      sink.Add(t, kUnset);
    }
  }
  if (report_out != nullptr) *report_out = report;
  return workload;
}

std::string TraceWorkload::Describe() const {
  const TraceWorkloadSettings& s = settings_;
  std::string text = fmt::format("trace({} {}", TraceFormatName(s.format),
                                 std::filesystem::path(s.path).filename().string());
  if (s.window_start_s != 0.0 || std::isfinite(s.window_end_s)) {
    text += fmt::format(", window [{}, {}) s", s.window_start_s, s.window_end_s);
  }
  if (s.target_rate_rps > 0.0) {
    text += fmt::format(", rescaled to {} rps", s.target_rate_rps);
  } else if (s.rate_scale != 1.0) {
    text += fmt::format(", rate x{}", s.rate_scale);
  }
  if (s.format == TraceFormat::kAzureFunctions2019) {
    text += fmt::format(", {} spread", MinuteSpreadName(s.spread));
  }
  text += s.tokens == TraceWorkloadSettings::Tokens::kTrace ? ", tokens from trace"
                                                            : ", tokens from task table";
  if (s.task_assignment == TraceWorkloadSettings::TaskAssignment::kByFunction) {
    text += ", task by function";
  }
  if (s.max_requests > 0) text += fmt::format(", first {} requests", s.max_requests);
  return text + ")";
}

// Registered in workloads/registry.cpp.
extern const WorkloadKind kTraceWorkload{
    "trace", "replay of a production trace (Azure Functions, Azure LLM, Mooncake, BurstGPT)",
    [](const ConfigNode& s, const std::string& base) { return TraceWorkload::FromConfig(s, base); }};

}  // namespace bestserve
