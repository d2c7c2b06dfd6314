#include "sim/engine_config.h"

#include <fmt/format.h>

namespace bestserve {

const char* ToString(EngineKind kind) { return kind == EngineKind::kVllm ? "vllm" : "paper"; }

const char* ToString(SchedulingPolicy policy) {
  return policy == SchedulingPolicy::kChunkedPrefill ? "chunked_prefill" : "prefill_first";
}

const char* ToString(OverContextRule rule) {
  switch (rule) {
    case OverContextRule::kTruncate:
      return "truncate";
    case OverContextRule::kFit:
      return "fit";
    case OverContextRule::kReject:
      break;
  }
  return "reject";
}

const char* ToString(PreemptionMode mode) {
  return mode == PreemptionMode::kSwap ? "swap" : "recompute";
}

int64_t EngineConfig::ExplicitKvTokens() const {
  if (num_gpu_blocks > 0) return num_gpu_blocks * block_size;
  if (kv_capacity_tokens > 0) return kv_capacity_tokens / block_size * block_size;
  return 0;
}

namespace {

// The keys an instance may set for itself (`engine:` under a placement); kind and over_context
// are the system's: one engine model and one dispatch rule per run.
constexpr const char* kInstanceKeys[] = {
    "block_size", "max_num_seqs", "max_num_batched_tokens", "kv_capacity_tokens", "num_gpu_blocks",
    "gpu_memory_utilization", "watermark", "max_paddings", "scheduling", "preemption",
    "swap_space_gib", "swap_bandwidth_gb_s"};

// Reads the vllm knobs present in `node` over `c` (whose values are the defaults), then checks
// the result against itself.
void ParseVllmKnobs(const ConfigNode& node, EngineConfig& c) {
  c.block_size = static_cast<int32_t>(node.GetPositiveInt("block_size", c.block_size));
  c.max_num_seqs = static_cast<int32_t>(node.GetPositiveInt("max_num_seqs", c.max_num_seqs));
  c.max_num_batched_tokens =
      node.GetPositiveInt("max_num_batched_tokens", c.max_num_batched_tokens);
  if (node.Has("kv_capacity_tokens") && node.Has("num_gpu_blocks")) {
    node.Child("num_gpu_blocks")
        .Fail("expected either kv_capacity_tokens or num_gpu_blocks, not both");
  }
  // Either one given here replaces both as inherited.
  if (node.Has("kv_capacity_tokens") || node.Has("num_gpu_blocks")) {
    c.kv_capacity_tokens = node.GetPositiveInt("kv_capacity_tokens", 0);
    c.num_gpu_blocks = node.GetPositiveInt("num_gpu_blocks", 0);
  }
  if (c.kv_capacity_tokens > 0 && c.kv_capacity_tokens < c.block_size) {
    node.Child(node.Has("kv_capacity_tokens") ? "kv_capacity_tokens" : "block_size")
        .Fail(fmt::format("expected at least one block ({} tokens) of KV capacity, got {} tokens",
                          c.block_size, c.kv_capacity_tokens));
  }
  c.gpu_memory_utilization =
      node.GetNonNegativeDouble("gpu_memory_utilization", c.gpu_memory_utilization);
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
  const std::string scheduling = node.GetString("scheduling", ToString(c.scheduling));
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
    node.Child(node.Has("max_paddings") ? "max_paddings" : "scheduling")
        .Fail(
            "max_paddings applies to prefill_first only (vLLM 0.2.x padded whole prompts; "
            "chunked prefill packs tokens)");
  }
  const std::string preemption = node.GetString("preemption", ToString(c.preemption));
  if (preemption == "recompute") {
    c.preemption = PreemptionMode::kRecompute;
  } else if (preemption == "swap") {
    c.preemption = PreemptionMode::kSwap;
  } else {
    node.Child("preemption")
        .Fail(fmt::format("unknown preemption '{}'; valid: recompute, swap", preemption));
  }
  for (const char* key : {"swap_space_gib", "swap_bandwidth_gb_s"}) {
    if (node.Has(key) && c.preemption != PreemptionMode::kSwap) {
      node.Child(key).Fail(fmt::format("'{}' applies to `preemption: swap` only", key));
    }
  }
  // Bounded so that block counts and copy times stay finite: 1 TiB of host memory, 10 TB/s.
  c.swap_space_gib = node.GetNonNegativeDouble("swap_space_gib", c.swap_space_gib);
  if (c.swap_space_gib > 1024.0) {
    node.Child("swap_space_gib")
        .Fail(fmt::format("expected at most 1024 GiB, got {}", c.swap_space_gib));
  }
  c.swap_bandwidth_gb_s = node.GetPositiveDouble("swap_bandwidth_gb_s", c.swap_bandwidth_gb_s);
  if (c.swap_bandwidth_gb_s > 10000.0) {
    node.Child("swap_bandwidth_gb_s")
        .Fail(fmt::format("expected at most 10000 GB/s, got {}", c.swap_bandwidth_gb_s));
  }
}

}  // namespace

EngineConfig ParseEngineConfig(const ConfigNode& node) {
  node.ExpectMap("engine settings");
  std::vector<std::string> keys(std::begin(kInstanceKeys), std::end(kInstanceKeys));
  keys.emplace_back("kind");
  keys.emplace_back("over_context");
  node.CheckKeys(keys);
  EngineConfig c;
  const std::string kind = node.GetString("kind", "paper");
  if (kind == "paper") {
    c.kind = EngineKind::kPaper;
  } else if (kind == "vllm") {
    c.kind = EngineKind::kVllm;
  } else {
    node.Child("kind").Fail(fmt::format("unknown engine '{}'; valid: paper, vllm", kind));
  }
  if (c.kind == EngineKind::kPaper) {
    // The paper engine has no blocks, token budget or preemption: reject keys it would ignore.
    for (const char* key : kInstanceKeys) {
      if (node.Has(key)) {
        node.Child(key).Fail(
            fmt::format("'{}' applies to `kind: vllm` only; the paper engine "
                        "takes over_context alone",
                        key));
      }
    }
  }
  ParseVllmKnobs(node, c);
  const std::string over_context = node.GetString("over_context", "reject");
  if (over_context == "reject") {
    c.over_context = OverContextRule::kReject;
  } else if (over_context == "truncate") {
    c.over_context = OverContextRule::kTruncate;
  } else if (over_context == "fit") {
    c.over_context = OverContextRule::kFit;
  } else {
    node.Child("over_context")
        .Fail(fmt::format("unknown over_context '{}'; valid: reject, truncate, fit", over_context));
  }
  return c;
}

EngineConfig ParseInstanceEngineConfig(const ConfigNode& node, const EngineConfig& system) {
  node.ExpectMap("engine settings of one instance");
  for (const char* key : {"kind", "over_context"}) {
    if (node.Has(key)) {
      node.Child(key).Fail(fmt::format(
          "'{}' is the system's (cluster.engine), not one instance's", key));
    }
  }
  node.CheckKeys(std::vector<std::string>(std::begin(kInstanceKeys), std::end(kInstanceKeys)));
  if (system.kind != EngineKind::kVllm) {
    node.Fail("per-instance engine settings apply to `cluster.engine.kind: vllm` only");
  }
  EngineConfig c = system;
  ParseVllmKnobs(node, c);
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
    node["preemption"] = ToString(c.preemption);
    if (c.preemption == PreemptionMode::kSwap) {
      node["swap_space_gib"] = fmt::format("{}", c.swap_space_gib);
      node["swap_bandwidth_gb_s"] = fmt::format("{}", c.swap_bandwidth_gb_s);
    }
  }
  node["over_context"] = ToString(c.over_context);
  return node;
}

}  // namespace bestserve
