// Sweep throughput: the paper's Figure-2 sweep (experiments/sweeps/figure2.yaml: 40 rates from
// 0.25 to 48 requests/s, 40 s each, 4 routers, 3 seeds = 480 cells) end to end, as
// `bestserve sweep run` + `merge` do it: validation of every cell, the worker pool, one cell
// file per cell, the merge. Wall time and cells/s for each worker count, and the scaling.
// Each run starts from an empty output folder (nothing to resume). Floor: 120 s per run.
//
//   cmake -B build -DBESTSERVE_BUILD_BENCH=ON && cmake --build build --target sweep_bench
//   build/bench/sweep/sweep_bench [--grid FILE] [--workers 1,2] [--repeats R] [--quick]
//
// --quick: a 12-cell grid, for the ctest smoke run.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "sweep/merge.h"
#include "sweep/runner.h"

using namespace bestserve;
namespace fs = std::filesystem;

namespace {

constexpr double kFloorS = 120.0;

const char* kQuickGrid = R"(name: quick
fixed: {workload.duration_s: 10}
axes:
  rate_rps: [1, 8, 24]
  router: [greedy, dedicated:opt-6.7b]
  seed: {count: 2}
)";

}  // namespace

int main(int argc, char** argv) {
  std::string grid_path = (fs::path(DataDir()) / "experiments/sweeps/figure2.yaml").string();
  std::vector<int32_t> workers = {1, 2};
  int repeats = 1;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quick") {
      quick = true;
    } else if (i + 1 < argc && arg == "--grid") {
      grid_path = argv[++i];
    } else if (i + 1 < argc && arg == "--repeats") {
      repeats = std::max(1, std::stoi(argv[++i]));
    } else if (i + 1 < argc && arg == "--workers") {
      workers.clear();
      std::string list = argv[++i];
      for (size_t pos = 0; pos <= list.size();) {
        const size_t comma = std::min(list.find(',', pos), list.size());
        workers.push_back(std::max(1, std::stoi(list.substr(pos, comma - pos))));
        pos = comma + 1;
      }
    } else {
      fmt::print(stderr, "usage: sweep_bench [--grid FILE] [--workers 1,2] [--repeats R] [--quick]\n");
      return 2;
    }
  }
  const fs::path scratch = fs::temp_directory_path() / fmt::format("bestserve-sweep-bench-{}", ::getpid());
  try {
    bench::Stopwatch validate_watch;
    const sweep::Grid grid =
        quick ? sweep::ParseGrid(ConfigNode::LoadString(kQuickGrid, "quick-grid"), "") : sweep::LoadGrid(grid_path);
    const sweep::PreparedSweep prepared = sweep::PrepareSweep(grid);
    const double validate_s = validate_watch.Seconds();
    const auto cells = static_cast<double>(prepared.cells.size());

    fmt::print("sweep_bench: {} | {} CPU(s) | build {} | commit {}\n", bench::CpuModel(),
               sysconf(_SC_NPROCESSORS_ONLN), bench::BuildType(), bench::GitCommit());
    fmt::print("grid '{}' ({}): {} cells; validating every cell: {:.2f} s\n\n", prepared.grid.name,
               quick ? "built-in quick grid" : grid_path, prepared.cells.size(), validate_s);
    fmt::print("{:>8} {:>12} {:>12} {:>10} {:>10} {:>9} {:>8}\n", "workers", "run wall s", "total s", "cells/s",
               "merge s", "speedup", "floor");
    double one_worker_s = 0.0;
    bool all_under_floor = true;
    for (int32_t w : workers) {
      double best_run = 1e30;
      double best_total = 1e30;
      double merge_s = 0.0;
      for (int r = 0; r < repeats; ++r) {
        const std::string dir = (scratch / fmt::format("w{}_r{}", w, r)).string();
        fs::remove_all(dir);
        // Validation is part of what a user waits for: `sweep run` does it every time.
        bench::Stopwatch total_watch;
        const sweep::PreparedSweep again = sweep::PrepareSweep(grid, w);
        sweep::RunOptions options;
        options.out_dir = dir;
        options.workers = w;
        bench::Stopwatch run_watch;
        const sweep::RunReport report = sweep::RunSweep(again, options);
        const double run_s = run_watch.Seconds();
        bench::Stopwatch merge_watch;
        sweep::MergeSweep(dir);
        merge_s = merge_watch.Seconds();
        const double total_s = total_watch.Seconds();
        if (report.ran != static_cast<int64_t>(cells) || report.failed != 0) {
          fmt::print(stderr, "sweep_bench: ran {} cells, {} failed\n", report.ran, report.failed);
          return 1;
        }
        best_run = std::min(best_run, run_s);
        best_total = std::min(best_total, total_s);
        fs::remove_all(dir);
      }
      if (w == workers.front()) one_worker_s = best_run;
      const bool under = best_total < kFloorS;
      all_under_floor = all_under_floor && under;
      fmt::print("{:>8} {:>12.2f} {:>12.2f} {:>10.1f} {:>10.2f} {:>8.2f}x {:>8}\n", w, best_run, best_total,
                 cells / best_run, merge_s, one_worker_s / best_run, under ? "ok" : "MISSED");
    }
    fmt::print("\nrun wall: the worker pool only (cells simulated and written); total: validation + run + merge, "
               "from an empty folder. Floor: total < {:.0f} s.\n",
               kFloorS);
    fs::remove_all(scratch);
    return all_under_floor ? 0 : 1;
  } catch (const std::exception& e) {
    fs::remove_all(scratch);
    fmt::print(stderr, "sweep_bench: {}\n", e.what());
    return 1;
  }
}
