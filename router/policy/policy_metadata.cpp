#include "router/policy/policy_metadata.h"

#include <charconv>
#include <cstdio>
#include <cstdlib>

namespace bestserve {
namespace {

std::string FloatText(double value) {
  // %.9g round-trips a float; the text is for people as much as for the reader.
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.9g", value);
  return buffer;
}

const std::string* Find(const MetadataEntries& entries, const std::string& key) {
  for (const auto& [k, v] : entries) {
    if (k == key) return &v;
  }
  return nullptr;
}

bool ParseDouble(const std::string& text, double* out) {
  char* end = nullptr;
  *out = std::strtod(text.c_str(), &end);
  return !text.empty() && end == text.c_str() + text.size();
}

}  // namespace

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i];
  }
  return out;
}

std::vector<std::string> SplitNames(const std::string& text) {
  std::vector<std::string> names;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    names.push_back(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return names;
}

MetadataEntries EncodePolicyMetadata(const PolicyMetadata& m) {
  MetadataEntries e;
  e.emplace_back("observation.encoding", ToString(m.observation.encoding));
  e.emplace_back("observation.in_flight_scale", FloatText(m.observation.in_flight_scale));
  e.emplace_back("observation.rate_scale_rps", FloatText(m.observation.rate_scale_rps));
  e.emplace_back("tasks", JoinNames(m.task_names));
  e.emplace_back("models", JoinNames(m.model_names));
  e.emplace_back("rate_estimator.kind", m.rate_estimator.kind);
  const RateEstimatorSettings& r = m.rate_estimator;
  if (r.kind == "last_k" || r.kind == "last_k_v2") e.emplace_back("rate_estimator.k", std::to_string(r.k));
  if (r.kind == "last_k_v2") e.emplace_back("rate_estimator.resolution_s", FloatText(r.resolution_s));
  if (r.kind == "two_scale") {
    e.emplace_back("rate_estimator.fast_half_life_s", FloatText(r.fast_half_life_s));
    e.emplace_back("rate_estimator.slow_half_life_s", FloatText(r.slow_half_life_s));
  }
  if (m.rate_estimator.kind == "ewma") e.emplace_back("rate_estimator.half_life_s", FloatText(m.rate_estimator.half_life_s));
  return e;
}

std::string DecodePolicyMetadata(const MetadataEntries& entries, PolicyMetadata* out) {
  PolicyMetadata m;
  const char* required[] = {"observation.encoding", "observation.in_flight_scale", "observation.rate_scale_rps",
                            "tasks", "models", "rate_estimator.kind"};
  for (const char* key : required) {
    if (Find(entries, key) == nullptr) return std::string("missing metadata key '") + key + "'";
  }
  const std::string& encoding = *Find(entries, "observation.encoding");
  if (const auto known = ObservationEncodingFromName(encoding)) {
    m.observation.encoding = *known;
  } else {
    return "unknown observation.encoding '" + encoding + "' (known: paper-v1, extended-v1, request-v1, gateway-v1)";
  }
  double value = 0.0;
  if (!ParseDouble(*Find(entries, "observation.in_flight_scale"), &value) || !(value > 0.0)) {
    return "observation.in_flight_scale must be a number > 0";
  }
  m.observation.in_flight_scale = static_cast<float>(value);
  if (!ParseDouble(*Find(entries, "observation.rate_scale_rps"), &value) || !(value > 0.0)) {
    return "observation.rate_scale_rps must be a number > 0";
  }
  m.observation.rate_scale_rps = static_cast<float>(value);
  m.task_names = SplitNames(*Find(entries, "tasks"));
  m.model_names = SplitNames(*Find(entries, "models"));
  m.observation.num_tasks = static_cast<int32_t>(m.task_names.size());
  m.observation.num_models = static_cast<int32_t>(m.model_names.size());
  m.rate_estimator.kind = *Find(entries, "rate_estimator.kind");
  auto positive = [&](const char* key, double* value_out) {
    const std::string* text = Find(entries, key);
    return text != nullptr && ParseDouble(*text, value_out) && *value_out > 0.0;
  };
  if (m.rate_estimator.kind == "last_k" || m.rate_estimator.kind == "last_k_v2") {
    const std::string* k = Find(entries, "rate_estimator.k");
    if (k == nullptr || !ParseDouble(*k, &value) || value < 1 || value != static_cast<int32_t>(value)) {
      return "rate_estimator.k must be an integer >= 1";
    }
    m.rate_estimator.k = static_cast<int32_t>(value);
    if (m.rate_estimator.kind == "last_k_v2" && !positive("rate_estimator.resolution_s", &m.rate_estimator.resolution_s)) {
      return "rate_estimator.resolution_s must be > 0";
    }
  } else if (m.rate_estimator.kind == "two_scale") {
    if (!positive("rate_estimator.fast_half_life_s", &m.rate_estimator.fast_half_life_s) ||
        !positive("rate_estimator.slow_half_life_s", &m.rate_estimator.slow_half_life_s)) {
      return "rate_estimator.fast_half_life_s and rate_estimator.slow_half_life_s must be > 0";
    }
  } else if (m.rate_estimator.kind == "ewma") {
    const std::string* h = Find(entries, "rate_estimator.half_life_s");
    if (h == nullptr || !ParseDouble(*h, &value) || !(value > 0.0)) return "rate_estimator.half_life_s must be > 0";
    m.rate_estimator.half_life_s = value;
  } else if (m.rate_estimator.kind != "true") {
    return "unknown rate_estimator.kind '" + m.rate_estimator.kind + "' (known: last_k, last_k_v2, ewma, two_scale, true)";
  }
  *out = std::move(m);
  return "";
}

}  // namespace bestserve
