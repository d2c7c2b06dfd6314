// agent_bench: throughput of a full Double-DQN update (online forward on s and s', target
// forward on s', backward, Adam) for the paper's network readings, fast path and libtorch CPU
// in the same run, single thread; plus the trainer loop's own overhead on a trivial environment.
//
//   build-agent/bench/agent/agent_bench [--seconds 3] [--batch 1024] [--no-torch]
//
// FLOPs are counted densely (2 per multiply-add): three forward passes of the batch
// (online on s, online on s', target on s'), weight gradients of every layer and input
// gradients of every layer but the first. The fast path skips the zero columns of the output
// layer's gradient, so its nominal FLOP/s slightly overstates the arithmetic it performs.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "agent/learn/fast_learner.h"
#include "agent/learn/learner.h"
#include "agent/train/trainer.h"
#include "bench/bench_util.h"
#include "common/rng.h"
#include "tests/agent/random_batch.h"
#if BESTSERVE_BENCH_HAS_TORCH
#include "agent/learn/torch_learner.h"
#endif

namespace bestserve {
namespace {

constexpr double kPeakGflopsPerCore = 222.0;  // fp32, AVX-512 FMA, this machine's class

double NominalFlopsPerUpdate(const MlpShape& shape, int batch) {
  double forward_macs = 0.0;
  double input_grad_macs = 0.0;
  for (int l = 0; l < shape.num_layers(); ++l) {
    const double macs = static_cast<double>(shape.LayerInputs(l)) * shape.LayerOutputs(l);
    forward_macs += macs;
    if (l > 0) input_grad_macs += macs;
  }
  return 2.0 * batch * (3.0 * forward_macs + forward_macs + input_grad_macs);
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// Updates per second: the median and the best of ten windows of seconds/10 each, after a
// warm-up. The best window is the figure least disturbed by other processes on a shared machine.
struct Rate {
  double median = 0.0;
  double best = 0.0;
};

Rate MeasureUpdates(QLearner& learner, const TransitionBatch& batch, double seconds) {
  for (int i = 0; i < 5; ++i) learner.Update(batch);
  std::vector<double> rates;
  for (int window = 0; window < 10; ++window) {
    int64_t updates = 0;
    const auto start = std::chrono::steady_clock::now();
    double elapsed = 0.0;
    do {
      learner.Update(batch);
      ++updates;
      elapsed = Seconds(start);
    } while (elapsed < seconds / 10.0);
    rates.push_back(static_cast<double>(updates) / elapsed);
  }
  std::sort(rates.begin(), rates.end());
  return {0.5 * (rates[4] + rates[5]), rates.back()};
}

void Report(const std::string& backend, const MlpShape& shape, int batch, Rate rate) {
  const double flops = NominalFlopsPerUpdate(shape, batch);
  fmt::print("{:<10} {:<14} {:>6} {:>10.0f} {:>10.0f} {:>9.1f} {:>8.1f}% {:>12.1f}\n", backend,
             shape.ToString(), batch, rate.median, rate.best, flops * rate.best / 1e9,
             100.0 * flops * rate.best / 1e9 / kPeakGflopsPerCore, 1.2e6 / rate.best / 60.0);
}

// A trivial environment: the trainer loop's own cost (acting, replay, RNG) without a simulator.
class NullEnvironment final : public Environment {
 public:
  explicit NullEnvironment(int observation_size) {
    spec_.observation_size = observation_size;
    spec_.num_actions = 3;
    spec_.observation_encoding = "bench-null-v1";
  }
  const EnvSpec& spec() const override { return spec_; }
  std::vector<float> Reset(uint64_t episode_seed) override {
    rng_ = Rng(episode_seed);
    return Observe();
  }
  StepResult Step(int32_t action) override {
    StepResult result;
    Transition t;
    t.observation = last_;
    t.action = action;
    t.reward = static_cast<float>(rng_.Uniform01());
    result.observation = Observe();
    t.next_observation = result.observation;
    result.completed.push_back(std::move(t));
    return result;
  }

 private:
  std::vector<float> Observe() {
    last_.resize(static_cast<size_t>(spec_.observation_size));
    for (auto& v : last_) v = static_cast<float>(rng_.Uniform01());
    return last_;
  }
  EnvSpec spec_;
  Rng rng_{0};
  std::vector<float> last_;
};

}  // namespace
}  // namespace bestserve

int main(int argc, char** argv) {
  using namespace bestserve;
  CLI::App app{"agent_bench: Double-DQN update throughput"};
  double seconds = 3.0;
  int batch_size = 1024;
  bool no_torch = false;
  std::string only;
  int64_t loop_iterations = 20000;
  app.add_option("--seconds", seconds, "measuring time per configuration");
  app.add_option("--batch", batch_size, "transitions per update");
  app.add_option("--loop-iterations", loop_iterations, "trainer-loop iterations to time");
  app.add_flag("--no-torch", no_torch, "skip the libtorch backend");
  app.add_option("--network", only, "only this network, e.g. 8-256-3");
  CLI11_PARSE(app, argc, argv);

  fmt::print("machine: {}\nbuild type: {}\nBESTSERVE_NATIVE: {}\ncommit: {}\nthreads: 1 (fast, torch-cpu), 2 (fast-2t)\n",
             bench::CpuModel(), BESTSERVE_BUILD_TYPE, BESTSERVE_BENCH_NATIVE ? "ON" : "OFF", bench::GitCommit());
#if BESTSERVE_BENCH_HAS_TORCH
  SetTorchThreads(1);
  fmt::print("libtorch: {}\n", TorchVersion());
#endif
  fmt::print("peak assumed: {} GFLOP/s fp32 per core\n\n", kPeakGflopsPerCore);
  fmt::print("{:<10} {:<14} {:>6} {:>10} {:>10} {:>9} {:>9} {:>12}\n", "backend", "network",
             "batch", "upd/s med", "upd/s best", "GFLOP/s", "of peak", "1.2M (min)");

  std::vector<MlpShape> shapes;
  for (MlpShape shape : {MlpShape{8, {256}, 3}, MlpShape{8, {256, 256}, 3}}) {
    if (only.empty() || only == shape.ToString()) shapes.push_back(shape);
  }
  LearnerSettings settings;
  const LearnerHyperparameters hp = LearnerHyperparameters::From(settings);
  for (const MlpShape& shape : shapes) {
    Rng rng(12345);
    const LearnerState state = FreshLearnerState(InitMlpParameters(shape, rng));
    const TransitionBatch batch = testing::RandomBatch(shape, batch_size, rng, 0.01);
    auto fast = MakeFastLearner(shape, hp, state);
    Report("fast", shape, batch_size, MeasureUpdates(*fast, batch, seconds));
    // The same learner on two threads, from the same state; then both from one state again,
    // 20 updates each, must hold the same bits (the split is along sums, never across them).
    auto fast2 = MakeFastLearnerOnThreads(shape, hp, state, 2);
    Report("fast-2t", shape, batch_size, MeasureUpdates(*fast2, batch, seconds));
    {
      auto one = MakeFastLearnerOnThreads(shape, hp, state, 1);
      auto two = MakeFastLearnerOnThreads(shape, hp, state, 2);
      for (int i = 0; i < 20; ++i) {
        one->Update(batch);
        two->Update(batch);
      }
      const bool same = one->GetState().online == two->GetState().online;
      fmt::print("{:<10} {:<14} 1 and 2 threads after 20 updates: {}\n", "", shape.ToString(),
                 same ? "identical bits" : "DIFFERENT BITS");
      if (!same) return 1;
    }
#if BESTSERVE_BENCH_HAS_TORCH
    if (!no_torch) {
      auto torch_learner = MakeTorchLearner(shape, hp, state, "cpu");
      Report("torch-cpu", shape, batch_size, MeasureUpdates(*torch_learner, batch, seconds));
    }
#endif
  }

  // The whole trainer loop on a trivial environment: one decision + one update per iteration.
  fmt::print("\ntrainer loop (null environment, learning from the first batch):\n");
  for (const MlpShape& shape : shapes) {
   for (int threads : {1, 2}) {
    LearnerSettings loop = settings;
    loop.hidden_sizes = shape.hidden_sizes;
    loop.iterations = loop_iterations;
    loop.batch_size = batch_size;
    loop.learning_starts = batch_size;
    loop.replay_capacity = std::max<int64_t>(batch_size, 100'000);
    loop.checkpoint_every_iterations = 0;
    loop.eval_every_iterations = 0;
    NullEnvironment env(shape.input_size);
    Trainer trainer(loop, 7, env,
                    [threads](const MlpShape& s, const LearnerHyperparameters& h, const LearnerState& st) {
                      return MakeFastLearnerOnThreads(s, h, st, threads);
                    });
    const auto start = std::chrono::steady_clock::now();
    trainer.Run();
    const double elapsed = Seconds(start);
    const double rate = static_cast<double>(loop_iterations) / elapsed;
    fmt::print(
        "{:<10} {:<14} {:>12.0f} iterations/s  -> 1.2M iterations in {:.1f} min "
        "(+ environment cost)\n",
        threads == 1 ? "fast" : "fast-2t", shape.ToString(), rate, 1.2e6 / rate / 60.0);
   }
  }
  return 0;
}
