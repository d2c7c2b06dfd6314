// `bestserve reproduce`: the whole paper from one plan (reproduce/plan.h): train or reuse the
// policies (reproduce/policy_cache.h), run every experiment (reproduce/experiment_run.h), and
// write the outputs (reproduce/outputs.h) and REPORT.md.
//
// Output folder (DIR):
//   REPORT.md        every claim of the paper, our figure and table beside it, a verdict each
//   claims.csv       id, experiment, verdict, paper, ours (one row per claim)
//   tables/<id>.md   Tables 2-4, ours beside the paper's (and .csv)
//   data/<fig>.csv   the data of every figure (layouts: scripts/plot_reproduce.py)
//   figures.json     the plot manifest; figures/<fig>.png and .svg are drawn from it
//   run.json         mode, seeds, policies (cache keys, iterations, trained or reused), timings
// Everything but run.json (timings) is a function of the plan, the mode and the code: the same
// inputs give byte-identical files, whatever the number of workers.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "reproduce/plan.h"

namespace bestserve::reproduce {

struct ReproduceOptions {
  std::string out_dir;
  std::string cache_dir;
  bool quick = false;
  bool retrain = false;
  int32_t workers = 1;
  std::function<double()> clock;                      // monotonic seconds (progress, run.json)
  std::function<void(const std::string&)> status;     // progress line (rewritten) / log lines
  std::function<void(const std::string&)> log;
  // Draws the figures of DIR/figures.json (the plot script); called after the data and before
  // REPORT.md, so a REPORT.md never links figures that were not drawn. Throws to stop the run.
  std::function<void(const std::string& out_dir)> draw_figures;
};

struct ReproduceResult {
  int64_t reproduced = 0;
  int64_t partly = 0;
  int64_t not_reproduced = 0;
  double seconds = 0.0;
  std::string report;  // path of REPORT.md
};

// Runs the plan and writes DIR (figures through options.draw_figures, when given). Throws ConfigError/Error; files already written stay whole (atomic writes).
ReproduceResult Reproduce(const Plan& plan, const ReproduceOptions& options);

}  // namespace bestserve::reproduce
