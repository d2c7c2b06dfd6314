// The paper's unpredictable workloads: Poisson arrivals whose rate jumps between segments.
//
// Both workloads repeat: draw a rate r, draw a segment length n (a number of requests) from a
// geometric distribution with mean  segment_mean_requests + segment_requests_per_rps * r,
// serve n requests as a Poisson process at rate r, draw again; stop after num_requests
// requests (or at duration_s). Every request's nominal_rate_rps is its segment's rate r.
//
// kind: unpredictable1 (paper: "with probability 0.90 uniform in [0.25, 2], 0.08 uniform in
// [2, 40], 0.02 uniform in [40, 48]; geometric number of requests with mean 20 x rate")
//
//   | key                       | meaning                                           | default |
//   |---------------------------|---------------------------------------------------|---------|
//   | num_requests              | stop after this many requests                     | 10000   |
//   | duration_s                | stop at this time instead (exclusive with above)  | -       |
//   | rate_bands                | list of {weight, min_rps, max_rps}: pick a band   | paper's |
//   |                           | with probability weight/sum, then a uniform rate  |         |
//   | segment_requests_per_rps  | segment mean = this x rate (requests per rps)     | 20      |
//   | segment_geometric_min     | support of the segment length: 1 = {1,2,...},     | 1       |
//   |                           | 0 = {0,1,...} (empty segments possible)           |         |
//   | start_s                   | time origin; the first arrival is after it        | 0       |
//   | task_mix                  | task_mix.h (a fixed mix or a schedule)            | uniform |
//
// kind: unpredictable2 (paper: "the rate fluctuates between 1 and 48; the number of requests at
// each rate is geometric with mean 500")
//
//   | key                       | meaning                                           | default |
//   |---------------------------|---------------------------------------------------|---------|
//   | num_requests / duration_s | as above                                          | 10000   |
//   | min_rate_rps, max_rate_rps| the range the rate moves in                       | 1, 48   |
//   | rate_choice               | uniform: a fresh uniform rate per segment;        | uniform |
//   |                           | log_uniform: uniform in log(rate);                |         |
//   |                           | random_walk: previous rate + uniform(-step, step),|         |
//   |                           | reflected at the range ends (first: uniform)      |         |
//   | random_walk_step_rps      | step half-width for random_walk                   | 8       |
//   | segment_mean_requests     | segment mean (requests), whatever the rate        | 500     |
//   | segment_geometric_min     | as above                                          | 1       |
//   | start_s, task_mix         | as above                                          |         |
//
// Choices where the paper is silent (docs/workloads.md): segments are geometric on {1, 2, ...}
// (every drawn rate serves at least one request, so the fraction of segments per band is the
// band's probability); the gap before a segment's first request is drawn at the new rate (the
// Poisson process restarts at the previous arrival: memoryless, no idle gap between segments);
// the last segment is cut at num_requests. Streams: "segments" (rates, lengths), "arrivals"
// (gaps), plus "tasks" and "lengths" (request_sink.h).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/rng.h"
#include "workloads/workload_generator.h"

namespace bestserve {

struct RateBand {
  double weight = 1.0;
  double min_rps = 1.0;
  double max_rps = 1.0;
};

enum class RateChoice { kBands, kUniform, kLogUniform, kRandomWalk };

struct SegmentedRateSettings {
  RateChoice rate_choice = RateChoice::kBands;
  std::vector<RateBand> bands;  // kBands
  double min_rate_rps = 1.0;    // kUniform, kLogUniform, kRandomWalk
  double max_rate_rps = 48.0;
  double random_walk_step_rps = 8.0;
  double segment_mean_requests = 0.0;  // segment mean = this + per_rps * rate
  double segment_requests_per_rps = 0.0;
  int segment_geometric_min = 1;  // 1: {1, 2, ...}; 0: {0, 1, ...}
  int64_t num_requests = 10000;   // > 0 unless duration_s > 0
  double duration_s = 0.0;        // > 0: stop at start_s + duration_s instead
  double start_s = 0.0;
  std::optional<ConfigNode> task_mix;

  // The paper's defaults for the two workloads.
  static SegmentedRateSettings Unpredictable1();
  static SegmentedRateSettings Unpredictable2();
};

struct RateSegment {
  double rate_rps = 0.0;
  int64_t requests = 0;        // as drawn; the generator cuts the last segment at num_requests
  double mean_requests = 0.0;  // the geometric mean it was drawn with
};

// Draws the segment sequence. Exposed so tests can check rates and lengths directly.
class RateSegmentSampler {
 public:
  // Precondition: settings validated (ValidateSegmentedRateSettings).
  RateSegmentSampler(const SegmentedRateSettings& settings, uint64_t seed);
  RateSegment Next();

 private:
  double NextRate();
  const SegmentedRateSettings* settings_;
  Rng rng_;
  std::vector<double> cumulative_band_weight_;
  double previous_rate_ = -1.0;
};

class SegmentedRateWorkload : public WorkloadGenerator {
 public:
  SegmentedRateWorkload(std::string kind, SegmentedRateSettings settings);
  static std::unique_ptr<WorkloadGenerator> Unpredictable1FromConfig(const ConfigNode& section);
  static std::unique_ptr<WorkloadGenerator> Unpredictable2FromConfig(const ConfigNode& section);

  Workload Generate(const WorkloadContext& ctx) const override;
  std::string Describe() const override;
  const SegmentedRateSettings& settings() const { return settings_; }

 private:
  std::string kind_;
  SegmentedRateSettings settings_;
};

// Throws ConfigError (quoting the values) when the settings cannot define the process, e.g. a
// segment mean below 1 for the smallest rate with geometric support {1, 2, ...}.
void ValidateSegmentedRateSettings(const SegmentedRateSettings& settings, const ConfigNode* where);

// Geometric on {0, 1, 2, ...} with the given mean (> 0), by inversion.
int64_t GeometricAtLeastZero(Rng& rng, double mean);

}  // namespace bestserve
