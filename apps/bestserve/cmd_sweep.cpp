// `bestserve sweep ...`: grids of simulations as batch jobs (docs/sweeps.md).
//
//   sweep run GRID --out DIR [-j N] [--shard K/N]   run (a shard of) the cells; resumes
//   sweep GRID --out DIR ...                        the same, shorter
//   sweep merge DIR [--allow-missing]               one table + paired comparisons
//   sweep status DIR                                done / failed / missing cells
//   sweep plot DIR [--out FILE.png]                 performance and selection vs arrival rate
//
// The progress display lives here because it reads a clock (the library takes none).
#include <fmt/format.h>
#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "apps/bestserve/app_support.h"
#include "apps/bestserve/commands.h"
#include "sweep/merge.h"
#include "sweep/runner.h"
#include "common/format.h"

namespace bestserve::app {
namespace {

namespace fs = std::filesystem;

struct RunFlags {
  std::string grid;
  std::string out;
  std::optional<int32_t> jobs;
  std::string shard;
  bool dry_run = false;
  bool requests = false;
  bool quiet = false;

  void Add(CLI::App* cmd, bool grid_required) {
    auto* grid_option = cmd->add_option("grid", grid, "Grid YAML (docs/sweeps.md; experiments/sweeps/ has examples)")
                            ->check(CLI::ExistingFile);
    if (grid_required) grid_option->required();
    cmd->add_option("--out", out, "Output folder (cells/, grid.yaml; merge writes merged.csv there)");
    cmd->add_option("-j,--jobs", jobs,
                    "Worker threads (default: SLURM_CPUS_PER_TASK inside Slurm, else the CPUs this process may use)")
        ->check(WorkerCountFlag());
    cmd->add_option("--shard", shard,
                    "Run only shard K of N (0 <= K < N; cells with index mod N == K). Default inside a Slurm array "
                    "job: from SLURM_ARRAY_TASK_ID/MIN/STEP/COUNT");
    cmd->add_flag("--dry-run", dry_run, "Validate the grid and list this shard's cells; run nothing, write nothing");
    cmd->add_flag("--requests", requests, "Also write each cell's per-request log (cells/<id>.requests.csv)");
    cmd->add_flag("-q,--quiet", quiet, "No progress display");
  }
};

// Cells done / total, rate, ETA and failures: one rewritten line on a terminal, otherwise a
// plain line every 10% of the cells or 30 s (batch logs stay short).
class ProgressDisplay {
 public:
  using Clock = std::chrono::steady_clock;

  ProgressDisplay(const sweep::PreparedSweep& sweep, bool quiet)
      : sweep_(sweep), quiet_(quiet), tty_(::isatty(::fileno(stderr)) != 0), start_(Clock::now()) {}

  void operator()(const sweep::ProgressEvent& e) {
    const auto now = Clock::now();
    if (e.cell != nullptr && !e.error.empty()) {
      if (tty_ && !quiet_) std::fputs("\r\x1b[K", stderr);
      fmt::print(stderr, "cell {} {} ({}) failed: {}\n", e.cell->index, e.cell->id,
                 sweep::CellLabel(sweep_.grid, *e.cell), e.error);
    }
    if (quiet_) return;
    const bool last = e.finished == e.to_run;
    const double since_print = std::chrono::duration<double>(now - last_print_).count();
    const int64_t step = std::max<int64_t>(1, e.to_run / 10);
    const bool due = tty_ ? since_print >= 0.1 : (since_print >= 30.0 || e.finished >= next_plain_);
    if (!(e.cell == nullptr || last || due)) return;
    last_print_ = now;
    if (!tty_) next_plain_ = e.finished + step;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    std::string line = fmt::format("sweep: {}/{} cells done", e.already_done + e.finished - e.failed, e.in_shard);
    if (e.already_done > 0) line += fmt::format(" ({} from before)", e.already_done);
    if (e.failed > 0) line += fmt::format(", {} failed", e.failed);
    if (e.finished > 0 && elapsed > 0.0) {
      const double rate = static_cast<double>(e.finished) / elapsed;
      line += fmt::format(", {:.1f} cells/s, elapsed {}", rate, FormatDuration(elapsed));
      if (!last) line += fmt::format(", ETA {}", FormatDuration(static_cast<double>(e.to_run - e.finished) / rate));
    }
    if (tty_) {
      fmt::print(stderr, "\r\x1b[K{}{}", line, last ? "\n" : "");
    } else {
      fmt::print(stderr, "{}\n", line);
    }
    std::fflush(stderr);
  }

 private:
  const sweep::PreparedSweep& sweep_;
  bool quiet_;
  bool tty_;
  Clock::time_point start_;
  Clock::time_point last_print_{};
  int64_t next_plain_ = 0;
};

void RunSweepCommand(const RunFlags& flags) {
  if (flags.grid.empty()) throw CLI::RequiredError("grid");
  if (flags.out.empty() && !flags.dry_run) throw CLI::RequiredError("--out");
  const int32_t workers = flags.jobs.value_or(DefaultWorkers());
  sweep::PreparedSweep prepared = sweep::PrepareSweep(sweep::LoadGrid(flags.grid), workers);
  sweep::Shard shard;
  std::string shard_source = "whole grid";
  if (!flags.shard.empty()) {
    shard = sweep::ParseShard(flags.shard);
    shard_source = "--shard";
  } else if (auto slurm = sweep::ShardFromSlurmEnv(sweep::ProcessEnv)) {
    shard = *slurm;
    shard_source = fmt::format("Slurm array task {}", *sweep::ProcessEnv("SLURM_ARRAY_TASK_ID"));
  }
  const int64_t in_shard = static_cast<int64_t>(sweep::ShardCells(shard, static_cast<int64_t>(prepared.cells.size())).size());
  fmt::print("bestserve sweep '{}': {} cells from {} (grid hash {})\n", prepared.grid.name, prepared.cells.size(),
             flags.grid, prepared.grid_hash);
  fmt::print("  base scenario {}\n", prepared.grid.base);
  std::vector<std::string> axes;
  for (const auto& axis : prepared.grid.axes) axes.push_back(fmt::format("{} ({})", axis.name, axis.values.size()));
  fmt::print("  axes: {}\n", axes.empty() ? "none" : fmt::format("{}", fmt::join(axes, " x ")));
  fmt::print("  shard {} ({}): {} cells\n", shard.ToString(), shard_source, in_shard);
  if (flags.dry_run) {
    for (const auto& cell : prepared.cells) {
      if (shard.Holds(cell.index)) {
        fmt::print("  cell {} {}: {}\n", cell.index, cell.id, sweep::CellLabel(prepared.grid, cell));
      }
    }
    return;
  }
  sweep::RunOptions options;
  options.out_dir = flags.out;
  options.shard = shard;
  options.workers = workers;
  options.write_requests = flags.requests;
  ProgressDisplay display(prepared, flags.quiet);
  const auto start = ProgressDisplay::Clock::now();
  bool announced = false;
  const sweep::RunReport report = sweep::RunSweep(prepared, options, [&](const sweep::ProgressEvent& e) {
    if (!announced) {
      announced = true;
      fmt::print("  {} already done (skipped), {} to run on {} worker(s) -> {}\n", e.already_done, e.to_run,
                 std::min<int64_t>(options.workers, std::max<int64_t>(e.to_run, 1)), flags.out);
      std::fflush(stdout);
    }
    display(e);
  });
  const double wall_s = std::chrono::duration<double>(ProgressDisplay::Clock::now() - start).count();
  fmt::print("ran {} cells in {:.2f} s ({:.1f} cells/s); {} failed; {} of {} cells of this shard are done\n",
             report.ran, wall_s, wall_s > 0.0 ? static_cast<double>(report.ran) / wall_s : 0.0, report.failed,
             report.already_done + report.ran - report.failed, report.in_shard);
  if (report.failed > 0) {
    throw Error(fmt::format("{} cell(s) failed (errors in {}/cells/<id>.error.json); rerun the same command to "
                            "retry them (finished cells are skipped)",
                            report.failed, flags.out));
  }
  fmt::print("next: bestserve sweep merge {}\n", flags.out);
}

}  // namespace

void AddSweepCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("sweep", "Run a grid of simulations (local pool or Slurm array), merge, plot");
  cmd->require_subcommand(0, 1);
  cmd->footer("Shorthand: `bestserve sweep GRID --out DIR` is `bestserve sweep run GRID --out DIR`.");

  // The shorthand: the run flags on `sweep` itself.
  auto shorthand = std::make_shared<RunFlags>();
  shorthand->Add(cmd, /*grid_required=*/false);
  cmd->callback([cmd, shorthand] {
    if (!cmd->get_subcommands().empty()) return;
    if (shorthand->grid.empty()) {
      throw CLI::ValidationError("sweep", "expected a subcommand (run, merge, status, plot) or a GRID file; see "
                                          "`bestserve sweep --help`");
    }
    RunSweepCommand(*shorthand);
  });

  auto* run = cmd->add_subcommand("run", "Run the cells of a grid (or of one shard); finished cells are skipped");
  auto run_flags = std::make_shared<RunFlags>();
  run_flags->Add(run, /*grid_required=*/true);
  run->callback([run_flags] { RunSweepCommand(*run_flags); });

  auto* merge = cmd->add_subcommand("merge", "Gather a sweep's cells into merged.csv / merged.json / paired.csv");
  auto dir = std::make_shared<std::string>();
  auto merge_options = std::make_shared<sweep::MergeOptions>();
  merge->add_option("dir", *dir, "Sweep output folder")->required()->check(CLI::ExistingDirectory);
  merge->add_flag("--allow-missing", merge_options->allow_missing,
                  "Merge the cells present even if some are missing or failed (they are listed in merged.json)");
  merge->add_option("--reference", merge_options->reference,
                    "Reference router of the paired comparisons (default: the grid's paired.reference, else the "
                    "first router of the axis)");
  merge->add_option("--confidence", merge_options->confidence, "Confidence level of the paired intervals")
      ->check(CLI::Range(0.5, 0.9999));
  merge->callback([dir, merge_options] {
    const sweep::MergeResult result = sweep::MergeSweep(*dir, *merge_options);
    const auto& status = result.status;
    fmt::print("merged {} of {} cells of '{}' (grid hash {}) into {}/merged.csv and merged.json\n", status.done,
               status.total, status.manifest.name, status.manifest.grid_hash, *dir);
    if (!result.reference.empty()) {
      fmt::print("{} paired comparisons against '{}' ({:g}% t intervals over seeds) in {}/paired.csv\n",
                 result.num_comparisons, result.reference, 100.0 * merge_options->confidence, *dir);
    }
    if (!status.missing.empty()) {
      fmt::print(stderr, "warning: {} cells missing ({} failed); listed in merged.json\n", status.missing.size(),
                 status.NumFailed());
    }
  });

  auto* status_cmd = cmd->add_subcommand("status", "Count a sweep's finished, failed and missing cells");
  auto status_dir = std::make_shared<std::string>();
  status_cmd->add_option("dir", *status_dir, "Sweep output folder")->required()->check(CLI::ExistingDirectory);
  status_cmd->callback([status_dir] {
    const sweep::SweepStatus status = sweep::ReadSweepStatus(*status_dir);
    const int64_t failed = status.NumFailed();
    fmt::print("sweep '{}' (grid hash {}): {} cells: {} done, {} failed, {} not run yet\n", status.manifest.name,
               status.manifest.grid_hash, status.total, status.done, failed,
               static_cast<int64_t>(status.missing.size()) - failed);
    int listed = 0;
    for (const auto& miss : status.missing) {
      if (miss.error.empty() || ++listed > 10) continue;
      fmt::print("  failed: cell {} {} ({}): {}\n", miss.index, miss.id, miss.label, miss.error);
    }
  });

  auto* plot = cmd->add_subcommand("plot", "Plot performance and model selection vs arrival rate (reads merged.csv)");
  struct PlotFlags {
    std::string dir;
    std::string out;
    std::string metric = "mean_reward_fraction";
    std::string x;
    std::string spread = "minmax";
    std::vector<std::string> where;
    std::string python = "/usr/bin/python3";
    std::string script;
  };
  auto p = std::make_shared<PlotFlags>();
  plot->add_option("dir", p->dir, "Sweep output folder (merged)")->required()->check(CLI::ExistingDirectory);
  plot->add_option("--out", p->out, "PNG to write (default: DIR/sweep.png)");
  plot->add_option("--metric", p->metric, "Metric on the y axis (a merged.csv column)")->capture_default_str();
  plot->add_option("--x", p->x, "Arrival-rate column (default: rate_rps or workload.rate_rps)");
  plot->add_option("--spread", p->spread, "Band over seeds: minmax or sd")
      ->capture_default_str()
      ->check(CLI::IsMember({"minmax", "sd"}));
  plot->add_option("--where", p->where, "Keep only rows with AXIS=VALUE (repeatable), e.g. --where gpus=4");
  plot->add_option("--python", p->python, "Python with matplotlib (Debian's /usr/bin/python3 has it)")
      ->capture_default_str();
  plot->add_option("--plot-script", p->script, "Plotting script (default: <data folder>/scripts/plot_sweep.py)");
  plot->callback([p] {
    const std::string csv = (fs::path(p->dir) / "merged.csv").string();
    if (!fs::exists(csv)) ThrowConfigError("{}: not found; run `bestserve sweep merge {}` first", csv, p->dir);
    const std::string script =
        !p->script.empty() ? p->script : (fs::path(DataDir()) / "scripts" / "plot_sweep.py").string();
    if (!fs::exists(script)) ThrowConfigError("plotting script '{}' not found (set --plot-script)", script);
    const std::string out = p->out.empty() ? (fs::path(p->dir) / "sweep.png").string() : p->out;
    std::string command = fmt::format("{} {} --csv {} --out {} --metric {} --spread {}", ShellQuote(p->python),
                                      ShellQuote(script), ShellQuote(csv), ShellQuote(out), ShellQuote(p->metric),
                                      ShellQuote(p->spread));
    if (!p->x.empty()) command += " --x " + ShellQuote(p->x);
    for (const auto& condition : p->where) command += " --where " + ShellQuote(condition);
    std::fflush(stdout);
    const int status = std::system(command.c_str());
    if (status != 0) {
      throw Error(fmt::format("plot: `{}` failed (status {}); it needs matplotlib (Debian's /usr/bin/python3 has "
                              "it; choose another with --python)",
                              command, status));
    }
    fmt::print("plot: {}\n", out);
  });
}

}  // namespace bestserve::app
