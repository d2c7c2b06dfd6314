#include "workloads/traces/csv_rows.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstring>

#include "common/error.h"

namespace bestserve::traces {

std::string Excerpt(std::string_view text) {
  constexpr size_t kMax = 60;
  if (text.size() <= kMax) return std::string(text);
  return fmt::format("{}...", text.substr(0, kMax));
}

[[noreturn]] void FieldError(const LineContext& at, size_t column, std::string_view name,
                             std::string_view expected, std::string_view got) {
  ThrowConfigError("{}:{}:{}: column '{}': expected {}, got '{}'", *at.path, at.line, column, name,
                   expected, Excerpt(got));
}

[[noreturn]] void LineError(const LineContext& at, size_t column, const std::string& message) {
  ThrowConfigError("{}:{}:{}: {}", *at.path, at.line, column, message);
}

// ----- CSV ----------------------------------------------------------------------------------

namespace {

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

}  // namespace

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

ColumnMap RequireColumns(const std::vector<std::string>& header,
                         std::initializer_list<std::string_view> required,
                         std::string_view format_name, const std::string& path) {
  ColumnMap map{header};
  std::vector<std::string> missing;
  for (std::string_view name : required) {
    if (map.Find(name) == ColumnMap::npos) missing.emplace_back(name);
  }
  if (!missing.empty()) {
    std::vector<std::string> quoted;
    for (std::string_view name : required) quoted.push_back(fmt::format("'{}'", name));
    ThrowConfigError("{}:1: missing column(s) {} for format {}; expected columns {} (got: {})",
                     path, fmt::join(missing, ", "), format_name, fmt::join(quoted, ", "),
                     Excerpt(fmt::format("{}", fmt::join(header, ","))));
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

CsvTraceRows::CsvTraceRows(const std::string& path,
                           std::initializer_list<std::string_view> required,
                           std::string_view format_name)
    : reader_(path), at_{&path, 1} {
  std::string_view line;
  if (!reader_.Next(&line)) ThrowConfigError("{}: empty file; expected a CSV header", path);
  map_ = RequireColumns(HeaderNames(line, at_), required, format_name, path);
}

bool CsvTraceRows::Next() {
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

}  // namespace bestserve::traces
