// Fitting raw latency measurements into the profile-set tables the simulator interpolates.
//
// Input: the raw CSV of profiles/tools/profile_gpu.py (raw_measurements.h) and its provenance
// record (provenance_record.h). Output: a profile set in sim/latency_profile.h's format, with
// `provenance.kind: measured`, plus a human-readable fit report.
//
// The method (docs/profiling.md has the long form):
//  * decode_step_ms: the medians over the measured batch x context grid, unchanged, so the
//    simulator's bilinear interpolation is exact at every measured point. The grid must be
//    complete; `incomplete_grid` decides what happens when a cell was not measured (error, or
//    drop the batch sizes / contexts that have a hole; dropping never invents a value).
//  * prefill_ms: the simulator looks prefill up by the total prompt tokens of an iteration.
//    A measured point of `b` prompts of `p` tokens maps to b x p tokens. Several points can map
//    to one total (1 x 512 and 4 x 128); `prefill_mapping` picks: max (default, the slowest
//    composition: the simulator never under-estimates a measured composition), mean, or
//    batch1 (only single-prompt points, p tokens). The report lists every collision and its
//    spread.
//  * weight_bytes, kv_bytes_per_token: the measured value when there is one (CUDA allocator,
//    tensor sizes), else the computed one; both are shown in the report.
//    activation_reserve_bytes: the measured activation peak (CUDA only), else 0 with a warning.
//  * max_batch_size: the largest batch of the decode table; max_context_tokens: the model's
//    positions from the provenance record.
//  * Monotonicity: every place where latency decreases with batch, context or tokens is a
//    warning in the report (noting whether it lies within the p10-p90 spread). Values are never
//    altered silently; `monotone_repair` (off by default) replaces each value by the running
//    maximum along the axes and logs every change, in the report and in the provenance.
//  * Interpolation error: leave-one-out on interior grid points: each interior value is
//    predicted by linear interpolation from its two neighbours along one axis and compared
//    with the measurement (relative error). This doubles the grid spacing, so it overstates the
//    error the simulator makes between neighbouring measured points.
//  * Co-location: ratio = median step latency of a model while its peer runs / its solo
//    median at the same point; the simulator's interference_factor for one busy neighbour is
//    ratio - 1. Reported and kept in the provenance; on a CPU run flagged as meaningless.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "profiles/tools/provenance_record.h"
#include "profiles/tools/raw_measurements.h"
#include "sim/latency_profile.h"

namespace bestserve::profiling {

enum class PrefillMapping { kMax, kMean, kBatchOne };
enum class IncompleteGrid { kError, kDropBatches, kDropContexts };

// Parse the option spellings ("max", "mean", "batch1"; "error", "drop-batches",
// "drop-contexts"); ConfigError listing the valid ones otherwise.
PrefillMapping ParsePrefillMapping(const std::string& text);
IncompleteGrid ParseIncompleteGrid(const std::string& text);
std::string PrefillMappingName(PrefillMapping mapping);
std::string IncompleteGridName(IncompleteGrid rule);

struct FitOptions {
  std::string name = "measured";  // the profile set's name (a scenario's `profile:` key)
  PrefillMapping prefill_mapping = PrefillMapping::kMax;
  IncompleteGrid incomplete_grid = IncompleteGrid::kError;
  bool monotone_repair = false;
  ExtrapolationRule extrapolation = ExtrapolationRule::kError;
  std::string fit_command;  // recorded in the provenance
};

struct DecodeTable {
  std::vector<double> batch_sizes;
  std::vector<double> context_tokens;
  std::vector<double> median_ms;  // row-major by batch size, as Table2D
  std::vector<double> p10_ms;
  std::vector<double> p90_ms;
};

struct PrefillTable {
  std::vector<double> tokens;
  std::vector<double> median_ms;
  std::vector<double> p10_ms;
  std::vector<double> p90_ms;
};

struct ModelFit {
  std::string name;
  double parameters = 0.0;
  double weight_bytes = 0.0;
  double kv_bytes_per_token = 0.0;
  double activation_reserve_bytes = 0.0;
  int64_t max_batch_size = 0;
  int64_t max_context_tokens = 0;
  DecodeTable decode;
  PrefillTable prefill;
  std::string notes;
};

struct ColocationPoint {
  std::string model;
  std::string peer_model;
  int64_t batch_size = 0;
  int64_t context_tokens = 0;
  int64_t peer_batch_size = 0;
  int64_t peer_context_tokens = 0;
  double solo_ms = 0.0;
  double colocated_ms = 0.0;
  double ratio() const { return colocated_ms / solo_ms; }
};

struct FitResult {
  std::vector<ModelFit> models;
  std::vector<ColocationPoint> colocation;
  std::vector<std::string> repairs;  // every value the monotone repair changed
  std::vector<std::string> dropped;  // grid rows/columns removed from incomplete grids
  int64_t warnings = 0;
  std::string report;  // the fit report (text)
  std::string yaml;    // the profile set (loads with ProfileSet::Parse unchanged)
};

// Fits every model of `raw`. Throws ConfigError for input that cannot make a profile (no decode
// or prefill measurements, an incomplete grid under IncompleteGrid::kError, a model missing
// from the provenance record). Pure: reads and writes no files.
FitResult FitProfileSet(const RawMeasurements& raw, const ProvenanceRecord& provenance,
                        const FitOptions& options);

// Leave-one-out check of linear interpolation on interior points of y(x): for each 0 < i <
// n - 1 with y[i] > 0, |lerp(x[i]; neighbours) - y[i]| / y[i].
struct LeaveOneOutPoint {
  size_t index = 0;
  double predicted = 0.0;
  double relative_error = 0.0;
};
std::vector<LeaveOneOutPoint> LeaveOneOut(const std::vector<double>& xs,
                                          const std::vector<double>& ys);

// The profile set's default name for an output path: its folder's name
// ("profiles/h100/profile.yaml" -> "h100"), or "measured" when it has none.
std::string DefaultSetName(const std::string& out_path);

}  // namespace bestserve::profiling
