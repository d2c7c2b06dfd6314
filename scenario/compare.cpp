#include "scenario/compare.h"

#include <fmt/format.h>

#include <filesystem>
#include <functional>
#include <iterator>

#include "common/files.h"

namespace bestserve {

namespace {

// "dedicated:<model>" is static:<model> on the paper's baseline system: the same GPUs, each
// holding that model alone with all of its memory.
struct PreparedRouter {
  std::unique_ptr<RoutingPolicy> router;
  std::unique_ptr<Scenario> dedicated;  // null: the scenario's own system
};

PreparedRouter PrepareRouter(const Scenario& scenario, const std::string& spec) {
  PreparedRouter prepared;
  if (spec.rfind("dedicated:", 0) == 0) {
    const std::string model = spec.substr(std::string("dedicated:").size());
    prepared.router = MakeScenarioRouter(scenario, "static:" + model);
    prepared.dedicated = std::make_unique<Scenario>(scenario);
    prepared.dedicated->system = DedicatedSystem(scenario.system, scenario.system.FindModel(model));
  } else {
    prepared.router = MakeScenarioRouter(scenario, spec);
  }
  return prepared;
}

// The scenario as `spec` ran it, for its run folder's config.yaml: its router is `spec` (the
// scenario's own router when `spec` is empty). "dedicated:<model>" ran static:<model> on the
// dedicated system, which a note says (the scenario's cluster keys describe the shared one).
Scenario RanScenario(const Scenario& scenario, const std::string& spec) {
  Scenario ran = scenario;
  if (spec.empty()) return ran;
  ran.resolved.reset(YAML::Clone(scenario.resolved));  // rebinds: operator= would write through
  if (spec.rfind("dedicated:", 0) == 0) {
    const std::string model = spec.substr(std::string("dedicated:").size());
    ran.resolved["router"] = "static:" + model;
    ran.resolved["notes"] = fmt::format(
        "evaluate's {}: static:{} on the dedicated system (every GPU holds {} alone, with all of its memory)", spec,
        model, model);
  } else {
    ran.resolved["router"] = spec;
  }
  return ran;
}

}  // namespace

RouterRun RunRouterSpec(const Scenario& scenario, const std::string& spec, const Workload& workload) {
  PreparedRouter prepared = PrepareRouter(scenario, spec);
  RouterRun run;
  run.sim = RunSimulation(prepared.dedicated ? *prepared.dedicated : scenario, workload, *prepared.router);
  run.described = prepared.router->Describe();
  return run;
}

namespace {

// The folders of `dir` that do not exist yet, outermost first (what creating it would add).
std::vector<std::filesystem::path> MissingFolders(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> missing;
  for (std::filesystem::path p = std::filesystem::absolute(dir); !p.empty() && !std::filesystem::exists(p);
       p = p.parent_path()) {
    missing.insert(missing.begin(), p);
    if (p == p.parent_path()) break;
  }
  return missing;
}

// Removes, innermost first, those of `folders` that are empty (a failed run's folders).
void RemoveEmptyFolders(const std::vector<std::filesystem::path>& folders) {
  for (auto it = folders.rbegin(); it != folders.rend(); ++it) {
    std::error_code ignored;
    if (std::filesystem::is_empty(*it, ignored)) std::filesystem::remove(*it, ignored);
  }
}

// The streamed run of one prepared router; writes its run folder's four files into `out_dir`
// when given (which must exist).
RouterResult StreamOneRouter(const Scenario& scenario, const std::string& spec, PreparedRouter& prepared,
                             const std::string& out_dir) {
  namespace fs = std::filesystem;
  const Scenario& system = prepared.dedicated ? *prepared.dedicated : scenario;
  RouterResult result;
  result.spec = spec;
  result.described = prepared.router->Describe();
  result.model_names = system.system.model_names;
  const auto run = [&](RequestLogWriter* log, std::function<void(int64_t, double)> window_sink) {
    SummaryBuilder builder(system.system, scenario.tasks, scenario.metrics);
    if (!out_dir.empty()) {
      builder.SpillTo(out_dir);
    } else {
      try {
        builder.SpillTo(fs::temp_directory_path().string());
      } catch (const std::exception&) {
        // No writable temporary folder: the quantile inputs stay in memory (8 bytes a value).
      }
    }
    builder.StreamWindowsTo(std::move(window_sink));
    auto sim = MakeSimulator(system);
    sim->Reset(OpenScenarioWorkload(scenario), 0, [&](const RequestRecord& rec) {
      builder.Add(rec);
      if (log != nullptr) log->Add(rec);
    });
    prepared.router->Reset(static_cast<int32_t>(scenario.system.model_names.size()));
    while (sim->AdvanceToNextArrival()) sim->Dispatch(prepared.router->Route(sim->view()));
    sim->Drain();
    result.summary = builder.Finish(sim->counters());
  };
  if (out_dir.empty()) {
    run(nullptr, [](int64_t, double) {});  // only their count and thresholds are reported
    return result;
  }
  // Both logs are temporary files until the run has finished (WriteFileAtomically): a failure
  // midway (a bad row deep in a replayed file) leaves the folder's earlier files whole.
  const fs::path base(out_dir);
  WriteFileAtomically((base / "windows.csv").string(), [&](std::ostream& windows) {
    windows << "window_start,window_average\n";
    fmt::memory_buffer rows;
    const auto flush = [&] {
      windows.write(rows.data(), static_cast<std::streamsize>(rows.size()));
      rows.clear();
    };
    WriteFileAtomically((base / "requests.csv").string(), [&](std::ostream& requests) {
      RequestLogWriter log(requests, result.model_names, scenario.tasks);
      run(&log, [&](int64_t index, double average) {
        fmt::format_to(std::back_inserter(rows), "{},{}\n", index, average);
        if (rows.size() >= (size_t{1} << 16)) flush();
      });
      log.Flush();
    });
    flush();
  });
  WriteFileAtomically((base / "config.yaml").string(), ResolvedConfigYaml(RanScenario(scenario, spec)));
  WriteFileAtomically((base / "summary.json").string(), FormatSummaryJson(result.summary));
  return result;
}

// Creates `dir` for a run that may fail: the folders it adds are removed again if they are
// still empty when `body` throws. Temporaries a killed earlier run left in `dir` are removed
// first.
template <typename Body>
auto WithOutputFolder(const std::string& dir, Body body) {
  const auto missing = MissingFolders(dir);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(fmt::format("{}: cannot create directory: {}", dir, ec.message()));
  // Only what a run writes here: a user's --out may hold anything else.
  RemoveAbandonedTemporariesOf(dir, {"requests.csv", "windows.csv", "config.yaml", "summary.json", ".staging"});
  try {
    return body();
  } catch (...) {
    RemoveEmptyFolders(missing);
    throw;
  }
}

}  // namespace

RouterResult RunRouterStreaming(const Scenario& scenario, const std::string& spec, const std::string& out_dir) {
  PreparedRouter prepared = PrepareRouter(scenario, spec);
  if (out_dir.empty()) return StreamOneRouter(scenario, spec, prepared, out_dir);
  return WithOutputFolder(out_dir, [&] { return StreamOneRouter(scenario, spec, prepared, out_dir); });
}

std::string RouterFolderName(const std::string& spec) {
  std::string folder = spec;
  for (char& c : folder) c = (c == ':' || c == '/' || c == ',') ? '_' : c;
  return folder;
}

std::vector<RouterResult> EvaluateRoutersStreaming(const Scenario& scenario, std::vector<std::string> specs,
                                                   const std::string& out_dir) {
  namespace fs = std::filesystem;
  if (specs.empty()) specs = BuiltinRouterSpecs(scenario.system);
  std::vector<PreparedRouter> routers;  // every spec checked before any run
  for (const std::string& spec : specs) routers.push_back(PrepareRouter(scenario, spec));
  std::vector<RouterResult> results;
  if (out_dir.empty()) {
    for (size_t i = 0; i < specs.size(); ++i) results.push_back(StreamOneRouter(scenario, specs[i], routers[i], ""));
    return results;
  }
  // Each router's files go to a staging folder beside the others and move into place (a rename
  // per file) only when every router has run: a failure leaves every earlier folder as it was.
  const fs::path staging = fs::path(out_dir) / fmt::format(".staging.tmp.{}", ::getpid());
  return WithOutputFolder(out_dir, [&] {
    try {
      for (size_t i = 0; i < specs.size(); ++i) {
        const fs::path dir = staging / RouterFolderName(specs[i]);
        fs::create_directories(dir);
        results.push_back(StreamOneRouter(scenario, specs[i], routers[i], dir.string()));
      }
      // Every destination folder first, so that one that cannot be made (a file of that name)
      // fails before any file has moved.
      for (const std::string& spec : specs) fs::create_directories(fs::path(out_dir) / RouterFolderName(spec));
      for (const std::string& spec : specs) {
        for (const char* file : {"config.yaml", "requests.csv", "windows.csv", "summary.json"}) {
          fs::rename(staging / RouterFolderName(spec) / file, fs::path(out_dir) / RouterFolderName(spec) / file);
        }
      }
    } catch (...) {
      std::error_code ignored;
      fs::remove_all(staging, ignored);
      throw;
    }
    fs::remove_all(staging);
    return results;
  });
}

std::vector<RouterResult> CompareRouters(const Scenario& scenario, std::vector<std::string> specs) {
  if (specs.empty()) specs = BuiltinRouterSpecs(scenario.system);
  // Build every router first so that a bad spec fails before any simulation runs.
  std::vector<PreparedRouter> routers;
  for (const std::string& spec : specs) routers.push_back(PrepareRouter(scenario, spec));
  const Workload workload = MakeScenarioWorkload(scenario);
  std::vector<RouterResult> results;
  for (size_t i = 0; i < specs.size(); ++i) {
    const Scenario& system = routers[i].dedicated ? *routers[i].dedicated : scenario;
    auto sim = RunSimulation(system, workload, *routers[i].router);
    RouterResult result;
    result.spec = specs[i];
    result.described = routers[i].router->Describe();
    result.summary = Summarize(*sim, scenario.tasks, scenario.metrics);
    result.model_names = sim->system().model_names;
    result.records = sim->TakeRecords();
    results.push_back(std::move(result));
  }
  return results;
}

std::string FormatComparisonMarkdown(const Scenario& scenario, const std::vector<RouterResult>& results) {
  if (results.empty()) return "";
  const Summary& first = results.front().summary;
  std::string out = fmt::format(
      "Scenario '{}': {} on {} GPU(s), {} requests, seed {}, window {} requests\n\n", scenario.name,
      scenario.workload->Describe(), scenario.system.num_gpus, first.num_requests, scenario.seed,
      scenario.metrics.window);
  out += "| router | mean reward (frac. of peak) | deadline miss | p99 latency (s) |";
  for (size_t i = 0; i < first.thresholds.size(); ++i) {
    out += first.thresholds[i] >= 1.0 ? fmt::format(" = {:.2f} |", first.thresholds[i])
                                      : fmt::format(" >= {:.2f} |", first.thresholds[i]);
  }
  out += " selection (";
  out += fmt::format("{}", fmt::join(first.model_names, " / "));
  out += ") |\n|---|---:|---:|---:|";
  for (size_t i = 0; i < first.thresholds.size(); ++i) out += "---:|";
  out += "---|\n";
  for (const auto& r : results) {
    const Summary& s = r.summary;
    out += fmt::format("| {} | {:.4f} | {:.1f}% | {:.3f} |", r.spec, s.mean_reward_fraction,
                       100.0 * s.deadline_miss_rate, s.latency_p99_s);
    for (int64_t c : s.threshold_counts) out += fmt::format(" {} |", c);
    std::vector<std::string> mix;
    for (int64_t c : s.selections) {
      mix.push_back(fmt::format("{:.0f}%", s.num_requests > 0 ? 100.0 * static_cast<double>(c) /
                                                                    static_cast<double>(s.num_requests)
                                                              : 0.0));
    }
    out += fmt::format(" {} |\n", fmt::join(mix, " / "));
  }
  out += fmt::format("\nWindows: {} sliding windows of {} requests; columns count windows whose "
                     "average reward (fraction of peak) meets the threshold (Tables 2-4 of the paper).\n",
                     first.num_windows, scenario.metrics.window);
  return out;
}

std::string FormatComparisonCsv(const std::vector<RouterResult>& results) {
  if (results.empty()) return "";
  const Summary& first = results.front().summary;
  std::string out = "router,mean_reward_fraction,deadline_miss_rate,latency_p50_s,latency_p99_s,"
                    "throughput_rps,hardware_utility,num_windows";
  for (double t : first.thresholds) out += fmt::format(",windows_{}_{:.2f}", t >= 1.0 ? "eq" : "ge", t);
  for (const auto& m : first.model_names) out += fmt::format(",selected_{}", m);
  out += '\n';
  for (const auto& r : results) {
    const Summary& s = r.summary;
    out += fmt::format("{},{},{},{},{},{},{},{}", r.spec, s.mean_reward_fraction, s.deadline_miss_rate,
                       s.latency_p50_s, s.latency_p99_s, s.throughput_rps, s.hardware_utility,
                       s.num_windows);
    for (int64_t c : s.threshold_counts) out += fmt::format(",{}", c);
    for (int64_t c : s.selections) out += fmt::format(",{}", c);
    out += '\n';
  }
  return out;
}

void WriteRunFolder(const std::string& dir, const Scenario& scenario, const RouterResult& result) {
  namespace fs = std::filesystem;
  const fs::path base(dir);
  WriteFileAtomically((base / "config.yaml").string(), ResolvedConfigYaml(RanScenario(scenario, result.spec)));
  WriteRequestLog((base / "requests.csv").string(), result.records, result.model_names, scenario.tasks);
  WriteFileAtomically((base / "windows.csv").string(), FormatWindows(result.summary));
  WriteFileAtomically((base / "summary.json").string(), FormatSummaryJson(result.summary));
}

}  // namespace bestserve
