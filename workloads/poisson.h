// Stable workload: Poisson arrivals at a fixed rate (the paper's "stable" workload).
//
//   | key           | meaning                                              | default  |
//   |---------------|------------------------------------------------------|----------|
//   | rate_rps      | arrival rate, requests per second (> 0)              | required |
//   | duration_s    | stop at this time (exclusive)                        | 40       |
//   | num_requests  | stop after this many requests (instead of duration)  | -        |
//   | task_mix      | see task_mix.h (a fixed mix or a schedule)           | uniform  |
//   | start_s       | time of the origin; the first arrival is after it    | 0        |
//
// Inter-arrival gaps are exponential, drawn from the "arrivals" stream; tasks from "tasks";
// token counts from "lengths". No gap is capped (vidur caps gaps at 3/lambda and so raises
// the effective rate about 5%; we do not).
#pragma once

#include "common/config.h"
#include "workloads/task_mix.h"
#include "workloads/workload_generator.h"

namespace bestserve {

struct PoissonSettings {
  double rate_rps = 1.0;
  double duration_s = 40.0;  // used when num_requests == 0
  int64_t num_requests = 0;  // > 0: a request count instead of a duration
  double start_s = 0.0;
  std::optional<ConfigNode> task_mix;  // parsed against the task table at generation
};

class PoissonWorkload : public WorkloadGenerator {
 public:
  explicit PoissonWorkload(PoissonSettings settings) : settings_(std::move(settings)) {}
  static std::unique_ptr<WorkloadGenerator> FromConfig(const ConfigNode& section);

  Workload Generate(const WorkloadContext& ctx) const override;
  std::string Describe() const override;

 private:
  PoissonSettings settings_;
};

}  // namespace bestserve
