// azure_llm: the Azure LLM inference traces 2023/2024, one row per request
// (TIMESTAMP,ContextTokens,GeneratedTokens); the clock starts at the first row's TIMESTAMP (UTC
// offsets honoured). ParseTimestamp (trace_reader.h) is defined here.
#include <fmt/format.h>

#include "common/error.h"
#include "workloads/traces/csv_rows.h"
#include "workloads/traces/trace_format.h"

namespace bestserve::traces {
namespace {

constexpr const char* kName = "azure_llm";

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

TraceReadSummary Read(const std::string& path, const TraceReadOptions& /*options*/,
                      const TraceVisitor& visit) {
  CsvTraceRows rows(path, {"TIMESTAMP", "ContextTokens", "GeneratedTokens"}, kName);
  const ColumnMap& map = rows.map();
  const size_t ts = map.Find("TIMESTAMP"), ctx = map.Find("ContextTokens");
  const size_t gen = map.Find("GeneratedTokens");
  bool have_origin = false;
  int64_t origin_seconds = 0;
  double origin_fraction = 0.0;
  return rows.VisitRecords(visit, [&](const CsvFields& fields, const LineContext& at,
                                      TraceRecord& record) {
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
  });
}

bool Detect(const TraceProbe& probe) {
  return probe.HasColumn("TIMESTAMP") && probe.HasColumn("ContextTokens");
}

}  // namespace

extern const TraceFormatEntry kAzureLlmTrace{
    TraceFormat::kAzureLlm, kName, /*has_tokens=*/true, /*has_functions=*/false, Detect, Read,
};

}  // namespace bestserve::traces

namespace bestserve {

bool ParseTimestamp(std::string_view text, int64_t* seconds, double* fraction) {
  int64_t year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (text.size() < 19 || !traces::Digits(text, 0, 4, &year) || text[4] != '-' ||
      !traces::Digits(text, 5, 2, &month) || text[7] != '-' || !traces::Digits(text, 8, 2, &day) ||
      (text[10] != ' ' && text[10] != 'T') || !traces::Digits(text, 11, 2, &hour) ||
      text[13] != ':' || !traces::Digits(text, 14, 2, &minute) || text[16] != ':' ||
      !traces::Digits(text, 17, 2, &second)) {
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
      if (traces::Digits(text, pos + 1, 2, &oh) && pos + 6 == text.size() && text[pos + 3] == ':' &&
          traces::Digits(text, pos + 4, 2, &om)) {
        pos += 6;
      } else if (traces::Digits(text, pos + 1, 2, &oh) && pos + 5 == text.size() &&
                 traces::Digits(text, pos + 3, 2, &om)) {
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
  *seconds = traces::DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second -
             offset_s;
  *fraction = frac;
  return true;
}

}  // namespace bestserve
