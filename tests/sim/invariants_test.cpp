// Invariants on random configurations: every request finishes exactly once (or is rejected
// with a reason), time never goes backwards, batches and KV reservations stay within their
// bounds, FIFO holds where it is promised. Checked from the records, independently of the
// simulator's own always-on checks.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>

#include "tests/sim/sim_fixtures.h"

namespace bestserve {
namespace {

ProfileSet RandomProfiles(Rng& rng) {
  // Three models with random, increasing latencies; small KV capacity so that admission limits
  // bind; batch tables up to 16.
  std::string yaml = R"(
name: random
gpu: {name: test-gpu, memory_gib: 1}
provenance: {kind: derived, sources: [test], method: random}
extrapolation: clamp
models:
)";
  for (int m = 0; m < 3; ++m) {
    const double base = rng.Uniform(1.0, 20.0) * (m + 1);
    const double per_seq = rng.Uniform(0.0, 3.0);
    yaml += fmt::format(R"(  m{m}:
    weight_bytes: {weights}
    kv_bytes_per_token: {kv}
    max_batch_size: 16
    max_context_tokens: 400
    decode_step_ms: {{batch_sizes: [1, 16], context_tokens: [0, 400], values: [[{a}, {b}], [{c}, {d}]]}}
    prefill_ms: {{tokens: [1, 4096], values: [{a}, {e}]}}
)",
                        fmt::arg("m", m), fmt::arg("weights", 1 << 20), fmt::arg("kv", 1024 * (m + 1)),
                        fmt::arg("a", base), fmt::arg("b", base * 1.2), fmt::arg("c", base + 15 * per_seq),
                        fmt::arg("d", (base + 15 * per_seq) * 1.2), fmt::arg("e", base * 8));
  }
  return ProfileSet::Parse(ConfigNode::LoadString(yaml, "random-profiles"));
}

ServingSystem RandomSystem(const ProfileSet& profiles, Rng& rng) {
  const int gpus = 1 + static_cast<int>(rng.UniformIndex(4));
  std::string yaml = "gpu_groups:\n";
  for (int g = 0; g < gpus; ++g) {
    yaml += "  - count: 1\n    instances:\n";
    // A random subset of models (at least one) with fractions summing to at most 1.
    int placed = 0;
    for (int m = 0; m < 3; ++m) {
      if (rng.Bernoulli(0.6) || (m == 2 && placed == 0)) {
        yaml += fmt::format("      - {{model: m{}, memory_fraction: {}, max_batch_size: {}}}\n", m,
                            0.3, 1 + rng.UniformIndex(16));
        ++placed;
      }
    }
  }
  const char* balancers[] = {"smallest_batch", "least_queue", "power_of_two"};
  yaml += fmt::format("interference_factor: {}\nload_balancer: {}\nqueueing: {}\nmax_prefill_tokens: {}\n",
                      rng.Uniform(0.0, 0.5), balancers[rng.UniformIndex(3)],
                      rng.Bernoulli(0.5) ? "shared" : "per_replica", 64 + rng.UniformIndex(512));
  return ParseServingSystem(ConfigNode::LoadString(yaml, "random-system"), profiles, {"m0", "m1", "m2"});
}

Workload RandomBurstyWorkload(Rng& rng, int64_t n) {
  Workload w;
  double t = 0.0;
  double rate = 1.0;
  for (int64_t i = 0; i < n; ++i) {
    if (rng.Bernoulli(0.02)) rate = rng.Uniform(0.5, 200.0);
    t += rng.Bernoulli(0.05) ? 0.0 : rng.Exponential(rate);  // simultaneous arrivals too
    Request r;
    r.id = i;
    r.arrival_s = t;
    r.task = static_cast<TaskId>(rng.UniformIndex(2));
    r.prompt_tokens = 1 + static_cast<int32_t>(rng.UniformIndex(300));
    r.output_tokens = 1 + static_cast<int32_t>(rng.UniformIndex(150));  // some exceed 400 in total
    r.deadline_s = 0.04 * r.output_tokens;
    w.push_back(r);
  }
  return w;
}

}  // namespace

TEST_CASE("random configurations keep every serving invariant", "[sim][invariants]") {
  Rng rng(20261122);
  for (int trial = 0; trial < 40; ++trial) {
    const ProfileSet profiles = RandomProfiles(rng);
    const ServingSystem system = RandomSystem(profiles, rng);
    DeadlineSpec deadline;
    deadline.reward = rng.Bernoulli(0.5) ? RewardKind::kSoft : RewardKind::kHard;
    std::vector<std::vector<double>> quality = {{0.5, 0.8, 1.0}, {0.7, 0.9, 1.0}};
    Simulator sim(system, quality, deadline, std::make_unique<LastKRateEstimator>(5), true, 7);
    const Workload workload = RandomBurstyWorkload(rng, 1500);
    sim.Reset(workload);
    Rng routing(static_cast<uint64_t>(trial));
    std::vector<std::vector<int64_t>> prompt_tokens_seen;  // per decision, per model
    std::vector<double> slow_rates_seen;
    while (sim.AdvanceToNextArrival()) {
      // The view is consistent with itself.
      const RouterView& view = sim.view();
      for (const auto& load : view.models) REQUIRE(load.in_flight == load.running + load.waiting);
      auto& tokens = prompt_tokens_seen.emplace_back();
      for (const auto& load : view.models) tokens.push_back(load.in_flight_prompt_tokens);
      slow_rates_seen.push_back(view.slow_arrival_rate_rps);
      sim.Dispatch(static_cast<ModelId>(routing.UniformIndex(3)));
    }
    sim.Drain();
    INFO("trial " << trial);

    // The prompt tokens in flight a router saw are those of the earlier requests dispatched to
    // the model, not rejected, and not finished by the arrival (completions at the arrival's
    // time come first); the slow rate is a decayed count of the arrivals.
    DecayedCountRate slow(kSlowRateHalfLifeS);
    for (size_t i = 0; i < prompt_tokens_seen.size(); ++i) {
      const double now = sim.records()[i].request.arrival_s;
      std::vector<int64_t> expected(3, 0);
      for (size_t j = 0; j < i; ++j) {
        const RequestRecord& earlier = sim.records()[j];
        if (earlier.reject == RejectReason::kNone && earlier.completion_s > now) {
          expected[static_cast<size_t>(earlier.model)] += earlier.request.prompt_tokens;
        }
      }
      REQUIRE(prompt_tokens_seen[i] == expected);
      REQUIRE(slow_rates_seen[i] == slow.Observe(now));
    }

    // Each request finished exactly once.
    const auto& order = sim.finish_order();
    REQUIRE(order.size() == workload.size());
    std::vector<int> seen(workload.size(), 0);
    for (int64_t id : order) ++seen[static_cast<size_t>(id)];
    REQUIRE(std::all_of(seen.begin(), seen.end(), [](int c) { return c == 1; }));

    // Finishing times never go backwards in finish order, and each request's life is ordered.
    double last = -1.0;
    for (int64_t id : order) {
      const RequestRecord& rec = sim.records()[static_cast<size_t>(id)];
      REQUIRE(rec.completion_s >= last);
      last = rec.completion_s;
    }
    std::map<int32_t, std::vector<const RequestRecord*>> by_replica;
    for (const RequestRecord& rec : sim.records()) {
      REQUIRE(rec.finished);
      if (rec.reject != RejectReason::kNone) {
        REQUIRE(rec.reward == 0.0);
        REQUIRE(rec.completion_s == rec.request.arrival_s);
        const auto& replicas = system.ReplicasOf(rec.model);
        const int64_t need = static_cast<int64_t>(rec.request.prompt_tokens) + rec.request.output_tokens;
        if (rec.reject == RejectReason::kNoReplica) REQUIRE(replicas.empty());
        if (rec.reject == RejectReason::kExceedsContextWindow) REQUIRE(need > 400);
        continue;
      }
      REQUIRE(rec.admitted_s >= rec.request.arrival_s);
      REQUIRE(rec.first_token_s > rec.admitted_s);
      REQUIRE(rec.completion_s >= rec.first_token_s);
      REQUIRE(rec.reward <= quality[static_cast<size_t>(rec.request.task)][static_cast<size_t>(rec.model)]);
      REQUIRE(system.instances[static_cast<size_t>(rec.replica)].model == rec.model);
      by_replica[rec.replica].push_back(&rec);
    }

    // Sweep each replica's admissions and completions: the batch never exceeds its bound and
    // the KV reservations never exceed capacity (completions at a time free before admissions
    // at that time, which is how iterations hand over).
    for (auto& [replica, recs] : by_replica) {
      const InstanceSpec& spec = system.instances[static_cast<size_t>(replica)];
      std::vector<std::tuple<double, int, int64_t>> changes;  // time, 0 = free / 1 = take, kv
      for (const RequestRecord* rec : recs) {
        const int64_t kv = static_cast<int64_t>(rec->request.prompt_tokens) + rec->request.output_tokens;
        changes.emplace_back(rec->admitted_s, 1, kv);
        changes.emplace_back(rec->completion_s, 0, -kv);
      }
      std::sort(changes.begin(), changes.end());
      int64_t batch = 0;
      int64_t kv = 0;
      for (const auto& [time, kind, delta] : changes) {
        batch += kind == 1 ? 1 : -1;
        kv += delta;
        REQUIRE(batch <= spec.max_batch_size);
        REQUIRE(kv <= spec.kv_capacity_tokens);
      }
      // FIFO: under per-replica queueing, a replica admits its requests in arrival order.
      if (system.queueing == Queueing::kPerReplica) {
        for (size_t i = 1; i < recs.size(); ++i) REQUIRE(recs[i]->admitted_s >= recs[i - 1]->admitted_s);
      }
    }
    // Shared queueing: each model admits in arrival order across its replicas.
    if (system.queueing == Queueing::kShared) {
      std::map<ModelId, double> last_admit;
      for (const RequestRecord& rec : sim.records()) {
        if (rec.reject != RejectReason::kNone) continue;
        REQUIRE(rec.admitted_s >= last_admit[rec.model]);
        last_admit[rec.model] = rec.admitted_s;
      }
    }
  }
}

TEST_CASE("the smallest-batch balancer never picks a busier replica and breaks ties by index",
          "[sim][balancer]") {
  const auto profiles = testing::LinearServiceProfile(1e-3, 4);
  const auto system = testing::SingleModelSystem(profiles, 3, Queueing::kPerReplica, 4);
  auto sim = testing::MakeSim(system);
  // Six simultaneous long requests: replicas fill 0, 1, 2, 0, 1, 2 (ties go to the lowest index).
  Workload w;
  for (int i = 0; i < 6; ++i) {
    Request r;
    r.id = i;
    r.arrival_s = 0.0;
    r.prompt_tokens = 1000;
    r.output_tokens = 1;
    r.deadline_s = 100.0;
    w.push_back(r);
  }
  sim->Reset(w);
  while (sim->AdvanceToNextArrival()) {
    const RouterView& view = sim->view();
    int32_t least = INT32_MAX;
    for (const auto& rep : view.replicas) least = std::min(least, rep.running + rep.waiting);
    sim->Dispatch(0);
    (void)least;
  }
  sim->Drain();
  std::vector<int32_t> replicas;
  for (const auto& rec : sim->records()) replicas.push_back(rec.replica);
  CHECK(replicas == std::vector<int32_t>{0, 1, 2, 0, 1, 2});
}

}  // namespace bestserve
