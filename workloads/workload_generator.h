// The workload seam: a generator turns its settings and a seed into a time-sorted request list.
//
// Every generator (Poisson, the paper's unpredictable workloads, MMPP, MAF-style, trace replay)
// implements this one interface and is registered by name in workloads/registry.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/config.h"
#include "common/request.h"
#include "common/request_source.h"
#include "common/tasks.h"

namespace bestserve {

struct WorkloadContext {
  const TaskTable* tasks = nullptr;  // task names and per-task token-length distributions
  uint64_t seed = 0;                 // the run's master seed; derive named streams from it
};

class WorkloadGenerator {
 public:
  virtual ~WorkloadGenerator() = default;

  // Returns the requests sorted by arrival_s (ties keep generation order), with ids 0..n-1,
  // task ids valid for ctx.tasks, token counts >= 1. deadline_s is NaN unless the source
  // carries deadlines (the scenario's deadline rule fills it in). Same ctx, same result, byte
  // for byte. Throws ConfigError on unreadable inputs (trace files).
  virtual Workload Generate(const WorkloadContext& ctx) const = 0;

  // The same requests one at a time. By default Generate's list; a kind that can read or make
  // its requests lazily (the request CSV) overrides it so that long replays are not held.
  virtual std::unique_ptr<RequestSource> Open(const WorkloadContext& ctx) const {
    return std::make_unique<VectorRequestSource>(Generate(ctx));
  }

  // One line for logs and reports, e.g. "poisson(rate 2 rps, 40 s)".
  virtual std::string Describe() const = 0;
};

}  // namespace bestserve
