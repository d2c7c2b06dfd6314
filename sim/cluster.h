// The serving system: GPUs, the model instances placed on them, and how requests reach them.
//
// Config section `cluster` (all keys but gpu_groups have defaults):
//
//   | key                  | meaning                                                    | default       |
//   |----------------------|------------------------------------------------------------|---------------|
//   | gpu_groups           | list of {count, instances: [{model, memory_fraction,       | required      |
//   |                      |   max_batch_size?, engine?}]}: `count` identical GPUs each  |               |
//   |                      |   hosting those instances. Several groups allow partial     |               |
//   |                      |   placements. An instance's `engine:` overrides any key of  |               |
//   |                      |   cluster.engine but kind and over_context (vllm only)      |               |
//   | interference_factor  | co-location slowdown: an iteration that starts while k      | 0 (none)      |
//   |                      |   other instances on its GPU are mid-iteration takes        |               |
//   |                      |   (1 + factor * k) times its profile latency               |               |
//   | load_balancer        | smallest_batch | least_queue | power_of_two                | smallest_batch|
//   | queueing             | per_replica (each replica keeps its own FIFO queue) |       | per_replica   |
//   |                      |   shared (one FIFO per model; the first replica with room   |               |
//   |                      |   takes the head: M/M/c when batches hold one request)      |               |
//   | max_prefill_tokens   | most prompt tokens admitted into one prefill iteration     | 4096          |
//   |                      |   (paper engine; the vllm engine has max_num_batched_tokens)|               |
//   | engine               | how each instance schedules iterations (sim/engine_config.h)| kind: paper   |
//
// Memory: an instance with memory fraction f on a GPU of M bytes has f*M bytes. Weights and
// the activation reserve come first; what is left, divided by the model's KV bytes per token,
// is the instance's KV capacity in tokens. A request reserves prompt + output tokens of KV when
// admitted (no preemption; vLLM instead grows the reservation block by block and preempts on
// overflow, which this conservative rule never needs). `engine: {kind: vllm}` models that instead
// (sim/instance_scheduler.h); its KV capacity may also be given in tokens or blocks, or from
// gpu_memory_utilization in place of memory_fraction. Interference default 0: the paper does
// not say whether co-located models slow each other; the factor lets that be studied.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/request.h"
#include "sim/engine_config.h"
#include "sim/latency_profile.h"

namespace bestserve {

enum class LoadBalancer { kSmallestBatch, kLeastQueue, kPowerOfTwo };
enum class Queueing { kPerReplica, kShared };

const char* ToString(LoadBalancer lb);
const char* ToString(Queueing q);

struct InstanceSpec {
  ModelId model = 0;
  int32_t gpu = 0;
  double memory_fraction = 0.0;
  int64_t kv_capacity_tokens = 0;
  int32_t max_batch_size = 1;
  // This instance's engine: cluster.engine with the placement's own `engine:` keys over it.
  EngineConfig engine;
};

struct ServingSystem {
  std::vector<std::string> model_names;  // action order: index = ModelId
  std::vector<std::shared_ptr<const LatencyProfile>> model_profiles;  // by ModelId
  std::vector<InstanceSpec> instances;  // replica index = position; sorted by (gpu, placement)
  int32_t num_gpus = 0;
  double gpu_memory_bytes = 0.0;
  double interference_factor = 0.0;
  LoadBalancer load_balancer = LoadBalancer::kSmallestBatch;
  Queueing queueing = Queueing::kPerReplica;
  int64_t max_prefill_tokens = 4096;
  EngineConfig engine;

  // Replica indices of a model, ascending.
  std::vector<int32_t> ReplicasOf(ModelId model) const;
  ModelId FindModel(const std::string& name) const;  // -1 when absent
};

// The paper's static baselines: the same GPUs and model order as `base`, but every GPU holds
// one instance of `model` alone with `memory_fraction` of its memory ("baselines get all GPU
// memory for their single model"). Other models keep their action index and have no replica.
ServingSystem DedicatedSystem(const ServingSystem& base, ModelId model, double memory_fraction = 1.0);

// Builds the system from a `cluster` section and a profile set. `model_order`, when not empty,
// fixes the action order (every placed model must be in it); otherwise models are ordered as
// in the profile set. Throws ConfigError on unknown models, fractions over 1, weights that do
// not fit, and the like.
ServingSystem ParseServingSystem(const ConfigNode& section, const ProfileSet& profiles,
                                 const std::vector<std::string>& model_order);

}  // namespace bestserve
