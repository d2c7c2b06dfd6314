// Comparing routers on one scenario: every router sees the identical request sequence (common
// random numbers), so differences come from the routing alone.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "scenario/scenario.h"
#include "sim/metrics.h"

namespace bestserve {

struct RouterResult {
  std::string spec;       // as given ("static:opt-6.7b", "greedy", ...)
  std::string described;  // the router's own description, with its settings
  Summary summary;
  // One record per request in id order, and the model names they refer to: requests.csv
  // (WriteRequestLog, sim/metrics.h) is written from these row by row.
  std::vector<RequestRecord> records;
  std::vector<std::string> model_names;
};

// One router spec (a registry router or "dedicated:<model>", see CompareRouters) over
// `workload`; returns the drained simulator (its records) and the router's description.
struct RouterRun {
  std::unique_ptr<Simulator> sim;
  std::string described;
};
RouterRun RunRouterSpec(const Scenario& scenario, const std::string& spec, const Workload& workload);

// One router spec over the scenario's workload read lazily (OpenScenarioWorkload), each record
// summarized and, when `out_dir` is given, written to its run folder (WriteRunFolder's files,
// the same bytes) as it finishes, then dropped: memory follows the requests in flight, not the
// run (quantile inputs spill to unlinked files in `out_dir`, or the system's temporary folder).
// The result holds no records. A failure leaves an existing run folder as it was.
RouterResult RunRouterStreaming(const Scenario& scenario, const std::string& spec, const std::string& out_dir);

// `evaluate`: every spec checked first (a bad one fails before any run), then each router run by
// RunRouterStreaming, into out_dir/<RouterFolderName(spec)> when out_dir is given. Specs empty:
// every built-in router. The results hold no records: routers run one after the other, each
// holding only its requests in flight.
std::vector<RouterResult> EvaluateRoutersStreaming(const Scenario& scenario, std::vector<std::string> specs,
                                                   const std::string& out_dir);
// A router spec as a folder name: ':', '/' and ',' become '_'.
std::string RouterFolderName(const std::string& spec);

// Runs each router spec over the scenario's workload. Specs empty: every built-in router.
// Besides the registry's routers, "dedicated:<model>" runs static:<model> on the paper's
// baseline system (every GPU holds <model> alone, with all of its memory).
std::vector<RouterResult> CompareRouters(const Scenario& scenario, std::vector<std::string> specs);

// A Table-2-style Markdown table: windows meeting each threshold, plus mean reward, miss rate,
// p99 latency and the selection mix, one row per router.
std::string FormatComparisonMarkdown(const Scenario& scenario, const std::vector<RouterResult>& results);
// The same as CSV, one row per router.
std::string FormatComparisonCsv(const std::vector<RouterResult>& results);

// Writes a run folder: config.yaml (resolved), requests.csv, windows.csv, summary.json. Every
// file is written atomically.
void WriteRunFolder(const std::string& dir, const Scenario& scenario, const RouterResult& result);

}  // namespace bestserve
