// burstgpt: the BurstGPT trace, one row per request (Timestamp,Model,Request tokens,Response
// tokens,Total tokens,Log Type); the clock is Timestamp, in seconds.
#include <fmt/format.h>

#include "common/error.h"
#include "workloads/traces/csv_rows.h"
#include "workloads/traces/trace_format.h"

namespace bestserve::traces {
namespace {

constexpr const char* kName = "burstgpt";

TraceReadSummary Read(const std::string& path, const TraceReadOptions& /*options*/,
                      const TraceVisitor& visit) {
  CsvTraceRows rows(path, {"Timestamp", "Model", "Request tokens", "Response tokens"}, kName);
  const ColumnMap& map = rows.map();
  const size_t ts = map.Find("Timestamp"), model = map.Find("Model");
  const size_t req = map.Find("Request tokens"), resp = map.Find("Response tokens");
  const size_t total = map.Find("Total tokens"), log_type = map.Find("Log Type");
  return rows.VisitRecords(visit, [&](const CsvFields& fields, const LineContext& at,
                                      TraceRecord& record) {
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
  });
}

bool Detect(const TraceProbe& probe) {
  return probe.HasColumn("Timestamp") && probe.HasColumn("Request tokens");
}

}  // namespace

extern const TraceFormatEntry kBurstGptTrace{
    TraceFormat::kBurstGpt, kName, /*has_tokens=*/true, /*has_functions=*/false, Detect, Read,
};

}  // namespace bestserve::traces
