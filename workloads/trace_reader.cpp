#include "workloads/trace_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <deque>

#include "common/error.h"
#include "common/rng.h"
#include "workloads/line_reader.h"

namespace bestserve {
namespace {

constexpr double kSecondsPerMinute = 60.0;
// The poisson spread lets a minute's arrivals run past its end; a cell that starts more than
// this before the window cannot reach it except with probability < e^-60 (c exponential gaps
// of mean 60/c summing past 3660 s), so skipping it is exact in practice.
constexpr double kPoissonSpillGuard_s = 3600.0;

// ----- errors -------------------------------------------------------------------------------

std::string Excerpt(std::string_view text) {
  constexpr size_t kMax = 60;
  if (text.size() <= kMax) return std::string(text);
  return fmt::format("{}...", text.substr(0, kMax));
}

struct LineContext {
  const std::string* path;
  int64_t line;
};

[[noreturn]] void FieldError(const LineContext& at, size_t column, std::string_view name,
                             std::string_view expected, std::string_view got) {
  ThrowConfigError("{}:{}:{}: column '{}': expected {}, got '{}'", *at.path, at.line, column, name,
                   expected, Excerpt(got));
}

[[noreturn]] void LineError(const LineContext& at, size_t column, const std::string& message) {
  ThrowConfigError("{}:{}:{}: {}", *at.path, at.line, column, message);
}

// ----- CSV ----------------------------------------------------------------------------------

struct CsvFields {
  std::vector<std::string_view> values;
  std::vector<size_t> columns;        // 1-based character position of each field
  std::deque<std::string> unescaped;  // storage for quoted fields that held ""
};

void SplitQuoted(std::string_view line, const LineContext& at, CsvFields* out) {
  size_t pos = 0;
  while (true) {
    out->columns.push_back(pos + 1);
    if (pos < line.size() && line[pos] == '"') {
      std::string value;
      size_t i = pos + 1;
      bool closed = false;
      while (i < line.size()) {
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            value += '"';
            i += 2;
            continue;
          }
          closed = true;
          ++i;
          break;
        }
        value += line[i++];
      }
      if (!closed) LineError(at, pos + 1, "unterminated double-quoted field");
      if (i < line.size() && line[i] != ',') {
        LineError(at, i + 1, fmt::format("expected ',' after a quoted field, got '{}'", line[i]));
      }
      out->unescaped.push_back(std::move(value));
      out->values.emplace_back(out->unescaped.back());
      if (i >= line.size()) return;
      pos = i + 1;
      continue;
    }
    const size_t comma = line.find(',', pos);
    if (comma == std::string_view::npos) {
      out->values.push_back(line.substr(pos));
      return;
    }
    out->values.push_back(line.substr(pos, comma - pos));
    pos = comma + 1;
  }
}

void SplitCsv(std::string_view line, const LineContext& at, CsvFields* out) {
  out->values.clear();
  out->columns.clear();
  out->unescaped.clear();
  if (std::memchr(line.data(), '"', line.size()) != nullptr) {
    SplitQuoted(line, at, out);
    return;
  }
  size_t pos = 0;
  while (true) {
    out->columns.push_back(pos + 1);
    const void* hit = std::memchr(line.data() + pos, ',', line.size() - pos);
    if (hit == nullptr) {
      out->values.push_back(line.substr(pos));
      return;
    }
    const size_t comma = static_cast<size_t>(static_cast<const char*>(hit) - line.data());
    out->values.push_back(line.substr(pos, comma - pos));
    pos = comma + 1;
  }
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The header's column names, trimmed, with a UTF-8 byte-order mark removed.
std::vector<std::string> HeaderNames(std::string_view line, const LineContext& at) {
  if (line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);
  CsvFields fields;
  SplitCsv(line, at, &fields);
  std::vector<std::string> names;
  for (std::string_view v : fields.values) names.emplace_back(Trim(v));
  return names;
}

// Index of each required column; throws naming every missing one.
struct ColumnMap {
  std::vector<std::string> header;
  size_t Find(std::string_view name) const {
    for (size_t i = 0; i < header.size(); ++i) {
      if (header[i] == name) return i;
    }
    return npos;
  }
  static constexpr size_t npos = static_cast<size_t>(-1);
};

ColumnMap RequireColumns(const std::vector<std::string>& header,
                         std::initializer_list<std::string_view> required, TraceFormat format,
                         const std::string& path) {
  ColumnMap map{header};
  std::vector<std::string> missing;
  for (std::string_view name : required) {
    if (map.Find(name) == ColumnMap::npos) missing.emplace_back(name);
  }
  if (!missing.empty()) {
    std::vector<std::string> quoted;
    for (std::string_view name : required) quoted.push_back(fmt::format("'{}'", name));
    ThrowConfigError("{}:1: missing column(s) {} for format {}; expected columns {} (got: {})",
                     path, fmt::join(missing, ", "), TraceFormatName(format),
                     fmt::join(quoted, ", "), Excerpt(fmt::format("{}", fmt::join(header, ","))));
  }
  return map;
}

// ----- fields -------------------------------------------------------------------------------

int64_t ParseCount(std::string_view text, const LineContext& at, size_t column,
                   std::string_view name) {
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < 0) {
    FieldError(at, column, name, "an integer >= 0", text);
  }
  return value;
}

double ParseSeconds(std::string_view text, const LineContext& at, size_t column,
                    std::string_view name, bool allow_negative) {
  double value = 0.0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
      !std::isfinite(value) || (!allow_negative && value < 0.0)) {
    FieldError(at, column, name,
               allow_negative ? "a number of seconds" : "a number of seconds >= 0", text);
  }
  return value;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool Digits(std::string_view text, size_t pos, size_t count, int64_t* value) {
  if (pos + count > text.size()) return false;
  int64_t v = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    const char c = text[i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *value = v;
  return true;
}

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

// ----- per-format readers -------------------------------------------------------------------

TraceReadSummary Read2019(const std::string& path, const TraceReadOptions& options,
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

// The loop every header-plus-rows CSV trace shares: open the file, read and check the header,
// then split each non-empty row and check it has the header's width. Each reader keeps only
// what is its own: which columns it needs and what a row means.
class CsvTraceRows {
 public:
  CsvTraceRows(const std::string& path, std::initializer_list<std::string_view> required, TraceFormat format)
      : reader_(path), at_{&path, 1} {
    std::string_view line;
    if (!reader_.Next(&line)) ThrowConfigError("{}: empty file; expected a CSV header", path);
    map_ = RequireColumns(HeaderNames(line, at_), required, format, path);
  }
  const ColumnMap& map() const { return map_; }
  // Advances to the next data row; false at the end of the file.
  bool Next() {
    std::string_view line;
    while (reader_.Next(&line)) {
      if (line.empty()) continue;
      at_.line = reader_.line_number();
      SplitCsv(line, at_, &fields_);
      if (fields_.values.size() != map_.header.size()) {
        LineError(at_, 1,
                  fmt::format("expected {} comma-separated fields (as in the header), got {}",
                              map_.header.size(), fields_.values.size()));
      }
      return true;
    }
    return false;
  }
  const CsvFields& fields() const { return fields_; }
  const LineContext& at() const { return at_; }
  int64_t line_number() const { return reader_.line_number(); }

 private:
  LineReader reader_;
  LineContext at_;
  ColumnMap map_;
  CsvFields fields_;
};

TraceReadSummary Read2021(const std::string& path, const TraceVisitor& visit) {
  CsvTraceRows rows(path, {"app", "func", "end_timestamp", "duration"}, TraceFormat::kAzureFunctions2021);
  const ColumnMap& map = rows.map();
  TraceReadSummary summary;
  const size_t app = map.Find("app"), func = map.Find("func");
  const size_t end_ts = map.Find("end_timestamp"), duration = map.Find("duration");
  TraceRecord record;
  std::string key;
  while (rows.Next()) {
    const CsvFields& fields = rows.fields();
    const LineContext& at = rows.at();
    const double end =
        ParseSeconds(fields.values[end_ts], at, fields.columns[end_ts], "end_timestamp", true);
    const double dur =
        ParseSeconds(fields.values[duration], at, fields.columns[duration], "duration", false);
    if (fields.values[app].empty()) FieldError(at, fields.columns[app], "app", "an app id", "");
    if (fields.values[func].empty())
      FieldError(at, fields.columns[func], "func", "a function id", "");
    key.assign(fields.values[app]);
    key += '/';
    key += fields.values[func];
    record.function = key;
    record.time_s = end - dur;
    record.line = at.line;
    ++summary.rows;
    ++summary.records;
    visit(record);
  }
  summary.lines = rows.line_number();
  return summary;
}

TraceReadSummary ReadAzureLlm(const std::string& path, const TraceVisitor& visit) {
  CsvTraceRows rows(path, {"TIMESTAMP", "ContextTokens", "GeneratedTokens"}, TraceFormat::kAzureLlm);
  const ColumnMap& map = rows.map();
  TraceReadSummary summary;
  const size_t ts = map.Find("TIMESTAMP"), ctx = map.Find("ContextTokens");
  const size_t gen = map.Find("GeneratedTokens");
  TraceRecord record;
  bool have_origin = false;
  int64_t origin_seconds = 0;
  double origin_fraction = 0.0;
  while (rows.Next()) {
    const CsvFields& fields = rows.fields();
    const LineContext& at = rows.at();
    int64_t seconds = 0;
    double fraction = 0.0;
    if (!ParseTimestamp(fields.values[ts], &seconds, &fraction)) {
      FieldError(at, fields.columns[ts], "TIMESTAMP",
                 "a time 'YYYY-MM-DD HH:MM:SS[.fraction][+HH:MM]'", fields.values[ts]);
    }
    if (!have_origin) {
      origin_seconds = seconds;
      origin_fraction = fraction;
      have_origin = true;
    }
    // Whole seconds first, so 1.7e9-second epochs keep sub-microsecond precision.
    record.time_s = static_cast<double>(seconds - origin_seconds) + (fraction - origin_fraction);
    record.prompt_tokens = ParseCount(fields.values[ctx], at, fields.columns[ctx], "ContextTokens");
    record.output_tokens =
        ParseCount(fields.values[gen], at, fields.columns[gen], "GeneratedTokens");
    record.line = at.line;
    ++summary.rows;
    ++summary.records;
    visit(record);
  }
  summary.lines = rows.line_number();
  return summary;
}

TraceReadSummary ReadBurstGpt(const std::string& path, const TraceVisitor& visit) {
  CsvTraceRows rows(path, {"Timestamp", "Model", "Request tokens", "Response tokens"}, TraceFormat::kBurstGpt);
  const ColumnMap& map = rows.map();
  TraceReadSummary summary;
  const size_t ts = map.Find("Timestamp"), model = map.Find("Model");
  const size_t req = map.Find("Request tokens"), resp = map.Find("Response tokens");
  const size_t total = map.Find("Total tokens"), log_type = map.Find("Log Type");
  TraceRecord record;
  while (rows.Next()) {
    const CsvFields& fields = rows.fields();
    const LineContext& at = rows.at();
    record.time_s = ParseSeconds(fields.values[ts], at, fields.columns[ts], "Timestamp", false);
    record.model = fields.values[model];
    if (record.model.empty()) FieldError(at, fields.columns[model], "Model", "a model name", "");
    record.prompt_tokens =
        ParseCount(fields.values[req], at, fields.columns[req], "Request tokens");
    record.output_tokens =
        ParseCount(fields.values[resp], at, fields.columns[resp], "Response tokens");
    // Total tokens must parse, but is not checked against the sum: only the two parts are used.
    if (total != ColumnMap::npos) {
      ParseCount(fields.values[total], at, fields.columns[total], "Total tokens");
    }
    record.category = log_type != ColumnMap::npos ? fields.values[log_type] : std::string_view();
    record.line = at.line;
    ++summary.rows;
    ++summary.records;
    visit(record);
  }
  summary.lines = rows.line_number();
  return summary;
}

// ----- Mooncake JSONL -----------------------------------------------------------------------

// A tiny JSON reader for one flat object per line: enough for Mooncake records, strict about
// syntax, and it reports the 1-based column of what it did not expect.
class JsonLine {
 public:
  JsonLine(std::string_view text, const LineContext& at) : text_(text), at_(at) {}

  void SkipSpace() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool AtEnd() {
    SkipSpace();
    return pos_ >= text_.size();
  }
  char Peek() {
    SkipSpace();
    return pos_ < text_.size() ? text_[pos_] : '\0';
  }
  void Expect(char c, std::string_view what) {
    if (Peek() != c) Fail(what);
    ++pos_;
  }
  [[noreturn]] void Fail(std::string_view what) {
    SkipSpace();
    const std::string got = pos_ < text_.size() ? Excerpt(text_.substr(pos_, 20)) : "end of line";
    LineError(at_, pos_ + 1, fmt::format("expected {}, got '{}'", what, got));
  }
  [[noreturn]] void FailKey(std::string_view key, size_t column, std::string_view what,
                            std::string_view got) {
    LineError(at_, column, fmt::format("key '{}': expected {}, got '{}'", key, what, Excerpt(got)));
  }
  size_t column() {
    SkipSpace();
    return pos_ + 1;
  }

  // A string without escapes needing decoding is returned as a view; escapes are validated and
  // kept raw (keys never have them in practice).
  std::string_view String() {
    Expect('"', "a string");
    const size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] != '"') {
      if (text_[pos_] == '\\') ++pos_;
      ++pos_;
    }
    if (pos_ >= text_.size()) {
      pos_ = start - 1;
      Fail("a terminated string");
    }
    return text_.substr(start, pos_++ - start);
  }
  std::string_view NumberText() {
    SkipSpace();
    const size_t start = pos_;
    while (pos_ < text_.size() &&
           (std::isdigit(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '-' ||
            text_[pos_] == '+' || text_[pos_] == '.' || text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
    }
    return text_.substr(start, pos_ - start);
  }
  void SkipValue(int depth = 0) {
    if (depth > 64) Fail("a less deeply nested value");
    const char c = Peek();
    if (c == '"') {
      String();
    } else if (c == '{' || c == '[') {
      const char close = c == '{' ? '}' : ']';
      ++pos_;
      if (Peek() == close) {
        ++pos_;
        return;
      }
      while (true) {
        if (c == '{') {
          String();
          Expect(':', "':'");
        }
        SkipValue(depth + 1);
        if (Peek() == ',') {
          ++pos_;
          continue;
        }
        Expect(close, c == '{' ? "',' or '}'" : "',' or ']'");
        return;
      }
    } else if (text_.substr(pos_, 4) == "true" || text_.substr(pos_, 4) == "null") {
      pos_ += 4;
    } else if (text_.substr(pos_, 5) == "false") {
      pos_ += 5;
    } else {
      const std::string_view number = NumberText();
      double value = 0.0;
      const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
      if (number.empty() || ec != std::errc() || end != number.data() + number.size()) {
        pos_ -= number.size();
        Fail("a JSON value");
      }
    }
  }

 private:
  std::string_view text_;
  const LineContext& at_;
  size_t pos_ = 0;
};

TraceReadSummary ReadMooncake(const std::string& path, const TraceVisitor& visit) {
  LineReader reader(path);
  TraceReadSummary summary;
  std::string_view line;
  TraceRecord record;
  LineContext at{&path, 0};
  while (reader.Next(&line)) {
    at.line = reader.line_number();
    JsonLine json(line, at);
    if (json.AtEnd()) continue;
    json.Expect('{', "a JSON object '{'");
    bool has_timestamp = false, has_input = false, has_output = false;
    if (json.Peek() != '}') {
      while (true) {
        const std::string_view key = json.String();
        json.Expect(':', "':' after a key");
        if (key == "timestamp" || key == "input_length" || key == "output_length") {
          const size_t column = json.column();
          const std::string_view text = json.NumberText();
          if (key == "timestamp") {
            double ms = 0.0;
            const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
            if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
                !std::isfinite(ms) || ms < 0.0) {
              json.FailKey(key, column, "a time in milliseconds >= 0",
                           text.empty() ? line.substr(column - 1, 12) : text);
            }
            record.time_s = ms / 1000.0;
            has_timestamp = true;
          } else {
            int64_t value = 0;
            const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
            if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
                value < 0) {
              json.FailKey(key, column, "an integer >= 0",
                           text.empty() ? line.substr(column - 1, 12) : text);
            }
            (key == "input_length" ? record.prompt_tokens : record.output_tokens) = value;
            (key == "input_length" ? has_input : has_output) = true;
          }
        } else if (key == "hash_ids") {
          // Prefix-block ids: validated as a list of integers; bestserve does not model prefix
          // caching, so they are not kept.
          const size_t column = json.column();
          json.Expect('[', "a list of integer hash ids '['");
          if (json.Peek() != ']') {
            while (true) {
              const size_t item_column = json.column();
              const std::string_view text = json.NumberText();
              int64_t id = 0;
              const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
              if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
                json.FailKey(key, item_column, "an integer hash id",
                             text.empty() ? line.substr(item_column - 1, 12) : text);
              }
              if (json.Peek() == ',') {
                json.Expect(',', "','");
                continue;
              }
              json.Expect(']', "',' or ']' in hash_ids");
              break;
            }
          } else {
            json.Expect(']', "']'");
          }
          (void)column;
        } else {
          json.SkipValue();
        }
        if (json.Peek() == ',') {
          json.Expect(',', "','");
          continue;
        }
        json.Expect('}', "',' or '}'");
        break;
      }
    } else {
      json.Expect('}', "'}'");
    }
    if (!json.AtEnd()) json.Fail("the end of the line after the object");
    const char* missing = !has_timestamp ? "timestamp"
                          : !has_input   ? "input_length"
                          : !has_output  ? "output_length"
                                         : nullptr;
    if (missing != nullptr) {
      LineError(at, 1,
                fmt::format("missing key '{}'; a mooncake record needs timestamp (ms), "
                            "input_length and output_length",
                            missing));
    }
    record.line = at.line;
    ++summary.rows;
    ++summary.records;
    visit(record);
  }
  summary.lines = reader.line_number();
  return summary;
}

}  // namespace

std::string_view TraceFormatName(TraceFormat format) {
  switch (format) {
    case TraceFormat::kAzureFunctions2019:
      return "azure_functions_2019";
    case TraceFormat::kAzureFunctions2021:
      return "azure_functions_2021";
    case TraceFormat::kAzureLlm:
      return "azure_llm";
    case TraceFormat::kMooncake:
      return "mooncake";
    case TraceFormat::kBurstGpt:
      return "burstgpt";
  }
  return "?";
}

// Every format, in the order listings show them.
constexpr TraceFormat kTraceFormats[] = {TraceFormat::kAzureFunctions2019, TraceFormat::kAzureFunctions2021,
                                         TraceFormat::kAzureLlm, TraceFormat::kMooncake, TraceFormat::kBurstGpt};

std::vector<std::string> TraceFormatNames() {
  std::vector<std::string> names;
  for (TraceFormat f : kTraceFormats) names.emplace_back(TraceFormatName(f));
  return names;
}

std::optional<TraceFormat> TraceFormatFromName(std::string_view name) {
  for (TraceFormat f : kTraceFormats) {
    if (TraceFormatName(f) == name) return f;
  }
  return std::nullopt;
}

bool TraceFormatHasTokens(TraceFormat format) {
  return format == TraceFormat::kAzureLlm || format == TraceFormat::kMooncake ||
         format == TraceFormat::kBurstGpt;
}

bool TraceFormatHasFunctions(TraceFormat format) {
  return format == TraceFormat::kAzureFunctions2019 || format == TraceFormat::kAzureFunctions2021;
}

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

bool ParseTimestamp(std::string_view text, int64_t* seconds, double* fraction) {
  int64_t year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (text.size() < 19 || !Digits(text, 0, 4, &year) || text[4] != '-' ||
      !Digits(text, 5, 2, &month) || text[7] != '-' || !Digits(text, 8, 2, &day) ||
      (text[10] != ' ' && text[10] != 'T') || !Digits(text, 11, 2, &hour) || text[13] != ':' ||
      !Digits(text, 14, 2, &minute) || text[16] != ':' || !Digits(text, 17, 2, &second)) {
    return false;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return false;
  }
  size_t pos = 19;
  double frac = 0.0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    const size_t start = pos;
    double scale = 0.1;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      frac += (text[pos] - '0') * scale;
      scale *= 0.1;
      ++pos;
    }
    if (pos == start) return false;
  }
  int64_t offset_s = 0;
  if (pos < text.size()) {
    if (text[pos] == 'Z' && pos + 1 == text.size()) {
      ++pos;
    } else if (text[pos] == '+' || text[pos] == '-') {
      const int64_t sign = text[pos] == '-' ? -1 : 1;
      int64_t oh = 0, om = 0;
      if (Digits(text, pos + 1, 2, &oh) && pos + 6 == text.size() && text[pos + 3] == ':' &&
          Digits(text, pos + 4, 2, &om)) {
        pos += 6;
      } else if (Digits(text, pos + 1, 2, &oh) && pos + 5 == text.size() &&
                 Digits(text, pos + 3, 2, &om)) {
        pos += 5;
      } else {
        return false;
      }
      if (oh > 23 || om > 59) return false;
      offset_s = sign * (oh * 3600 + om * 60);
    } else {
      return false;
    }
  }
  if (pos != text.size()) return false;
  *seconds =
      DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset_s;
  *fraction = frac;
  return true;
}

TraceFormat DetectTraceFormat(const std::string& path) {
  LineReader reader(path);
  std::string_view line;
  while (reader.Next(&line)) {
    if (!Trim(line).empty()) break;
  }
  const std::string_view first = Trim(line);
  if (first.empty()) ThrowConfigError("{}: empty file; cannot tell its trace format", path);
  if (first.front() == '{') return TraceFormat::kMooncake;
  const LineContext at{&path, reader.line_number()};
  const ColumnMap map{HeaderNames(first, at)};
  auto has = [&](std::string_view name) { return map.Find(name) != ColumnMap::npos; };
  if (has("HashFunction") && has("Trigger")) return TraceFormat::kAzureFunctions2019;
  if (has("app") && has("func") && has("end_timestamp")) return TraceFormat::kAzureFunctions2021;
  if (has("TIMESTAMP") && has("ContextTokens")) return TraceFormat::kAzureLlm;
  if (has("Timestamp") && has("Request tokens")) return TraceFormat::kBurstGpt;
  ThrowConfigError("{}:{}: cannot tell the trace format from '{}'; known formats: {}", path,
                   reader.line_number(), Excerpt(first), fmt::join(TraceFormatNames(), ", "));
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
                                       TraceFormat::kAzureFunctions2019, path);
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

TraceReadSummary ReadTrace(const std::string& path, TraceFormat format,
                           const TraceReadOptions& options, const TraceVisitor& visit) {
  TraceReadSummary summary;
  switch (format) {
    case TraceFormat::kAzureFunctions2019:
      return Read2019(path, options, visit);
    case TraceFormat::kAzureFunctions2021:
      return Read2021(path, visit);
    case TraceFormat::kAzureLlm:
      return ReadAzureLlm(path, visit);
    case TraceFormat::kMooncake:
      return ReadMooncake(path, visit);
    case TraceFormat::kBurstGpt:
      return ReadBurstGpt(path, visit);
  }
  return summary;
}

}  // namespace bestserve
