#include "sim/cluster.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/limits.h"

namespace bestserve {

const char* ToString(LoadBalancer lb) {
  switch (lb) {
    case LoadBalancer::kSmallestBatch: return "smallest_batch";
    case LoadBalancer::kLeastQueue: return "least_queue";
    case LoadBalancer::kPowerOfTwo: return "power_of_two";
  }
  return "?";
}

const char* ToString(Queueing q) {
  return q == Queueing::kShared ? "shared" : "per_replica";
}

std::vector<int32_t> ServingSystem::ReplicasOf(ModelId model) const {
  std::vector<int32_t> replicas;
  for (size_t i = 0; i < instances.size(); ++i) {
    if (instances[i].model == model) replicas.push_back(static_cast<int32_t>(i));
  }
  return replicas;
}

ModelId ServingSystem::FindModel(const std::string& name) const {
  for (size_t m = 0; m < model_names.size(); ++m) {
    if (model_names[m] == name) return static_cast<ModelId>(m);
  }
  return -1;
}

ServingSystem DedicatedSystem(const ServingSystem& base, ModelId model, double memory_fraction) {
  BS_CHECK(model >= 0 && static_cast<size_t>(model) < base.model_names.size());
  ServingSystem system = base;
  system.instances.clear();
  const ModelProfile& profile = base.model_profiles[static_cast<size_t>(model)]->model();
  const double kv_bytes = memory_fraction * base.gpu_memory_bytes - profile.weight_bytes -
                          profile.activation_reserve_bytes;
  BS_CHECK_MSG(kv_bytes >= profile.kv_bytes_per_token, "'{}' does not fit a whole GPU", profile.name);
  for (int32_t gpu = 0; gpu < base.num_gpus; ++gpu) {
    InstanceSpec inst;
    inst.model = model;
    inst.gpu = gpu;
    inst.memory_fraction = memory_fraction;
    inst.kv_capacity_tokens = static_cast<int64_t>(std::floor(kv_bytes / profile.kv_bytes_per_token));
    inst.max_batch_size = profile.max_batch_size;
    // The engine settings of the model's first instance in `base` (per-instance overrides
    // included), else the system's.
    inst.engine = base.engine;
    for (const InstanceSpec& placed : base.instances) {
      if (placed.model == model) {
        inst.engine = placed.engine;
        break;
      }
    }
    if (inst.engine.kind == EngineKind::kVllm) {
      inst.max_batch_size = inst.engine.max_num_seqs;
      if (inst.engine.ExplicitKvTokens() > 0) inst.kv_capacity_tokens = inst.engine.ExplicitKvTokens();
    }
    system.instances.push_back(inst);
  }
  return system;
}

ServingSystem ParseServingSystem(const ConfigNode& section, const ProfileSet& profiles,
                                 const std::vector<std::string>& model_order) {
  section.CheckKeys({"gpu_groups", "interference_factor", "load_balancer", "queueing",
                     "max_prefill_tokens", "engine"});
  ServingSystem system;
  system.gpu_memory_bytes = profiles.gpu_memory_bytes;
  system.interference_factor = section.GetNonNegativeDouble("interference_factor", 0.0);
  system.max_prefill_tokens = GetIntIn(section, "max_prefill_tokens", 1, std::numeric_limits<int32_t>::max(), 4096);
  if (const auto engine = section.MaybeChild("engine")) system.engine = ParseEngineConfig(*engine);
  const bool vllm = system.engine.kind == EngineKind::kVllm;

  const std::string lb = section.GetString("load_balancer", "smallest_batch");
  if (lb == "smallest_batch") {
    system.load_balancer = LoadBalancer::kSmallestBatch;
  } else if (lb == "least_queue") {
    system.load_balancer = LoadBalancer::kLeastQueue;
  } else if (lb == "power_of_two") {
    system.load_balancer = LoadBalancer::kPowerOfTwo;
  } else {
    section.Child("load_balancer")
        .Fail(fmt::format("unknown load balancer '{}'; valid: smallest_batch, least_queue, "
                          "power_of_two",
                          lb));
  }
  const std::string queueing = section.GetString("queueing", "per_replica");
  if (queueing == "per_replica") {
    system.queueing = Queueing::kPerReplica;
  } else if (queueing == "shared") {
    system.queueing = Queueing::kShared;
  } else {
    section.Child("queueing")
        .Fail(fmt::format("unknown queueing '{}'; valid: per_replica, shared", queueing));
  }
  if (vllm && system.queueing != Queueing::kPerReplica) {
    section.Child("queueing")
        .Fail("the vllm engine keeps its own waiting queue; expected `queueing: per_replica`");
  }

  // First pass: which models are placed, to fix the action order.
  struct Placement {
    std::string model;
    double fraction;
    int64_t max_batch;  // 0: the profile's
    ConfigNode node;
  };
  struct Group {
    int64_t count;
    std::vector<Placement> placements;
  };
  std::vector<Group> groups;
  const ConfigNode gpu_groups = section.Child("gpu_groups");
  gpu_groups.ExpectSequence("GPU groups");
  if (gpu_groups.size() == 0) gpu_groups.Fail("expected at least one GPU group");
  for (size_t g = 0; g < gpu_groups.size(); ++g) {
    const ConfigNode group = gpu_groups.Element(g);
    group.CheckKeys({"count", "instances"});
    // A GPU group of more than kMaxGpusPerGroup is a typo, not a cluster (and would exhaust memory).
    constexpr int64_t kMaxGpusPerGroup = 4096;
    Group parsed{GetIntIn(group, "count", 1, kMaxGpusPerGroup, 1), {}};
    const ConfigNode instances = group.Child("instances");
    instances.ExpectSequence("model instances");
    if (instances.size() == 0) instances.Fail("expected at least one model instance per GPU");
    double total_fraction = 0.0;
    for (size_t i = 0; i < instances.size(); ++i) {
      const ConfigNode inst = instances.Element(i);
      inst.CheckKeys({"model", "memory_fraction", "max_batch_size", "engine"});
      Placement p{inst.GetString("model"), 0.0, GetIntIn(inst, "max_batch_size", 1, 1 << 20, 0), inst};
      const ConfigNode fraction = inst.Child("memory_fraction");
      p.fraction = fraction.AsDouble();
      if (!(p.fraction > 0.0) || p.fraction > 1.0) {
        fraction.Fail(fmt::format("expected a fraction in (0, 1], got {}", p.fraction));
      }
      try {
        profiles.Find(p.model);
      } catch (const ConfigError& e) {
        inst.Child("model").Fail(e.what());
      }
      total_fraction += p.fraction;
      parsed.placements.push_back(p);
    }
    if (total_fraction > 1.0 + 1e-9) {
      std::vector<std::string> parts;
      for (const auto& p : parsed.placements) parts.push_back(fmt::format("{}", p.fraction));
      instances.Fail(fmt::format("memory fractions on one GPU add up to {} ({}); expected <= 1",
                                 total_fraction, fmt::join(parts, " + ")));
    }
    groups.push_back(std::move(parsed));
  }

  std::vector<std::string> placed;
  for (const auto& name : profiles.ModelNames()) {
    for (const auto& group : groups) {
      for (const auto& p : group.placements) {
        if (p.model == name && std::find(placed.begin(), placed.end(), name) == placed.end()) {
          placed.push_back(name);
        }
      }
    }
  }
  if (model_order.empty()) {
    system.model_names = placed;
  } else {
    system.model_names = model_order;
    for (const auto& name : placed) {
      if (std::find(model_order.begin(), model_order.end(), name) == model_order.end()) {
        section.Fail(fmt::format("model '{}' is placed on GPUs but missing from `models` ({})",
                                 name, fmt::join(model_order, ", ")));
      }
    }
  }
  for (const auto& name : system.model_names) system.model_profiles.push_back(profiles.Find(name));

  int32_t gpu = 0;
  for (const auto& group : groups) {
    for (int64_t c = 0; c < group.count; ++c, ++gpu) {
      for (const auto& p : group.placements) {
        const ModelProfile& model = profiles.Find(p.model)->model();
        const EngineConfig engine = p.node.Has("engine")
                                        ? ParseInstanceEngineConfig(p.node.Child("engine"), system.engine)
                                        : system.engine;
        const double fraction = vllm && engine.gpu_memory_utilization > 0.0
                                    ? engine.gpu_memory_utilization
                                    : p.fraction;
        const double bytes = fraction * system.gpu_memory_bytes;
        const double kv_bytes = bytes - model.weight_bytes - model.activation_reserve_bytes;
        const double one_request = model.kv_bytes_per_token;  // at least one token must fit
        if (kv_bytes < one_request && !(vllm && engine.ExplicitKvTokens() > 0)) {
          p.node.Child("memory_fraction")
              .Fail(fmt::format(
                  "{} of {:.1f} GiB is {:.2f} GiB, but '{}' needs {:.2f} GiB for weights and "
                  "activations before any KV cache",
                  fraction, system.gpu_memory_bytes / (1 << 30), bytes / (1 << 30), p.model,
                  (model.weight_bytes + model.activation_reserve_bytes) / (1 << 30)));
        }
        InstanceSpec inst;
        inst.model = system.FindModel(p.model);
        inst.gpu = gpu;
        inst.memory_fraction = p.fraction;
        inst.kv_capacity_tokens = static_cast<int64_t>(std::floor(kv_bytes / model.kv_bytes_per_token));
        inst.max_batch_size = static_cast<int32_t>(p.max_batch > 0 ? p.max_batch : model.max_batch_size);
        inst.engine = engine;
        if (vllm) {
          // The engine's own limits replace the paper's per-instance batch cap.
          if (engine.ExplicitKvTokens() > 0) inst.kv_capacity_tokens = engine.ExplicitKvTokens();
          if (p.node.Has("max_batch_size")) {
            p.node.Child("max_batch_size")
                .Fail("the vllm engine takes max_num_seqs under cluster.engine (or the instance's engine) instead");
          }
          inst.max_batch_size = engine.max_num_seqs;
          if (engine.scheduling == SchedulingPolicy::kPrefillFirst &&
              engine.max_num_batched_tokens < model.max_context_tokens) {
            // vLLM refuses this too: a prompt near the window could never be scheduled.
            (p.node.Has("engine") ? p.node.Child("engine") : section.Child("engine"))
                .Fail(fmt::format(
                    "max_num_batched_tokens {} is smaller than the context window {} of '{}'; "
                    "raise it or use `scheduling: chunked_prefill`",
                    engine.max_num_batched_tokens, model.max_context_tokens, p.model));
          }
        } else if (inst.max_batch_size > model.max_batch_size) {
          p.node.Child("max_batch_size")
              .Fail(fmt::format("expected at most the profile's max_batch_size {} for '{}', got {}",
                                model.max_batch_size, p.model, inst.max_batch_size));
        }
        system.instances.push_back(inst);
      }
    }
  }
  system.num_gpus = gpu;
  return system;
}

}  // namespace bestserve
