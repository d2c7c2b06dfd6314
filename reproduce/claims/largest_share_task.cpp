// Claim check `largest_share_task`: of all tasks, one task sends the largest share of its requests
// to a model. Its keys and verdict rule are in its entry at the end of this file (the manual,
// docs/reproduce.md, "Checks and verdict rules", shows the same).
#include <fmt/format.h>

#include <cmath>
#include <string>
#include <vector>

#include "reproduce/claims/claim_kind.h"

namespace bestserve::reproduce {
namespace {

void Evaluate(const ExperimentView& v, const ConfigNode& c, ClaimResult& res) {
  const int run = RunNamed(v, c, "run");
  const int model = v.ModelIndex(c.GetString("model"));
  const int task = v.TaskIndex(c.GetString("task"));
  std::vector<std::string> parts;
  double others = 0.0;
  bool largest = true;
  const double mine = v.Share(0, run, v.AllRates(), task, model);
  for (int t = 0; t < static_cast<int>(v.tasks().size()); ++t) {
    const double share = v.Share(0, run, v.AllRates(), t, model);
    parts.push_back(fmt::format("{} {}", v.tasks()[static_cast<size_t>(t)], Pct(share)));
    if (t == task) continue;
    others += share / static_cast<double>(v.tasks().size() - 1);
    if (share >= mine) largest = false;
  }
  res.paper = fmt::format("{} goes to {} more than any other task", c.GetString("task"),
                          c.GetString("model"));
  res.ours = fmt::format("{} share by task over all rates: {}", c.GetString("model"),
                         fmt::join(parts, ", "));
  res.verdict = std::isfinite(mine) ? Grade(largest, mine > others) : Verdict::kNot;
}

}  // namespace

extern const ClaimKind kLargestShareTaskClaim{
    "largest_share_task",
    {"run", "task", "model"},
    ClaimNeeds::kAnyExperiment,
    /*first_variant_only=*/true,
    "the task has the largest share of the model among tasks | above the other tasks' mean | not",
    nullptr,
    Evaluate};

}  // namespace bestserve::reproduce
