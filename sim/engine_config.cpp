#include "sim/engine_config.h"

#include <fmt/format.h>

namespace bestserve {

const char* ToString(EngineKind kind) { return kind == EngineKind::kVllm ? "vllm" : "paper"; }

const char* ToString(SchedulingPolicy policy) {
  return policy == SchedulingPolicy::kChunkedPrefill ? "chunked_prefill" : "prefill_first";
}

const char* ToString(OverContextRule rule) {
  return rule == OverContextRule::kTruncate ? "truncate" : "reject";
}

int64_t EngineConfig::ExplicitKvTokens() const {
  if (num_gpu_blocks > 0) return num_gpu_blocks * block_size;
  if (kv_capacity_tokens > 0) return kv_capacity_tokens / block_size * block_size;
  return 0;
}

EngineConfig ParseEngineConfig(const ConfigNode& node) {
  node.ExpectMap("engine settings");
  node.CheckKeys({"kind", "block_size", "max_num_seqs", "max_num_batched_tokens",
                  "kv_capacity_tokens", "num_gpu_blocks", "gpu_memory_utilization", "watermark",
                  "max_paddings", "scheduling", "preemption", "over_context"});
  EngineConfig c;
  const std::string kind = node.GetString("kind", "paper");
  if (kind == "paper") {
    c.kind = EngineKind::kPaper;
  } else if (kind == "vllm") {
    c.kind = EngineKind::kVllm;
  } else {
    node.Child("kind").Fail(fmt::format("unknown engine '{}'; valid: paper, vllm", kind));
  }
  c.block_size = static_cast<int32_t>(node.GetPositiveInt("block_size", c.block_size));
  c.max_num_seqs = static_cast<int32_t>(node.GetPositiveInt("max_num_seqs", c.max_num_seqs));
  c.max_num_batched_tokens =
      node.GetPositiveInt("max_num_batched_tokens", c.max_num_batched_tokens);
  if (node.Has("kv_capacity_tokens") && node.Has("num_gpu_blocks")) {
    node.Child("num_gpu_blocks")
        .Fail("expected either kv_capacity_tokens or num_gpu_blocks, not both");
  }
  c.kv_capacity_tokens = node.GetPositiveInt("kv_capacity_tokens", 0);
  c.num_gpu_blocks = node.GetPositiveInt("num_gpu_blocks", 0);
  if (c.kv_capacity_tokens > 0 && c.kv_capacity_tokens < c.block_size) {
    node.Child("kv_capacity_tokens")
        .Fail(fmt::format("expected at least one block ({} tokens), got {}", c.block_size,
                          c.kv_capacity_tokens));
  }
  c.gpu_memory_utilization = node.GetNonNegativeDouble("gpu_memory_utilization", 0.0);
  if (c.gpu_memory_utilization > 1.0) {
    node.Child("gpu_memory_utilization")
        .Fail(fmt::format("expected a fraction in (0, 1], got {}", c.gpu_memory_utilization));
  }
  c.watermark = node.GetNonNegativeDouble("watermark", c.watermark);
  if (c.watermark >= 1.0) {
    node.Child("watermark").Fail(fmt::format("expected a fraction in [0, 1), got {}", c.watermark));
  }
  if (node.Has("max_paddings")) {
    c.max_paddings = node.GetInt("max_paddings");
    if (c.max_paddings < 0) {
      node.Child("max_paddings")
          .Fail(fmt::format("expected a number of tokens >= 0, got {}", c.max_paddings));
    }
  }
  const std::string scheduling = node.GetString("scheduling", "prefill_first");
  if (scheduling == "prefill_first") {
    c.scheduling = SchedulingPolicy::kPrefillFirst;
  } else if (scheduling == "chunked_prefill") {
    c.scheduling = SchedulingPolicy::kChunkedPrefill;
  } else {
    node.Child("scheduling")
        .Fail(fmt::format("unknown scheduling '{}'; valid: prefill_first, chunked_prefill",
                          scheduling));
  }
  if (c.max_paddings >= 0 && c.scheduling == SchedulingPolicy::kChunkedPrefill) {
    node.Child("max_paddings")
        .Fail(
            "max_paddings applies to prefill_first only (vLLM 0.2.x padded whole prompts; "
            "chunked prefill packs tokens)");
  }
  const std::string preemption = node.GetString("preemption", "recompute");
  if (preemption != "recompute") {
    node.Child("preemption")
        .Fail(fmt::format("unknown preemption '{}'; valid: recompute (swap is not modelled)",
                          preemption));
  }
  const std::string over_context = node.GetString("over_context", "reject");
  if (over_context == "reject") {
    c.over_context = OverContextRule::kReject;
  } else if (over_context == "truncate") {
    c.over_context = OverContextRule::kTruncate;
  } else {
    node.Child("over_context")
        .Fail(fmt::format("unknown over_context '{}'; valid: reject, truncate", over_context));
  }
  if (c.kind == EngineKind::kPaper) {
    // The paper engine has no blocks, token budget or preemption: reject keys it would ignore.
    for (const char* key : {"block_size", "max_num_seqs", "max_num_batched_tokens",
                            "kv_capacity_tokens", "num_gpu_blocks", "gpu_memory_utilization",
                            "watermark", "max_paddings", "scheduling", "preemption"}) {
      if (node.Has(key)) {
        node.Child(key).Fail(
            fmt::format("'{}' applies to `kind: vllm` only; the paper engine "
                        "takes over_context alone",
                        key));
      }
    }
  }
  return c;
}

YAML::Node EngineConfigYaml(const EngineConfig& c) {
  YAML::Node node(YAML::NodeType::Map);
  node["kind"] = ToString(c.kind);
  if (c.kind == EngineKind::kVllm) {
    node["block_size"] = c.block_size;
    node["max_num_seqs"] = c.max_num_seqs;
    node["max_num_batched_tokens"] = c.max_num_batched_tokens;
    if (c.num_gpu_blocks > 0) node["num_gpu_blocks"] = c.num_gpu_blocks;
    if (c.kv_capacity_tokens > 0) node["kv_capacity_tokens"] = c.kv_capacity_tokens;
    if (c.gpu_memory_utilization > 0.0) {
      node["gpu_memory_utilization"] = fmt::format("{}", c.gpu_memory_utilization);
    }
    node["watermark"] = fmt::format("{}", c.watermark);
    if (c.max_paddings >= 0) node["max_paddings"] = c.max_paddings;
    node["scheduling"] = ToString(c.scheduling);
    node["preemption"] = "recompute";
  }
  node["over_context"] = ToString(c.over_context);
  return node;
}

}  // namespace bestserve
