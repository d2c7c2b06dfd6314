#include "profiles/tools/profile_fit.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "common/error.h"
#include "common/json_writer.h"

namespace bestserve::profiling {
namespace {

// (fmt rather than "\"" + s: GCC 12 reports a false -Wrestrict on the latter.)
std::string Quote(std::string_view text) { return fmt::format("\"{}\"", JsonEscape(text)); }
// Shortest round-trip formatting: the YAML value parses back to the identical double, which is
// what makes the fitted table exact at measured points.
std::string Num(double value) { return fmt::format("{}", value); }
std::string Pct(double fraction) { return fmt::format("{:.1f}%", 100.0 * fraction); }

// The fit report: plain text, one finding per line; warnings are counted.
class Report {
 public:
  template <typename... Args>
  void Line(fmt::format_string<Args...> format, Args&&... args) {
    text_ += fmt::format(format, std::forward<Args>(args)...);
    text_ += '\n';
  }
  template <typename... Args>
  void Warn(fmt::format_string<Args...> format, Args&&... args) {
    text_ += "    WARNING: ";
    text_ += fmt::format(format, std::forward<Args>(args)...);
    text_ += '\n';
    ++warnings_;
  }
  const std::string& text() const { return text_; }
  int64_t warnings() const { return warnings_; }

 private:
  std::string text_;
  int64_t warnings_ = 0;
};

bool Overlap(double p10_a, double p90_a, double p10_b, double p90_b) {
  return p10_a <= p90_b && p10_b <= p90_a;
}

std::string SpreadNote(double p10_a, double p90_a, double p10_b, double p90_b) {
  return Overlap(p10_a, p90_a, p10_b, p90_b) ? "within the p10-p90 spread"
                                             : "outside the p10-p90 spread";
}

// Summarizes leave-one-out points: count, mean and worst relative error.
struct LooSummary {
  int64_t points = 0;
  double sum = 0.0;
  double max = 0.0;
  std::string worst;
  void Add(double error, const std::string& where) {
    ++points;
    sum += error;
    if (error >= max) {
      max = error;
      worst = where;
    }
  }
};

void PrintLoo(Report* report, const char* axis, const LooSummary& s) {
  if (s.points == 0) {
    report->Line("      along {}: no interior points (need 3 or more values on the axis)", axis);
    return;
  }
  report->Line("      along {}: {} points, mean {}, max {} at {}", axis, s.points,
               Pct(s.sum / static_cast<double>(s.points)), Pct(s.max), s.worst);
}

const RawRow* PickMemory(const std::vector<const RawRow*>& rows, Measurement m,
                         const RawRow** computed) {
  const RawRow* measured = nullptr;
  *computed = nullptr;
  for (const RawRow* r : rows) {
    if (r->measurement != m || !r->ok()) continue;
    if (r->method == "computed") {
      if (*computed == nullptr) *computed = r;
    } else if (measured == nullptr) {
      measured = r;
    }
  }
  return measured != nullptr ? measured : *computed;
}

std::string Bytes(double value) {
  return fmt::format("{}", static_cast<int64_t>(std::llround(value)));
}

// Running maximum along a sequence of values with a stride; logs each change.
void RepairRun(std::vector<double>* values, size_t first, size_t count, size_t stride,
               const std::function<std::string(size_t)>& where, const std::string& model,
               const char* table, std::vector<std::string>* repairs) {
  double running = (*values)[first];
  for (size_t k = 1; k < count; ++k) {
    double& v = (*values)[first + k * stride];
    if (v < running) {
      repairs->push_back(fmt::format("{} {} {}: {} -> {} ms (running maximum)", model, table,
                                     where(first + k * stride), Num(v), Num(running)));
      v = running;
    } else {
      running = v;
    }
  }
}

ModelFit FitDecode(const std::string& source, const std::string& name,
                   const std::vector<const RawRow*>& rows, const FitOptions& options,
                   FitResult* result, Report* report, ModelFit fit) {
  std::set<int64_t> batch_set;
  std::set<int64_t> context_set;
  std::map<std::pair<int64_t, int64_t>, const RawRow*> cells;
  for (const RawRow* r : rows) {
    if (r->measurement != Measurement::kDecode) continue;
    batch_set.insert(r->batch_size);
    context_set.insert(r->context_tokens);
    cells[{r->batch_size, r->context_tokens}] = r;
  }
  if (cells.empty()) {
    ThrowConfigError("{}: model '{}' has no decode rows; a profile needs decode_step_ms", source,
                     name);
  }
  std::vector<int64_t> batches(batch_set.begin(), batch_set.end());
  std::vector<int64_t> contexts(context_set.begin(), context_set.end());
  auto status_of = [&](int64_t b, int64_t c) -> std::string {
    const auto it = cells.find({b, c});
    if (it == cells.end()) return "not measured";
    return it->second->status;
  };
  std::vector<std::string> missing;
  for (int64_t b : batches) {
    for (int64_t c : contexts) {
      const std::string status = status_of(b, c);
      if (status != "ok")
        missing.push_back(fmt::format("(batch {}, context {}: {})", b, c, status));
    }
  }
  if (!missing.empty()) {
    if (options.incomplete_grid == IncompleteGrid::kError) {
      const size_t shown = std::min<size_t>(missing.size(), 8);
      ThrowConfigError(
          "{}: the decode grid of '{}' is incomplete: {} of {} batch x context cells have no "
          "measurement: {}{}; the simulator's table needs every cell. Profile a grid whose cells "
          "all fit in memory, or pass --incomplete-grid drop-batches (or drop-contexts) to keep "
          "only the complete rows (columns)",
          source, name, missing.size(), batches.size() * contexts.size(),
          fmt::join(missing.begin(), missing.begin() + static_cast<std::ptrdiff_t>(shown), ", "),
          missing.size() > shown ? fmt::format(" and {} more", missing.size() - shown) : "");
    }
    const bool drop_batches = options.incomplete_grid == IncompleteGrid::kDropBatches;
    std::vector<int64_t> kept;
    for (int64_t keep_candidate : drop_batches ? batches : contexts) {
      int64_t holes = 0;
      for (int64_t other : drop_batches ? contexts : batches) {
        const std::string status =
            drop_batches ? status_of(keep_candidate, other) : status_of(other, keep_candidate);
        if (status != "ok") ++holes;
      }
      if (holes == 0) {
        kept.push_back(keep_candidate);
      } else {
        result->dropped.push_back(
            fmt::format("{}: dropped decode {} {} ({} cells without a measurement)", name,
                        drop_batches ? "batch size" : "context", keep_candidate, holes));
        report->Line(
            "    dropped decode {} {} ({} cells without a measurement; --incomplete-grid {})",
            drop_batches ? "batch size" : "context", keep_candidate, holes,
            IncompleteGridName(options.incomplete_grid));
      }
    }
    if (kept.empty()) {
      ThrowConfigError(
          "{}: the decode grid of '{}' has no complete {}; nothing is left after "
          "--incomplete-grid {}",
          source, name, drop_batches ? "batch-size row" : "context column",
          IncompleteGridName(options.incomplete_grid));
    }
    (drop_batches ? batches : contexts) = kept;
  }

  DecodeTable& t = fit.decode;
  const size_t nb = batches.size();
  const size_t nc = contexts.size();
  for (int64_t b : batches) t.batch_sizes.push_back(static_cast<double>(b));
  for (int64_t c : contexts) t.context_tokens.push_back(static_cast<double>(c));
  double max_spread = 0.0;
  std::string max_spread_at;
  for (int64_t b : batches) {
    for (int64_t c : contexts) {
      const RawRow* r = cells.at({b, c});
      t.median_ms.push_back(r->median);
      t.p10_ms.push_back(r->p10);
      t.p90_ms.push_back(r->p90);
      const double spread = r->median > 0 ? (r->p90 - r->p10) / r->median : 0.0;
      if (spread >= max_spread) {
        max_spread = spread;
        max_spread_at = fmt::format("(batch {}, context {})", b, c);
      }
    }
  }
  auto at = [nc](size_t i, size_t j) { return i * nc + j; };
  auto where = [&](size_t k) {
    return fmt::format("(batch {}, context {})", batches[k / nc], contexts[k % nc]);
  };
  report->Line(
      "  decode_step_ms: {} batch sizes [{}] x {} contexts [{}]; medians of the measured "
      "points, exact at all {}",
      nb, fmt::join(batches, ", "), nc, fmt::join(contexts, ", "), nb * nc);
  report->Line("    spread (p90 - p10) / median: max {} at {}", Pct(max_spread), max_spread_at);

  report->Line("    leave-one-out (interior points, linear from the two neighbours):");
  LooSummary along_batch;
  LooSummary along_context;
  for (size_t j = 0; j < nc; ++j) {
    std::vector<double> column;
    for (size_t i = 0; i < nb; ++i) column.push_back(t.median_ms[at(i, j)]);
    for (const auto& p : LeaveOneOut(t.batch_sizes, column))
      along_batch.Add(p.relative_error, where(at(p.index, j)));
  }
  for (size_t i = 0; i < nb; ++i) {
    std::vector<double> row(t.median_ms.begin() + static_cast<std::ptrdiff_t>(at(i, 0)),
                            t.median_ms.begin() + static_cast<std::ptrdiff_t>(at(i, 0) + nc));
    for (const auto& p : LeaveOneOut(t.context_tokens, row))
      along_context.Add(p.relative_error, where(at(i, p.index)));
  }
  PrintLoo(report, "batch", along_batch);
  PrintLoo(report, "context", along_context);

  int64_t decreases = 0;
  for (size_t i = 0; i < nb; ++i) {
    for (size_t j = 0; j + 1 < nc; ++j) {
      const size_t a = at(i, j);
      const size_t b = at(i, j + 1);
      if (t.median_ms[b] < t.median_ms[a]) {
        ++decreases;
        report->Warn(
            "decode_step_ms decreases with context at batch {}: {} ms (context {}) -> {} ms "
            "(context {}), {}; {}",
            batches[i], Num(t.median_ms[a]), contexts[j], Num(t.median_ms[b]), contexts[j + 1],
            Pct(t.median_ms[b] / t.median_ms[a] - 1.0),
            SpreadNote(t.p10_ms[a], t.p90_ms[a], t.p10_ms[b], t.p90_ms[b]));
      }
    }
  }
  for (size_t j = 0; j < nc; ++j) {
    for (size_t i = 0; i + 1 < nb; ++i) {
      const size_t a = at(i, j);
      const size_t b = at(i + 1, j);
      if (t.median_ms[b] < t.median_ms[a]) {
        ++decreases;
        report->Warn(
            "decode_step_ms decreases with batch at context {}: {} ms (batch {}) -> {} ms "
            "(batch {}), {}; {}",
            contexts[j], Num(t.median_ms[a]), batches[i], Num(t.median_ms[b]), batches[i + 1],
            Pct(t.median_ms[b] / t.median_ms[a] - 1.0),
            SpreadNote(t.p10_ms[a], t.p90_ms[a], t.p10_ms[b], t.p90_ms[b]));
      }
    }
  }
  if (decreases == 0) report->Line("    monotone: non-decreasing in batch size and in context");
  if (options.monotone_repair && decreases > 0) {
    const size_t before = result->repairs.size();
    // Running maximum along context in each row, then along batch in each column: the maximum
    // of non-decreasing rows stays non-decreasing, so the result is monotone in both.
    for (size_t i = 0; i < nb; ++i)
      RepairRun(&t.median_ms, at(i, 0), nc, 1, where, name, "decode_step_ms", &result->repairs);
    for (size_t j = 0; j < nc; ++j)
      RepairRun(&t.median_ms, at(0, j), nb, nc, where, name, "decode_step_ms", &result->repairs);
    for (size_t k = before; k < result->repairs.size(); ++k)
      report->Line("    repaired: {}", result->repairs[k]);
  }

  if (contexts.front() > 1) {
    report->Line(
        "    note: contexts below {} are outside the table (lookups there follow the set's "
        "extrapolation rule)",
        contexts.front());
  }
  if (contexts.back() < fit.max_context_tokens) {
    report->Warn(
        "the decode table stops at context {} but the model allows {} tokens; lookups beyond "
        "follow the set's extrapolation rule",
        contexts.back(), fit.max_context_tokens);
  }
  fit.max_batch_size = batches.back();
  return fit;
}

ModelFit FitPrefill(const std::string& source, const std::string& name,
                    const std::vector<const RawRow*>& rows, const FitOptions& options,
                    FitResult* result, Report* report, ModelFit fit) {
  std::map<int64_t, std::vector<const RawRow*>> by_tokens;
  std::map<std::string, int64_t> not_measured;
  int64_t used = 0;
  for (const RawRow* r : rows) {
    if (r->measurement != Measurement::kPrefill) continue;
    if (!r->ok()) {
      ++not_measured[r->status];
      continue;
    }
    if (options.prefill_mapping == PrefillMapping::kBatchOne) {
      if (r->batch_size != 1) continue;
      by_tokens[r->prompt_tokens].push_back(r);
    } else {
      by_tokens[r->batch_size * r->prompt_tokens].push_back(r);
    }
    ++used;
  }
  if (by_tokens.empty()) {
    ThrowConfigError(
        "{}: model '{}' has no measured prefill rows{}; a profile needs prefill_ms", source, name,
        options.prefill_mapping == PrefillMapping::kBatchOne ? " with batch_size 1" : "");
  }
  PrefillTable& t = fit.prefill;
  int64_t exact = 0;
  std::vector<std::string> collisions;
  for (const auto& [tokens, group] : by_tokens) {
    t.tokens.push_back(static_cast<double>(tokens));
    const RawRow* chosen = group.front();
    for (const RawRow* r : group) {
      if (r->median > chosen->median) chosen = r;
    }
    if (options.prefill_mapping == PrefillMapping::kMean && group.size() > 1) {
      double sum = 0.0;
      double p10 = group.front()->p10;
      double p90 = group.front()->p90;
      for (const RawRow* r : group) {
        sum += r->median;
        p10 = std::min(p10, r->p10);
        p90 = std::max(p90, r->p90);
      }
      t.median_ms.push_back(sum / static_cast<double>(group.size()));
      t.p10_ms.push_back(p10);
      t.p90_ms.push_back(p90);
    } else {
      t.median_ms.push_back(chosen->median);
      t.p10_ms.push_back(chosen->p10);
      t.p90_ms.push_back(chosen->p90);
      ++exact;
    }
    if (group.size() > 1) {
      std::vector<std::string> parts;
      double lo = group.front()->median;
      double hi = lo;
      for (const RawRow* r : group) {
        parts.push_back(
            fmt::format("{} x {} = {} ms", r->batch_size, r->prompt_tokens, Num(r->median)));
        lo = std::min(lo, r->median);
        hi = std::max(hi, r->median);
      }
      collisions.push_back(fmt::format("{} tokens: {} -> {} ms ({}); spread {}", tokens,
                                       fmt::join(parts, ", "), Num(t.median_ms.back()),
                                       PrefillMappingName(options.prefill_mapping),
                                       Pct(lo > 0 ? hi / lo - 1.0 : 0.0)));
    }
  }
  const size_t n = t.tokens.size();
  report->Line(
      "  prefill_ms: {} token counts [{}] from {} measured (batch x prompt) points, mapping {}; "
      "exact at {} of them",
      n, fmt::join(t.tokens, ", "), used, PrefillMappingName(options.prefill_mapping), exact);
  for (const auto& c : collisions) report->Line("    several compositions, one total: {}", c);
  if (!not_measured.empty()) {
    std::vector<std::string> parts;
    for (const auto& [status, count] : not_measured)
      parts.push_back(fmt::format("{} {}", count, status));
    report->Line("    not measured: {}", fmt::join(parts, ", "));
  }
  report->Line("    leave-one-out (interior points, linear from the two neighbours):");
  LooSummary loo;
  for (const auto& p : LeaveOneOut(t.tokens, t.median_ms)) {
    loo.Add(p.relative_error, fmt::format("{} tokens", t.tokens[p.index]));
  }
  PrintLoo(report, "tokens", loo);
  int64_t decreases = 0;
  for (size_t i = 0; i + 1 < n; ++i) {
    if (t.median_ms[i + 1] < t.median_ms[i]) {
      ++decreases;
      report->Warn(
          "prefill_ms decreases with tokens: {} ms ({} tokens) -> {} ms ({} tokens), {}; {}",
          Num(t.median_ms[i]), t.tokens[i], Num(t.median_ms[i + 1]), t.tokens[i + 1],
          Pct(t.median_ms[i + 1] / t.median_ms[i] - 1.0),
          SpreadNote(t.p10_ms[i], t.p90_ms[i], t.p10_ms[i + 1], t.p90_ms[i + 1]));
    }
  }
  if (decreases == 0) report->Line("    monotone: non-decreasing in tokens");
  if (options.monotone_repair && decreases > 0) {
    const size_t before = result->repairs.size();
    RepairRun(
        &t.median_ms, 0, n, 1, [&](size_t k) { return fmt::format("({} tokens)", t.tokens[k]); },
        name, "prefill_ms", &result->repairs);
    for (size_t k = before; k < result->repairs.size(); ++k)
      report->Line("    repaired: {}", result->repairs[k]);
  }
  return fit;
}

ModelFit FitModel(const RawMeasurements& raw, const ProvenanceRecord& provenance,
                  const std::string& name, const FitOptions& options, FitResult* result,
                  Report* report) {
  std::vector<const RawRow*> rows;
  for (const auto& r : raw.rows) {
    if (r.model == name) rows.push_back(&r);
  }
  BS_CHECK(!rows.empty());
  const std::string& source = rows.front()->source;  // a model comes from one raw file
  const ModelArchitecture& arch = provenance.Model(name, source);
  ModelFit fit;
  fit.name = name;
  fit.parameters = arch.parameters;
  fit.max_context_tokens = arch.max_positions;
  report->Line(
      "model {}: {} layers, hidden {}, {} heads, FFN {}, vocabulary {}, {} positions, {} "
      "parameters",
      name, arch.layers, arch.hidden, arch.heads, arch.ffn, arch.vocab, arch.max_positions,
      Bytes(arch.parameters));

  const RawRow* computed = nullptr;
  const RawRow* weights = PickMemory(rows, Measurement::kWeightBytes, &computed);
  if (weights == nullptr) {
    ThrowConfigError("{}: model '{}' has no weight_bytes row with status ok", source, name);
  }
  fit.weight_bytes = weights->median;
  report->Line(
      "  weight_bytes: {} ({}{})", Bytes(weights->median), weights->method,
      computed != nullptr && computed != weights ? "; computed " + Bytes(computed->median) : "");
  const RawRow* kv = PickMemory(rows, Measurement::kKvBytesPerToken, &computed);
  if (kv == nullptr) {
    ThrowConfigError("{}: model '{}' has no kv_bytes_per_token row with status ok", source, name);
  }
  fit.kv_bytes_per_token = kv->median;
  report->Line(
      "  kv_bytes_per_token: {} ({}{})", Bytes(kv->median), kv->method,
      computed != nullptr && computed != kv ? "; computed " + Bytes(computed->median) : "");
  if (computed != nullptr && computed != kv &&
      std::abs(kv->median / computed->median - 1.0) > 0.01) {
    report->Warn("measured kv_bytes_per_token {} differs from the computed {} by more than 1%",
                 Bytes(kv->median), Bytes(computed->median));
  }
  const RawRow* activation = PickMemory(rows, Measurement::kActivationPeakBytes, &computed);
  if (activation != nullptr) {
    fit.activation_reserve_bytes = activation->median;
    report->Line("  activation_reserve_bytes: {} (peak above weights and KV cache, {})",
                 Bytes(activation->median), activation->method);
  } else {
    report->Warn(
        "no activation_peak_bytes measurement (only measured on CUDA): "
        "activation_reserve_bytes is 0");
  }

  fit = FitDecode(source, name, rows, options, result, report, std::move(fit));
  fit = FitPrefill(source, name, rows, options, result, report, std::move(fit));
  fit.notes = fmt::format("measured: decode {} x {} grid, prefill {} token counts (mapping {}){}",
                          fit.decode.batch_sizes.size(), fit.decode.context_tokens.size(),
                          fit.prefill.tokens.size(), PrefillMappingName(options.prefill_mapping),
                          activation == nullptr ? "; activation reserve not measured" : "");
  return fit;
}

std::vector<ColocationPoint> FitColocation(const RawMeasurements& raw, Report* report) {
  std::vector<ColocationPoint> points;
  for (const auto& r : raw.rows) {
    if (r.measurement != Measurement::kDecodeColocated || !r.ok()) continue;
    const RawRow* solo = nullptr;
    for (const auto& s : raw.rows) {
      if (s.model == r.model && s.measurement == Measurement::kDecode && s.ok() &&
          s.batch_size == r.batch_size && s.context_tokens == r.context_tokens) {
        solo = &s;
      }
    }
    if (solo == nullptr || !(solo->median > 0)) {
      report->Warn(
          "{} line {}: co-located point (batch {}, context {}) of '{}' has no solo decode "
          "measurement to compare with",
          r.source, r.line, r.batch_size, r.context_tokens, r.model);
      continue;
    }
    points.push_back(ColocationPoint{.model = r.model,
                                     .peer_model = r.peer_model,
                                     .batch_size = r.batch_size,
                                     .context_tokens = r.context_tokens,
                                     .peer_batch_size = r.peer_batch_size,
                                     .peer_context_tokens = r.peer_context_tokens,
                                     .solo_ms = solo->median,
                                     .colocated_ms = r.median});
  }
  return points;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

std::string Row(const std::vector<double>& values, size_t begin, size_t count) {
  std::string out = "[";
  for (size_t k = 0; k < count; ++k) {
    if (k > 0) out += ", ";
    out += Num(values[begin + k]);
  }
  return out + "]";
}

std::string StringList(const std::vector<std::string>& items, const char* indent) {
  if (items.empty()) return " []\n";
  std::string out = "\n";
  for (const auto& item : items) out += fmt::format("{}- {}\n", indent, Quote(item));
  return out;
}

std::string WriteYaml(const FitResult& result, const ProvenanceRecord& prov,
                      const std::string& raw_source, const FitOptions& options,
                      const std::optional<double>& interference) {
  std::string y;
  y += "# GENERATED by `bestserve profile fit` from measured latencies: do not edit by hand; "
       "re-run\n";
  y +=
      "# the fit (see docs/profiling.md). Every table value is the median of the measured point.\n";
  y += fmt::format("name: {}\n", Quote(options.name));
  y += "gpu:\n";
  y += fmt::format("  name: {}\n", Quote(prov.gpu_name));
  y += fmt::format("  memory_gib: {}\n", Num(prov.gpu_memory_bytes / (1024.0 * 1024.0 * 1024.0)));
  if (prov.device != "cuda") {
    y += "  notes: \"a CPU run: a test of the pipeline, not a GPU profile\"\n";
  }
  y += fmt::format("extrapolation: {}\n",
                   options.extrapolation == ExtrapolationRule::kClamp ? "clamp" : "error");
  y += "provenance:\n";
  y += "  kind: measured\n";
  y += fmt::format(
      "  summary: {}\n",
      Quote(fmt::format(
          "Measured by profiles/tools/profile_gpu.py on {} ({}, {}, {}; median of {} "
          "repetitions after {} warm-up); eager PyTorch with a pre-allocated KV cache, "
          "not vLLM.",
          prov.gpu_name, prov.device, prov.dtype, prov.timer, prov.repeats, prov.warmup)));
  std::string gpu = prov.gpu_name;
  if (!prov.gpu_driver.empty()) gpu += ", driver " + prov.gpu_driver;
  gpu += fmt::format(", {} bytes", Bytes(prov.gpu_memory_bytes));
  y += fmt::format("  gpu: {}\n", Quote(gpu));
  y += "  software:\n";
  for (const auto& [key, value] : prov.software)
    y += fmt::format("    {}: {}\n", key, Quote(value));
  y += fmt::format("  command: {}\n", Quote(prov.command));
  y += fmt::format("  date: {}\n", Quote(prov.date));
  y += fmt::format("  host: {}\n", Quote(prov.host));
  y += fmt::format("  device: {}\n", Quote(prov.device));
  y += fmt::format("  dtype: {}\n", Quote(prov.dtype));
  y += fmt::format("  timer: {}\n", Quote(prov.timer));
  y += fmt::format("  repeats: {}\n  warmup: {}\n", prov.repeats, prov.warmup);
  y += "  statistic: \"median of the timed repetitions; p10, p90 and every sample are in the raw "
       "CSV\"\n";
  y += fmt::format("  raw_data: {}\n", Quote(raw_source));
  y += fmt::format("  provenance_record: {}\n", Quote(prov.source));
  if (!options.fit_command.empty())
    y += fmt::format("  fit_command: {}\n", Quote(options.fit_command));
  y += fmt::format("  prefill_mapping: {}\n", PrefillMappingName(options.prefill_mapping));
  y += fmt::format("  incomplete_grid: {}\n", IncompleteGridName(options.incomplete_grid));
  y += fmt::format("  monotone_repair: {}\n", options.monotone_repair ? "true" : "false");
  y += "  repairs:" + StringList(result.repairs, "    ");
  y += "  dropped:" + StringList(result.dropped, "    ");
  if (result.colocation.empty()) {
    y += "  colocation: []\n";
  } else {
    y += "  colocation:\n";
    for (const auto& c : result.colocation) {
      y += fmt::format(
          "    - {{model: {}, peer_model: {}, batch_size: {}, context_tokens: {}, peer_batch_size: "
          "{}, "
          "peer_context_tokens: {}, solo_ms: {}, colocated_ms: {}, ratio: {}}}\n",
          Quote(c.model), Quote(c.peer_model), c.batch_size, c.context_tokens, c.peer_batch_size,
          c.peer_context_tokens, Num(c.solo_ms), Num(c.colocated_ms), Num(c.ratio()));
    }
  }
  if (interference) {
    y += fmt::format(
        "  interference_factor: {}  # median of ratio - 1; set cluster.interference_factor to use "
        "it\n",
        Num(*interference));
  }
  y += "  notes:" + StringList(prov.notes, "    ");
  y += "models:\n";
  for (const auto& m : result.models) {
    y += fmt::format("  {}:\n", Quote(m.name));
    y += fmt::format("    parameters: {}\n", Bytes(m.parameters));
    y += fmt::format("    weight_bytes: {}\n", Bytes(m.weight_bytes));
    y += fmt::format("    kv_bytes_per_token: {}\n", Bytes(m.kv_bytes_per_token));
    y += fmt::format("    activation_reserve_bytes: {}\n", Bytes(m.activation_reserve_bytes));
    y += fmt::format("    max_batch_size: {}\n", m.max_batch_size);
    y += fmt::format("    max_context_tokens: {}\n", m.max_context_tokens);
    y += "    decode_step_ms:\n";
    y += fmt::format("      batch_sizes: {}\n",
                     Row(m.decode.batch_sizes, 0, m.decode.batch_sizes.size()));
    y += fmt::format("      context_tokens: {}\n",
                     Row(m.decode.context_tokens, 0, m.decode.context_tokens.size()));
    y += "      values:\n";
    const size_t nc = m.decode.context_tokens.size();
    for (size_t i = 0; i < m.decode.batch_sizes.size(); ++i) {
      y += fmt::format("        - {}\n", Row(m.decode.median_ms, i * nc, nc));
    }
    y += "    prefill_ms:\n";
    y += fmt::format("      tokens: {}\n", Row(m.prefill.tokens, 0, m.prefill.tokens.size()));
    y += fmt::format("      values: {}\n", Row(m.prefill.median_ms, 0, m.prefill.median_ms.size()));
    y += fmt::format("    notes: {}\n", Quote(m.notes));
  }
  return y;
}

}  // namespace

PrefillMapping ParsePrefillMapping(const std::string& text) {
  if (text == "max") return PrefillMapping::kMax;
  if (text == "mean") return PrefillMapping::kMean;
  if (text == "batch1") return PrefillMapping::kBatchOne;
  ThrowConfigError("--prefill-mapping: unknown mapping '{}'; valid: max, mean, batch1", text);
}

IncompleteGrid ParseIncompleteGrid(const std::string& text) {
  if (text == "error") return IncompleteGrid::kError;
  if (text == "drop-batches") return IncompleteGrid::kDropBatches;
  if (text == "drop-contexts") return IncompleteGrid::kDropContexts;
  ThrowConfigError(
      "--incomplete-grid: unknown rule '{}'; valid: error, drop-batches, drop-contexts", text);
}

std::string PrefillMappingName(PrefillMapping mapping) {
  switch (mapping) {
    case PrefillMapping::kMax:
      return "max";
    case PrefillMapping::kMean:
      return "mean";
    case PrefillMapping::kBatchOne:
      return "batch1";
  }
  return "?";
}

std::string IncompleteGridName(IncompleteGrid rule) {
  switch (rule) {
    case IncompleteGrid::kError:
      return "error";
    case IncompleteGrid::kDropBatches:
      return "drop-batches";
    case IncompleteGrid::kDropContexts:
      return "drop-contexts";
  }
  return "?";
}

std::vector<LeaveOneOutPoint> LeaveOneOut(const std::vector<double>& xs,
                                          const std::vector<double>& ys) {
  BS_CHECK(xs.size() == ys.size());
  std::vector<LeaveOneOutPoint> points;
  for (size_t i = 1; i + 1 < xs.size(); ++i) {
    if (!(ys[i] > 0.0)) continue;
    const double t = (xs[i] - xs[i - 1]) / (xs[i + 1] - xs[i - 1]);
    const double predicted = ys[i - 1] + t * (ys[i + 1] - ys[i - 1]);
    points.push_back({.index = i,
                      .predicted = predicted,
                      .relative_error = std::abs(predicted - ys[i]) / ys[i]});
  }
  return points;
}

std::string DefaultSetName(const std::string& out_path) {
  const std::filesystem::path parent = std::filesystem::path(out_path).parent_path();
  const std::string name = parent.filename().string();
  return name.empty() || name == "." || name == ".." ? "measured" : name;
}

FitResult FitProfileSet(const RawMeasurements& raw, const ProvenanceRecord& provenance,
                        const FitOptions& options) {
  FitResult result;
  Report report;
  report.Line("bestserve profile fit");
  report.Line("  raw:        {} ({} rows, models {})", raw.source, raw.rows.size(),
              fmt::join(raw.models, ", "));
  report.Line("  provenance: {}", provenance.source);
  report.Line("  device:     {} ({}{}), {}, timer {}, median of {} repetitions after {} warm-up",
              provenance.device, provenance.gpu_name,
              provenance.gpu_driver.empty() ? "" : ", driver " + provenance.gpu_driver,
              provenance.dtype, provenance.timer, provenance.repeats, provenance.warmup);
  report.Line(
      "  options:    name {}, prefill mapping {}, incomplete grid {}, monotone repair {}, "
      "extrapolation {}",
      options.name, PrefillMappingName(options.prefill_mapping),
      IncompleteGridName(options.incomplete_grid), options.monotone_repair ? "on" : "off",
      options.extrapolation == ExtrapolationRule::kClamp ? "clamp" : "error");
  if (provenance.device != "cuda") {
    report.Warn(
        "measured on '{}', not a GPU: this profile tests the pipeline; do not use it for GPU "
        "results",
        provenance.device);
  }
  for (const auto& name : raw.models) {
    result.models.push_back(FitModel(raw, provenance, name, options, &result, &report));
  }

  result.colocation = FitColocation(raw, &report);
  std::optional<double> interference;
  if (!result.colocation.empty()) {
    report.Line(
        "colocation (ratio = median step with the peer running / solo median; "
        "interference_factor = ratio - 1 for one busy neighbour):");
    std::vector<double> factors;
    for (const auto& c : result.colocation) {
      report.Line(
          "  {} (batch {}, context {}) with {} (batch {}, context {}): {} ms -> {} ms, ratio "
          "{:.3f}",
          c.model, c.batch_size, c.context_tokens, c.peer_model, c.peer_batch_size,
          c.peer_context_tokens, Num(c.solo_ms), Num(c.colocated_ms), c.ratio());
      factors.push_back(c.ratio() - 1.0);
    }
    interference = Median(factors);
    report.Line("  median interference_factor: {:.3f}", *interference);
    if (provenance.device != "cuda") {
      report.Warn(
          "co-location measured on '{}': meaningless for GPUs (the processes share CPU cores)",
          provenance.device);
    }
  }
  result.yaml = WriteYaml(result, provenance, raw.source, options, interference);
  report.Line("warnings: {}", report.warnings());
  result.warnings = report.warnings();
  result.report = report.text();
  return result;
}

}  // namespace bestserve::profiling
