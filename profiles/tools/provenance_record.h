// The provenance record the profiler writes next to its raw measurements (provenance.json;
// YAML with the same keys works too, since JSON is read through the YAML parser).
//
//   | key              | required | meaning                                                    |
//   |------------------|----------|------------------------------------------------------------|
//   | schema           | yes      | "bestserve-profile-provenance-v1"                          |
//   | device           | yes      | "cuda" or "cpu" (a CPU run is a pipeline test, not a GPU   |
//   |                  |          | profile; its co-location ratios are meaningless)           |
//   | gpu.name         | yes      | device name (CUDA device name; "cpu: <model>" on a CPU)    |
//   | gpu.memory_bytes | yes      | device memory (host memory on a CPU)                       |
//   | gpu.driver       | no       | NVIDIA driver version                                      |
//   | software         | yes      | map of versions; python and torch required (cuda, cudnn,   |
//   |                  |          | transformers, platform kept when present)                  |
//   | command          | yes      | the profiler's command line                                |
//   | date             | yes      | UTC start time, ISO 8601                                   |
//   | host             | yes      | host name                                                  |
//   | dtype            | yes      | float16, bfloat16 or float32                               |
//   | timer            | yes      | cuda-events or perf-counter                                |
//   | repeats, warmup  | yes      | timed repetitions and warm-up iterations per point         |
//   | models.<name>    | yes      | layers, hidden, heads, ffn, vocab, max_positions,          |
//   |                  |          | parameters: for every model of the raw file               |
//   | colocation_mode  | no       | process or thread                                          |
//   | notes            | no       | list of strings                                            |
//
// Missing or malformed fields are ConfigErrors naming file:line:column and the key path.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/config.h"

namespace bestserve::profiling {

inline constexpr const char* kProvenanceSchema = "bestserve-profile-provenance-v1";

struct ModelArchitecture {
  std::string name;
  int64_t layers = 0;
  int64_t hidden = 0;
  int64_t heads = 0;
  int64_t ffn = 0;
  int64_t vocab = 0;
  int64_t max_positions = 0;
  double parameters = 0.0;
};

struct ProvenanceRecord {
  std::string source;  // the file it was read from
  std::string device;
  std::string gpu_name;
  double gpu_memory_bytes = 0.0;
  std::string gpu_driver;                                     // empty when not recorded
  std::vector<std::pair<std::string, std::string>> software;  // sorted by key; null -> "none"
  std::string command;
  std::string date;
  std::string host;
  std::string dtype;
  std::string timer;
  int64_t repeats = 0;
  int64_t warmup = 0;
  std::string colocation_mode;
  std::vector<ModelArchitecture> models;
  std::vector<std::string> notes;

  // The architecture of `model`; ConfigError naming this file when it is not recorded.
  const ModelArchitecture& Model(const std::string& model, const std::string& referrer) const;
};

ProvenanceRecord ParseProvenance(const ConfigNode& root);
ProvenanceRecord LoadProvenance(const std::string& path);

// Combines the records of several runs (one per raw file). They must describe the same
// measurement setup: device, GPU name, memory and driver, dtype, timer, software, repeats and
// warm-up must be equal (ConfigError naming the field and both files otherwise). Commands, dates
// and hosts are joined with "; "; models are united (a model recorded twice must have the same
// architecture). Precondition: !parts.empty().
ProvenanceRecord MergeProvenance(const std::vector<ProvenanceRecord>& parts);

}  // namespace bestserve::profiling
