#include "profiles/tools/provenance_record.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/error.h"

namespace bestserve::profiling {
namespace {

int64_t PositiveInt(const ConfigNode& node, std::string_view key) {
  const ConfigNode child = node.Child(key);
  const int64_t value = child.AsInt();
  if (value <= 0) child.Fail(fmt::format("expected an integer > 0, got {}", value));
  return value;
}

std::string NonEmptyString(const ConfigNode& node, std::string_view key) {
  const ConfigNode child = node.Child(key);
  std::string value = child.AsString();
  if (value.empty()) child.Fail("expected a non-empty string");
  return value;
}

}  // namespace

const ModelArchitecture& ProvenanceRecord::Model(const std::string& model,
                                                 const std::string& referrer) const {
  for (const auto& m : models) {
    if (m.name == model) return m;
  }
  std::vector<std::string> names;
  for (const auto& m : models) names.push_back(m.name);
  ThrowConfigError("{}: models: no entry for '{}' (measured in {}); it has: {}", source, model,
                   referrer, fmt::join(names, ", "));
}

ProvenanceRecord ParseProvenance(const ConfigNode& root) {
  root.ExpectMap("provenance fields");
  ProvenanceRecord p;
  p.source = root.source();
  const ConfigNode schema = root.Child("schema");
  if (schema.AsString() != kProvenanceSchema) {
    schema.Fail(fmt::format("expected '{}', got '{}'", kProvenanceSchema, schema.AsString()));
  }
  const ConfigNode device = root.Child("device");
  p.device = device.AsString();
  if (p.device != "cuda" && p.device != "cpu") {
    device.Fail(fmt::format("expected 'cuda' or 'cpu', got '{}'", p.device));
  }
  const ConfigNode gpu = root.Child("gpu");
  gpu.ExpectMap("device fields (name, memory_bytes)");
  p.gpu_name = NonEmptyString(gpu, "name");
  p.gpu_memory_bytes = gpu.GetPositiveDouble("memory_bytes");
  p.gpu_driver = gpu.GetString("driver", "");

  const ConfigNode software = root.Child("software");
  software.ExpectMap("software versions");
  software.Child("python");
  software.Child("torch");
  for (const auto& key : software.Keys()) {
    const auto value = software.MaybeChild(key);  // null (e.g. cuda on a CPU run): "none"
    p.software.emplace_back(key, value ? value->AsString() : "none");
  }
  std::sort(p.software.begin(), p.software.end());

  p.command = NonEmptyString(root, "command");
  p.date = NonEmptyString(root, "date");
  p.host = NonEmptyString(root, "host");
  p.dtype = NonEmptyString(root, "dtype");
  p.timer = NonEmptyString(root, "timer");
  p.repeats = PositiveInt(root, "repeats");
  const ConfigNode warmup = root.Child("warmup");
  p.warmup = warmup.AsInt();
  if (p.warmup < 0) warmup.Fail(fmt::format("expected an integer >= 0, got {}", p.warmup));
  p.colocation_mode = root.GetString("colocation_mode", "");

  const ConfigNode models = root.Child("models");
  models.ExpectMap("model architectures");
  for (const auto& name : models.Keys()) {
    const ConfigNode m = models.Child(name);
    m.ExpectMap("architecture fields");
    ModelArchitecture a;
    a.name = name;
    a.layers = PositiveInt(m, "layers");
    a.hidden = PositiveInt(m, "hidden");
    a.heads = PositiveInt(m, "heads");
    a.ffn = PositiveInt(m, "ffn");
    a.vocab = PositiveInt(m, "vocab");
    a.max_positions = PositiveInt(m, "max_positions");
    a.parameters = m.GetPositiveDouble("parameters");
    p.models.push_back(a);
  }
  if (auto notes = root.MaybeChild("notes")) {
    notes->ExpectSequence("strings");
    for (size_t i = 0; i < notes->size(); ++i) p.notes.push_back(notes->Element(i).AsString());
  }
  return p;
}

ProvenanceRecord LoadProvenance(const std::string& path) {
  return ParseProvenance(ConfigNode::LoadFile(path));
}

ProvenanceRecord MergeProvenance(const std::vector<ProvenanceRecord>& parts) {
  BS_CHECK(!parts.empty());
  ProvenanceRecord merged = parts.front();
  auto join_unique = [](std::string* into, const std::string& value) {
    if (("; " + *into + "; ").find("; " + value + "; ") == std::string::npos) *into += "; " + value;
  };
  for (size_t i = 1; i < parts.size(); ++i) {
    const ProvenanceRecord& p = parts[i];
    auto same = [&](const char* field, const auto& a, const auto& b) {
      if (a != b) {
        ThrowConfigError(
            "{}: {} differs from {} ({} vs {}); only runs of one measurement setup can be "
            "fitted together",
            p.source, field, merged.source, fmt::format("{}", b), fmt::format("{}", a));
      }
    };
    same("device", merged.device, p.device);
    same("gpu.name", merged.gpu_name, p.gpu_name);
    same("gpu.memory_bytes", merged.gpu_memory_bytes, p.gpu_memory_bytes);
    same("gpu.driver", merged.gpu_driver, p.gpu_driver);
    same("dtype", merged.dtype, p.dtype);
    same("timer", merged.timer, p.timer);
    same("repeats", merged.repeats, p.repeats);
    same("warmup", merged.warmup, p.warmup);
    for (size_t k = 0; k < std::max(merged.software.size(), p.software.size()); ++k) {
      const auto a =
          k < merged.software.size() ? merged.software[k] : std::pair<std::string, std::string>{};
      const auto b = k < p.software.size() ? p.software[k] : std::pair<std::string, std::string>{};
      same("software", a.first + " " + a.second, b.first + " " + b.second);
    }
    join_unique(&merged.command, p.command);
    join_unique(&merged.date, p.date);
    join_unique(&merged.host, p.host);
    if (merged.colocation_mode.empty()) merged.colocation_mode = p.colocation_mode;
    for (const auto& m : p.models) {
      const auto it = std::find_if(merged.models.begin(), merged.models.end(),
                                   [&](const ModelArchitecture& x) { return x.name == m.name; });
      if (it == merged.models.end()) {
        merged.models.push_back(m);
      } else if (it->layers != m.layers || it->hidden != m.hidden || it->heads != m.heads ||
                 it->ffn != m.ffn || it->vocab != m.vocab || it->max_positions != m.max_positions) {
        ThrowConfigError("{}: models.{} has another architecture than in {}", p.source, m.name,
                         merged.source);
      }
    }
    for (const auto& note : p.notes) {
      if (std::find(merged.notes.begin(), merged.notes.end(), note) == merged.notes.end()) {
        merged.notes.push_back(note);
      }
    }
    merged.source += ", " + p.source;
  }
  return merged;
}

}  // namespace bestserve::profiling
