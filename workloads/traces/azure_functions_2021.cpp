// azure_functions_2021: Azure Functions invocations 2021, one row per invocation
// (app,func,end_timestamp,duration); arrival = end_timestamp - duration on the trace's own clock
// (can be < 0).
#include <fmt/format.h>

#include "common/error.h"
#include "workloads/traces/csv_rows.h"
#include "workloads/traces/trace_format.h"

namespace bestserve::traces {
namespace {

constexpr const char* kName = "azure_functions_2021";

TraceReadSummary Read(const std::string& path, const TraceReadOptions& /*options*/,
                      const TraceVisitor& visit) {
  CsvTraceRows rows(path, {"app", "func", "end_timestamp", "duration"}, kName);
  const ColumnMap& map = rows.map();
  const size_t app = map.Find("app"), func = map.Find("func");
  const size_t end_ts = map.Find("end_timestamp"), duration = map.Find("duration");
  std::string key;
  return rows.VisitRecords(
      visit, [&](const CsvFields& fields, const LineContext& at, TraceRecord& record) {
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
      });
}

bool Detect(const TraceProbe& probe) {
  return probe.HasColumn("app") && probe.HasColumn("func") && probe.HasColumn("end_timestamp");
}

}  // namespace

extern const TraceFormatEntry kAzureFunctions2021Trace{
    TraceFormat::kAzureFunctions2021, kName,  /*has_tokens=*/false,
    /*has_functions=*/true,           Detect, Read,
};

}  // namespace bestserve::traces
