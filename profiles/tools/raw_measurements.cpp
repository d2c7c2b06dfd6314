#include "profiles/tools/raw_measurements.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <tuple>

#include "common/error.h"

namespace bestserve::profiling {
namespace {

constexpr std::string_view kStatuses[] = {"ok", "oom", "skipped_memory", "skipped_token_cap"};

struct MeasurementInfo {
  Measurement measurement;
  std::string_view name;
};
constexpr MeasurementInfo kMeasurements[] = {
    {Measurement::kPrefill, "prefill"},
    {Measurement::kDecode, "decode"},
    {Measurement::kDecodeColocated, "decode_colocated"},
    {Measurement::kWeightBytes, "weight_bytes"},
    {Measurement::kKvBytesPerToken, "kv_bytes_per_token"},
    {Measurement::kActivationPeakBytes, "activation_peak_bytes"},
};

// Splits one CSV line into fields (RFC 4180 quoting: "a,b" and "" for a quote inside).
// Returns false on an unterminated quote.
bool SplitCsvLine(std::string_view line, std::vector<std::string>* fields) {
  fields->clear();
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields->push_back(std::move(field));
      field.clear();
    } else {
      field += c;
    }
  }
  fields->push_back(std::move(field));
  return !quoted;
}

std::string Joined(const std::vector<std::string>& names) {
  return fmt::format("{}", fmt::join(names, ", "));
}

// Location and field access for one data row; every failure names file:line:column and column.
class RowReader {
 public:
  RowReader(const std::string& source, int64_t line, const std::vector<std::string>& fields,
            const std::map<std::string, size_t>& index)
      : source_(source), line_(line), fields_(fields), index_(index) {}

  [[noreturn]] void Fail(const std::string& column, const std::string& message) const {
    ThrowConfigError("{}:{}:{}: column '{}': {}", source_, line_, index_.at(column) + 1, column,
                     message);
  }

  const std::string& Text(const std::string& column) const { return fields_[index_.at(column)]; }

  std::string NonEmpty(const std::string& column) const {
    const std::string& text = Text(column);
    if (text.empty()) Fail(column, "expected a value, got an empty field");
    return text;
  }

  int64_t Int(const std::string& column, int64_t min_value) const {
    const std::string& text = Text(column);
    int64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
      Fail(column, fmt::format("expected an integer, got '{}'", text));
    }
    if (value < min_value) {
      Fail(column, fmt::format("expected an integer >= {}, got {}", min_value, value));
    }
    return value;
  }

  double Number(const std::string& column) const {
    const std::string& text = Text(column);
    double value = 0.0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
        !std::isfinite(value)) {
      Fail(column, fmt::format("expected a finite number, got '{}'", text));
    }
    if (value < 0.0) Fail(column, fmt::format("expected a number >= 0, got {}", text));
    return value;
  }

  void ExpectZero(const std::string& column, std::string_view why) const {
    if (Int(column, 0) != 0) {
      Fail(column, fmt::format("expected 0 for a {} row, got {}", why, Text(column)));
    }
  }

  int64_t line() const { return line_; }
  const std::string& source() const { return source_; }

 private:
  const std::string& source_;
  int64_t line_;
  const std::vector<std::string>& fields_;
  const std::map<std::string, size_t>& index_;
};

RawRow ParseRow(const RowReader& r) {
  RawRow row;
  row.source = r.source();
  row.line = r.line();
  row.model = r.NonEmpty("model");

  const std::string measurement = r.NonEmpty("measurement");
  bool known = false;
  std::vector<std::string> names;
  for (const auto& info : kMeasurements) {
    names.emplace_back(info.name);
    if (info.name == measurement) {
      row.measurement = info.measurement;
      known = true;
    }
  }
  if (!known) {
    r.Fail("measurement",
           fmt::format("unknown measurement '{}'; valid: {}", measurement, Joined(names)));
  }

  row.status = r.NonEmpty("status");
  bool status_known = false;
  for (auto s : kStatuses) status_known = status_known || s == row.status;
  if (!status_known) {
    r.Fail("status", fmt::format("unknown status '{}'; valid: ok, oom, skipped_memory, "
                                 "skipped_token_cap",
                                 row.status));
  }

  const bool memory = IsMemoryMeasurement(row.measurement);
  row.unit = r.NonEmpty("unit");
  const std::string_view want_unit = memory ? "bytes" : "ms";
  if (row.unit != want_unit) {
    r.Fail("unit",
           fmt::format("expected '{}' for a {} row, got '{}'", want_unit, measurement, row.unit));
  }
  row.method = r.Text("method");

  // Which coordinates a row has depends on what it measures; the others must be 0 so that a
  // column shifted by a hand edit is caught rather than read as another point.
  const bool colocated = row.measurement == Measurement::kDecodeColocated;
  const bool decode = row.measurement == Measurement::kDecode || colocated;
  if (row.measurement == Measurement::kPrefill) {
    row.batch_size = r.Int("batch_size", 1);
    row.prompt_tokens = r.Int("prompt_tokens", 1);
    r.ExpectZero("context_tokens", measurement);
  } else if (decode) {
    row.batch_size = r.Int("batch_size", 1);
    row.context_tokens = r.Int("context_tokens", 1);
    r.ExpectZero("prompt_tokens", measurement);
  } else {
    r.ExpectZero("batch_size", measurement);
    r.ExpectZero("context_tokens", measurement);
    r.ExpectZero("prompt_tokens", measurement);
  }
  if (colocated) {
    row.peer_model = r.NonEmpty("peer_model");
    row.peer_batch_size = r.Int("peer_batch_size", 1);
    row.peer_context_tokens = r.Int("peer_context_tokens", 1);
  } else {
    if (!r.Text("peer_model").empty()) {
      r.Fail("peer_model", fmt::format("expected an empty field for a {} row, got '{}'",
                                       measurement, r.Text("peer_model")));
    }
    r.ExpectZero("peer_batch_size", measurement);
    r.ExpectZero("peer_context_tokens", measurement);
  }
  if (memory && row.method.empty()) {
    r.Fail("method",
           "expected how the value was obtained (computed, cuda_allocator, tensor_nbytes)");
  }

  if (!row.ok()) return row;  // a point that was not measured has no statistics
  row.repeats = r.Int("repeats", 1);
  row.median = r.Number("median");
  row.p10 = r.Number("p10");
  row.p90 = r.Number("p90");
  if (!(row.p10 <= row.median && row.median <= row.p90)) {
    r.Fail("median", fmt::format("expected p10 <= median <= p90, got {} <= {} <= {}", r.Text("p10"),
                                 r.Text("median"), r.Text("p90")));
  }
  if (memory && !(row.median > 0.0)) r.Fail("median", "expected a byte count > 0");
  return row;
}

// The identity of a measurement point: two rows with the same key would make the fit ambiguous.
auto PointKey(const RawRow& row) {
  return std::make_tuple(row.model, static_cast<int>(row.measurement), row.batch_size,
                         row.context_tokens, row.prompt_tokens, row.peer_model, row.peer_batch_size,
                         row.peer_context_tokens,
                         IsMemoryMeasurement(row.measurement) ? row.method : "");
}

}  // namespace

std::string_view MeasurementName(Measurement m) {
  for (const auto& info : kMeasurements) {
    if (info.measurement == m) return info.name;
  }
  BS_CHECK(false);
  return "";
}

bool IsMemoryMeasurement(Measurement m) {
  return m == Measurement::kWeightBytes || m == Measurement::kKvBytesPerToken ||
         m == Measurement::kActivationPeakBytes;
}

const std::vector<std::string>& RawColumns() {
  static const std::vector<std::string> columns = {"model",
                                                   "measurement",
                                                   "status",
                                                   "batch_size",
                                                   "context_tokens",
                                                   "prompt_tokens",
                                                   "peer_model",
                                                   "peer_batch_size",
                                                   "peer_context_tokens",
                                                   "unit",
                                                   "repeats",
                                                   "median",
                                                   "p10",
                                                   "p90",
                                                   "mean",
                                                   "min",
                                                   "max",
                                                   "method",
                                                   "samples"};
  return columns;
}

RawMeasurements ParseRawCsv(std::string_view text, const std::string& source_name) {
  RawMeasurements raw;
  raw.source = source_name;
  std::vector<std::string> lines;
  {
    size_t begin = 0;
    while (begin < text.size()) {
      size_t end = text.find('\n', begin);
      if (end == std::string_view::npos) end = text.size();
      std::string_view line = text.substr(begin, end - begin);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      lines.emplace_back(line);
      begin = end + 1;
    }
  }
  bool blank = true;
  for (const auto& line : lines)
    blank = blank && line.find_first_not_of(" \t") == std::string::npos;
  if (blank) {
    ThrowConfigError("{}: the file is empty; expected a CSV header line with the columns: {}",
                     source_name, Joined(RawColumns()));
  }

  std::vector<std::string> header;
  if (!SplitCsvLine(lines[0], &header)) {
    ThrowConfigError("{}:1: unterminated quoted field in the header", source_name);
  }
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < header.size(); ++i) {
    const std::string& name = header[i];
    bool known = false;
    for (const auto& column : RawColumns()) known = known || column == name;
    if (!known) {
      ThrowConfigError("{}:1:{}: unknown column '{}'; valid columns: {}", source_name, i + 1, name,
                       Joined(RawColumns()));
    }
    if (!index.emplace(name, i).second) {
      ThrowConfigError("{}:1:{}: column '{}' appears twice", source_name, i + 1, name);
    }
  }
  for (const auto& column : RawColumns()) {
    if (index.count(column) == 0) {
      ThrowConfigError("{}:1: missing column '{}' in the header; expected the columns: {}",
                       source_name, column, Joined(RawColumns()));
    }
  }

  std::map<decltype(PointKey(RawRow{})), int64_t> seen;
  std::vector<std::string> fields;
  for (size_t i = 1; i < lines.size(); ++i) {
    const int64_t line_number = static_cast<int64_t>(i) + 1;
    if (lines[i].find_first_not_of(" \t") == std::string::npos) continue;
    if (!SplitCsvLine(lines[i], &fields)) {
      ThrowConfigError("{}:{}: unterminated quoted field", source_name, line_number);
    }
    if (fields.size() != header.size()) {
      ThrowConfigError("{}:{}: expected {} fields (one per header column), got {}", source_name,
                       line_number, header.size(), fields.size());
    }
    RawRow row = ParseRow(RowReader(source_name, line_number, fields, index));
    const auto [it, inserted] = seen.emplace(PointKey(row), line_number);
    if (!inserted) {
      ThrowConfigError(
          "{}:{}: the same {} point of '{}' as line {}; each point must be measured once",
          source_name, line_number, MeasurementName(row.measurement), row.model, it->second);
    }
    bool listed = false;
    for (const auto& m : raw.models) listed = listed || m == row.model;
    if (!listed) raw.models.push_back(row.model);
    raw.rows.push_back(std::move(row));
  }
  if (raw.rows.empty()) {
    ThrowConfigError("{}: no measurement rows after the header line", source_name);
  }
  return raw;
}

RawMeasurements LoadRawCsv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) ThrowConfigError("{}: cannot open the raw measurements file", path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseRawCsv(buffer.str(), path);
}

RawMeasurements MergeRawMeasurements(const std::vector<RawMeasurements>& parts) {
  BS_CHECK(!parts.empty());
  if (parts.size() == 1) return parts.front();
  RawMeasurements merged;
  std::map<std::string, std::string> model_source;
  std::vector<std::string> sources;
  for (const auto& part : parts) {
    sources.push_back(part.source);
    for (const auto& model : part.models) {
      const auto [it, inserted] = model_source.emplace(model, part.source);
      if (!inserted) {
        ThrowConfigError(
            "{}: model '{}' is also measured in {}; each model must come from one raw file",
            part.source, model, it->second);
      }
      merged.models.push_back(model);
    }
    merged.rows.insert(merged.rows.end(), part.rows.begin(), part.rows.end());
  }
  merged.source = Joined(sources);
  return merged;
}

}  // namespace bestserve::profiling
