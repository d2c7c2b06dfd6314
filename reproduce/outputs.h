// From an experiment's cells to its outputs: figure data (CSV, one file per figure spec, in the
// layouts scripts/plot_reproduce.py draws), tables (Markdown + CSV, ours beside the paper's),
// and claim verdicts (each graded by its kind in reproduce/claims/). Pure functions of the data:
// nothing here reads clocks or files.
//
// Aggregation over seeds: a rate-sweep point is the mean over seeds of the per-run metric, with
// the min and max over seeds as its band; selection shares are pooled (requests sent to a model
// over all requests of the cells pooled). Tables give the mean over seeds, "± sample sd" when
// there is more than one seed.
#pragma once

#include <string>
#include <vector>

#include "reproduce/claims/claim_kind.h"
#include "reproduce/experiment_run.h"

namespace bestserve::reproduce {

// One entry of figures.json (the plot script's manifest).
struct FigureEntry {
  std::string id;
  std::string kind;  // plot layout: lines, stacked, bars, trace
  std::string csv;   // relative to the output folder
  std::string out;   // relative, without extension
  std::string title;
  std::string xlabel;
  std::string ylabel;
  bool log_x = false;
  std::string caption;
};

struct OutputFile {
  std::string path;  // relative to the output folder
  std::string text;
};

struct ExperimentOutputs {
  std::vector<OutputFile> files;      // data/*.csv, tables/*.md, tables/*.csv
  std::vector<FigureEntry> figures;
  std::vector<std::string> tables_markdown;  // in table order, for REPORT.md
  std::vector<ClaimResult> claims;
};

// `banner` (quick mode's label; empty at full scale) heads every table file.
ExperimentOutputs BuildOutputs(const ExperimentData& data, const std::string& banner = "");

// The paper's threshold labels: "= 1.00", ">= 0.99", ...
std::string ThresholdLabel(double threshold);

}  // namespace bestserve::reproduce
