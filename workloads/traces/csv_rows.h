// The text layer every trace reader shares: errors that name the file, line and column, a CSV
// tokenizer (double-quoted fields, "" escapes), header columns found by name, number fields,
// and the header-plus-rows loop of the CSV formats. Internal to workloads/traces/.
#pragma once

#include <cstdint>
#include <deque>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "workloads/line_reader.h"
#include "workloads/trace_reader.h"

namespace bestserve::traces {

// At most 60 characters of `text` (with "..." when cut), for messages.
std::string Excerpt(std::string_view text);

struct LineContext {
  const std::string* path;
  int64_t line;
};

// "FILE:LINE:COLUMN: column 'NAME': expected WHAT, got 'TEXT'".
[[noreturn]] void FieldError(const LineContext& at, size_t column, std::string_view name,
                             std::string_view expected, std::string_view got);
// "FILE:LINE:COLUMN: MESSAGE".
[[noreturn]] void LineError(const LineContext& at, size_t column, const std::string& message);

struct CsvFields {
  std::vector<std::string_view> values;
  std::vector<size_t> columns;        // 1-based character position of each field
  std::deque<std::string> unescaped;  // storage for quoted fields that held ""
};

// Splits one CSV line into `out` (cleared first); throws on a malformed quoted field.
void SplitCsv(std::string_view line, const LineContext& at, CsvFields* out);
// Without leading and trailing spaces and tabs.
std::string_view Trim(std::string_view s);
// The header's column names, trimmed, with a UTF-8 byte-order mark removed.
std::vector<std::string> HeaderNames(std::string_view line, const LineContext& at);

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

// The map of `header`; throws naming every column of `required` it lacks, for `format_name`.
ColumnMap RequireColumns(const std::vector<std::string>& header,
                         std::initializer_list<std::string_view> required,
                         std::string_view format_name, const std::string& path);

// A count field: an integer >= 0, or FieldError.
int64_t ParseCount(std::string_view text, const LineContext& at, size_t column,
                   std::string_view name);
// A number of seconds (finite; >= 0 unless `allow_negative`), or FieldError.
double ParseSeconds(std::string_view text, const LineContext& at, size_t column,
                    std::string_view name, bool allow_negative);

// The loop every header-plus-rows CSV trace shares: open the file, read and check the header,
// then split each non-empty row and check it has the header's width. Each reader keeps only
// what is its own: which columns it needs and what a row means.
class CsvTraceRows {
 public:
  // Opens `path` and checks its header has the `required` columns of format `format_name`.
  CsvTraceRows(const std::string& path, std::initializer_list<std::string_view> required,
               std::string_view format_name);
  const ColumnMap& map() const { return map_; }
  // Advances to the next data row; false at the end of the file.
  bool Next();
  // The loop of a format with one arrival per row: `fill(fields, at, record)` turns each row
  // into the record (throwing on a bad field); the loop sets the record's line, counts it and
  // visits it. Every record of such a format passes here.
  template <typename Fill>
  TraceReadSummary VisitRecords(const TraceVisitor& visit, Fill&& fill) {
    TraceReadSummary summary;
    TraceRecord record;
    while (Next()) {
      fill(fields_, at_, record);
      record.line = at_.line;
      ++summary.rows;
      ++summary.records;
      visit(record);
    }
    summary.lines = line_number();
    return summary;
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

}  // namespace bestserve::traces
