// Writes the C++ trainer environment's trajectory for a training config, a master seed and a
// list of actions, so the Python tests can check that bestserve.RoutingEnv steps the same
// episode. Deliberately independent of env/gym_env.h: it drives RoutingEnvironment as
// agent/trainer.cpp does (episode e's seed = CounterSeed(DeriveSeed(seed, "agent/episodes"), e)).
//
//   trajectory_dump CONFIG SEED ACTIONS_FILE OUT_FILE [KEY=YAML ...]
//
// ACTIONS_FILE: one action per line; when an episode ends the next one starts (episode 1, ...).
// OUT_FILE lines, floats as %.9g (exact for float32):
//   reset <episode> <obs...>
//   step <action> <terminated 0|1> <obs...>
//   credit <decision> <reward>        (the transitions of the preceding step, in order)
#include <cstdio>
#include <fstream>
#include <iostream>

#include "agent/train/trainer.h"
#include "common/error.h"
#include "common/rng.h"
#include "agent/env/routing_env.h"
#include "agent/train/train_run.h"

namespace {

void WriteFloats(std::FILE* out, const std::vector<float>& values) {
  for (float v : values) std::fprintf(out, " %.9g", static_cast<double>(v));
  std::fprintf(out, "\n");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace bestserve;
  if (argc < 5) {
    std::cerr << "usage: trajectory_dump CONFIG SEED ACTIONS_FILE OUT_FILE [KEY=YAML ...]\n";
    return 2;
  }
  try {
    TrainOverrides overrides;
    overrides.seed = std::stoull(argv[2]);
    for (int i = 5; i < argc; ++i) {
      const std::string item = argv[i];
      const auto eq = item.find('=');
      overrides.set_values.emplace_back(item.substr(0, eq), item.substr(eq + 1));
    }
    const TrainConfig config = LoadTrainConfig(argv[1], overrides);
    const TrainEnvironmentParts parts = MakeTrainEnvironmentParts(config);
    RoutingEnvironment env(*parts.scenario, parts.training_workload, parts.settings);
    const uint64_t stream = DeriveSeed(config.seed, "agent/episodes");
    std::ifstream actions(argv[3]);
    std::FILE* out = std::fopen(argv[4], "w");
    if (!out) throw Error(std::string("cannot write ") + argv[4]);
    int64_t episode = 0;
    std::fprintf(out, "reset %lld", static_cast<long long>(episode));
    WriteFloats(out, env.Reset(CounterSeed(stream, static_cast<uint64_t>(episode))));
    int32_t action = 0;
    while (actions >> action) {
      const StepResult r = env.Step(action);
      std::fprintf(out, "step %d %d", action, r.episode_over ? 1 : 0);
      WriteFloats(out, r.episode_over ? std::vector<float>(
                                            static_cast<size_t>(env.spec().observation_size), 0.0f)
                                      : r.observation);
      for (const Transition& t : r.completed) {
        std::fprintf(out, "credit %lld %.9g\n", static_cast<long long>(t.decision),
                     static_cast<double>(t.reward));
      }
      if (r.episode_over) {
        ++episode;
        std::fprintf(out, "reset %lld", static_cast<long long>(episode));
        WriteFloats(out, env.Reset(CounterSeed(stream, static_cast<uint64_t>(episode))));
      }
    }
    std::fclose(out);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 3;
  }
  return 0;
}
