// Operations on whole workloads: merge, time-window cut, rate scaling.
//
// All keep the Workload invariants (sorted by arrival_s, ids 0..n-1) and are deterministic:
// ties keep their input order.
#pragma once

#include <vector>

#include "common/config.h"
#include "common/request.h"
#include "workloads/workload_generator.h"

namespace bestserve {

// Merges time-sorted workloads into one; equal arrival times keep source order (an earlier
// part first). Ids are renumbered.
Workload MergeWorkloads(const std::vector<Workload>& parts);

// Keeps requests with arrival_s in [start_s, end_s) and shifts them by -start_s, so the window
// starts at 0. Ids are renumbered.
Workload CutWindow(const Workload& workload, double start_s, double end_s);

// Compresses time around `origin_s` so that every rate is multiplied by `factor` (> 0):
// arrival_s -> origin_s + (arrival_s - origin_s) / factor; nominal rates are multiplied too.
// Deadlines and token counts are unchanged.
void ScaleRate(Workload* workload, double factor, double origin_s);

// Mean arrival rate N / (t_last - t_first), as defined in shared/traces/README.md. NaN with
// fewer than two requests or a zero span.
double MeanRate(const Workload& workload);

void Renumber(Workload* workload);

// kind: merge: the superposition of several workloads.
//
//   | key                    | meaning                                              | default |
//   |------------------------|------------------------------------------------------|---------|
//   | sources                | list of {workload, offset_s, rate_scale}             | required|
//   | sources[i].workload    | any workload section (its own `kind`)                | required|
//   | sources[i].offset_s    | shift of the source's times (>= 0)                    | 0       |
//   | sources[i].rate_scale  | rate multiplier, times compressed around 0 (> 0)      | 1       |
//
// Source i is generated with the seed DeriveSeed(seed, "merge/i"), so sources are independent
// and adding a source does not move the others.
class MergeWorkload : public WorkloadGenerator {
 public:
  struct Source {
    std::unique_ptr<WorkloadGenerator> generator;
    double offset_s = 0.0;
    double rate_scale = 1.0;
  };
  explicit MergeWorkload(std::vector<Source> sources) : sources_(std::move(sources)) {}
  static std::unique_ptr<WorkloadGenerator> FromConfig(const ConfigNode& section,
                                                       const std::string& base_dir);
  Workload Generate(const WorkloadContext& ctx) const override;
  std::string Describe() const override;

 private:
  std::vector<Source> sources_;
};

}  // namespace bestserve
