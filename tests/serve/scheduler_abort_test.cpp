// InstanceScheduler::Abort (a client that leaves a real-time server): nothing leaks, nothing
// else changes.
#include <catch2/catch.hpp>

#include "common/config.h"
#include "sim/instance_scheduler.h"
#include "sim/latency_profile.h"

namespace bestserve {
namespace {

ProfileSet ConstantProfile() {
  return ProfileSet::Parse(ConfigNode::LoadString(R"(
name: constant
gpu: {name: test-gpu, memory_gib: 80}
provenance: {kind: derived, sources: [test], method: "constant iteration times"}
models:
  m:
    weight_bytes: 1
    kv_bytes_per_token: 1
    max_context_tokens: 2048
    decode_step_ms: {batch_sizes: [1, 256], context_tokens: [0, 4096], values: [[10, 10], [10, 10]]}
    prefill_ms: {tokens: [1, 4096], values: [20, 20]}
)",
                                                  "constant-profile"));
}

TEST_CASE("aborting waiting, idle-running and mid-iteration sequences frees every block", "[serve][engine]") {
  const ProfileSet profiles = ConstantProfile();
  EngineConfig config;
  config.kind = EngineKind::kVllm;
  config.block_size = 16;
  config.max_num_seqs = 2;  // the third request waits
  config.watermark = 0.0;
  InstanceScheduler engine(config, 16 * 64, *profiles.Find("m"));
  const int64_t total = engine.total_kv_tokens();
  for (int64_t id = 0; id < 3; ++id) engine.Enqueue(EngineRequest{id, 40, 5});

  REQUIRE(engine.Abort(2));  // waiting
  CHECK(engine.waiting() == 2);
  CHECK_FALSE(engine.Abort(2));
  CHECK_FALSE(engine.Abort(99));

  REQUIRE(engine.StartIteration().has_value());  // prefill of 0 and 1
  REQUIRE(engine.Abort(1));                      // mid-iteration: dropped at its end
  const auto outputs = engine.FinishIteration();
  REQUIRE(outputs.size() == 1);
  CHECK(outputs[0].id == 0);
  CHECK(outputs[0].first);
  CHECK(engine.running() == 1);
  CHECK(engine.free_kv_tokens() == total - 48);  // 3 blocks for request 0's 41 tokens

  REQUIRE(engine.Abort(0));  // running, idle engine: freed at once
  CHECK(engine.running() == 0);
  CHECK(engine.free_kv_tokens() == total);
  CHECK_FALSE(engine.StartIteration().has_value());
}

TEST_CASE("a sequence finishing in the iteration it is aborted in leaves no trace", "[serve][engine]") {
  const ProfileSet profiles = ConstantProfile();
  EngineConfig config;
  config.kind = EngineKind::kVllm;
  InstanceScheduler engine(config, 16 * 64, *profiles.Find("m"));
  engine.Enqueue(EngineRequest{7, 10, 1});  // one output token: done after its prefill
  REQUIRE(engine.StartIteration().has_value());
  REQUIRE(engine.Abort(7));
  CHECK(engine.FinishIteration().empty());
  CHECK(engine.running() == 0);
  CHECK(engine.free_kv_tokens() == engine.total_kv_tokens());
}

}  // namespace
}  // namespace bestserve
