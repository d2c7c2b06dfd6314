// Fitting maf1_like and maf2_like (maf_like.h) to real traces; `bestserve workload fit`.
//
// maf1_like <- Azure Functions 2019 per-minute counts (shared/traces/azure_functions_2019_*).
//   Moment estimates from the per-minute totals (the data has no finer resolution):
//   mean rate = total / (minutes * 60); a minute is a dip when its total is below
//   kDipThreshold x the median; dip_depth = mean dip total / mean non-dip total;
//   dip_mean_intervals = dip minutes / episodes; dip_starts_per_hour = episodes / non-dip hours;
//   log_sd^2 = var(log total) - 1 / mean total over non-dip minutes (minus the Poisson part, by
//   the delta method); ar1 = lag-1 autocovariance of log totals over adjacent non-dip minutes /
//   log_sd^2. The diurnal amplitude is not identifiable from a 4-hour window: it stays 0.
//
// maf2_like <- Azure LLM inference 2023 (the bursty LLM trace we have; no MAF2/Azure Functions
//   2021 file is available, see shared/traces/README.md). ar1 is the moment estimate from
//   per-minute counts as above; log_sd, burst_fraction and burst_intensity_rps are chosen by
//   Nelder-Mead to minimize the sum of squared log-ratios between the generator's statistics
//   (averaged over `replicates` runs of the trace's duration, common random numbers) and the
//   trace's peak-to-mean over 1 s and 60 s windows and inter-arrival CV; the mean rate is set to
//   the trace's. burst_alpha (1.5) and burst_min_requests (2) are fixed: four statistics cannot
//   identify more shape parameters.
//
// Both report "what the generator gives": every statistic's mean and standard deviation over
// the replicates at the fitted parameters, next to the trace's value.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "workloads/maf_like.h"

namespace bestserve {

inline constexpr double kDipThreshold = 0.75;

struct FitStatistic {
  std::string name;
  double target = 0.0;  // NaN when the trace does not define it
  double achieved_mean = 0.0;
  double achieved_sd = 0.0;
  bool in_objective = false;  // used to choose parameters (maf2) or matched by construction
};

struct MafFit {
  std::string kind;  // maf1_like | maf2_like
  std::string trace_path;
  std::string trace_format;
  int64_t trace_requests = 0;
  double trace_duration_s = 0.0;
  ModulatedSettings fitted;
  std::vector<std::string> estimated_keys;  // settings keys the fit sets
  std::vector<std::string> fixed_keys;      // settings keys held at documented values
  std::vector<FitStatistic> statistics;
  std::vector<std::string> method;  // one sentence per line
  int replicates = 0;
  uint64_t seed = 0;
  int evaluations = 0;  // objective evaluations (maf2)
  double objective = 0.0;
};

MafFit FitMaf1(const std::string& azure_functions_2019_path, int replicates, uint64_t seed);
MafFit FitMaf2(const std::string& azure_llm_path, int replicates, uint64_t seed);

// The fit as YAML (workloads/fits/*.yaml), opening with the command that reproduces it.
std::string FormatMafFitYaml(const MafFit& fit, const std::string& command);

// The fitted settings recorded in a fit YAML's `fitted:` map, applied over `base`.
ModulatedSettings ReadMafFitSettings(const std::string& yaml_path, ModulatedSettings base);

}  // namespace bestserve
