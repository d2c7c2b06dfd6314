// azure_functions_2019: Azure Functions invocation counts 2019, one row per function
// (HashOwner,HashApp,HashFunction,Trigger,<minute columns 1..1440>); each minute's count is spread
// within the minute (MinuteSpread). The clock starts at the header's first minute column.
// ReadAzureFunctions2019Rows and MinuteSpreadName (trace_reader.h) are defined here.
#include <fmt/format.h>

#include <charconv>
#include <cmath>

#include "common/error.h"
#include "common/rng.h"
#include "workloads/traces/csv_rows.h"
#include "workloads/traces/trace_format.h"

namespace bestserve::traces {
namespace {

constexpr const char* kName = "azure_functions_2019";
constexpr double kSecondsPerMinute = 60.0;
// The poisson spread lets a minute's arrivals run past its end; a cell that starts more than
// this before the window cannot reach it except with probability < e^-60 (c exponential gaps
// of mean 60/c summing past 3660 s), so skipping it is exact in practice.
constexpr double kPoissonSpillGuard_s = 3600.0;

// ----- SplitMix64 counter stream for the 2019 spread ------------------------------------------

class CellStream {
 public:
  explicit CellStream(uint64_t seed) : state_(seed) {}
  double UniformOpen0() {
    const uint64_t bits = MixBits(state_);
    state_ += 0x9e3779b97f4a7c15ULL;
    return (static_cast<double>(bits >> 11) + 1.0) * 0x1.0p-53;
  }

 private:
  uint64_t state_;
};

TraceReadSummary Read(const std::string& path, const TraceReadOptions& options,
                      const TraceVisitor& visit) {
  TraceRecord record;
  std::string key;
  int first_minute = 0;
  bool have_first = false;
  const uint64_t base = MixBits(options.spread_seed);
  int64_t records = 0;
  TraceReadSummary summary = ReadAzureFunctions2019Rows(path, [&](const Azure2019Row& row) {
    const std::vector<int>& minutes = *row.minutes;
    const std::vector<int64_t>& counts = *row.counts;
    if (!have_first) {
      first_minute = minutes.empty() ? 1 : minutes.front();
      have_first = true;
    }
    key.assign(row.owner);
    key += '/';
    key += row.app;
    key += '/';
    key += row.function;
    const uint64_t key_hash = MixBits(base ^ Fnv1a64(key));
    record.function = key;
    record.category = row.trigger;
    record.line = row.line;
    for (size_t i = 0; i < minutes.size(); ++i) {
      const int64_t count = counts[i];
      if (count == 0) continue;
      const double start = static_cast<double>(minutes[i] - first_minute) * kSecondsPerMinute;
      if (start >= options.window_end_s) continue;
      const double reach = options.spread == MinuteSpread::kPoisson
                               ? kSecondsPerMinute + kPoissonSpillGuard_s
                               : kSecondsPerMinute;
      if (start + reach <= options.window_start_s) continue;
      CellStream stream(MixBits(key_hash + static_cast<uint64_t>(minutes[i])));
      const auto n = static_cast<size_t>(count);
      switch (options.spread) {
        case MinuteSpread::kUniform: {
          // The order statistics of n uniforms, smallest first and in O(1) memory: with
          // W = 1 - U, W's maximum is V^(1/n) and each next one is the last times V^(1/k)
          // (Devroye, Non-Uniform Random Variate Generation, V.3).
          double w = 1.0;
          for (size_t k = n; k > 0; --k) {
            w *= std::pow(stream.UniformOpen0(), 1.0 / static_cast<double>(k));
            record.time_s = start + (1.0 - w) * kSecondsPerMinute;
            visit(record);
          }
          records += count;
          break;
        }
        case MinuteSpread::kEquidistant: {
          const double step = kSecondsPerMinute / static_cast<double>(n);
          for (size_t k = 0; k < n; ++k) {
            record.time_s = start + static_cast<double>(k) * step;
            visit(record);
          }
          records += count;
          break;
        }
        case MinuteSpread::kPoisson: {
          const double mean_gap = kSecondsPerMinute / static_cast<double>(n);
          double t = start;
          for (size_t k = 0; k < n; ++k) {
            t += -std::log(stream.UniformOpen0()) * mean_gap;
            record.time_s = t;
            visit(record);
          }
          records += count;
          break;
        }
      }
    }
  });
  summary.records = records;
  return summary;
}

bool Detect(const TraceProbe& probe) {
  return probe.HasColumn("HashFunction") && probe.HasColumn("Trigger");
}

}  // namespace

extern const TraceFormatEntry kAzureFunctions2019Trace{
    TraceFormat::kAzureFunctions2019, kName,  /*has_tokens=*/false,
    /*has_functions=*/true,           Detect, Read,
};

}  // namespace bestserve::traces

namespace bestserve {

using traces::ColumnMap;
using traces::CsvFields;
using traces::FieldError;
using traces::HeaderNames;
using traces::LineContext;
using traces::LineError;
using traces::ParseCount;
using traces::RequireColumns;
using traces::SplitCsv;

std::string_view MinuteSpreadName(MinuteSpread spread) {
  switch (spread) {
    case MinuteSpread::kUniform:
      return "uniform";
    case MinuteSpread::kEquidistant:
      return "equidistant";
    case MinuteSpread::kPoisson:
      return "poisson";
  }
  return "?";
}

TraceReadSummary ReadAzureFunctions2019Rows(const std::string& path,
                                            const std::function<void(const Azure2019Row&)>& visit) {
  LineReader reader(path);
  TraceReadSummary summary;
  std::string_view line;
  if (!reader.Next(&line)) ThrowConfigError("{}: empty file; expected a CSV header", path);
  LineContext at{&path, 1};
  const std::vector<std::string> header = HeaderNames(line, at);
  const ColumnMap map = RequireColumns(header, {"HashOwner", "HashApp", "HashFunction", "Trigger"},
                                       traces::kName, path);
  const size_t owner = map.Find("HashOwner"), app = map.Find("HashApp");
  const size_t function = map.Find("HashFunction"), trigger = map.Find("Trigger");
  // Minute columns: every header name that is an integer 1..1440, increasing.
  std::vector<size_t> minute_fields;
  std::vector<int> minutes;
  for (size_t i = 0; i < header.size(); ++i) {
    int value = 0;
    const std::string& name = header[i];
    const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), value);
    if (ec != std::errc() || end != name.data() + name.size()) continue;
    if (value < 1 || value > 1440) {
      ThrowConfigError("{}:1: column '{}': expected a minute of the day in 1..1440", path, name);
    }
    if (!minutes.empty() && value <= minutes.back()) {
      ThrowConfigError(
          "{}:1: column '{}': expected minute columns in increasing order, after "
          "'{}'",
          path, name, minutes.back());
    }
    minute_fields.push_back(i);
    minutes.push_back(value);
  }
  if (minutes.empty()) {
    ThrowConfigError(
        "{}:1: expected minute columns named 1..1440 after HashOwner, HashApp, "
        "HashFunction, Trigger; found none",
        path);
  }
  std::vector<int64_t> counts(minutes.size());
  CsvFields fields;
  Azure2019Row row;
  row.minutes = &minutes;
  row.counts = &counts;
  while (reader.Next(&line)) {
    if (line.empty()) continue;
    at.line = reader.line_number();
    SplitCsv(line, at, &fields);
    if (fields.values.size() != header.size()) {
      LineError(at, 1,
                fmt::format("expected {} comma-separated fields (as in the header), got {}",
                            header.size(), fields.values.size()));
    }
    for (size_t k = 0; k < minute_fields.size(); ++k) {
      const size_t f = minute_fields[k];
      const std::string_view text = fields.values[f];
      // Inline fast path: short digit strings (nearly every cell is "0").
      if (text.size() == 1 && text[0] >= '0' && text[0] <= '9') {
        counts[k] = text[0] - '0';
      } else {
        counts[k] = ParseCount(text, at, fields.columns[f], header[f]);
      }
    }
    row.owner = fields.values[owner];
    row.app = fields.values[app];
    row.function = fields.values[function];
    row.trigger = fields.values[trigger];
    if (row.function.empty()) {
      FieldError(at, fields.columns[function], "HashFunction", "a function id", "");
    }
    row.line = at.line;
    ++summary.rows;
    visit(row);
  }
  summary.lines = reader.line_number();
  return summary;
}

}  // namespace bestserve
