// Shared by the reproduce tests: small plans in scratch folders, synthetic cells, CSV reading.
#pragma once

#include <fmt/format.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "reproduce/experiment_run.h"
#include "reproduce/plan.h"
#include "tests/apps/cli_helpers.h"

namespace bestserve::testing {

using reproduce::CellResult;

// A plan with one rate-sweep experiment over the built-in paper scenario; `runs`, `figures`
// and `claims` are YAML list bodies (indented by 2). No trained policies unless `policies` says.
inline std::string WriteRateSweepPlan(const ScratchDir& dir, const std::string& runs, const std::string& figures,
                                      const std::string& claims, const std::string& extra = "",
                                      const std::string& policies = "  none_used: {train: experiments/train/paper_hard.yaml}\n") {
  dir.Write("exp.yaml", fmt::format(R"(title: test sweep
kind: rate_sweep
scenario: experiments/scenarios/paper_4gpu.yaml
set: {{workload.duration_s: 5}}
rates: [0.5, 1, 2, 4, 8]
seeds: 2
{}runs:
{}figures:
{}claims:
{})",
                                    extra, runs, figures, claims));
  return dir.Write("plan.yaml", fmt::format("name: test\npolicies:\n{}experiments: [exp.yaml]\n", policies));
}

// A summary with the fields the outputs read: 3 models, 4 tasks, 2 GPUs.
inline Summary MakeSummary(double performance, std::vector<int64_t> selections = {0, 0, 100}) {
  Summary s;
  s.model_names = {"opt-125m", "opt-1.3b", "opt-6.7b"};
  s.task_names = {"hellaswag", "copa", "piqa", "openbookqa"};
  s.mean_reward_fraction = performance;
  s.num_gpus = 4;
  s.hardware_utility = performance / 4.0;
  s.selections = selections;
  s.num_requests = 0;
  for (int64_t c : selections) s.num_requests += c;
  // Every task gets a quarter of each model's requests (the count per task need not be exact).
  s.selections_by_task.assign(4, std::vector<int64_t>(3, 0));
  for (size_t t = 0; t < 4; ++t) {
    for (size_t m = 0; m < 3; ++m) s.selections_by_task[t][m] = selections[m] / 4;
  }
  s.thresholds = {1.00, 0.99, 0.98, 0.96, 0.94};
  s.threshold_counts = {0, 0, 0, 0, 0};
  return s;
}

inline CellResult MakeCell(int variant, int run, int rate, int64_t seed, Summary summary) {
  CellResult c;
  c.key = {variant, run, rate, seed};
  c.summary = std::move(summary);
  return c;
}

// A CSV file as rows of column -> text.
inline std::vector<std::map<std::string, std::string>> ParseCsv(const std::string& text) {
  std::vector<std::map<std::string, std::string>> rows;
  std::istringstream in(text);
  std::string line;
  std::vector<std::string> header;
  auto split = [](const std::string& l) {
    std::vector<std::string> out;
    std::string field;
    bool quoted = false;
    for (char c : l) {
      if (c == '"') {
        quoted = !quoted;
      } else if (c == ',' && !quoted) {
        out.push_back(field);
        field.clear();
      } else {
        field += c;
      }
    }
    out.push_back(field);
    return out;
  };
  if (!std::getline(in, line)) return rows;
  header = split(line);
  while (std::getline(in, line)) {
    const auto fields = split(line);
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < header.size() && i < fields.size(); ++i) row[header[i]] = fields[i];
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace bestserve::testing
