// `bestserve profile import`: DistServe's fitted latency model of vLLM iterations
// (simdistserve/estimators/profile_data/profiler-<gpu>.vllm.json) as a bestserve profile set.
//
// The JSON maps a Hugging Face model name to tensor-parallel degree to
// {prefill, decoding_smallbs, decoding_largebs: [a, b, c], decoding_large_small_bs_threshold}.
// The imported set has one model with `latency_model: distserve` (sim/parametric_profile.h)
// and provenance kind `fitted`: the numbers were fitted by DistServe to their measurements,
// not measured by us. Memory facts (weights, KV bytes per token) come from the model's
// architecture at fp16, divided over the tensor-parallel GPUs.
#pragma once

#include <string>

namespace bestserve::profiling {

struct DistServeImportOptions {
  std::string json_path;
  std::string model;  // bestserve name, e.g. opt-13b (the JSON says facebook/opt-13b)
  int tensor_parallel = 1;
  std::string gpu_name = "NVIDIA A100-SXM4-80GB";
  double gpu_memory_gib = 80.0;
  std::string engine = "vLLM";  // what DistServe measured under
  std::string set_name;         // profile set name (default: distserve-a100)
  // Serving overheads beyond DistServe's GPU-time fit (sim/latency_profile.h); when set, the
  // provenance says they were calibrated and how (`overhead_note`).
  double iteration_overhead_ms = 0.0;
  double request_overhead_ms = 0.0;
  double sequence_overhead_ms = 0.0;
  std::string overhead_note;
};

// The profile set YAML. Throws ConfigError naming the file and key path on a malformed file,
// an unknown model (listing the file's models) or a missing tensor-parallel degree.
std::string ImportDistServeProfile(const DistServeImportOptions& options);

}  // namespace bestserve::profiling
