// Claim check `table_shape`: a table of the experiment has the paper's leading column at each
// threshold. Its keys and verdict rule are in its entry at the end of this file (the manual,
// docs/reproduce.md, "Checks and verdict rules", shows the same).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "reproduce/claims/claim_kind.h"
#include "reproduce/outputs.h"

namespace bestserve::reproduce {
namespace {

void Validate(const ConfigNode& check, const ClaimContext& context) {
  const ConfigNode table = check.Child("table");
  const std::vector<TableSpec>& tables = context.experiment.tables;
  const bool found = std::any_of(tables.begin(), tables.end(),
                                 [&](const TableSpec& t) { return t.id == table.AsString(); });
  if (!found) table.Fail(fmt::format("no table '{}' in this experiment", table.AsString()));
}

void Evaluate(const ExperimentView& v, const ConfigNode& c, ClaimResult& res) {
  const std::string id = c.GetString("table");
  const TableSpec& table = *std::find_if(v.spec().tables.begin(), v.spec().tables.end(),
                                         [&](const TableSpec& t) { return t.id == id; });
  const CellResult* first = v.First(0, 0);
  const std::vector<double>& thresholds = first->summary.thresholds;
  int agree = 0;
  std::string detail =
      "| threshold | paper's leader | our leader (same columns) |\n|---|---|---|\n";
  auto leaders = [](const std::vector<std::pair<std::string, double>>& values) {
    double best = -1;
    for (const auto& [_, x] : values) best = std::max(best, x);
    std::vector<std::string> names;
    for (const auto& [name, x] : values) {
      if (x == best) names.push_back(name);
    }
    return names;
  };
  for (size_t k = 0; k < thresholds.size(); ++k) {
    std::vector<std::pair<std::string, double>> paper, ours;
    for (const auto& [column, values] : table.paper) {
      paper.emplace_back(column, values[k]);
      std::vector<double> counts;
      for (const Summary* s : v.Seeds(0, v.RunFor(column, 0), 0)) {
        counts.push_back(static_cast<double>(s->threshold_counts[k]));
      }
      ours.emplace_back(column, std::round(SummarizeSeeds(counts).mean));
    }
    const auto p = leaders(paper);
    const auto o = leaders(ours);
    const bool ok = std::any_of(o.begin(), o.end(), [&](const std::string& name) {
      return std::count(p.begin(), p.end(), name) > 0;
    });
    if (ok) ++agree;
    detail += fmt::format("| {} | {} | {}{} |\n", ThresholdLabel(thresholds[k]),
                          fmt::join(p, " = "), fmt::join(o, " = "), ok ? "" : " (differs)");
  }
  res.paper = "see the paper column of the table";
  res.ours =
      fmt::format("the same leading column at {} of {} thresholds", agree, thresholds.size());
  res.detail = detail;
  res.verdict = Grade(agree == static_cast<int>(thresholds.size()),
                      2 * agree >= static_cast<int>(thresholds.size()));
}

}  // namespace

extern const ClaimKind kTableShapeClaim{"table_shape",
                                        {"table"},
                                        ClaimNeeds::kAnyExperiment,
                                        /*first_variant_only=*/true,
                                        "at every threshold our leading column (among the paper's "
                                        "columns) is the paper's leader | at >= half | not",
                                        Validate,
                                        Evaluate};

}  // namespace bestserve::reproduce
