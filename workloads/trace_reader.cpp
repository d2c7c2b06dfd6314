#include "workloads/trace_reader.h"

#include <fmt/format.h>

#include <limits>

#include "common/error.h"
#include "workloads/line_reader.h"
#include "workloads/traces/csv_rows.h"
#include "workloads/traces/trace_format.h"

// The one table of trace formats: one line per format, in TraceFormat order (the order listings
// show them and detection asks them). Each is defined in its own file in workloads/traces/.
#define BESTSERVE_FOR_EACH_TRACE_FORMAT(X) \
  X(kAzureFunctions2019Trace)              \
  X(kAzureFunctions2021Trace)              \
  X(kAzureLlmTrace)                        \
  X(kMooncakeTrace)                        \
  X(kBurstGptTrace)

namespace bestserve {

using traces::TraceFormatEntry;

namespace traces {
#define BESTSERVE_DECLARE_TRACE_FORMAT(entry) extern const TraceFormatEntry entry;
BESTSERVE_FOR_EACH_TRACE_FORMAT(BESTSERVE_DECLARE_TRACE_FORMAT)
#undef BESTSERVE_DECLARE_TRACE_FORMAT
}  // namespace traces

namespace {

const std::vector<const TraceFormatEntry*>& TraceFormats() {
#define BESTSERVE_TRACE_FORMAT_ADDRESS(entry) &traces::entry,
  static const std::vector<const TraceFormatEntry*> formats = {
      BESTSERVE_FOR_EACH_TRACE_FORMAT(BESTSERVE_TRACE_FORMAT_ADDRESS)};
#undef BESTSERVE_TRACE_FORMAT_ADDRESS
  return formats;
}

const TraceFormatEntry& Entry(TraceFormat format) {
  for (const TraceFormatEntry* entry : TraceFormats()) {
    if (entry->format == format) return *entry;
  }
  ThrowConfigError("trace format {} has no entry in the table", static_cast<int>(format));
}

}  // namespace

std::string_view TraceFormatName(TraceFormat format) { return Entry(format).name; }

std::vector<std::string> TraceFormatNames() {
  std::vector<std::string> names;
  for (const TraceFormatEntry* entry : TraceFormats()) names.emplace_back(entry->name);
  return names;
}

std::optional<TraceFormat> TraceFormatFromName(std::string_view name) {
  for (const TraceFormatEntry* entry : TraceFormats()) {
    if (entry->name == name) return entry->format;
  }
  return std::nullopt;
}

bool TraceFormatHasTokens(TraceFormat format) { return Entry(format).has_tokens; }

bool TraceFormatHasFunctions(TraceFormat format) { return Entry(format).has_functions; }

TraceFormat DetectTraceFormat(const std::string& path) {
  LineReader reader(path);
  std::string_view line;
  while (reader.Next(&line)) {
    if (!traces::Trim(line).empty()) break;
  }
  const std::string_view first = traces::Trim(line);
  if (first.empty()) ThrowConfigError("{}: empty file; cannot tell its trace format", path);
  // A JSON object line has no CSV header (and need not split as CSV).
  std::vector<std::string> header;
  if (first.front() != '{') header = traces::HeaderNames(first, {&path, reader.line_number()});
  const traces::TraceProbe probe(first, std::move(header));
  for (const TraceFormatEntry* entry : TraceFormats()) {
    if (entry->detect(probe)) return entry->format;
  }
  ThrowConfigError("{}:{}: cannot tell the trace format from '{}'; known formats: {}", path,
                   reader.line_number(), traces::Excerpt(first),
                   fmt::join(TraceFormatNames(), ", "));
}

TraceReadSummary ReadTrace(const std::string& path, TraceFormat format,
                           const TraceReadOptions& options, const TraceVisitor& visit) {
  if (options.max_records == std::numeric_limits<int64_t>::max()) return Entry(format).read(path, options, visit);
  int64_t visited = 0;
  return Entry(format).read(path, options, [&](const TraceRecord& record) {
    if (++visited > options.max_records) {
      ThrowConfigError("{}:{}: more than {} records; narrow the window or filter the trace", path, record.line,
                       options.max_records);
    }
    visit(record);
  });
}

}  // namespace bestserve
