#include "sim/latency_profile.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "sim/parametric_profile.h"

namespace bestserve {
namespace {

// Index i such that xs[i] <= x <= xs[i+1], with x clamped into the table's range.
size_t Segment(const std::vector<double>& xs, double x) {
  if (xs.size() < 2 || x <= xs.front()) return 0;
  if (x >= xs.back()) return xs.size() - 2;
  if (xs.size() <= 16) {
    // Small grids (every shipped profile): count the interior points at or below x, without the
    // branches of a binary search. The same index as upper_bound - 1 on an increasing grid.
    size_t below = 0;
    for (size_t k = 1; k + 1 < xs.size(); ++k) below += xs[k] <= x ? 1 : 0;
    return below;
  }
  const auto upper = std::upper_bound(xs.begin(), xs.end(), x);
  return static_cast<size_t>(upper - xs.begin()) - 1;
}

double Fraction(const std::vector<double>& xs, size_t i, double x) {
  if (xs.size() < 2) return 0.0;
  const double t = (x - xs[i]) / (xs[i + 1] - xs[i]);
  return std::clamp(t, 0.0, 1.0);
}

std::vector<double> ParseIncreasing(const ConfigNode& node, const char* what, double min_value) {
  node.ExpectSequence(what);
  if (node.size() == 0) node.Fail(fmt::format("expected at least one value in {}", what));
  std::vector<double> values;
  for (size_t i = 0; i < node.size(); ++i) {
    const double v = node.Element(i).AsDouble();
    if (v < min_value) node.Element(i).Fail(fmt::format("expected a value >= {}, got {}", min_value, v));
    if (!values.empty() && !(v > values.back())) {
      node.Element(i).Fail(
          fmt::format("expected strictly increasing {}, got {} after {}", what, v, values.back()));
    }
    values.push_back(v);
  }
  return values;
}

std::vector<double> ParseLatencies(const ConfigNode& node, size_t expected, const char* what) {
  node.ExpectSequence(what);
  if (node.size() != expected) {
    node.Fail(fmt::format("expected {} values in {}, got {}", expected, what, node.size()));
  }
  std::vector<double> values;
  for (size_t i = 0; i < node.size(); ++i) {
    const double v = node.Element(i).AsDouble();
    // A step of 0 ms would serve unbounded work in no time: the simulation would be meaningless.
    if (!(v > 0.0)) node.Element(i).Fail(fmt::format("expected a latency > 0 ms, got {}", v));
    values.push_back(v);
  }
  return values;
}

// The tables of a `latency_model: table` profile.
void ParseTables(const ConfigNode& node, ModelProfile& m);

ModelProfile ParseModel(const std::string& name, const ConfigNode& node) {
  node.CheckKeys({"parameters", "weight_bytes", "kv_bytes_per_token", "activation_reserve_bytes",
                  "max_batch_size", "max_context_tokens", "decode_step_ms", "prefill_ms", "notes",
                  "latency_model", "distserve", "iteration_overhead_ms", "request_overhead_ms",
                  "sequence_overhead_ms"});
  ModelProfile m;
  m.name = name;
  m.parameters = node.GetNonNegativeDouble("parameters", 0.0);
  m.weight_bytes = node.GetPositiveDouble("weight_bytes");
  m.kv_bytes_per_token = node.GetPositiveDouble("kv_bytes_per_token");
  m.activation_reserve_bytes = node.GetNonNegativeDouble("activation_reserve_bytes", 0.0);
  m.max_batch_size = static_cast<int32_t>(node.GetPositiveInt("max_batch_size", 256));
  m.max_context_tokens = static_cast<int32_t>(node.GetPositiveInt("max_context_tokens", 2048));
  m.iteration_overhead_ms = node.GetNonNegativeDouble("iteration_overhead_ms", 0.0);
  m.request_overhead_ms = node.GetNonNegativeDouble("request_overhead_ms", 0.0);
  m.sequence_overhead_ms = node.GetNonNegativeDouble("sequence_overhead_ms", 0.0);
  if (node.GetString("latency_model", "table") == "table") ParseTables(node, m);
  return m;
}

void ParseTables(const ConfigNode& node, ModelProfile& m) {
  if (node.Has("distserve")) {
    node.Child("distserve").Fail("'distserve' coefficients need `latency_model: distserve`");
  }
  const ConfigNode decode = node.Child("decode_step_ms");
  decode.CheckKeys({"batch_sizes", "context_tokens", "values"});
  std::vector<double> batches = ParseIncreasing(decode.Child("batch_sizes"), "batch_sizes", 1.0);
  std::vector<double> contexts =
      ParseIncreasing(decode.Child("context_tokens"), "context_tokens", 0.0);
  const ConfigNode rows = decode.Child("values");
  rows.ExpectSequence("rows, one per batch size");
  if (rows.size() != batches.size()) {
    rows.Fail(fmt::format("expected {} rows (one per batch size), got {}", batches.size(),
                          rows.size()));
  }
  std::vector<double> values;
  for (size_t i = 0; i < rows.size(); ++i) {
    auto row = ParseLatencies(rows.Element(i), contexts.size(), "a row (one per context length)");
    values.insert(values.end(), row.begin(), row.end());
  }
  if (batches.back() < m.max_batch_size) {
    decode.Child("batch_sizes")
        .Fail(fmt::format("the table must reach max_batch_size {}; it stops at {}",
                          m.max_batch_size, batches.back()));
  }
  m.decode_step_ms = Table2D(std::move(batches), std::move(contexts), std::move(values));

  const ConfigNode prefill = node.Child("prefill_ms");
  prefill.CheckKeys({"tokens", "values"});
  std::vector<double> tokens = ParseIncreasing(prefill.Child("tokens"), "tokens", 1.0);
  std::vector<double> latencies = ParseLatencies(prefill.Child("values"), tokens.size(), "values");
  m.prefill_ms = Table1D(std::move(tokens), std::move(latencies));
}

}  // namespace

Table1D::Table1D(std::vector<double> xs, std::vector<double> ys)
    : xs_(std::move(xs)), ys_(std::move(ys)) {
  BS_CHECK(!xs_.empty() && xs_.size() == ys_.size());
}

double Table1D::At(double x, bool* out_of_range) const {
  *out_of_range = x < xs_.front() || x > xs_.back();
  const size_t i = Segment(xs_, x);
  if (xs_.size() == 1) return ys_[0];
  const double t = Fraction(xs_, i, x);
  // (1 - t) a + t b is exact at both ends (a + t (b - a) can miss b by one ulp at t = 1).
  return (1.0 - t) * ys_[i] + t * ys_[i + 1];
}

Table2D::Table2D(std::vector<double> xs, std::vector<double> ys, std::vector<double> values)
    : xs_(std::move(xs)), ys_(std::move(ys)), values_(std::move(values)) {
  BS_CHECK(!xs_.empty() && !ys_.empty() && values_.size() == xs_.size() * ys_.size());
  const double last = std::min(std::max(xs_.back(), 0.0), kMaxCachedX);
  for (double x = 0.0; x <= last; x += 1.0) {
    const size_t i = Segment(xs_, x);
    whole_x_.push_back(XPlace{i, Fraction(xs_, i, x)});
  }
  for (size_t j = 0; j + 1 < ys_.size(); ++j) {
    int exponent = 0;
    const double width = ys_[j + 1] - ys_[j];
    const bool power_of_two = std::frexp(width, &exponent) == 0.5 && std::isnormal(1.0 / width);
    y_exact_reciprocal_.push_back(power_of_two ? 1.0 / width : 0.0);
  }
}

double Table2D::At(double x, double y, bool* out_of_range) const {
  *out_of_range = x < xs_.front() || x > xs_.back() || y < ys_.front() || y > ys_.back();
  size_t i = 0;
  double tx = 0.0;
  const auto whole = static_cast<size_t>(x >= 0.0 && x < kMaxCachedX ? x : 0.0);
  if (whole < whole_x_.size() && static_cast<double>(whole) == x) {
    i = whole_x_[whole].segment;
    tx = whole_x_[whole].fraction;
  } else {
    i = Segment(xs_, x);
    tx = Fraction(xs_, i, x);
  }
  const size_t j = Segment(ys_, y);
  const size_t ny = ys_.size();
  double ty = 0.0;
  if (ny >= 2 && y_exact_reciprocal_[j] != 0.0) {
    ty = std::clamp((y - ys_[j]) * y_exact_reciprocal_[j], 0.0, 1.0);  // == Fraction(ys_, j, y)
  } else {
    ty = Fraction(ys_, j, y);
  }
  const size_t i1 = xs_.size() > 1 ? i + 1 : i;
  const size_t j1 = ny > 1 ? j + 1 : j;
  const double v00 = values_[i * ny + j];
  const double v01 = values_[i * ny + j1];
  const double v10 = values_[i1 * ny + j];
  const double v11 = values_[i1 * ny + j1];
  return (1 - tx) * ((1 - ty) * v00 + ty * v01) + tx * ((1 - ty) * v10 + ty * v11);
}

double LatencyProfile::DecodeStepSeconds(int32_t batch_size, double mean_context_tokens) const {
  BS_CHECK(batch_size >= 1);
  bool out_of_range = false;
  const double ms = DoDecodeStepMs(batch_size, mean_context_tokens, &out_of_range);
  if (out_of_range) OnOutOfRange("decode_step_ms", mean_context_tokens);
  return ms * 1e-3;
}

double LatencyProfile::PrefillSeconds(int64_t prompt_tokens) const {
  BS_CHECK(prompt_tokens >= 1);
  bool out_of_range = false;
  const double ms = DoPrefillMs(prompt_tokens, &out_of_range);
  if (out_of_range) OnOutOfRange("prefill_ms", static_cast<double>(prompt_tokens));
  return ms * 1e-3;
}

double LatencyProfile::IterationSeconds(const IterationShape& shape) const {
  BS_CHECK(!shape.prefills.empty() || shape.decode_seqs > 0);
  bool out_of_range = false;
  const double ms = DoIterationMs(shape, &out_of_range);
  if (out_of_range) OnOutOfRange("iteration", static_cast<double>(shape.decode_seqs));
  const ModelProfile& m = model();
  const auto sequences = static_cast<double>(shape.decode_seqs) + static_cast<double>(shape.prefills.size());
  return (ms + m.iteration_overhead_ms + m.request_overhead_ms * shape.first_tokens +
          m.sequence_overhead_ms * sequences) *
         1e-3;
}

double LatencyProfile::DoIterationMs(const IterationShape& shape, bool* out_of_range) const {
  if (shape.prefills.empty()) {
    const double mean_context =
        static_cast<double>(shape.decode_cached_tokens + shape.decode_seqs) / shape.decode_seqs;
    return DoDecodeStepMs(shape.decode_seqs, mean_context, out_of_range);
  }
  int64_t tokens = shape.decode_seqs;
  for (const PrefillChunk& chunk : shape.prefills) tokens += chunk.new_tokens;
  return DoPrefillMs(tokens, out_of_range);
}

void LatencyProfile::OnOutOfRange(const char* table, double value) const {
  if (extrapolation() == ExtrapolationRule::kError) {
    throw Error(fmt::format(
        "latency profile of '{}': lookup at {} lies outside the {} table; extend the profile or "
        "set `extrapolation: clamp` in the profile set",
        model().name, value, table));
  }
  clamped_lookups_.fetch_add(1, std::memory_order_relaxed);
}

double TableLatencyProfile::DoDecodeStepMs(int32_t batch_size, double mean_context_tokens,
                                           bool* out_of_range) const {
  return model_.decode_step_ms.At(batch_size, mean_context_tokens, out_of_range);
}

double TableLatencyProfile::DoPrefillMs(int64_t prompt_tokens, bool* out_of_range) const {
  return model_.prefill_ms.At(static_cast<double>(prompt_tokens), out_of_range);
}

ProfileSet ProfileSet::Parse(const ConfigNode& root) {
  root.CheckKeys({"name", "gpu", "extrapolation", "provenance", "models"});
  ProfileSet set;
  set.source = root.source();
  set.name = root.GetString("name");
  const ConfigNode gpu = root.Child("gpu");
  gpu.CheckKeys({"name", "memory_gib", "notes"});
  set.gpu_name = gpu.GetString("name");
  set.gpu_memory_bytes = gpu.GetPositiveDouble("memory_gib") * 1024.0 * 1024.0 * 1024.0;
  const std::string rule = root.GetString("extrapolation", "error");
  if (rule == "error") {
    set.extrapolation = ExtrapolationRule::kError;
  } else if (rule == "clamp") {
    set.extrapolation = ExtrapolationRule::kClamp;
  } else {
    root.Child("extrapolation").Fail(fmt::format("expected 'error' or 'clamp', got '{}'", rule));
  }
  const ConfigNode provenance = root.Child("provenance");
  provenance.ExpectMap("provenance fields");
  const ConfigNode kind = provenance.Child("kind");
  set.provenance_kind = kind.AsString();
  // fitted: a model fitted by someone else to their measurements (e.g. DistServe's), neither
  // measured by us nor derived from public figures.
  if (set.provenance_kind != "measured" && set.provenance_kind != "derived" &&
      set.provenance_kind != "fitted") {
    kind.Fail(fmt::format("expected 'measured', 'derived' or 'fitted', got '{}'",
                          set.provenance_kind));
  }
  if (set.provenance_kind == "measured") {
    for (const char* key : {"gpu", "software", "command", "date"}) provenance.Child(key);
  } else {
    for (const char* key : {"sources", "method"}) provenance.Child(key);
  }
  set.provenance_summary = provenance.GetString("summary", "");
  const ConfigNode models = root.Child("models");
  models.ExpectMap("models");
  for (const auto& name : models.Keys()) {
    const ConfigNode model = models.Child(name);
    const std::string latency_model = model.GetString("latency_model", "table");
    if (latency_model == "table") {
      set.models.push_back(
          std::make_shared<TableLatencyProfile>(ParseModel(name, model), set.extrapolation));
    } else if (latency_model == "distserve") {
      set.models.push_back(std::make_shared<DistServeLatencyProfile>(
          ParseModel(name, model), ParseDistServeCoefficients(model.Child("distserve"))));
    } else {
      model.Child("latency_model")
          .Fail(fmt::format("unknown latency model '{}'; valid: table, distserve", latency_model));
    }
  }
  if (set.models.empty()) models.Fail("expected at least one model");
  return set;
}

ProfileSet ProfileSet::LoadFile(const std::string& path) {
  return Parse(ConfigNode::LoadFile(path));
}

std::shared_ptr<const LatencyProfile> ProfileSet::Find(const std::string& model_name) const {
  for (const auto& m : models) {
    if (m->model().name == model_name) return m;
  }
  ThrowConfigError("model '{}' is not in the profile set '{}' ({}); it has: {}", model_name, name,
                   source, fmt::join(ModelNames(), ", "));
}

std::vector<std::string> ProfileSet::ModelNames() const {
  std::vector<std::string> names;
  for (const auto& m : models) names.push_back(m->model().name);
  return names;
}

}  // namespace bestserve
