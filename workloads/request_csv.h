// The request CSV: bestserve's own saved-workload format, replayed byte-identically.
//
//   id,arrival_s,task,prompt_tokens,output_tokens,deadline_s,nominal_rate_rps
//   0,0.5129,hellaswag,96,32,,2
//
// Times in seconds, printed in shortest round-trip form so that write -> read -> write gives
// the same bytes. Tasks by name (resolved against the task table). deadline_s and
// nominal_rate_rps may be empty (unknown). Rows must be sorted by arrival_s.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/request.h"
#include "common/request_source.h"
#include "common/tasks.h"
#include "workloads/line_reader.h"

namespace bestserve {

std::string FormatRequestCsv(const Workload& workload, const TaskTable& tasks);

// Parses request CSV text; `source` names the file in errors ("file:line: column 'x': ...").
// Throws ConfigError on a bad header, a malformed or unsorted row, an unknown task, or no rows.
Workload ParseRequestCsv(const std::string& text, const std::string& source,
                         const TaskTable& tasks);

Workload ReadRequestCsv(const std::string& path, const TaskTable& tasks);

// The format's rules, one line at a time (header, fields, sorted arrivals, unique ids, limits):
// the one place they live, for ParseRequestCsv and RequestCsvReader alike.
class RequestCsvRows {
 public:
  // `first_line_of(id)`: the line where a repeated id first appeared, for the message (ids are
  // kept as bits, not with their lines, so that ten million rows cost about a megabyte).
  using FirstLineOf = std::function<size_t(int64_t)>;
  RequestCsvRows(std::string source, const TaskTable& tasks, FirstLineOf first_line_of);
  // `line` (its "\n" and one "\r" before it removed) is line `line_number` of the file. True with `*out` filled when it
  // is a request row (id = its position); false for the header and blank lines.
  bool Parse(std::string_view line, size_t line_number, Request* out);
  // At the end of the file: throws when there was no header or no row.
  void Finish() const;

 private:
  static constexpr int64_t kDenseIds = int64_t{1} << 27;  // ids below this as bits: 16 MB at most
  bool SeenId(int64_t id, size_t line_number);

  std::string source_;
  const TaskTable* tasks_;
  FirstLineOf first_line_of_;
  bool saw_header_ = false;
  int64_t rows_ = 0;
  double last_arrival_s_ = 0.0;
  std::vector<std::string_view> fields_;
  std::vector<uint64_t> dense_ids_;
  std::unordered_map<int64_t, size_t> sparse_ids_;  // other ids, with their first line
};

// A request CSV read row by row as the simulator asks (plain or gzip): memory independent of
// the file's length. The same requests, and the same errors, as ReadRequestCsv.
class RequestCsvReader : public RequestSource {
 public:
  RequestCsvReader(const std::string& path, const TaskTable& tasks);
  bool Next(Request* request) override;

 private:
  LineReader reader_;
  RequestCsvRows rows_;
};

}  // namespace bestserve
