// One trace format: its name, what it carries, how to recognise its first line and its reader.
// Each format is defined in its own file in this folder (azure_functions_2019.cpp, ...) as a
// `const TraceFormatEntry k<Name>Trace`; the one table of formats is in workloads/trace_reader.cpp,
// and TraceFormatName, DetectTraceFormat and ReadTrace consult it.
//
// Adding a format: a value in TraceFormat (trace_reader.h), a file here (copy burstgpt.cpp; the
// shared CSV tokenizer and row loop are in csv_rows.h), and one line in the table.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "workloads/trace_reader.h"

namespace bestserve::traces {

// The first non-blank line of a file, as detection sees it.
class TraceProbe {
 public:
  // `header`: the line's CSV column names; empty for a JSON object line (one starting with '{').
  TraceProbe(std::string_view first_line, std::vector<std::string> header)
      : first_line_(first_line), header_(std::move(header)) {}
  std::string_view first_line() const { return first_line_; }
  bool IsJsonObject() const { return !first_line_.empty() && first_line_.front() == '{'; }
  // Whether the CSV header has a column named `name` (never for a JSON line).
  bool HasColumn(std::string_view name) const {
    for (const std::string& column : header_) {
      if (column == name) return true;
    }
    return false;
  }

 private:
  std::string_view first_line_;
  std::vector<std::string> header_;
};

struct TraceFormatEntry {
  TraceFormat format;
  const char* name;    // as in configs and --format
  bool has_tokens;     // records carry prompt and output token counts
  bool has_functions;  // records carry a function id
  // Whether a file whose first line is `probe` is in this format. Detection asks the formats in
  // table order and takes the first that says yes.
  bool (*detect)(const TraceProbe& probe);
  TraceReadSummary (*read)(const std::string& path, const TraceReadOptions& options,
                           const TraceVisitor& visit);
};

}  // namespace bestserve::traces
