#include "sweep/suite.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <mutex>
#include <thread>

#include "common/config.h"
#include "common/error.h"
#include "scenario/compare.h"
#include "scenario/scenario.h"
#include "sweep/merge.h"
#include "sweep/stats.h"

namespace bestserve::sweep {
namespace {

namespace fs = std::filesystem;

// A copy of `node` with "{traces}" replaced by `trace_dir` in every scalar.
YAML::Node SubstituteTraces(const YAML::Node& node, const std::string& trace_dir) {
  if (node.IsScalar()) {
    std::string text = node.Scalar();
    for (size_t at = text.find("{traces}"); at != std::string::npos; at = text.find("{traces}", at + trace_dir.size())) {
      text.replace(at, 8, trace_dir);
    }
    return YAML::Node(text);
  }
  if (node.IsSequence()) {
    YAML::Node out(YAML::NodeType::Sequence);
    for (const YAML::Node& element : node) out.push_back(SubstituteTraces(element, trace_dir));
    return out;
  }
  if (node.IsMap()) {
    YAML::Node out(YAML::NodeType::Map);
    for (const auto& item : node) out[item.first.Scalar()] = SubstituteTraces(item.second, trace_dir);
    return out;
  }
  return node;
}

std::string FlowYaml(const YAML::Node& node) {
  YAML::Emitter out;
  out.SetMapFormat(YAML::Flow);
  out.SetSeqFormat(YAML::Flow);
  out << node;
  return out.c_str();
}

std::string CsvNumber(double value) { return std::isnan(value) ? "" : fmt::format("{:.4f}", value); }
std::string Signed(double value) { return std::isnan(value) ? "n/a" : fmt::format("{:+.4f}", value); }

}  // namespace

std::string DefaultTraceDir() {
  if (const char* shared = std::getenv("BESTSERVE_SHARED_DIR"); shared != nullptr && *shared != '\0') {
    return (fs::path(shared) / "traces").string();
  }
  return (fs::path(DataDir()) / ".." / "shared" / "traces").lexically_normal().string();
}

const char* ToString(Verdict verdict) {
  switch (verdict) {
    case Verdict::kWin: return "win";
    case Verdict::kTie: return "tie";
    case Verdict::kLoss: return "loss";
  }
  return "?";
}

Verdict VerdictOf(double ci_low, double ci_high) {
  if (std::isnan(ci_low) || std::isnan(ci_high)) return Verdict::kTie;
  if (ci_low > 0.0) return Verdict::kWin;
  if (ci_high < 0.0) return Verdict::kLoss;
  return Verdict::kTie;
}

Suite LoadSuite(const std::string& path, const std::string& trace_dir_given) {
  const ConfigNode root = ConfigNode::LoadFile(path);
  root.ExpectMap("an evaluation suite");
  root.CheckKeys({"name", "scenario", "seeds", "baselines", "confidence", "oracle_window_s", "workloads", "notes"});
  const std::string dir = fs::path(path).parent_path().string();
  const std::string trace_dir = trace_dir_given.empty() ? DefaultTraceDir() : trace_dir_given;
  Suite suite;
  suite.source = path;
  suite.name = root.GetString("name", fs::path(path).stem().string());
  if (const auto scenario = root.MaybeChild("scenario")) suite.scenario_path = ResolveDataPath(*scenario, dir);
  if (const auto seeds = root.MaybeChild("seeds")) {
    if (seeds->IsSequence()) {
      for (size_t i = 0; i < seeds->size(); ++i) {
        const int64_t seed = seeds->Element(i).AsInt();
        if (seed < 0) seeds->Element(i).Fail(fmt::format("expected a seed >= 0, got {}", seed));
        suite.seeds.push_back(static_cast<uint64_t>(seed));
      }
    } else {
      const int64_t n = root.GetPositiveInt("seeds", 5);
      if (n > 1000) seeds->Fail(fmt::format("expected at most 1000 seeds, got {}", n));
      for (int64_t s = 1; s <= n; ++s) suite.seeds.push_back(static_cast<uint64_t>(s));
    }
    if (suite.seeds.empty()) seeds->Fail("expected at least one seed");
  } else {
    for (uint64_t s = 1; s <= 5; ++s) suite.seeds.push_back(s);
  }
  if (const auto baselines = root.MaybeChild("baselines")) {
    baselines->ExpectSequence("router specs");
    for (size_t i = 0; i < baselines->size(); ++i) suite.baselines.push_back(baselines->Element(i).AsString());
  }
  suite.oracle_window_s = root.GetDouble("oracle_window_s", 60.0);
  if (!(suite.oracle_window_s > 0.0) || !std::isfinite(suite.oracle_window_s)) {
    root.Child("oracle_window_s").Fail(fmt::format("expected a window > 0 s, got {}", suite.oracle_window_s));
  }
  suite.confidence = root.GetDouble("confidence", 0.95);
  if (!(suite.confidence > 0.5 && suite.confidence < 1.0)) {
    root.Child("confidence").Fail(fmt::format("expected a confidence in (0.5, 1), got {}", suite.confidence));
  }
  const ConfigNode workloads = root.Child("workloads");
  workloads.ExpectSequence("a list of {name, workload, variants}");
  if (workloads.size() == 0) workloads.Fail("expected at least one workload");
  for (size_t i = 0; i < workloads.size(); ++i) {
    const ConfigNode entry = workloads.Element(i);
    entry.ExpectMap("{name, workload, variants}");
    entry.CheckKeys({"name", "workload", "variants", "notes"});
    SuiteWorkload w;
    w.name = entry.GetString("name");
    for (const SuiteWorkload& other : suite.workloads) {
      if (other.name == w.name) entry.Child("name").Fail(fmt::format("workload name '{}' appears twice", w.name));
    }
    const ConfigNode workload = entry.Child("workload");
    workload.ExpectMap("a workload section (workloads/registry.h)");
    const YAML::Node substituted = SubstituteTraces(workload.yaml(), trace_dir);
    if (substituted["path"] && substituted["path"].IsScalar()) {
      // A trace the user does not have: say where it was looked for and how to point elsewhere.
      const std::string file = substituted["path"].Scalar();
      const std::string resolved = fs::path(file).is_absolute() ? file : (fs::path(dir) / file).string();
      if (!fs::exists(resolved) && !fs::exists(fs::path(DataDir()) / file)) {
        workload.Child("path").Fail(fmt::format("no file at {} (the trace folder is {}; set it with --trace-dir)",
                                                file, trace_dir));
      }
    }
    w.workload_yaml = FlowYaml(substituted);
    if (const auto variants = entry.MaybeChild("variants")) {
      variants->ExpectSequence("a list of {label, set}");
      for (size_t v = 0; v < variants->size(); ++v) {
        const ConfigNode variant = variants->Element(v);
        variant.ExpectMap("{label, set}");
        variant.CheckKeys({"label", "set"});
        SuiteVariant sv;
        sv.label = variant.GetString("label");
        if (const auto set = variant.MaybeChild("set")) {
          set->ExpectMap("key path -> YAML value");
          for (const std::string& key : set->Keys()) {
            sv.set_values.emplace_back(key, FlowYaml(SubstituteTraces(set->Child(key).yaml(), trace_dir)));
          }
        }
        w.variants.push_back(std::move(sv));
      }
    }
    if (w.variants.empty()) w.variants.push_back(SuiteVariant{"native", {}});
    suite.workloads.push_back(std::move(w));
  }
  return suite;
}

double HindsightBestStatic(const std::vector<std::span<const RequestRecord>>& static_runs, double window_s) {
  BS_CHECK(!static_runs.empty() && window_s > 0.0);
  const std::span<const RequestRecord> first = static_runs.front();
  double peak = 0.0;
  for (const RequestRecord& rec : first) peak += rec.peak_reward;
  if (first.empty() || peak <= 0.0) return 0.0;
  // Windows counted from the first arrival; requests are in arrival order.
  const double start = first.front().request.arrival_s;
  std::vector<double> best;  // per window, the best model's reward so far
  for (const std::span<const RequestRecord> run : static_runs) {
    BS_CHECK(run.size() == first.size());
    std::vector<double> window_reward;
    for (const RequestRecord& rec : run) {
      const auto w = static_cast<size_t>(std::floor((rec.request.arrival_s - start) / window_s));
      if (window_reward.size() <= w) window_reward.resize(w + 1, 0.0);
      window_reward[w] += rec.reward;
    }
    if (best.size() < window_reward.size()) best.resize(window_reward.size(), 0.0);
    for (size_t w = 0; w < window_reward.size(); ++w) best[w] = std::max(best[w], window_reward[w]);
  }
  double total = 0.0;
  for (double b : best) total += b;
  return total / peak;
}

SuiteResult RunSuite(const Suite& suite, const std::string& candidate, int workers,
                     const std::function<void(int64_t, int64_t)>& progress) {
  struct Job {
    size_t cell;
    size_t seed;
    const SuiteWorkload* workload;
    const SuiteVariant* variant;
  };
  SuiteResult result;
  result.name = suite.name;
  result.candidate = candidate;
  result.seeds = suite.seeds;
  result.confidence = suite.confidence;
  result.oracle_window_s = suite.oracle_window_s;
  std::vector<Job> jobs;
  for (const SuiteWorkload& w : suite.workloads) {
    for (const SuiteVariant& v : w.variants) {
      SuiteCellResult cell;
      cell.workload = w.name;
      cell.variant = v.label;
      for (size_t s = 0; s < suite.seeds.size(); ++s) jobs.push_back(Job{result.cells.size(), s, &w, &v});
      result.cells.push_back(std::move(cell));
    }
  }
  const auto overrides_for = [&](const Job& job) {
    ScenarioOverrides o;
    o.seed = suite.seeds[job.seed];
    o.set_values.emplace_back("workload", job.workload->workload_yaml);
    for (const auto& kv : job.variant->set_values) o.set_values.push_back(kv);
    return o;
  };
  // Every cell's scenario is loaded once up front, so a bad cell fails before anything runs.
  std::vector<std::string> routers = suite.baselines;
  for (const Job& job : jobs) {
    if (job.seed != 0) continue;
    const Scenario scenario = LoadScenario(suite.scenario_path, overrides_for(job));
    if (routers.empty()) routers = BuiltinRouterSpecs(scenario.system);
    result.cells[job.cell].requests = static_cast<int64_t>(MakeScenarioWorkload(scenario).size());
  }
  routers.push_back(candidate);
  for (SuiteCellResult& cell : result.cells) {
    cell.routers = routers;
    cell.reward.assign(routers.size(), std::vector<double>(suite.seeds.size(), std::nan("")));
    cell.oracle.assign(suite.seeds.size(), std::nan(""));
  }

  std::atomic<size_t> next{0};
  std::atomic<int64_t> done{0};
  std::mutex mutex;
  std::exception_ptr failure;
  const auto work = [&] {
    for (size_t i = next++; i < jobs.size(); i = next++) {
      try {
        const Job& job = jobs[i];
        const Scenario scenario = LoadScenario(suite.scenario_path, overrides_for(job));
        const Workload workload = MakeScenarioWorkload(scenario);
        std::vector<double> rewards;
        // The static runs of every model, for the hindsight oracle: the baselines' own where
        // they are listed, else run here.
        std::vector<std::vector<RequestRecord>> static_runs(scenario.system.model_names.size());
        for (const std::string& spec : routers) {
          RouterRun run = RunRouterSpec(scenario, spec, workload);
          rewards.push_back(Summarize(*run.sim, scenario.tasks, scenario.metrics).mean_reward_fraction);
          for (size_t m = 0; m < static_runs.size(); ++m) {
            if (spec == "static:" + scenario.system.model_names[m] && static_runs[m].empty()) {
              static_runs[m] = run.sim->TakeRecords();
            }
          }
        }
        std::vector<std::span<const RequestRecord>> oracle_inputs;
        for (size_t m = 0; m < static_runs.size(); ++m) {
          if (static_runs[m].empty()) {
            static_runs[m] = RunRouterSpec(scenario, "static:" + scenario.system.model_names[m], workload).sim->TakeRecords();
          }
          oracle_inputs.emplace_back(static_runs[m]);
        }
        const double oracle = HindsightBestStatic(oracle_inputs, suite.oracle_window_s);
        const std::lock_guard<std::mutex> lock(mutex);
        for (size_t r = 0; r < rewards.size(); ++r) result.cells[job.cell].reward[r][job.seed] = rewards[r];
        result.cells[job.cell].oracle[job.seed] = oracle;
      } catch (...) {
        const std::lock_guard<std::mutex> lock(mutex);
        if (!failure) failure = std::current_exception();
        next = jobs.size();
      }
      const int64_t finished = ++done;
      if (progress) {
        const std::lock_guard<std::mutex> lock(mutex);
        progress(finished, static_cast<int64_t>(jobs.size()));
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 1; t < std::max(1, workers); ++t) threads.emplace_back(work);
  work();
  for (std::thread& t : threads) t.join();
  if (failure) std::rethrow_exception(failure);

  const size_t c = routers.size() - 1;  // the candidate's row
  for (SuiteCellResult& cell : result.cells) {
    const auto mean = [](const std::vector<double>& v) {
      double sum = 0.0;
      for (double x : v) sum += x;
      return sum / static_cast<double>(v.size());
    };
    size_t best = 0;
    for (size_t r = 1; r < c; ++r) {
      if (mean(cell.reward[r]) > mean(cell.reward[best])) best = r;  // ties: the earlier listed
    }
    cell.best_baseline = routers[best];
    cell.best_baseline_mean = mean(cell.reward[best]);
    cell.candidate_mean = mean(cell.reward[c]);
    cell.oracle_mean = mean(cell.oracle);
    std::vector<double> differences;
    for (size_t s = 0; s < suite.seeds.size(); ++s) differences.push_back(cell.reward[c][s] - cell.reward[best][s]);
    const PairedDifference d = SummarizeDifferences(differences, suite.confidence);
    cell.diff_mean = d.mean;
    cell.ci_low = d.ci_low;
    cell.ci_high = d.ci_high;
    cell.verdict = VerdictOf(d.ci_low, d.ci_high);
    (cell.verdict == Verdict::kWin ? result.wins : cell.verdict == Verdict::kLoss ? result.losses : result.ties)++;
  }
  return result;
}

std::string FormatSuiteMarkdown(const SuiteResult& r) {
  std::string out = fmt::format(
      "# Suite '{}': {} against the best baseline per cell\n\n"
      "Mean reward (fraction of peak) over {} seed(s) ({}); the difference is paired per seed on identical "
      "arrivals, with a {:.0f}% Student-t interval. Win: the interval lies above 0; loss: below; else tie. "
      "Hindsight: the best static model per {} s window, chosen after the fact (the headroom of switching "
      "whole models; an estimate, see sweep/suite.h).\n\n"
      "| workload | setting | requests | candidate | best baseline | its reward | difference | {:.0f}% interval | verdict "
      "| hindsight |\n"
      "|---|---|---:|---:|---|---:|---:|---|---|---:|\n",
      r.name, r.candidate, r.seeds.size(), fmt::join(r.seeds, ", "), 100.0 * r.confidence, r.oracle_window_s,
      100.0 * r.confidence);
  for (const SuiteCellResult& cell : r.cells) {
    const std::string interval =
        std::isnan(cell.ci_low) ? "n/a (one seed)" : fmt::format("[{:+.4f}, {:+.4f}]", cell.ci_low, cell.ci_high);
    out += fmt::format("| {} | {} | {} | {:.4f} | {} | {:.4f} | {} | {} | {} | {:.4f} |\n", cell.workload,
                       cell.variant, cell.requests, cell.candidate_mean, cell.best_baseline, cell.best_baseline_mean,
                       Signed(cell.diff_mean), interval, ToString(cell.verdict), cell.oracle_mean);
  }
  out += fmt::format("\n**{} win, {} tie, {} loss** over {} cells.\n", r.wins, r.ties, r.losses, r.cells.size());
  return out;
}

std::string FormatSuiteRewardsCsv(const SuiteResult& r) {
  std::string out = "workload,variant,router,seed,mean_reward_fraction\n";
  for (const SuiteCellResult& cell : r.cells) {
    for (size_t k = 0; k < cell.routers.size(); ++k) {
      for (size_t s = 0; s < r.seeds.size(); ++s) {
        out += fmt::format("{},{},{},{},{}\n", CsvField(cell.workload), CsvField(cell.variant), CsvField(cell.routers[k]), r.seeds[s],
                           CsvNumber(cell.reward[k][s]));
      }
    }
  }
  return out;
}

std::string FormatSuiteCellsCsv(const SuiteResult& r) {
  std::string out =
      "workload,variant,requests,candidate_mean,best_baseline,best_baseline_mean,difference,ci_low,ci_high,verdict,"
      "hindsight_mean\n";
  for (const SuiteCellResult& cell : r.cells) {
    out += fmt::format("{},{},{},{},{},{},{},{},{},{},{}\n", CsvField(cell.workload), CsvField(cell.variant), cell.requests,
                       CsvNumber(cell.candidate_mean), CsvField(cell.best_baseline), CsvNumber(cell.best_baseline_mean), CsvNumber(cell.diff_mean),
                       CsvNumber(cell.ci_low), CsvNumber(cell.ci_high), ToString(cell.verdict), CsvNumber(cell.oracle_mean));
  }
  return out;
}

}  // namespace bestserve::sweep
