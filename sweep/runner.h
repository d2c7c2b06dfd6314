// Running a sweep: validate every cell up front, then run the cells of one shard on a pool of
// worker threads, each finished cell written atomically to its own file.
//
// Output folder (DIR):
//   grid.yaml             the grid as resolved (a valid grid file) + grid hash + cell list
//   cells/<id>.json       a finished cell: axes, router, every summary metric, resolved config
//   cells/<id>.error.json a failed cell: its error (removed when a rerun succeeds)
//   cells/<id>.requests.csv  per-request log, only with RunOptions::write_requests
//   merged.csv, merged.json, paired.csv   written by `bestserve sweep merge` (sweep/merge.h)
//
// Resume: a cell whose <id>.json exists (with this grid's hash) is skipped, so a rerun after
// kill -9 loses only the cells that were in flight; failed cells are retried. A folder that
// holds another grid (different hash) is refused before anything runs.
//
// Grid hash: FNV-1a 64 over, for every cell in product order, the FNV-1a 64 (16 hex digits) of
// its id, its router and its fully resolved scenario config (ResolvedConfigYaml); then the axis
// names and value labels (what outputs show); then each policy file's path and bytes. So any
// change to the base scenario, the fixed settings, the axes, their order (which moves cells
// between shards), a label or a policy file's contents gives a new hash; comments and key
// order in the files do not. The grid's name and `paired` settings are not hashed: a rerun
// rewrites the manifest with them.
//
// Threads: each worker loads its own Scenario and simulator; the PreparedSweep is shared
// read-only; counters are under one mutex. No clocks here: the progress callback gets counts,
// and the caller adds time (the app's ETA display).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "scenario/compare.h"
#include "sweep/grid.h"
#include "sweep/shard.h"

namespace bestserve::sweep {

inline constexpr const char* kCellFormat = "bestserve-sweep-cell-1";
inline constexpr const char* kManifestFormat = "bestserve-sweep-grid-1";

struct PreparedSweep {
  Grid grid;
  std::vector<Cell> cells;
  std::string grid_hash;  // 16 hex digits
};

// Loads every cell's scenario and builds its router, on `workers` threads, so a bad cell fails
// before any runs (ConfigError naming the grid, the first bad cell in cell order and its axis
// values, then the scenario's message); and computes the grid hash.
PreparedSweep PrepareSweep(Grid grid, int32_t workers = 1);

// One cell, run from scratch on its own scenario.
struct CellRun {
  Scenario scenario;
  RouterResult result;
  std::string router;  // the router as it appears in outputs (the axis label, or the scenario's)
};
CellRun RunCell(const PreparedSweep& sweep, const Cell& cell);

// The scalar metrics of a summary, flattened in a fixed order ("selection_<model>",
// "selection_<task>_<model>", "windows_ge_0.99", ...): name -> number text (shortest
// round-trip; "null" for NaN). These are the metric columns of merged.csv.
std::vector<std::pair<std::string, std::string>> FlattenSummary(const Summary& summary);

std::string FormatCellJson(const PreparedSweep& sweep, const Cell& cell, const CellRun& run);
std::string FormatCellErrorJson(const PreparedSweep& sweep, const Cell& cell, const std::string& error);

std::string CellPath(const std::string& dir, const std::string& id);
std::string CellErrorPath(const std::string& dir, const std::string& id);
std::string ManifestPath(const std::string& dir);

// grid.yaml: a valid grid file (running it again resumes) plus grid_hash, source and cells.
std::string FormatManifest(const PreparedSweep& sweep);

// Creates DIR/cells and writes DIR/grid.yaml, or checks that the one there has this grid's
// hash (ConfigError otherwise). Safe when several array tasks start at once.
void InitSweepDir(const PreparedSweep& sweep, const std::string& dir);

// True when DIR/cells/<id>.json holds this grid's result for the cell.
bool IsCellFinished(const PreparedSweep& sweep, const Cell& cell, const std::string& dir);

struct RunOptions {
  std::string out_dir;
  Shard shard;              // default: the whole grid
  int32_t workers = 1;      // >= 1
  bool write_requests = false;
  // Test seam: runs in the worker before each cell; an exception from it fails the cell.
  std::function<void(const Cell&)> before_cell;
};

struct ProgressEvent {
  int64_t in_shard = 0;      // cells in this shard
  int64_t already_done = 0;  // finished before this run (skipped)
  int64_t to_run = 0;        // cells this run executes
  int64_t finished = 0;      // of to_run, done so far (failed included)
  int64_t failed = 0;
  const Cell* cell = nullptr;  // the cell just finished; nullptr for the start event
  std::string error;           // its error, when it failed
};
// Called once before the first cell (cell == nullptr) and after each cell, never concurrently.
using ProgressCallback = std::function<void(const ProgressEvent&)>;

struct RunReport {
  int64_t in_shard = 0;
  int64_t already_done = 0;
  int64_t ran = 0;
  int64_t failed = 0;
  std::vector<std::pair<const Cell*, std::string>> failures;  // in cell order
};

// Runs the shard's unfinished cells. Calls InitSweepDir first. A failing cell is recorded
// (cells/<id>.error.json) and the others go on.
RunReport RunSweep(const PreparedSweep& sweep, const RunOptions& options, const ProgressCallback& progress = {});

}  // namespace bestserve::sweep
