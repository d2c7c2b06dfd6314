// Running one experiment of the plan: every (variant, run, rate, seed) cell is one simulation
// on its own scenario, on a pool of worker threads; results are kept in cell order, so the
// outputs do not depend on the number of workers.
//
// Cell scenario = the experiment's scenario, then its `set`, the variant's `set`, the run's
// `set`, the rate (rate_sweep: workload.rate_rps) and the seed. Runs of one variant, rate and
// seed see the same requests (common random numbers), as long as their `set` leaves the
// workload alone.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <tuple>
#include <string>
#include <vector>

#include "reproduce/plan.h"
#include "sim/metrics.h"

namespace bestserve::reproduce {

struct CellKey {
  int variant = 0;
  int run = 0;
  int rate = 0;      // index into ExperimentSpec::rates (0 for workload experiments)
  int64_t seed = 1;  // 1..seeds
};

// Per-request facts of a cell, kept for the first seed of workload experiments (trace figures).
struct TracePoint {
  double arrival_s = 0.0;
  double rate_rps = 0.0;  // the generator's nominal rate (NaN when unknown)
  double reward = 0.0;
  double peak = 0.0;
};

struct CellResult {
  CellKey key;
  Summary summary;
  std::vector<TracePoint> trace;
};

struct ExperimentData {
  const ExperimentSpec* spec = nullptr;
  int64_t seeds = 1;
  std::vector<std::string> models;
  std::vector<std::string> tasks;
  std::vector<CellResult> cells;  // in ListCells order

  // Adds a cell (RunExperiment adds them in ListCells order; tests build data by hand). The
  // first cell's summary names the models and tasks when they are not set.
  void Add(CellResult cell);
  // The cell, or nullptr when the run does not run in that variant.
  const CellResult* Find(int variant, int run, int rate, int64_t seed) const;

 private:
  std::map<std::tuple<int, int, int, int64_t>, size_t> index_;
};

// The cells of an experiment in a fixed order: variant, run, rate, seed (outermost first).
std::vector<CellKey> ListCells(const ExperimentSpec& spec, int64_t seeds);

// Runs every cell. `policy_files`: policy name -> policy file (for "trained:<name>" runs).
// `progress(done, total)` is called after each cell, never concurrently. The first failing cell
// stops the experiment with its error (naming the experiment file, the run and the cell).
ExperimentData RunExperiment(const ExperimentSpec& spec, int64_t seeds,
                             const std::map<std::string, std::string>& policy_files, int32_t workers,
                             const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace bestserve::reproduce
