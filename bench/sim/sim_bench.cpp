// Simulator throughput: simulated requests/s and events/s on the paper's 4-GPU system, one
// thread. Workload: unpredictable #1 when registered (the paper's bursty workload), else a
// Poisson stand-in at 24 requests/s. Routing cost is included (every arrival asks the router).
//
//   cmake -B build -DBESTSERVE_BUILD_BENCH=ON && cmake --build build --target sim_bench
//   build/bench/sim/sim_bench [--requests N] [--repeats R]
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "scenario/scenario.h"
#include "workloads/registry.h"

using namespace bestserve;

int main(int argc, char** argv) {
  int64_t requests = 200000;
  int repeats = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--requests") == 0) requests = std::stoll(argv[i + 1]);
    if (std::strcmp(argv[i], "--repeats") == 0) repeats = std::stoi(argv[i + 1]);
  }
  Scenario scenario = LoadScenario("");
  const auto kinds = WorkloadKinds();
  const bool have_unpredictable = std::find(kinds.begin(), kinds.end(), "unpredictable1") != kinds.end();
  const std::string workload_yaml =
      have_unpredictable ? fmt::format("kind: unpredictable1\nnum_requests: {}\n", requests)
                         : fmt::format("kind: poisson\nrate_rps: 24\nnum_requests: {}\n", requests);
  scenario.workload = MakeWorkloadGenerator(ConfigNode::LoadString(workload_yaml, "bench-workload"), "");
  const Workload workload = MakeScenarioWorkload(scenario);

  fmt::print("sim_bench: {} | build {} | commit {}\n", bench::CpuModel(), bench::BuildType(), bench::GitCommit());
  fmt::print("system: paper 4-GPU (3 models per GPU), workload {}, {} requests, best of {} runs\n\n",
             scenario.workload->Describe(), workload.size(), repeats);
  fmt::print("{:<18} {:>14} {:>16} {:>14} {:>12}\n", "router", "events", "events/s", "requests/s", "wall s");
  for (const std::string spec : {"static:opt-1.3b", "threshold", "greedy"}) {
    auto router = MakeScenarioRouter(scenario, spec);
    double best = 1e30;
    int64_t events = 0;
    for (int r = 0; r < repeats; ++r) {
      bench::Stopwatch watch;
      auto sim = RunSimulation(scenario, workload, *router);
      const double seconds = watch.Seconds();
      events = sim->counters().events;
      best = std::min(best, seconds);
    }
    fmt::print("{:<18} {:>14} {:>16.0f} {:>14.0f} {:>12.3f}\n", spec, events, events / best,
               static_cast<double>(workload.size()) / best, best);
  }
  return 0;
}
