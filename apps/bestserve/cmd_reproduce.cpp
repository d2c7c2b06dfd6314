// `bestserve reproduce`: every table and figure of the paper from experiments/paper/reproduce.yaml.
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "apps/bestserve/app_support.h"
#include "apps/bestserve/commands.h"
#include "reproduce/reproduce.h"
#include "scenario/scenario.h"

namespace bestserve::app {
namespace {

namespace fs = std::filesystem;

struct ReproduceFlags {
  std::string plan;
  std::string out = "results/reproduce";
  std::string cache;
  std::vector<std::string> only;
  bool quick = false;
  bool retrain = false;
  bool no_plots = false;
  std::optional<int32_t> jobs;
  std::string python = "/usr/bin/python3";
  std::string script;
};

void RunReproduce(const ReproduceFlags& flags) {
  const std::string plan_path =
      !flags.plan.empty() ? flags.plan : (fs::path(DataDir()) / "experiments" / "paper" / "reproduce.yaml").string();
  reproduce::Plan plan = reproduce::LoadPlan(plan_path);
  if (!flags.only.empty()) plan = reproduce::SelectOutputs(plan, flags.only);
  const std::string script =
      !flags.script.empty() ? flags.script : (fs::path(DataDir()) / "scripts" / "plot_reproduce.py").string();
  if (!flags.no_plots && !fs::exists(script)) {
    ThrowConfigError("plotting script '{}' not found (set --plot-script, or --no-plots)", script);
  }

  reproduce::ReproduceOptions options;
  options.out_dir = flags.out;
  options.cache_dir = !flags.cache.empty() ? flags.cache
                      : std::getenv("BESTSERVE_CACHE_DIR") != nullptr
                          ? std::string(std::getenv("BESTSERVE_CACHE_DIR"))
                          : (fs::path("results") / "policy-cache").string();
  options.quick = flags.quick;
  options.retrain = flags.retrain;
  options.workers = flags.jobs.value_or(DefaultWorkers());
  const auto start = std::chrono::steady_clock::now();
  options.clock = [start] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  // On a terminal the status line is rewritten in place; in a log, a status line at most every
  // 15 s keeps batch logs short.
  const bool tty = isatty(fileno(stderr)) != 0;
  auto last = std::make_shared<double>(-1e9);
  options.status = [tty, last, clock = options.clock](const std::string& line) {
    const double now = clock();
    if (tty) {
      if (now - *last < 0.1) return;
      fmt::print(stderr, "\r\x1b[K{}", line);
    } else {
      if (now - *last < 15.0) return;
      fmt::print(stderr, "{}\n", line);
    }
    *last = now;
    std::fflush(stderr);
  };
  options.log = [tty](const std::string& line) {
    fmt::print(stderr, "{}{}\n", tty ? "\r\x1b[K" : "", line);
    std::fflush(stderr);
  };

  fmt::print(stderr, "bestserve reproduce: {} ({} mode), {} experiment(s), {} polic{}, {} worker(s) -> {}\n",
             plan.source, flags.quick ? "quick" : "full", plan.experiments.size(), plan.policies.size(),
             plan.policies.size() == 1 ? "y" : "ies", options.workers, flags.out);
  if (!flags.no_plots) {
    options.draw_figures = [&flags, &script](const std::string& out) {
      std::string command = fmt::format("{} {} {}", ShellQuote(flags.python), ShellQuote(script), ShellQuote(out));
      command += " >/dev/null";
      const int status = std::system(command.c_str());
      if (status != 0) {
        throw Error(fmt::format("plots: `{}` failed (status {}); the data and tables are written, REPORT.md is "
                                "not (it would link figures that do not exist). The script needs matplotlib "
                                "(Debian's /usr/bin/python3 has it; choose another with --python), or skip it "
                                "with --no-plots",
                                command, status));
      }
    };
  }
  const reproduce::ReproduceResult result = reproduce::Reproduce(plan, options);
  if (tty) fmt::print(stderr, "\r\x1b[K");
  fmt::print("reproduce: {} claims reproduced, {} partly, {} not reproduced, in {:.0f} s\n", result.reproduced,
             result.partly, result.not_reproduced, result.seconds);
  fmt::print("report: {}\n", result.report);
}

}  // namespace

void AddReproduceCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("reproduce", "Regenerate the paper's tables and figures, ours beside the paper's");
  auto flags = std::make_shared<ReproduceFlags>();
  cmd->add_option("--plan", flags->plan, "Reproduction plan (default: <data folder>/experiments/paper/reproduce.yaml)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--out", flags->out, "Output folder (REPORT.md, tables/, data/, figures/)")->capture_default_str();
  cmd->add_flag("--quick", flags->quick, "Reduced training budgets and seeds (labelled as such in every output)");
  cmd->add_option("--only", flags->only, "Only these tables/figures, comma-separated (e.g. fig2,table2)")
      ->delimiter(',');
  cmd->add_option("--cache", flags->cache,
                  "Policy cache folder (default: $BESTSERVE_CACHE_DIR, else results/policy-cache)");
  cmd->add_flag("--retrain", flags->retrain, "Train every policy again, ignoring cached ones");
  cmd->add_option("-j,--jobs", flags->jobs, "Worker threads (default: the CPUs available)")->check(WorkerCountFlag());
  cmd->add_flag("--no-plots", flags->no_plots, "Write data, tables and REPORT.md, but draw no figures");
  cmd->add_option("--python", flags->python, "Python with matplotlib for the plots")->capture_default_str();
  cmd->add_option("--plot-script", flags->script, "Plotting script (default: <data folder>/scripts/plot_reproduce.py)");
  cmd->callback([flags] { RunReproduce(*flags); });
}

}  // namespace bestserve::app
