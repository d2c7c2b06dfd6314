// `bestserve workload ...`: generate, describe and fit workloads. Each subcommand binds its
// flags and calls one library function (workloads/); nothing here decides what a workload is.
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "apps/bestserve/app_support.h"
#include "apps/bestserve/commands.h"
#include "common/error.h"
#include "common/files.h"
#include "workloads/maf_fit.h"
#include "workloads/registry.h"
#include "workloads/request_csv.h"
#include "workloads/workload_config.h"
#include "workloads/workload_stats.h"

namespace bestserve::app {
namespace {

struct GenerateFlags {
  std::string config;
  std::string out;
  std::optional<uint64_t> seed;
};

struct StatsFlags {
  std::string file;
  std::string format = "auto";
  std::string spread = "uniform";
  uint64_t seed = 0;
  bool json = false;
  std::string plot;
  std::string python = "/usr/bin/python3";
  std::string plot_script;
};

struct FitFlags {
  std::string kind;
  std::string trace;
  std::string out;
  int replicates = 0;
  uint64_t seed = 1;
};

void RunGenerate(const GenerateFlags& flags) {
  const WorkloadRunConfig config = LoadWorkloadRunConfig(flags.config, flags.seed);
  const GeneratedWorkload generated = GenerateWorkload(config);
  const WorkloadStats stats =
      ComputeStats(ArrivalDataFromWorkload(generated.workload, generated.tasks));
  WriteFileAtomically(flags.out, FormatRequestCsv(generated.workload, generated.tasks));
  fmt::print("bestserve workload generate: {}\n", config.source);
  fmt::print("  seed {}, tasks {}\n  {}\n", config.seed, config.tasks_path, generated.description);
  fmt::print("  wrote {} requests over {:.6g} s (mean {:.6g} rps) to {}\n", stats.count,
             stats.duration_s, stats.mean_rate_rps, flags.out);
}

MinuteSpread ParseSpread(const std::string& text) {
  if (text == "uniform") return MinuteSpread::kUniform;
  if (text == "equidistant") return MinuteSpread::kEquidistant;
  if (text == "poisson") return MinuteSpread::kPoisson;
  ThrowConfigError("--spread: unknown spread '{}'; valid: uniform, equidistant, poisson", text);
}

// Pipes the 1 s and 60 s rate series to scripts/plot_rate.py, which draws them into a PNG.
void Plot(const StatsFlags& flags, const ArrivalData& data) {
  const std::string script =
      !flags.plot_script.empty()
          ? flags.plot_script
          : (std::filesystem::path(WorkloadDataDir()) / "scripts" / "plot_rate.py").string();
  if (!std::filesystem::exists(script)) {
    ThrowConfigError("--plot: plotting script '{}' not found (set --plot-script)", script);
  }
  std::string csv = "bin_s,t_s,rate_rps\n";
  for (double bin : {1.0, 60.0}) {
    for (const auto& [t, rate] : RateSeries(data.arrival_s, bin)) {
      csv += fmt::format("{},{},{}\n", bin, t, rate);
    }
  }
  const std::string title = std::filesystem::path(flags.file).filename().string();
  const std::string command =
      fmt::format("'{}' '{}' --out '{}' --title '{}'", flags.python, script, flags.plot, title);
  FILE* pipe = ::popen(command.c_str(), "w");
  if (pipe == nullptr) throw Error(fmt::format("--plot: cannot run {}", command));
  std::fwrite(csv.data(), 1, csv.size(), pipe);
  const int status = ::pclose(pipe);
  if (status != 0) {
    throw Error(
        fmt::format("--plot: '{}' failed (status {}); it needs matplotlib (Debian's "
                    "/usr/bin/python3 has it; choose another with --python)",
                    command, status));
  }
}

void RunStats(const StatsFlags& flags) {
  const ArrivalData data =
      LoadArrivalData(flags.file, flags.format, ParseSpread(flags.spread), flags.seed);
  const WorkloadStats stats = ComputeStats(data);
  if (flags.json) {
    fmt::print("{}", FormatStatsJson(stats));
  } else {
    fmt::print("{}", FormatStatsText(stats));
  }
  if (!flags.plot.empty()) {
    Plot(flags, data);
    if (!flags.json) fmt::print("plot: {}\n", flags.plot);
  }
}

void RunFit(const FitFlags& flags) {
  const bool maf1 = flags.kind == "maf1";
  if (!maf1 && flags.kind != "maf2") {
    ThrowConfigError("workload fit: unknown target '{}'; valid: maf1, maf2", flags.kind);
  }
  const int replicates = flags.replicates > 0 ? flags.replicates : (maf1 ? 20 : 32);
  if (replicates < 2) ThrowConfigError("--replicates: expected >= 2, got {}", replicates);
  const MafFit fit = maf1 ? FitMaf1(flags.trace, replicates, flags.seed)
                          : FitMaf2(flags.trace, replicates, flags.seed);
  std::string command =
      fmt::format("bestserve workload fit {} --trace {} --replicates {} --seed {}", flags.kind,
                  flags.trace, replicates, flags.seed);
  if (!flags.out.empty()) command += fmt::format(" --out {}", flags.out);
  const std::string yaml = FormatMafFitYaml(fit, command);
  if (flags.out.empty()) {
    fmt::print("{}", yaml);
  } else {
    WriteFileAtomically(flags.out, yaml);
    fmt::print("{}wrote {}\n", yaml, flags.out);
  }
}

}  // namespace

void AddWorkloadCommand(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("workload", "Generate a workload to a request CSV, or describe one");
  cmd->require_subcommand(1);

  auto generate = std::make_shared<GenerateFlags>();
  auto* gen = cmd->add_subcommand("generate",
                                  "Generate the workload a config describes into a "
                                  "request CSV (written atomically)");
  gen->add_option("--config", generate->config,
                  "YAML with `workload` (and optionally `seed`, `tasks`); a scenario file works")
      ->required()
      ->check(CLI::ExistingFile);
  gen->add_option("--out", generate->out, "Request CSV to write")->required();
  gen->add_option("--seed", generate->seed, "Master seed (overrides `seed`)")->check(SeedFlag());
  gen->callback([generate] { RunGenerate(*generate); });

  auto stats = std::make_shared<StatsFlags>();
  auto* st = cmd->add_subcommand(
      "stats",
      "Count, duration, mean rate, peak-to-mean (1 s, 60 s), inter-arrival CV, task "
      "mix and token quantiles of a request CSV or a trace");
  st->add_option("file", stats->file, "Request CSV or trace file (.csv, .csv.gz, .jsonl)")
      ->required()
      ->check(CLI::ExistingFile);
  st->add_option("--format", stats->format,
                 "auto, request_csv, azure_functions_2019, azure_functions_2021, azure_llm, "
                 "mooncake, burstgpt")
      ->capture_default_str();
  st->add_option("--spread", stats->spread,
                 "azure_functions_2019: spread within minutes (uniform, equidistant, poisson)")
      ->capture_default_str();
  st->add_option("--seed", stats->seed, "Seed of the azure_functions_2019 spread")
      ->capture_default_str();
  st->add_flag("--json", stats->json, "Print JSON instead of text");
  st->add_option("--plot", stats->plot,
                 "Also draw the rate over time (1 s and 60 s bins) to this PNG");
  st->add_option("--python", stats->python, "Python with matplotlib, for --plot")
      ->capture_default_str();
  st->add_option("--plot-script", stats->plot_script,
                 "Plotting script (default: <data folder>/scripts/plot_rate.py)");
  st->callback([stats] { RunStats(*stats); });

  auto fit = std::make_shared<FitFlags>();
  auto* ft = cmd->add_subcommand(
      "fit",
      "Fit maf1_like (to an Azure Functions 2019 file) or maf2_like (to an Azure LLM "
      "trace) and print the fit YAML (workloads/fits/)");
  ft->add_option("target", fit->kind, "maf1 or maf2")->required();
  ft->add_option("--trace", fit->trace, "The trace to fit to")
      ->required()
      ->check(CLI::ExistingFile);
  ft->add_option("--replicates", fit->replicates,
                 "Generator runs per statistic (default 20 for maf1, 32 for maf2)");
  ft->add_option("--seed", fit->seed, "Seed of the replicates")->capture_default_str();
  ft->add_option("--out", fit->out, "Also write the YAML here (atomically)");
  ft->callback([fit] { RunFit(*fit); });

  auto* kinds = cmd->add_subcommand("kinds", "List the registered workload kinds");
  kinds->callback([] {
    for (const WorkloadKind* k : WorkloadKindTable()) fmt::print("{:<16} {}\n", k->kind, k->help);
  });
}

}  // namespace bestserve::app
