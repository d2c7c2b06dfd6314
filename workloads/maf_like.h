// kind: maf1_like and kind: maf2_like: arrival processes modelled on production traces.
//
// Both kinds are one doubly stochastic Poisson process with different defaults (the fits in
// workloads/fits/, docs/workloads.md "MAF fits"):
//
//   rate(t) = mean_rate_rps * diurnal(t) * m_k * d_k / dip_mean,   k = interval holding t
//
//   diurnal(t) = 1 + diurnal_amplitude * cos(2 pi (time_of_day(t) - diurnal_peak_s) / period)
//   m_k        = exp(log_sd * z_k - log_sd^2 / 2), z_k a stationary AR(1) with unit variance and
//                lag-1 correlation ar1 (so E[m_k] = 1): per-interval ("per-minute") variation
//   d_k        = dip_depth inside a dip episode, else 1. Episodes start with probability
//                dip_starts_per_hour * interval_s / 3600 per normal interval and last a
//                geometric number of intervals with mean dip_mean_intervals (MAF1's sample has
//                short episodes where the dominant function's load halves)
//   dip_mean   = 1 - f_dip * (1 - dip_depth), f_dip the long-run fraction of dip intervals, so
//                the long-run mean rate is mean_rate_rps (a full diurnal period averages to 1)
//
// A fraction burst_fraction of the requests comes in bursts: burst starts form a Poisson
// process at rate(t) * burst_fraction / E[size]; a burst has size min(floor(X), burst_max) with
// X ~ Pareto(burst_min_requests, burst_alpha) (heavy-tailed: infinite variance for alpha < 2),
// and its requests follow the start at exponential gaps of rate burst_intensity_rps. The rest
// arrive as a Poisson process at rate(t) * (1 - burst_fraction). Within an interval the rate is
// constant (evaluated at the interval's midpoint), so the simulation is exact.
//
//   | key                   | meaning                                          | maf1 | maf2 |
//   |-----------------------|--------------------------------------------------|------|------|
//   | mean_rate_rps         | long-run mean arrival rate                        | fit  | fit  |
//   | duration_s            | stop at start_s + duration_s                      | 3600 | 3600 |
//   | num_requests          | stop after this many requests instead             | -    | -    |
//   | start_s               | time origin                                       | 0    | 0    |
//   | start_time_of_day_s   | time of day at start_s (diurnal phase)            | 0    | 0    |
//   | diurnal_amplitude     | in [0, 1)                                         | 0    | 0    |
//   | diurnal_period_s      | > 0                                               | 86400| 86400|
//   | diurnal_peak_s        | time of day of the peak                           | 50400| 50400|
//   | interval_s            | modulation interval (> 0)                         | 60   | 60   |
//   | log_sd                | sd of log m_k (>= 0)                              | fit  | fit  |
//   | ar1                   | lag-1 correlation of z_k, in [0, 1)               | fit  | fit  |
//   | dip_starts_per_hour   | >= 0 (0: no dips)                                 | fit  | 0    |
//   | dip_mean_intervals    | >= 1                                              | fit  | 1    |
//   | dip_depth             | rate factor in dips, in [0, 1]                    | fit  | 1    |
//   | burst_fraction        | fraction of requests in bursts, in [0, 1)         | 0    | fit  |
//   | burst_alpha           | Pareto shape (> 1, or any > 0 with burst_max)     | 1.5  | 1.5  |
//   | burst_min_requests    | Pareto scale, an integer >= 1                     | 2    | 2    |
//   | burst_max_requests    | cap on a burst's size (0: none); a named cap      | 0    | 0    |
//   | burst_intensity_rps   | rate of the requests inside a burst (> 0)         | 10   | fit  |
//   | task_mix              | task_mix.h                                        |      |      |
//
// Every request's nominal_rate_rps is rate(t) of its interval (for burst requests: of the
// interval the burst started in). Streams: "modulation" (z_k, dips), "arrivals" (background
// gaps and burst starts), "bursts" (sizes, gaps inside bursts).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/rng.h"
#include "workloads/workload_generator.h"

namespace bestserve {

struct ModulatedSettings {
  double mean_rate_rps = 1.0;
  double duration_s = 3600.0;  // used when num_requests == 0
  int64_t num_requests = 0;
  double start_s = 0.0;
  double start_time_of_day_s = 0.0;
  double diurnal_amplitude = 0.0;
  double diurnal_period_s = 86400.0;
  double diurnal_peak_s = 14.0 * 3600.0;
  double interval_s = 60.0;
  double log_sd = 0.0;
  double ar1 = 0.0;
  double dip_starts_per_hour = 0.0;
  double dip_mean_intervals = 1.0;
  double dip_depth = 1.0;
  double burst_fraction = 0.0;
  double burst_alpha = 1.5;
  int64_t burst_min_requests = 2;
  int64_t burst_max_requests = 0;
  double burst_intensity_rps = 10.0;
  std::optional<ConfigNode> task_mix;

  // The fitted defaults (workloads/fits/maf1_like.yaml, maf2_like.yaml).
  static ModulatedSettings Maf1Defaults();
  static ModulatedSettings Maf2Defaults();
};

// Throws ConfigError quoting the offending values.
void ValidateModulatedSettings(const ModulatedSettings& s);

// E[min(floor(X), cap)] for X ~ Pareto(x_min, alpha); cap <= 0 means none (then alpha > 1).
double ExpectedBurstSize(int64_t x_min, double alpha, int64_t cap);

// Standard normal by Box-Muller from two engine draws (our own, so portable).
double StandardNormal(Rng& rng);

class ModulatedWorkload : public WorkloadGenerator {
 public:
  ModulatedWorkload(std::string kind, ModulatedSettings settings);
  static std::unique_ptr<WorkloadGenerator> FromConfig(const ConfigNode& section,
                                                       const std::string& kind,
                                                       ModulatedSettings defaults);

  Workload Generate(const WorkloadContext& ctx) const override;
  std::string Describe() const override;

  // The arrival process alone (no tasks or lengths): times and nominal rates, in time order.
  // Used by Generate and by the fits, which need many replicates fast.
  void GenerateArrivals(uint64_t seed, std::vector<double>* arrival_s,
                        std::vector<double>* nominal_rate_rps) const;

  const ModulatedSettings& settings() const { return settings_; }

 private:
  // The process itself; calls emit(arrival_s, nominal_rate_rps) in time order. A template so
  // that Generate feeds the request sink directly (no intermediate arrays).
  template <typename Emit>
  void Run(uint64_t seed, Emit&& emit) const;

  std::string kind_;
  ModulatedSettings settings_;
  double expected_burst_size_ = 1.0;
  double dip_mean_ = 1.0;
  double dip_fraction_ = 0.0;
};

}  // namespace bestserve
