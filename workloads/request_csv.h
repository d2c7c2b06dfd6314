// The request CSV: bestserve's own saved-workload format, replayed byte-identically.
//
//   id,arrival_s,task,prompt_tokens,output_tokens,deadline_s,nominal_rate_rps
//   0,0.5129,hellaswag,96,32,,2
//
// Times in seconds, printed in shortest round-trip form so that write -> read -> write gives
// the same bytes. Tasks by name (resolved against the task table). deadline_s and
// nominal_rate_rps may be empty (unknown). Rows must be sorted by arrival_s.
#pragma once

#include <string>

#include "common/request.h"
#include "common/tasks.h"

namespace bestserve {

std::string FormatRequestCsv(const Workload& workload, const TaskTable& tasks);

// Parses request CSV text; `source` names the file in errors ("file:line: column 'x': ...").
// Throws ConfigError on a bad header, a malformed or unsorted row, an unknown task, or no rows.
Workload ParseRequestCsv(const std::string& text, const std::string& source,
                         const TaskTable& tasks);

Workload ReadRequestCsv(const std::string& path, const TaskTable& tasks);

}  // namespace bestserve
