// Decision latency of the deployable router (router/lib/router.h) for the paper's network
// (8-256-3) and the two-hidden-layer reading (8-256-256-3), one core: single decisions (median
// and p99 in ns, each call timed) and batches (ns per decision), with two comparisons measured in
// the same run: the reference forward pass (MlpForwardOne, router/policy/mlp.h: the trainer's
// greedy policy, whose bits the router reproduces, built for the baseline ISA) and libtorch's
// forward of the same network. Then the machine's ceilings, measured in the same run
// (bench/router/ceilings.h): the arithmetic at the peak of separate multiplies and adds, and the
// reading of every weight once at the rate one core streams that many bytes.
//
//   cmake -B build -DBESTSERVE_BUILD_BENCH=ON && cmake --build build --target router_bench
//   build/bench/router/router_bench
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "router/policy/mlp.h"
#include "router/policy/weights_format.h"
#include "bench/bench_util.h"
#include "bench/router/ceilings.h"
#include "router/lib/router.h"
#include "tests/router/router_fixtures.h"

using namespace bestserve;
using Clock = std::chrono::steady_clock;

namespace {

struct Stats {
  double median_ns;
  double p99_ns;
};

Stats Summarize(std::vector<double> ns) {
  std::sort(ns.begin(), ns.end());
  return {ns[ns.size() / 2], ns[static_cast<size_t>(0.99 * static_cast<double>(ns.size()))]};
}

template <typename F>
Stats TimeEach(int n, F&& f) {
  std::vector<double> ns(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    const auto start = Clock::now();
    f(i);
    ns[static_cast<size_t>(i)] = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
  }
  return Summarize(std::move(ns));
}

}  // namespace

int main() {
  torch::set_num_threads(1);
  fmt::print("router_bench: {} | build {} | commit {} | one thread\n", bench::CpuModel(), bench::BuildType(),
             bench::GitCommit());
  const int n = 200000;
  const Stats timer = TimeEach(n, [](int) {});
  fmt::print("timer overhead (empty timed call): median {:.0f} ns, p99 {:.0f} ns (included in the figures below)\n\n",
             timer.median_ns, timer.p99_ns);
  fmt::print("{:<14} {:>22} {:>16} {:>22} {:>20} {:>22} {:>10}\n", "network", "router single (ns)",
             "reference (ns)", "libtorch single (ns)", "router batch 1024", "libtorch batch 1024", "batch");
  fmt::print("{:<14} {:>22} {:>16} {:>22} {:>20} {:>22} {:>10}\n", "", "median / p99", "median", "median / p99",
             "(ns/decision)", "(ns/decision)", "vs torch");
  const double peak_flops = bench::UnfusedPeakFlops();
  std::vector<std::string> ceilings;
  for (const std::vector<int>& hidden : {std::vector<int>{256}, std::vector<int>{256, 256}}) {
    const PolicyWeights w = testing::RandomRoutingPolicy(1, hidden);
    const auto router = Router::FromBytes(EncodePolicyWeights(w), "bench");
    // Inputs: a fixed set of varied states, cycled.
    Rng rng(2);
    const int states = 4096;
    std::vector<int32_t> tasks(states), in_flight(states * 3);
    std::vector<double> rates(states);
    for (int i = 0; i < states; ++i) {
      tasks[static_cast<size_t>(i)] = static_cast<int32_t>(rng.UniformIndex(4));
      for (int m = 0; m < 3; ++m) in_flight[static_cast<size_t>(3 * i + m)] = static_cast<int32_t>(rng.UniformIndex(16));
      rates[static_cast<size_t>(i)] = rng.Uniform(0.0, 50.0);
    }
    int sink = 0;
    const Stats single = TimeEach(n, [&](int i) {
      const int s = i % states;
      sink += router->DecideWithRate(tasks[static_cast<size_t>(s)], &in_flight[static_cast<size_t>(3 * s)], nullptr,
                                     rates[static_cast<size_t>(s)]);
    });
    // The reference arithmetic on the same decisions' observations (encoding excluded).
    std::vector<float> observation(static_cast<size_t>(w.shape.input_size));
    std::vector<float> reference_q(static_cast<size_t>(w.shape.num_actions));
    std::vector<float> reference_scratch(ForwardScratchSize(w.shape));
    const Stats reference = TimeEach(n / 10, [&](int i) {
      for (int k = 0; k < w.shape.input_size; ++k) observation[static_cast<size_t>(k)] = 0.01f * static_cast<float>((i + k) % 97);
      MlpForwardOne(w.shape, w.parameters.data(), observation.data(), reference_q.data(), reference_scratch.data());
      sink += GreedyAction(reference_q.data(), w.shape.num_actions);
    });
    std::vector<int32_t> out(states);
    const auto batch_start = Clock::now();
    const int batch_rounds = 50;
    for (int r = 0; r < batch_rounds; ++r) {
      router->DecideBatch(1024, tasks.data(), in_flight.data(), nullptr, rates.data(), out.data());
    }
    const double batch_ns =
        std::chrono::duration<double, std::nano>(Clock::now() - batch_start).count() / (batch_rounds * 1024.0);

    // libtorch: the same network as nn::Linear layers, forward under NoGradGuard.
    torch::NoGradGuard no_grad;
    torch::nn::Sequential net;
    for (int layer = 0; layer < w.shape.num_layers(); ++layer) {
      auto linear = torch::nn::Linear(w.shape.LayerInputs(layer), w.shape.LayerOutputs(layer));
      std::memcpy(linear->weight.data_ptr<float>(), w.parameters.data() + w.shape.WeightOffset(layer),
                  sizeof(float) * static_cast<size_t>(w.shape.LayerInputs(layer) * w.shape.LayerOutputs(layer)));
      std::memcpy(linear->bias.data_ptr<float>(), w.parameters.data() + w.shape.BiasOffset(layer),
                  sizeof(float) * static_cast<size_t>(w.shape.LayerOutputs(layer)));
      net->push_back(linear);
      if (layer + 1 < w.shape.num_layers()) net->push_back(torch::nn::ReLU());
    }
    const auto observations = torch::rand({states, w.shape.input_size});
    const Stats torch_single = TimeEach(n / 10, [&](int i) {
      sink += static_cast<int>(net->forward(observations[i % states].unsqueeze(0)).argmax(1).item<int64_t>());
    });
    const auto batch = observations.slice(0, 0, 1024);
    const auto torch_start = Clock::now();
    for (int r = 0; r < batch_rounds; ++r) sink += static_cast<int>(net->forward(batch).argmax(1)[0].item<int64_t>());
    const double torch_batch_ns =
        std::chrono::duration<double, std::nano>(Clock::now() - torch_start).count() / (batch_rounds * 1024.0);
    fmt::print("{:<14} {:>10.0f} / {:<9.0f} {:>16.0f} {:>10.0f} / {:<9.0f} {:>20.1f} {:>22.1f} {:>9.1f}x\n",
               w.shape.ToString(), single.median_ns, single.p99_ns, reference.median_ns, torch_single.median_ns,
               torch_single.p99_ns, batch_ns, torch_batch_ns, torch_batch_ns / batch_ns);
    // Back to back, no clock per call: the single decision's mean without the timer.
    const auto loop_start = Clock::now();
    for (int i = 0; i < n; ++i) {
      const int s = i % states;
      sink += router->DecideWithRate(tasks[static_cast<size_t>(s)], &in_flight[static_cast<size_t>(3 * s)], nullptr,
                                     rates[static_cast<size_t>(s)]);
    }
    const double loop_ns = std::chrono::duration<double, std::nano>(Clock::now() - loop_start).count() / n;
    double macs = 0.0;
    for (int layer = 0; layer < w.shape.num_layers(); ++layer) {
      macs += static_cast<double>(w.shape.LayerInputs(layer)) * w.shape.LayerOutputs(layer);
    }
    const double weight_bytes = sizeof(float) * static_cast<double>(w.shape.NumParameters());
    const double stream = bench::StreamBytesPerSecond(static_cast<size_t>(weight_bytes) / 64 * 64 + 64);
    ceilings.push_back(fmt::format(
        "{:<14} single back to back {:.0f} ns/decision; arithmetic at the peak {:.1f} ns ({:.0f} flops); "
        "weights ({:.0f} KiB) read once at {:.0f} GB/s: {:.1f} ns",
        w.shape.ToString(), loop_ns, 2.0 * macs / peak_flops * 1e9, 2.0 * macs, weight_bytes / 1024.0, stream / 1e9,
        weight_bytes / stream * 1e9));
    if (sink == 42) fmt::print(" ");
  }
  fmt::print("\nceilings of this machine, same run: separate multiplies and adds peak at {:.1f} GFLOP/s on one core\n",
             peak_flops / 1e9);
  for (const std::string& line : ceilings) fmt::print("{}\n", line);
  return 0;
}
