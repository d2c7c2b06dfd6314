// The vLLM engine of one instance (sim/instance_scheduler.h) on small closed cases, and the
// serving invariants over every combination of its mechanisms inside the simulator.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <iterator>
#include <map>

#include "common/error.h"
#include "common/files.h"
#include "sim/instance_scheduler.h"
#include "sim/metrics.h"
#include "sim/parametric_profile.h"
#include "tests/sim/sim_fixtures.h"

namespace bestserve {
namespace {

// prefill ms = 1 + sum(len) (the 1 is DistServe's pipeline-stage millisecond), decode ms = 7:
// durations that say what an iteration computed.
ProfileSet CountingProfile(int context_window = 4096) {
  const std::string yaml = fmt::format(R"(
name: counting
gpu: {{name: test-gpu, memory_gib: 1}}
provenance: {{kind: derived, sources: [test], method: "prefill ms = 1 + tokens, decode ms = 7"}}
models:
  m:
    weight_bytes: 1
    kv_bytes_per_token: 1
    max_context_tokens: {window}
    latency_model: distserve
    distserve:
      prefill: [0, 1, 0]
      decoding_smallbs: [7, 0, 0]
      decoding_largebs: [7, 0, 0]
      decoding_large_small_bs_threshold: 1000
)",
                                       fmt::arg("window", context_window));
  return ProfileSet::Parse(ConfigNode::LoadString(yaml, "counting-profile"));
}

EngineConfig Vllm(int32_t block_size, int64_t kv_tokens, int32_t max_num_seqs = 256,
                  int64_t max_batched = 4096, double watermark = 0.0) {
  EngineConfig c;
  c.kind = EngineKind::kVllm;
  c.block_size = block_size;
  c.kv_capacity_tokens = kv_tokens;
  c.max_num_seqs = max_num_seqs;
  c.max_num_batched_tokens = max_batched;
  c.watermark = watermark;
  return c;
}

struct Iteration {
  double ms;
  std::vector<TokenOutput> outputs;
};

Iteration Step(InstanceScheduler& engine) {
  const auto seconds = engine.StartIteration();
  REQUIRE(seconds.has_value());
  return Iteration{*seconds * 1e3, engine.FinishIteration()};
}

}  // namespace

TEST_CASE("prefill-first never mixes a new prompt with running decodes", "[sim][engine]") {
  const ProfileSet profiles = CountingProfile();
  InstanceScheduler engine(Vllm(16, 1600), 1600, *profiles.models[0]);
  engine.Enqueue({0, 100, 5});
  Iteration it = Step(engine);  // prefill of request 0
  CHECK(it.ms == Approx(101.0));
  REQUIRE(it.outputs.size() == 1);
  CHECK(it.outputs[0].first);
  it = Step(engine);  // decode
  CHECK(it.ms == Approx(7.0));
  engine.Enqueue({1, 50, 3});
  it = Step(engine);  // the waiting prompt goes first, alone; request 0 pauses
  CHECK(it.ms == Approx(51.0));
  REQUIRE(it.outputs.size() == 1);
  CHECK(it.outputs[0].id == 1);
  CHECK(it.outputs[0].first);
  it = Step(engine);  // then both decode together
  CHECK(it.ms == Approx(7.0));
  CHECK(it.outputs.size() == 2);
  CHECK(engine.counters().prefill_iterations == 2);
  CHECK(engine.counters().mixed_iterations == 0);
}

TEST_CASE("max_num_seqs caps the running batch; the next request waits for a finish",
          "[sim][engine]") {
  const ProfileSet profiles = CountingProfile();
  InstanceScheduler engine(Vllm(16, 16000, /*max_num_seqs=*/2), 16000, *profiles.models[0]);
  engine.Enqueue({0, 10, 2});
  engine.Enqueue({1, 10, 4});
  engine.Enqueue({2, 10, 2});
  Iteration it = Step(engine);
  CHECK(it.ms == Approx(21.0));  // two prompts of 10
  CHECK(engine.running() == 2);
  CHECK(engine.waiting() == 1);
  it = Step(engine);  // decode: request 0 finishes (2 tokens)
  REQUIRE(it.outputs.size() == 2);
  CHECK(it.outputs[0].id == 0);
  CHECK(it.outputs[0].finished);
  it = Step(engine);  // now request 2 is admitted, alone in a prefill
  CHECK(it.ms == Approx(11.0));
  REQUIRE(it.outputs.size() == 1);
  CHECK(it.outputs[0].id == 2);
}

TEST_CASE("max_num_batched_tokens splits prompts over prefills, or chunks them", "[sim][engine]") {
  const ProfileSet profiles = CountingProfile();
  SECTION("prefill-first: prompts that together exceed the budget go one iteration each") {
    InstanceScheduler engine(Vllm(16, 16000, 256, 1024), 16000, *profiles.models[0]);
    engine.Enqueue({0, 600, 1});
    engine.Enqueue({1, 600, 1});
    CHECK(Step(engine).ms == Approx(601.0));
    CHECK(Step(engine).ms == Approx(601.0));
    // A prompt (plus its output, for a recompute) over the budget can never run unchunked.
    CHECK_FALSE(engine.CanServe(1100, 1));
    CHECK(engine.CanServe(1000, 25));
  }
  SECTION("chunked prefill: a prompt longer than the budget runs in chunks beside decodes") {
    EngineConfig config = Vllm(16, 16000, 256, 1024);
    config.scheduling = SchedulingPolicy::kChunkedPrefill;
    InstanceScheduler engine(config, 16000, *profiles.models[0]);
    CHECK(engine.CanServe(2500, 10));
    engine.Enqueue({0, 10, 4});
    Iteration it = Step(engine);
    CHECK(it.ms == Approx(11.0));
    engine.Enqueue({1, 2500, 2});
    // Decode of request 0 (1 token) + a 1023-token chunk: prefill part 1 + 1023, decode part
    // adds nothing with these coefficients (b = c = 0).
    it = Step(engine);
    CHECK(it.ms == Approx(1024.0));
    REQUIRE(it.outputs.size() == 1);
    CHECK(it.outputs[0].id == 0);
    it = Step(engine);  // 1023 more
    CHECK(it.ms == Approx(1024.0));
    it = Step(engine);  // the last 454 tokens: request 1's first token
    CHECK(it.ms == Approx(455.0));
    bool first_of_1 = false;
    for (const auto& out : it.outputs) first_of_1 = first_of_1 || (out.id == 1 && out.first);
    CHECK(first_of_1);
    CHECK(engine.counters().mixed_iterations == 3);
  }
}

TEST_CASE("KV blocks run out: the youngest sequence is preempted and recomputed", "[sim][engine]") {
  const ProfileSet profiles = CountingProfile();
  // 4 blocks of 4 tokens. Two prompts of 4 take one block each; their contexts grow to 9
  // tokens, needing 3 blocks each: 6 > 4, so someone must give way.
  InstanceScheduler engine(Vllm(4, 16), 16, *profiles.models[0]);
  engine.Enqueue({0, 4, 8});
  engine.Enqueue({1, 4, 8});
  std::map<int64_t, int> tokens;
  std::vector<int64_t> finished;
  int64_t recompute_prefill_tokens = 0;
  for (int guard = 0; guard < 100 && finished.size() < 2; ++guard) {
    const int64_t preempted_before = engine.counters().preemptions;
    const Iteration it = Step(engine);
    if (engine.counters().preemptions > preempted_before) {
      // Request 1, the youngest, gave way; request 0 keeps decoding.
      CHECK(engine.running() == 1);
      CHECK(engine.waiting() == 1);
    }
    if (it.ms > 7.5 && engine.counters().preemptions > 0) {
      recompute_prefill_tokens = static_cast<int64_t>(it.ms - 1.0 + 0.5);
    }
    for (const auto& out : it.outputs) {
      ++tokens[out.id];
      CHECK(out.generated == tokens[out.id]);  // no token lost or repeated by the recompute
      if (out.finished) finished.push_back(out.id);
    }
  }
  CHECK(engine.counters().preemptions == 1);
  REQUIRE(finished.size() == 2);
  CHECK(finished[0] == 0);
  CHECK(tokens[0] == 8);
  CHECK(tokens[1] == 8);
  // Request 1 was preempted with 5 tokens generated (context 9 needs a third block): it
  // prefills its 4 prompt tokens and those 5 again.
  CHECK(recompute_prefill_tokens == 9);
  CHECK(engine.counters().recomputed_tokens == 8);  // 4 prompt + 4 generated had KV
  CHECK(engine.free_kv_tokens() == 16);
}

TEST_CASE("preemption: swap keeps the victim's progress in CPU memory and costs the copies",
          "[sim][engine]") {
  const ProfileSet profiles = CountingProfile();  // kv_bytes_per_token 1: a block is 4 bytes
  // The recompute case above, swapping instead; 1e-6 GB/s = 1 ms per byte copied.
  EngineConfig config = Vllm(4, 16);
  config.preemption = PreemptionMode::kSwap;
  config.swap_bandwidth_gb_s = 1e-6;
  InstanceScheduler engine(config, 16, *profiles.models[0]);
  const int64_t swap_blocks = engine.free_swap_blocks();
  CHECK(swap_blocks == 4LL * 1024 * 1024 * 1024 / 4);  // 4 GiB (vLLM's default) of 4-byte blocks
  engine.Enqueue({0, 4, 8});
  engine.Enqueue({1, 4, 8});
  std::vector<double> ms;
  std::map<int64_t, int> tokens;
  std::vector<int64_t> finished;
  for (int guard = 0; guard < 100 && finished.size() < 3; ++guard) {
    const Iteration it = Step(engine);
    ms.push_back(it.ms);
    for (const auto& out : it.outputs) {
      ++tokens[out.id];
      CHECK(out.generated == tokens[out.id]);
      if (out.finished) finished.push_back(out.id);
    }
    if (ms.size() == 6) {
      // Request 1 (context 9 needs a third block) was swapped out with its 2 blocks.
      CHECK(engine.swapped() == 1);
      CHECK(engine.running() == 1);
      CHECK(engine.free_swap_blocks() == swap_blocks - 2);
      // A prompt that fits the one free block arrives: prefill-first admits nothing new while
      // a sequence is swapped out (vLLM v0), so it waits behind the resume.
      engine.Enqueue({2, 1, 1});
    }
    if (ms.size() == 7) {
      CHECK(engine.newly_admitted().empty());
      CHECK(engine.waiting() == 1);
      CHECK(engine.swapped() == 1);  // 1 free block < its 2 + 1: not yet
    }
  }
  REQUIRE(finished == std::vector<int64_t>{0, 2, 1});
  CHECK(tokens[1] == 8);
  // 1 prefill of both prompts (1 + 8 ms); decodes of 7 ms; the preempting iteration copies
  // 2 blocks out (8 bytes: +8 ms) and the resuming one 2 blocks in (+8 ms), and request 1
  // never prefills again. Request 0 finishes in the 8th iteration, the 9th resumes request 1
  // (on the empty cache it needs only its 3 blocks), and only then is request 2 admitted
  // (its prefill: 1 + 1 ms), before request 1's last two decodes.
  REQUIRE(ms.size() == 12);
  CHECK(ms[0] == Approx(9.0));
  CHECK(ms[5] == Approx(15.0));
  CHECK(ms[6] == Approx(7.0));
  CHECK(ms[7] == Approx(7.0));
  CHECK(ms[8] == Approx(15.0));
  CHECK(ms[9] == Approx(2.0));
  CHECK(ms[10] == Approx(7.0));
  CHECK(ms[11] == Approx(7.0));
  CHECK(engine.counters().preemptions == 1);
  CHECK(engine.counters().swap_preemptions == 1);
  CHECK(engine.counters().swapped_out_blocks == 2);
  CHECK(engine.counters().swapped_in_blocks == 2);
  CHECK(engine.counters().recomputed_tokens == 0);
  CHECK(engine.counters().prefill_iterations == 2);
  CHECK(engine.free_kv_tokens() == 16);
  CHECK(engine.free_swap_blocks() == swap_blocks);

  SECTION("a victim larger than the swap space is recomputed instead") {
    EngineConfig small = config;
    small.swap_space_gib = 4.0 / 1073741824.0;  // one 4-byte block
    InstanceScheduler tight(small, 16, *profiles.models[0]);
    CHECK(tight.free_swap_blocks() == 1);
    tight.Enqueue({0, 4, 8});
    tight.Enqueue({1, 4, 8});
    int done = 0;
    for (int guard = 0; guard < 100 && done < 2; ++guard) {
      for (const auto& out : Step(tight).outputs) done += out.finished ? 1 : 0;
    }
    CHECK(done == 2);
    CHECK(tight.counters().preemptions == 1);
    CHECK(tight.counters().swap_preemptions == 0);
    CHECK(tight.counters().recomputed_tokens == 8);
  }
}

TEST_CASE("over_context: fit serves a request by the nearest model whose window holds it",
          "[sim][engine]") {
  // Three models in this order, windows 4096, 256 and 1024 tokens.
  const ProfileSet profiles = ProfileSet::Parse(ConfigNode::LoadString(R"(
name: windows
gpu: {name: test-gpu, memory_gib: 1}
provenance: {kind: derived, sources: [test], method: "prefill ms = 1 + tokens, decode ms = 7"}
models:
  wide: {weight_bytes: 1, kv_bytes_per_token: 1, max_context_tokens: 4096, latency_model: distserve,
         distserve: {prefill: [0, 1, 0], decoding_smallbs: [7, 0, 0], decoding_largebs: [7, 0, 0],
                     decoding_large_small_bs_threshold: 1000}}
  narrow: {weight_bytes: 1, kv_bytes_per_token: 1, max_context_tokens: 256, latency_model: distserve,
           distserve: {prefill: [0, 1, 0], decoding_smallbs: [7, 0, 0], decoding_largebs: [7, 0, 0],
                       decoding_large_small_bs_threshold: 1000}}
  middle: {weight_bytes: 1, kv_bytes_per_token: 1, max_context_tokens: 1024, latency_model: distserve,
           distserve: {prefill: [0, 1, 0], decoding_smallbs: [7, 0, 0], decoding_largebs: [7, 0, 0],
                       decoding_large_small_bs_threshold: 1000}}
)",
                                                                        "windows-profile"));
  // (router's choice, prompt tokens; one output token) -> model that serves it, -1: rejected.
  struct Case {
    ModelId chosen;
    int32_t prompt;
    ModelId served;
  };
  const std::vector<Case> cases = {
      {1, 100, 1},   // fits its choice
      {1, 800, 2},   // wide and middle both hold it, at distance 1: the later one
      {1, 2000, 0},  // only wide does
      {2, 2000, 0},  // distance 2, the only candidate
      {0, 5000, -1}, // no window holds it
  };
  for (const std::string engine : {"{kind: paper, over_context: fit}",
                                   "{kind: vllm, over_context: fit, max_num_batched_tokens: 8192}"}) {
    INFO(engine);
    const ServingSystem system = ParseServingSystem(
        ConfigNode::LoadString("gpu_groups: [{count: 1, instances: [{model: wide, memory_fraction: 0.3}, "
                               "{model: narrow, memory_fraction: 0.3}, {model: middle, memory_fraction: 0.3}]}]\n"
                               "max_prefill_tokens: 8192\nengine: " +
                                   engine,
                               "fit-system"),
        profiles, {});
    auto sim = testing::MakeSim(system);
    Workload w;
    for (size_t i = 0; i < cases.size(); ++i) {
      Request r;
      r.id = static_cast<int64_t>(i);
      r.arrival_s = 100.0 * static_cast<double>(i);
      r.prompt_tokens = cases[i].prompt;
      r.output_tokens = 1;
      r.deadline_s = 1e9;
      w.push_back(r);
    }
    sim->Reset(w);
    size_t next = 0;
    while (sim->AdvanceToNextArrival()) sim->Dispatch(cases[next++].chosen);
    sim->Drain();
    for (size_t i = 0; i < cases.size(); ++i) {
      INFO("case " << i);
      const RequestRecord& rec = sim->records()[i];
      if (cases[i].served < 0) {
        CHECK(rec.reject == RejectReason::kExceedsContextWindow);
        CHECK(rec.model == cases[i].chosen);
      } else {
        CHECK(rec.reject == RejectReason::kNone);
        CHECK(rec.model == cases[i].served);
        CHECK(rec.request.prompt_tokens == cases[i].prompt);  // served whole, not cut
      }
    }
    CHECK(sim->counters().rerouted_requests == 3);
    CHECK(sim->counters().truncated_requests == 0);
  }
}

TEST_CASE("the watermark keeps free blocks back from admission", "[sim][engine]") {
  const ProfileSet profiles = CountingProfile();
  // 10 blocks, watermark 0.2 -> 2 blocks: a prompt may take at most 8.
  InstanceScheduler engine(Vllm(4, 40, 256, 4096, 0.2), 40, *profiles.models[0]);
  CHECK(engine.CanServe(30, 2));
  CHECK_FALSE(engine.CanServe(30, 4));
  engine.Enqueue({0, 20, 2});  // 5 blocks
  engine.Enqueue({1, 12, 1});  // 3 more would leave 2: allowed
  engine.Enqueue({2, 1, 1});   // 1 more would leave 1 < 2: waits
  Step(engine);
  CHECK(engine.running() == 1);  // request 1 finished at once (one output token), 0 runs
  CHECK(engine.waiting() == 1);
}

TEST_CASE("every engine combination serves each request exactly once",
          "[sim][engine][invariants]") {
  Rng rng(20261202);
  for (int trial = 0; trial < 24; ++trial) {
    const bool chunked = trial % 2 == 1;
    const bool tight_kv = (trial / 2) % 2 == 1;
    const int max_seqs = (trial / 4) % 3 == 0 ? 2 : 64;
    const int window = 512;
    const ProfileSet profiles = CountingProfile(window);
    const std::string yaml = fmt::format(
        R"(
gpu_groups:
  - count: 2
    instances: [{{model: m, memory_fraction: 1.0}}]
engine:
  kind: vllm
  block_size: {block}
  max_num_seqs: {seqs}
  max_num_batched_tokens: {batched}
  kv_capacity_tokens: {kv}
  scheduling: {scheduling}
  over_context: {over}{paddings}{swap}
)",
        fmt::arg("block", 1 + rng.UniformIndex(16)), fmt::arg("seqs", max_seqs),
        fmt::arg("batched", chunked ? 256 : 512), fmt::arg("kv", tight_kv ? 600 : 100000),
        fmt::arg("scheduling", chunked ? "chunked_prefill" : "prefill_first"),
        fmt::arg("over", trial % 3 == 0 ? "truncate" : (trial % 5 == 0 ? "fit" : "reject")),
        fmt::arg("paddings", !chunked && trial % 4 == 0 ? "\n  max_paddings: 32" : ""),
        // Swap in a third of the trials, every other one with room for about two sequences
        // only (1e-7 GiB = 107 one-byte tokens), so that some victims fall back to recompute.
        fmt::arg("swap", trial % 3 == 1 ? (trial % 2 == 0 ? "\n  preemption: swap\n  swap_space_gib: 1e-7"
                                                         : "\n  preemption: swap")
                                       : ""));
    const ServingSystem system =
        ParseServingSystem(ConfigNode::LoadString(yaml, "engine-system"), profiles, {});
    auto sim = testing::MakeSim(system);
    Workload w;
    double t = 0.0;
    for (int64_t i = 0; i < 300; ++i) {
      t += rng.Exponential(20.0);
      Request r;
      r.id = i;
      r.arrival_s = t;
      r.prompt_tokens = 1 + static_cast<int32_t>(rng.UniformIndex(400));
      r.output_tokens = 1 + static_cast<int32_t>(rng.UniformIndex(200));  // some over the window
      r.deadline_s = 1e9;
      w.push_back(r);
    }
    testing::RunAll(*sim, w);
    INFO("trial " << trial);
    const auto& order = sim->finish_order();
    REQUIRE(order.size() == w.size());
    std::vector<int> seen(w.size(), 0);
    for (int64_t id : order) ++seen[static_cast<size_t>(id)];
    REQUIRE(std::all_of(seen.begin(), seen.end(), [](int c) { return c == 1; }));
    int64_t truncated = 0;
    for (const RequestRecord& rec : sim->records()) {
      const Request& original = w[static_cast<size_t>(rec.request.id)];
      const bool over = original.prompt_tokens + original.output_tokens > window;
      if (rec.reject != RejectReason::kNone) {
        REQUIRE(rec.reject == RejectReason::kExceedsContextWindow);
        REQUIRE(over);
        REQUIRE(trial % 3 != 0);
        continue;
      }
      if (over) {
        ++truncated;
        REQUIRE(rec.request.prompt_tokens + rec.request.output_tokens == window);
      }
      REQUIRE(rec.admitted_s >= rec.request.arrival_s);
      REQUIRE(rec.first_token_s > rec.admitted_s);
      REQUIRE(rec.completion_s >= rec.first_token_s);
    }
    CHECK(sim->counters().truncated_requests == truncated);
    if (tight_kv && max_seqs > 2) CHECK(sim->counters().preemptions > 0);
    // Everything swapped out came back; only swap trials swap.
    CHECK(sim->counters().swapped_in_blocks == sim->counters().swapped_out_blocks);
    if (trial % 3 != 1) CHECK(sim->counters().swap_preemptions == 0);
    if (trial % 3 == 1 && tight_kv && max_seqs > 2) CHECK(sim->counters().swap_preemptions > 0);
    if (chunked) CHECK(sim->counters().prefill_iterations + sim->counters().mixed_iterations > 0);
    if (!chunked) CHECK(sim->counters().mixed_iterations == 0);
  }
}

TEST_CASE("max_paddings: vLLM 0.2.x pads a prefill batch to its longest prompt", "[sim][engine]") {
  const ProfileSet profiles = CountingProfile();
  EngineConfig config = Vllm(16, 16000, 256, 1024);
  config.max_paddings = 256;
  SECTION("prompts join while n x longest fits the budget and the padding stays within 256") {
    InstanceScheduler engine(config, 16000, *profiles.models[0]);
    engine.Enqueue({0, 300, 1});
    engine.Enqueue({1, 100, 1});  // 2 x 300 = 600 tokens, padding 200: joins
    engine.Enqueue({2, 250, 1});  // 3 x 300 = 900, padding 200 + 50 = 250: joins
    engine.Enqueue({3, 290, 1});  // 4 x 300 = 1200 > 1024: next iteration
    Iteration it = Step(engine);
    // Costed on the padded prompts: prefill ms = 1 + 3 x 300.
    CHECK(it.ms == Approx(901.0));
    CHECK(it.outputs.size() == 3);
    it = Step(engine);
    CHECK(it.ms == Approx(291.0));
    REQUIRE(it.outputs.size() == 1);
    CHECK(it.outputs[0].id == 3);
  }
  SECTION("a prompt that would pad the batch past max_paddings waits (FIFO)") {
    InstanceScheduler engine(config, 16000, *profiles.models[0]);
    engine.Enqueue({0, 400, 1});
    engine.Enqueue({1, 100, 1});  // padding 300 > 256
    engine.Enqueue({2, 390, 1});  // would fit, but FIFO: the head blocks it
    CHECK(Step(engine).ms == Approx(401.0));
    // 100 and 390 together: padding 290 > 256, so 100 alone.
    CHECK(Step(engine).ms == Approx(101.0));
    CHECK(Step(engine).ms == Approx(391.0));
  }
  SECTION("unset, prompts are packed without padding (the previous behaviour)") {
    config.max_paddings = -1;
    InstanceScheduler engine(config, 16000, *profiles.models[0]);
    engine.Enqueue({0, 400, 1});
    engine.Enqueue({1, 100, 1});
    engine.Enqueue({2, 390, 1});
    CHECK(Step(engine).ms == Approx(891.0));
  }
}

TEST_CASE("the vllm engine's settings are checked against each other", "[sim][engine][config]") {
  const ProfileSet profiles = CountingProfile(2048);
  auto parse = [&](const std::string& engine) {
    return ParseServingSystem(
        ConfigNode::LoadString(
            "gpu_groups: [{count: 1, instances: [{model: m, memory_fraction: 1.0}]}]\n"
            "engine: " +
                engine,
            "engine-config"),
        profiles, {});
  };
  CHECK(parse("{kind: vllm, num_gpu_blocks: 10}").instances[0].kv_capacity_tokens == 160);
  CHECK(parse("{kind: vllm, kv_capacity_tokens: 66144}").instances[0].kv_capacity_tokens == 66144);
  CHECK(parse("{kind: vllm}").instances[0].max_batch_size == 256);
  CHECK_THROWS_WITH(parse("{kind: vllm, max_num_batched_tokens: 1024}"),
                    Catch::Contains("max_num_batched_tokens 1024 is smaller than the context "
                                    "window 2048 of 'm'"));
  CHECK_NOTHROW(parse("{kind: vllm, max_num_batched_tokens: 1024, scheduling: chunked_prefill}"));
  CHECK_THROWS_WITH(parse("{kind: paper, block_size: 16}"),
                    Catch::Contains("'block_size' applies to `kind: vllm` only"));
  CHECK_THROWS_WITH(parse("{kind: tgi}"),
                    Catch::Contains("unknown engine 'tgi'; valid: paper, vllm"));
  CHECK_THROWS_WITH(parse("{kind: vllm, max_paddings: -1}"), Catch::Contains("max_paddings"));
  CHECK_THROWS_WITH(parse("{kind: vllm, max_paddings: 256, scheduling: chunked_prefill}"),
                    Catch::Contains("max_paddings applies to prefill_first only"));
  CHECK_THROWS_WITH(parse("{kind: paper, max_paddings: 256}"),
                    Catch::Contains("'max_paddings' applies to `kind: vllm` only"));
  CHECK(parse("{kind: vllm, preemption: swap, swap_space_gib: 8}").engine.swap_space_gib == 8.0);
  CHECK_THROWS_WITH(parse("{kind: vllm, over_context: spill}"),
                    Catch::Contains("unknown over_context 'spill'; valid: reject, truncate, fit"));
  CHECK_THROWS_WITH(parse("{kind: vllm, swap_space_gib: 8}"),
                    Catch::Contains("'swap_space_gib' applies to `preemption: swap` only"));
  CHECK_THROWS_WITH(parse("{kind: vllm, preemption: swapp}"),
                    Catch::Contains("unknown preemption 'swapp'; valid: recompute, swap"));
  CHECK_THROWS_WITH(parse("{kind: vllm, preemption: swap, swap_bandwidth_gb_s: 0}"),
                    Catch::Contains("swap_bandwidth_gb_s"));
  CHECK_THROWS_WITH(parse("{kind: vllm, kv_capacity_tokens: 100, num_gpu_blocks: 3}"),
                    Catch::Contains("either kv_capacity_tokens or num_gpu_blocks"));
}

}  // namespace bestserve

namespace bestserve {

TEST_CASE("an instance's own engine settings override the system's", "[sim][engine][config]") {
  const ProfileSet profiles = CountingProfile(2048);
  auto parse = [&](const std::string& instance_engine, const std::string& engine = "{kind: vllm, kv_capacity_tokens: 1600}") {
    return ParseServingSystem(
        ConfigNode::LoadString("gpu_groups: [{count: 1, instances: [{model: m, memory_fraction: 0.5, engine: " +
                                   instance_engine + "}, {model: m, memory_fraction: 0.5}]}]\nengine: " + engine,
                               "instance-engine"),
        profiles, {});
  };
  const ServingSystem system = parse("{num_gpu_blocks: 10, max_num_seqs: 1, preemption: swap}");
  REQUIRE(system.instances.size() == 2);
  CHECK(system.instances[0].kv_capacity_tokens == 160);  // its blocks replace the inherited tokens
  CHECK(system.instances[0].max_batch_size == 1);
  CHECK(system.instances[0].engine.preemption == PreemptionMode::kSwap);
  CHECK(system.instances[1].kv_capacity_tokens == 1600);
  CHECK(system.instances[1].max_batch_size == 256);
  CHECK(system.instances[1].engine.preemption == PreemptionMode::kRecompute);
  CHECK_THROWS_WITH(parse("{kind: paper}"), Catch::Contains("'kind' is the system's (cluster.engine)"));
  CHECK_THROWS_WITH(parse("{over_context: truncate}"), Catch::Contains("'over_context' is the system's"));
  CHECK_THROWS_WITH(parse("{block_size: 16}", "{kind: paper}"),
                    Catch::Contains("per-instance engine settings apply to `cluster.engine.kind: vllm` only"));
  CHECK_THROWS_WITH(parse("{max_num_batched_tokens: 1024}"),
                    Catch::Contains("max_num_batched_tokens 1024 is smaller than the context window"));
  CHECK_THROWS_WITH(parse("{swap_space_gib: 2}"),
                    Catch::Contains("'swap_space_gib' applies to `preemption: swap` only"));

  // The simulator runs each instance with its own settings: three prompts at once on the
  // instance allowed one sequence run one at a time.
  const ServingSystem one = ParseServingSystem(
      ConfigNode::LoadString("gpu_groups: [{count: 1, instances: [{model: m, memory_fraction: 1.0, "
                             "engine: {max_num_seqs: 1}}]}]\nengine: {kind: vllm, kv_capacity_tokens: 1600}",
                             "one-seq"),
      profiles, {});
  auto sim = testing::MakeSim(one);
  Workload w;
  for (int64_t i = 0; i < 3; ++i) {
    Request r;
    r.id = i;
    r.arrival_s = 0.0;
    r.prompt_tokens = 8;
    r.output_tokens = 4;
    r.deadline_s = 1e9;
    w.push_back(r);
  }
  testing::RunAll(*sim, w);
  CHECK(sim->counters().max_running_batch == 1);
  CHECK(sim->finish_order() == std::vector<int64_t>{0, 1, 2});
}

TEST_CASE("TTFT and TPOT are per-request facts and summary distributions", "[sim][metrics]") {
  const ProfileSet profiles = CountingProfile(2048);
  const ServingSystem system = ParseServingSystem(
      ConfigNode::LoadString(
          "gpu_groups: [{count: 1, instances: [{model: m, memory_fraction: 1.0}]}]\n"
          "engine: {kind: vllm}",
          "metrics-system"),
      profiles, {});
  auto sim = testing::MakeSim(system);
  // Far apart, so each runs alone: TTFT = 1 + prompt ms, TPOT = 7 ms; one-token output has none.
  Workload w;
  const int prompts[] = {100, 300, 50};
  const int outputs[] = {5, 1, 3};
  for (int i = 0; i < 3; ++i) {
    Request r;
    r.id = i;
    r.arrival_s = 10.0 * i;
    r.prompt_tokens = prompts[i];
    r.output_tokens = outputs[i];
    r.deadline_s = 100.0;
    w.push_back(r);
  }
  testing::RunAll(*sim, w);
  const auto& records = sim->records();
  CHECK(TimeToFirstToken(records[0]) == Approx(0.101));
  CHECK(TimePerOutputToken(records[0]) == Approx(0.007));
  CHECK(std::isnan(TimePerOutputToken(records[1])));
  TaskTable tasks = TaskTable::Parse(ConfigNode::LoadString(
      "models: [m]\ntasks: [{name: t, prompt_tokens: {kind: uniform, min: 1, max: 2}, "
      "output_tokens: {kind: uniform, min: 1, max: 2}, quality: [1.0]}]",
      "tasks"));
  const Summary summary = Summarize(*sim, tasks, MetricsOptions{});
  CHECK(summary.ttft_s.count == 3);
  CHECK(summary.ttft_s.mean == Approx((0.101 + 0.301 + 0.051) / 3));
  CHECK(summary.ttft_s.p50 == Approx(0.101));
  CHECK(summary.tpot_s.count == 2);
  CHECK(summary.tpot_s.mean == Approx(0.007));
  const std::string log = FormatRequestLog(*sim, tasks);
  CHECK(log.find(",ttft_s,tpot_s\n") != std::string::npos);
  // Written row by row to a file: the same bytes, and no temporary left beside it.
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("bestserve_request_log_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "requests.csv").string();
  WriteRequestLog(path, records, sim->system().model_names, tasks);
  CHECK(ReadFile(path) == log);
  // A writer that fails midway leaves the previous file as it was.
  CHECK_THROWS(WriteFileAtomically(path, [](std::ostream& out) {
    out << "partial";
    throw Error("disk full");
  }));
  CHECK(ReadFile(path) == log);
  CHECK(std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()) == 1);
  std::filesystem::remove_all(dir);
  const std::string json = FormatSummaryJson(summary);
  INFO(json);
  CHECK(json.find("\"ttft_s\"") != std::string::npos);
  CHECK(json.find("\"tpot_s\"") != std::string::npos);
  CHECK(json.find("\"preemptions\"") != std::string::npos);
}

TEST_CASE("TTFT and TPOT SLOs decide rewards inside the simulator", "[sim][reward][engine]") {
  const ProfileSet profiles = CountingProfile(2048);
  const ServingSystem system = ParseServingSystem(
      ConfigNode::LoadString(
          "gpu_groups: [{count: 1, instances: [{model: m, memory_fraction: 1.0}]}]\n"
          "engine: {kind: vllm}",
          "slo-system"),
      profiles, {});
  // Alone, a request has TTFT = 1 + prompt ms and TPOT = 7 ms (the counting profile). TTFT SLO
  // 150 ms: the 100-token prompt (101 ms) meets it, the 300-token one (301 ms) does not. TPOT
  // SLO 8 ms: met by both. End-to-end deadlines are generous.
  const DeadlineSpec deadline =
      DeadlineSpec::Parse(ConfigNode::LoadString("{ttft_ms: 150, tpot_ms: 8}", "deadline"));
  auto sim = testing::MakeSim(system, 1, deadline);
  Workload w;
  for (int i = 0; i < 2; ++i) {
    Request r;
    r.id = i;
    r.arrival_s = 10.0 * i;
    r.prompt_tokens = i == 0 ? 100 : 300;
    r.output_tokens = 5;
    r.deadline_s = 100.0;
    w.push_back(r);
  }
  testing::RunAll(*sim, w);
  const auto& records = sim->records();
  CHECK(records[0].deadline_met);
  CHECK(records[0].reward == 1.0);
  CHECK_FALSE(records[1].deadline_met);
  CHECK(records[1].reward == 0.0);
}

}  // namespace bestserve
