// `bestserve simulate` and `bestserve evaluate`: one router, or every router side by side.
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "apps/bestserve/app_support.h"
#include "apps/bestserve/commands.h"
#include "common/files.h"
#include "scenario/compare.h"
#include "sweep/suite.h"

namespace bestserve::app {
namespace {

// The --routers list: comma-separated, where a piece that is a plain number continues the
// previous router's argument, so "greedy,threshold:2,24" is two routers. An empty piece is an
// error (CLI11's delimiter would drop it silently).
std::vector<std::string> SplitRouterList(const std::vector<std::string>& given) {
  std::vector<std::string> routers;
  for (const std::string& text : given) {
    size_t start = 0;
    while (true) {
      const size_t comma = text.find(',', start);
      const std::string piece = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (piece.empty()) {
        throw CLI::ValidationError(
            "--routers", fmt::format("'{}': entry {} of the list is empty (two commas in a row?)", text,
                                     routers.size() + 1));
      }
      const bool number = piece.find_first_not_of("0123456789.eE+-") == std::string::npos;
      if (number && !routers.empty() && routers.back().find(':') != std::string::npos) {
        routers.back() += "," + piece;
      } else {
        routers.push_back(piece);
      }
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return routers;
}

std::string SuitePlotScript() { return (std::filesystem::path(DataDir()) / "scripts" / "plot_suite.py").string(); }

// The suite's heat map (scripts/plot_suite.py): the tables are already written when it runs, so a
// failure here leaves them whole and says how to draw the figure again.
void DrawSuiteHeatmap(const std::string& out_dir, const std::string& python) {
  const std::string command = fmt::format("{} {} {}", ShellQuote(python), ShellQuote(SuitePlotScript()), ShellQuote(out_dir));
  std::fflush(stdout);
  const int status = std::system(command.c_str());
  if (status != 0) {
    throw Error(fmt::format("heat map: `{}` failed (status {}); the tables in {} are complete. It needs matplotlib "
                            "(Debian's /usr/bin/python3 has it; choose another with --python, or --no-plots)",
                            command, status, out_dir));
  }
}

void PrintHeader(const Scenario& s) {
  fmt::print("bestserve: scenario '{}' from {}\n", s.name, s.source);
  fmt::print("  profile set '{}' ({}; {}), {} GPU(s), models: {}\n", s.profiles.name, s.profiles.gpu_name,
             s.profiles.provenance_kind, s.system.num_gpus, fmt::join(s.system.model_names, ", "));
  fmt::print("  workload: {}, seed {}, deadline {} ms/token ({} reward)\n", s.workload->Describe(), s.seed,
             s.deadline.ms_per_token, ToString(s.deadline.reward));
}

}  // namespace

void AddSimulateCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("simulate", "Run one simulation with one router and summarize it");
  auto flags = std::make_shared<ScenarioFlags>();
  auto router = std::make_shared<std::string>();
  flags->Add(cmd);
  cmd->add_option("--router", *router,
                  "Router (overrides `router`), one of:\n" + RouterHelp());
  cmd->callback([flags, router] {
    ScenarioOverrides overrides = flags->Overrides();
    if (!router->empty()) overrides.router = *router;
    const Scenario scenario = LoadScenario(flags->config, overrides);
    PrintHeader(scenario);
    // The override already went into the scenario's `router`; an empty spec means "that one".
    // Streamed: the run folder is written as requests finish, so a replay of millions of
    // requests holds only those in flight.
    const RouterResult r = RunRouterStreaming(scenario, std::string(), flags->out);
    const Summary& s = r.summary;
    fmt::print("  router: {}\n\n", r.described);
    fmt::print("requests {} (completed {}, rejected {}), simulated {:.1f} s\n", s.num_requests, s.completed,
               s.rejected, s.counters.end_s - s.counters.start_s);
    fmt::print("mean reward {:.4f} of peak, deadline misses {:.2f}%, hardware utility {:.4f} per GPU\n",
               s.mean_reward_fraction, 100.0 * s.deadline_miss_rate, s.hardware_utility);
    fmt::print("latency p50 {:.3f} s, p90 {:.3f} s, p99 {:.3f} s; throughput {:.2f} rps\n", s.latency_p50_s,
               s.latency_p90_s, s.latency_p99_s, s.throughput_rps);
    std::vector<std::string> mix;
    for (size_t m = 0; m < s.model_names.size(); ++m) {
      mix.push_back(fmt::format("{} {:.1f}%", s.model_names[m],
                                100.0 * static_cast<double>(s.selections[m]) / std::max<int64_t>(s.num_requests, 1)));
    }
    fmt::print("selection: {}\n", fmt::join(mix, ", "));
    std::vector<std::string> counts;
    for (size_t i = 0; i < s.thresholds.size(); ++i) {
      counts.push_back(fmt::format("{}{:.2f}: {}", s.thresholds[i] >= 1.0 ? "=" : ">=", s.thresholds[i],
                                   s.threshold_counts[i]));
    }
    fmt::print("windows ({} of {} requests): {}\n", s.num_windows, scenario.metrics.window,
               fmt::join(counts, ", "));
    if (!flags->out.empty()) fmt::print("results written to {}\n", flags->out);
  });
}

void AddEvaluateCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "evaluate", "Run every router on the identical workload and print a Table-2-style comparison");
  auto flags = std::make_shared<ScenarioFlags>();
  auto routers = std::make_shared<std::vector<std::string>>();
  flags->Add(cmd);
  cmd->add_option("--routers", *routers,
                  "Routers to compare (default: every built-in router; dedicated:<model> for a model alone "
                  "on its own GPUs), comma-separated (threshold's rates stay with it: "
                  "greedy,threshold:2,24), of:\n" + RouterHelp());
  auto policies = std::make_shared<std::vector<std::string>>();
  cmd->add_option("--policy", *policies,
                  "Learned policies to add: a policy file or a `bestserve train` run folder (uses its best.bsw)")
      ->delimiter(',');
  struct SuiteFlags {
    std::string suite;
    std::string candidate;
    std::string trace_dir;
    int32_t jobs = DefaultWorkers();
    bool no_plots = false;
    std::string python = "/usr/bin/python3";
  };
  auto suite = std::make_shared<SuiteFlags>();
  cmd->add_option("--suite", suite->suite,
                  "Evaluation suite YAML (sweep/suite.h; experiments/suites/): the candidate (--policy, or "
                  "--candidate) against the best baseline per workload cell, paired over seeds")
      ->check(CLI::ExistingFile);
  cmd->add_option("--candidate", suite->candidate, "With --suite: the router to judge, when not a --policy");
  cmd->add_option("--trace-dir", suite->trace_dir, "With --suite: the folder holding the traces it names");
  cmd->add_option("-j,--jobs", suite->jobs, "With --suite: worker threads")->check(WorkerCountFlag());
  cmd->add_flag("--no-plots", suite->no_plots, "With --suite: skip the heat map (suite_heatmap.png, drawn by matplotlib)");
  cmd->add_option("--python", suite->python, "With --suite: Python with matplotlib, for the heat map")
      ->capture_default_str();
  cmd->callback([flags, routers, policies, suite] {
    if (!suite->suite.empty()) {
      if (!flags->config.empty() || !routers->empty() || !flags->set_values.empty() || flags->rate_rps ||
          flags->duration_s || flags->seed) {
        ThrowConfigError("--suite brings its own scenario, workloads, routers and seeds: give only --policy or "
                         "--candidate, --trace-dir, -j and --out with it");
      }
      if (policies->size() + (suite->candidate.empty() ? 0 : 1) != 1) {
        ThrowConfigError("--suite judges one candidate: give one --policy or one --candidate");
      }
      std::string candidate = suite->candidate;
      if (candidate.empty()) {
        namespace fs = std::filesystem;
        candidate = policies->front();
        if (fs::is_directory(candidate)) {
          candidate = fs::exists(fs::path(candidate) / "best.bsw") ? (fs::path(candidate) / "best.bsw").string()
                                                                  : (fs::path(candidate) / "final.bsw").string();
        }
        candidate = "policy:" + candidate;
      }
      if (!flags->out.empty() && !suite->no_plots && !std::filesystem::exists(SuitePlotScript())) {
        ThrowConfigError("plotting script '{}' not found (--no-plots skips the heat map)", SuitePlotScript());
      }
      const sweep::Suite loaded = sweep::LoadSuite(suite->suite, suite->trace_dir);
      fmt::print("bestserve evaluate: suite '{}' ({} workloads, {} seeds) judging {}, {} worker(s)\n", loaded.name,
                 loaded.workloads.size(), loaded.seeds.size(), candidate, suite->jobs);
      const sweep::SuiteResult result = sweep::RunSuite(loaded, candidate, suite->jobs);
      const std::string table = sweep::FormatSuiteMarkdown(result);
      fmt::print("\n{}", table);
      if (!flags->out.empty()) {
        namespace fs = std::filesystem;
        fs::create_directories(flags->out);
        WriteFileAtomically((fs::path(flags->out) / "suite.md").string(), table);
        WriteFileAtomically((fs::path(flags->out) / "suite_cells.csv").string(), sweep::FormatSuiteCellsCsv(result));
        WriteFileAtomically((fs::path(flags->out) / "suite_rewards.csv").string(), sweep::FormatSuiteRewardsCsv(result));
        fmt::print("wrote {}/{{suite.md, suite_cells.csv, suite_rewards.csv}}\n", flags->out);
        if (!suite->no_plots) DrawSuiteHeatmap(flags->out, suite->python);
      }
      return;
    }
    *routers = SplitRouterList(*routers);
    for (size_t i = 0; i < policies->size(); ++i) {
      if ((*policies)[i].empty()) {
        throw CLI::ValidationError("--policy", fmt::format("entry {} of the list is empty (two commas in a row?)", i + 1));
      }
    }
    const Scenario scenario = LoadScenario(flags->config, flags->Overrides());
    if (!policies->empty()) {
      if (routers->empty()) *routers = BuiltinRouterSpecs(scenario.system);
      for (const auto& p : *policies) {
        namespace fs = std::filesystem;
        std::string file = p;
        if (fs::is_directory(p)) {
          file = fs::exists(fs::path(p) / "best.bsw") ? (fs::path(p) / "best.bsw").string()
                                                      : (fs::path(p) / "final.bsw").string();
        }
        routers->push_back("policy:" + file);
      }
    }
    PrintHeader(scenario);
    // Streamed, one router after the other: each router's folder is written as its requests
    // finish, so a long replay is never held, however many routers run.
    const auto results = EvaluateRoutersStreaming(scenario, *routers, flags->out);
    const std::string table = FormatComparisonMarkdown(scenario, results);
    fmt::print("\n{}", table);
    if (!flags->out.empty()) {
      namespace fs = std::filesystem;
      WriteFileAtomically((fs::path(flags->out) / "comparison.md").string(), table);
      WriteFileAtomically((fs::path(flags->out) / "comparison.csv").string(), FormatComparisonCsv(results));
      fmt::print("\nResults written to {}\n", flags->out);
    }
  });
}

}  // namespace bestserve::app
