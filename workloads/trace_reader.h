// Streaming readers for public request-arrival traces.
//
// One file per format in workloads/traces/ (its reader and its detection rule), over a shared
// CSV tokenizer and row loop (traces/csv_rows.h); the table of formats is in trace_reader.cpp.
//
// Each reader walks a file line by line (line_reader.h: .csv or .csv.gz, bounded memory) and
// calls `visit` once per arrival with a TraceRecord. It does not sort, window or rescale: the
// trace workload (trace_workload.h) and the stats command build on these records.
//
//   | format               | file                           | one arrival per                 |
//   |----------------------|--------------------------------|---------------------------------|
//   | azure_functions_2019 | HashOwner,HashApp,HashFunction,| invocation counted in a minute  |
//   |                      | Trigger,<minute columns 1..1440>| column, spread within the minute|
//   | azure_functions_2021 | app,func,end_timestamp,duration| row (arrival = end - duration)  |
//   | azure_llm (2023/2024)| TIMESTAMP,ContextTokens,       | row                             |
//   |                      | GeneratedTokens                |                                 |
//   | mooncake (JSONL)     | {"timestamp": ms, "input_length", "output_length", "hash_ids"} |
//   | burstgpt             | Timestamp,Model,Request tokens,| row                             |
//   |                      | Response tokens,Total tokens,Log Type                            |
//
// The trace clock (TraceRecord::time_s), in seconds:
//   azure_functions_2019: since the start of the header's first minute column (minute m covers
//                         [(m - m0) * 60, (m - m0 + 1) * 60) for first column m0);
//   azure_functions_2021: end_timestamp - duration (the trace's own clock; can be < 0);
//   azure_llm:            since the first data row's TIMESTAMP (UTC offsets honoured);
//   mooncake:             timestamp / 1000;
//   burstgpt:             Timestamp.
// CSV columns are found by header name (order free; extra columns ignored). Fields may be
// double-quoted ("" escapes a quote).
//
// Errors: any malformed line throws ConfigError "FILE:LINE:COLUMN: column 'NAME': expected
// WHAT, got 'TEXT'" (COLUMN is the 1-based character position of the field in the line; JSONL
// errors name the key). A header without the required columns names the missing ones.
#pragma once

#include "common/hash.h"  // Fnv1a64: function ids -> tasks and spread streams

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bestserve {

enum class TraceFormat {
  kAzureFunctions2019,
  kAzureFunctions2021,
  kAzureLlm,
  kMooncake,
  kBurstGpt
};

std::string_view TraceFormatName(TraceFormat format);
std::optional<TraceFormat> TraceFormatFromName(std::string_view name);
// Every format name, in enum order.
std::vector<std::string> TraceFormatNames();
// Whether records carry token counts / a function id.
bool TraceFormatHasTokens(TraceFormat format);
bool TraceFormatHasFunctions(TraceFormat format);

// Guesses the format from the first line (the CSV header, or a JSON object for mooncake).
// Throws ConfigError listing the known headers when nothing matches.
TraceFormat DetectTraceFormat(const std::string& path);

// How azure_functions_2019 spreads a minute's count c over the minute [s, s + 60):
//   uniform:     c independent uniform times, sorted (a Poisson process conditioned on c
//                arrivals in the minute); the default.
//   equidistant: s + k * 60 / c, k = 0..c-1 (InVitro's default).
//   poisson:     exponential gaps of rate c / 60 from s: the count is kept, the last arrivals
//                may fall after the minute's end.
enum class MinuteSpread { kUniform, kEquidistant, kPoisson };
std::string_view MinuteSpreadName(MinuteSpread spread);

struct TraceRecord {
  double time_s = 0.0;         // on the trace clock (above)
  int64_t prompt_tokens = -1;  // -1: the format has none
  int64_t output_tokens = -1;
  std::string_view function;  // 2019: "owner/app/function"; 2021: "app/func"; else empty
  std::string_view category;  // 2019: Trigger; burstgpt: Log Type; else empty
  std::string_view model;     // burstgpt: Model; else empty
  int64_t line = 0;           // 1-based source line
};

struct TraceReadOptions {
  // azure_functions_2019 only: the spread rule and its seed. Each (function, minute) cell draws
  // from its own counter-based stream, so filtering functions or cutting a window never moves
  // another cell's arrivals.
  MinuteSpread spread = MinuteSpread::kUniform;
  uint64_t spread_seed = 0;
  // azure_functions_2019 only: minutes entirely outside [window_start_s, window_end_s) on the
  // trace clock are skipped without spreading (a large saving on day-long files). Other
  // formats visit every row; the caller windows.
  double window_start_s = -std::numeric_limits<double>::infinity();
  double window_end_s = std::numeric_limits<double>::infinity();
  // More records visited than this: a ConfigError naming the file and the line that went past
  // it, before that record is visited. A bound on the work one file can cause (one minute cell of
  // a 2019 table can ask for billions of arrivals).
  int64_t max_records = std::numeric_limits<int64_t>::max();
};

struct TraceReadSummary {
  int64_t lines = 0;    // lines read, header included
  int64_t rows = 0;     // data rows (2019: function rows; others: arrivals)
  int64_t records = 0;  // records visited
};

using TraceVisitor = std::function<void(const TraceRecord&)>;

TraceReadSummary ReadTrace(const std::string& path, TraceFormat format,
                           const TraceReadOptions& options, const TraceVisitor& visit);

// One function row of an azure_functions_2019 file, for per-minute analyses (fits, stats) that
// need the counts rather than spread arrivals.
struct Azure2019Row {
  std::string_view owner, app, function, trigger;
  const std::vector<int>* minutes = nullptr;     // minute of day (1-based) of each count column
  const std::vector<int64_t>* counts = nullptr;  // same length as *minutes
  int64_t line = 0;
};
TraceReadSummary ReadAzureFunctions2019Rows(const std::string& path,
                                            const std::function<void(const Azure2019Row&)>& visit);

// Parses "YYYY-MM-DD HH:MM:SS[.fraction][Z|+HH:MM|-HH:MM]" (or with 'T') into whole seconds
// since 1970-01-01 UTC and a fraction in [0, 1). False when malformed.
bool ParseTimestamp(std::string_view text, int64_t* seconds, double* fraction);


}  // namespace bestserve
