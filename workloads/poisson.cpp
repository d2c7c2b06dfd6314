#include "workloads/poisson.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "workloads/request_sink.h"
#include "workloads/registry.h"

namespace bestserve {

std::unique_ptr<WorkloadGenerator> PoissonWorkload::FromConfig(const ConfigNode& section) {
  section.CheckKeys({"kind", "rate_rps", "duration_s", "num_requests", "task_mix", "start_s"});
  PoissonSettings s;
  s.rate_rps = section.GetPositiveDouble("rate_rps");
  if (section.Has("duration_s") && section.Has("num_requests")) {
    section.Fail("expected either 'duration_s' or 'num_requests', not both");
  }
  s.duration_s = section.GetPositiveDouble("duration_s", s.duration_s);
  s.num_requests = section.GetPositiveInt("num_requests", 0);
  s.start_s = section.GetNonNegativeDouble("start_s", 0.0);
  s.task_mix = section.MaybeChild("task_mix");
  // Refuse up front what the request sink would refuse after minutes of drawing.
  const double expected = s.num_requests > 0 ? static_cast<double>(s.num_requests) : s.rate_rps * s.duration_s;
  if (expected > static_cast<double>(kMaxWorkloadRequests)) {
    section.Fail(fmt::format("rate_rps x duration_s = {:g} requests expected; one run holds at most {}",
                             expected, kMaxWorkloadRequests));
  }
  return std::make_unique<PoissonWorkload>(std::move(s));
}

Workload PoissonWorkload::Generate(const WorkloadContext& ctx) const {
  BS_CHECK(ctx.tasks != nullptr);
  const TaskMixSchedule mix = TaskMixSchedule::Parse(settings_.task_mix, *ctx.tasks);
  Rng arrivals(DeriveSeed(ctx.seed, "arrivals"));
  Workload workload;
  if (settings_.num_requests > 0) {
    workload.reserve(static_cast<size_t>(settings_.num_requests));
  } else {
    // The expected count plus five standard deviations: one allocation almost always.
    const double expected = settings_.rate_rps * settings_.duration_s;
    workload.reserve(
        static_cast<size_t>(std::min(expected + 5.0 * std::sqrt(expected) + 16.0, 1e8)));
  }
  RequestSink sink(ctx, mix, &workload);
  double t = settings_.start_s;
  const double end_s = settings_.start_s + settings_.duration_s;
  while (true) {
    t += arrivals.Exponential(settings_.rate_rps);
    if (settings_.num_requests > 0) {
      if (static_cast<int64_t>(workload.size()) >= settings_.num_requests) break;
    } else if (t >= end_s) {
      break;
    }
    sink.Add(t, settings_.rate_rps);
  }
  return workload;
}

std::string PoissonWorkload::Describe() const {
  if (settings_.num_requests > 0) {
    return fmt::format("poisson(rate {} rps, {} requests)", settings_.rate_rps,
                       settings_.num_requests);
  }
  return fmt::format("poisson(rate {} rps, {} s)", settings_.rate_rps, settings_.duration_s);
}

// Registered in workloads/registry.cpp.
extern const WorkloadKind kPoissonWorkload{
    "poisson", "the paper's stable workload: Poisson arrivals at rate_rps for duration_s",
    [](const ConfigNode& s, const std::string&) { return PoissonWorkload::FromConfig(s); }};

}  // namespace bestserve
