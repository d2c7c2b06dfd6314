// Decisions per second of the C++ environment alone (env/gym_env.h over env/routing_env.h),
// random actions, one thread: the ceiling that bench/python/env_bench.py compares the Python
// environments against in the same run.
//
//   env_bench [--steps N] [--workload YAML]   (training config: experiments/train/paper_hard.yaml)
#include <fmt/format.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "agent/env/gym_env.h"
#include "agent/train/train_run.h"

int main(int argc, char** argv) {
  using namespace bestserve;
  int64_t steps = 2'000'000;
  TrainOverrides overrides;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--steps") == 0) steps = std::stoll(argv[i + 1]);
    if (std::strcmp(argv[i], "--workload") == 0)
      overrides.set_values.emplace_back("training_workload", argv[i + 1]);
  }
  const TrainConfig config = LoadTrainConfig(
      std::string(BESTSERVE_SOURCE_DIR) + "/experiments/train/paper_hard.yaml", overrides);
  const TrainEnvironmentParts parts = MakeTrainEnvironmentParts(config);
  GymRoutingEnv env(parts.scenario, parts.training_workload, parts.settings, 1);
  std::vector<float> obs(static_cast<size_t>(env.spec().observation_size));
  std::mt19937_64 rng(0);
  env.Reset(obs.data());
  const bench::Stopwatch watch;
  for (int64_t k = 0; k < steps; ++k) {
    if (env.Step(static_cast<int32_t>(rng() % 3), obs.data()).terminated) env.Reset(obs.data());
  }
  const double seconds = watch.Seconds();
  fmt::print("env_bench: {}; {}; commit {}\n", bench::CpuModel(), bench::BuildType(),
             bench::GitCommit());
  fmt::print("decisions_per_second {:.0f}\n", static_cast<double>(steps) / seconds);
  return 0;
}
