// Merging a sweep's cell files into one table, with paired comparisons between routers.
//
// Reads only DIR/grid.yaml (the manifest) and DIR/cells/: no scenario or grid file is needed,
// so merging works wherever the folder is (a login node, a laptop).
//
//   merged.csv   one row per finished cell, in product order: index, cell_id, one column per
//                axis (its label; plus `router` when the grid has no router axis), then every
//                metric of sweep/runner.h FlattenSummary (empty where a cell lacks one).
//   merged.json  the same rows (axes and metrics objects), the axes, the missing cells and the
//                paired comparisons.
//   paired.csv   the paired comparisons, one row per (group, router, metric).
//
// Paired comparisons (sweep/stats.h): a group is one combination of the values of every axis
// except the router and the seed (so, per arrival rate and per workload, profile, ...); within a
// group, each router is compared with the reference router seed by seed, over the seeds where
// both cells are finished. Reference: MergeOptions::reference, else the grid's
// `paired.reference`, else the first value of the router axis. No router axis: no comparisons.
//
// Refusals: cell files from another grid (grid hash or id not in the manifest) are a
// ConfigError naming them; missing cells (never run, or failed) are an Error listing them,
// unless allow_missing, in which case the rows present are merged and the rest listed in
// merged.json. Same cell files => byte-identical outputs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sweep/grid.h"

namespace bestserve::sweep {

// What merge reads back from DIR/grid.yaml.
struct ManifestAxis {
  std::string name;
  std::string key_path;
  std::vector<std::string> labels;
  bool IsRouter() const { return key_path == "router"; }
};
struct Manifest {
  std::string path;
  std::string name;
  std::string grid_hash;
  std::vector<ManifestAxis> axes;
  std::vector<Cell> cells;
  std::string paired_reference;
  std::vector<std::string> paired_metrics;
};
Manifest ReadManifest(const std::string& dir);

// Why the cell file at `path` is not a complete result of cell `cell_id` of the grid with
// `grid_hash` (unreadable, truncated, another grid or cell, a metric that is neither a number
// nor null), or nullopt when it is one. `sweep run` recomputes such a cell, merge counts it
// missing: a damaged file is never reused.
std::optional<std::string> CellFileProblem(const std::string& path, const std::string& grid_hash,
                                           const std::string& cell_id);

struct MissingCell {
  int64_t index = 0;
  std::string id;
  std::string label;  // "rate_rps=2, router=greedy, seed=1"
  std::string error;  // the recorded error when the cell failed; empty when it never ran
};

struct SweepStatus {
  Manifest manifest;
  int64_t total = 0;
  int64_t done = 0;
  std::vector<MissingCell> missing;  // in cell order; failed ones carry their error
  int64_t NumFailed() const;
};

// Scans DIR/cells against the manifest; ConfigError on files from another grid.
SweepStatus ReadSweepStatus(const std::string& dir);

struct MergeOptions {
  bool allow_missing = false;
  std::string reference;     // a router label; empty: see the header comment
  double confidence = 0.95;  // of the paired intervals
};

struct MergeResult {
  SweepStatus status;
  std::string csv;
  std::string json;
  std::string paired_csv;
  std::string reference;     // the reference router used; empty without a router axis
  int64_t num_comparisons = 0;
};

// Builds the merged outputs (writes nothing). Throws as described in the header comment.
MergeResult BuildMerge(const std::string& dir, const MergeOptions& options = {});
// BuildMerge, then writes merged.csv, merged.json and paired.csv into DIR atomically.
MergeResult MergeSweep(const std::string& dir, const MergeOptions& options = {});

// One CSV field, quoted when it holds a comma, quote or line break (RFC 4180).
std::string CsvField(const std::string& text);

}  // namespace bestserve::sweep
