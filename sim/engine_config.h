// How one model instance schedules its iterations: the serving engine's knobs.
//
// Config section `cluster.engine` (a map; absent means `kind: paper`). Names and defaults follow
// vLLM's engine arguments (v0 scheduler, the releases DistServe measured in early 2024):
//
//   | key                     | meaning                                                   | default |
//   |-------------------------|-----------------------------------------------------------|---------|
//   | kind                    | paper: the engine the reproduction was built on (KV       | paper   |
//   |                         |   reserved for prompt + true output at admission, no        |         |
//   |                         |   preemption; sim/simulator.h). vllm: the mechanisms below  |         |
//   | block_size              | tokens per KV block                                       | 16      |
//   | max_num_seqs            | most sequences running at once                            | 256     |
//   | max_num_batched_tokens  | most tokens processed in one iteration (prompt tokens of a | 2048   |
//   |                         |   prefill; every token under chunked prefill)             |         |
//   | kv_capacity_tokens      | KV capacity in tokens (rounded down to whole blocks)      | from memory |
//   | num_gpu_blocks          | KV capacity in blocks (exclusive with kv_capacity_tokens) | from memory |
//   | gpu_memory_utilization  | fraction of the GPU vLLM may use; replaces each instance's | memory_fraction |
//   |                         |   memory_fraction when computing KV capacity from memory  |         |
//   | watermark               | fraction of blocks kept free when admitting a prompt      | 0.01    |
//   | max_paddings            | vLLM 0.2.x's padded prompt batches: a prefill of n prompts| absent  |
//   |                         |   is computed (and costed) as n x the longest; a prompt   |         |
//   |                         |   joins only while n x longest stays within               |         |
//   |                         |   max_num_batched_tokens and the padding within this.     |         |
//   |                         |   Absent: packed unpadded (vLLM >= 0.3). prefill_first only|        |
//   | scheduling              | prefill_first: an iteration is all prefills or all decodes | prefill_first |
//   |                         |   (vLLM's default); chunked_prefill: decodes first, then     |         |
//   |                         |   prompt chunks, within max_num_batched_tokens            |         |
//   | preemption              | recompute: a preempted sequence frees its blocks and is   | recompute |
//   |                         |   prefilled again (prompt + tokens so far) when readmitted |         |
//   |                         |   (vLLM's choice for single-sequence requests). swap: its |         |
//   |                         |   blocks are copied to CPU memory and back when it resumes |         |
//   |                         |   (vLLM's --preemption-mode swap); recompute when the swap |         |
//   |                         |   space is full (vLLM would stop with an error instead)   |         |
//   | swap_space_gib          | CPU swap space per instance, GiB (vLLM's swap_space)      | 4       |
//   | swap_bandwidth_gb_s     | host<->GPU copy rate of swapped blocks, GB/s, added to the | 25      |
//   |                         |   iteration that moves them. An assumption (pinned copies |         |
//   |                         |   over PCIe 4.0 x16, 32 GB/s nominal), not a measurement  |         |
//   | over_context            | a request whose prompt + output exceeds the model's window: | reject |
//   |                         |   reject (counted), truncate (prompt cut to window - 1,     |         |
//   |                         |   then output cut to fit; counted), or fit: served by the  |         |
//   |                         |   placed model whose window holds it nearest to the       |         |
//   |                         |   router's choice in the system's model order (the later  |         |
//   |                         |   on a tie), rejected when none does; counted. Both kinds. |         |
//
// Per-iteration and per-request overheads are latency, so they live in the profile
// (iteration_overhead_ms, request_overhead_ms; sim/latency_profile.h).
#pragma once

#include <cstdint>
#include <string>

#include "common/config.h"

namespace bestserve {

enum class EngineKind { kPaper, kVllm };
enum class SchedulingPolicy { kPrefillFirst, kChunkedPrefill };
enum class OverContextRule { kReject, kTruncate, kFit };
enum class PreemptionMode { kRecompute, kSwap };

const char* ToString(EngineKind kind);
const char* ToString(SchedulingPolicy policy);
const char* ToString(OverContextRule rule);
const char* ToString(PreemptionMode mode);

struct EngineConfig {
  EngineKind kind = EngineKind::kPaper;
  int32_t block_size = 16;
  int32_t max_num_seqs = 256;
  int64_t max_num_batched_tokens = 2048;
  int64_t kv_capacity_tokens = 0;  // 0: not given
  int64_t num_gpu_blocks = 0;      // 0: not given
  double gpu_memory_utilization = 0.0;  // 0: use each instance's memory_fraction
  double watermark = 0.01;
  int64_t max_paddings = -1;  // -1: prompts packed without padding
  SchedulingPolicy scheduling = SchedulingPolicy::kPrefillFirst;
  OverContextRule over_context = OverContextRule::kReject;
  PreemptionMode preemption = PreemptionMode::kRecompute;
  double swap_space_gib = 4.0;        // preemption: swap only
  double swap_bandwidth_gb_s = 25.0;  // preemption: swap only

  // KV capacity in tokens given explicitly (kv_capacity_tokens or num_gpu_blocks), else 0.
  int64_t ExplicitKvTokens() const;
};

// Parses `cluster.engine`; throws ConfigError naming the key on bad values.
EngineConfig ParseEngineConfig(const ConfigNode& node);
// One instance's `engine:` (under its placement in cluster.gpu_groups): any key above but kind
// and over_context, over the system's settings; vllm engine only.
EngineConfig ParseInstanceEngineConfig(const ConfigNode& node, const EngineConfig& system);

// Writes the resolved section (every key) back as YAML, so a saved config loads back the same.
YAML::Node EngineConfigYaml(const EngineConfig& config);

}  // namespace bestserve
