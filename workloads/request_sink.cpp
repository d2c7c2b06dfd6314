#include "workloads/request_sink.h"

namespace bestserve {

RequestSink::RequestSink(const WorkloadContext& ctx, const TaskMixSchedule& mix, Workload* out)
    : tasks_(ctx.tasks),
      mix_(&mix),
      out_(out),
      task_rng_(DeriveSeed(ctx.seed, "tasks")),
      lengths_(DeriveSeed(ctx.seed, "lengths")) {
  BS_CHECK(tasks_ != nullptr);
  BS_CHECK(out_ != nullptr);
}

}  // namespace bestserve
