// Claim check `best_only_above`: a run beats its baselines only at the high rates.
// Its keys and verdict rule are in its entry at the end of this file (the manual,
// docs/reproduce.md, "Checks and verdict rules", shows the same).
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "reproduce/claims/claim_kind.h"

namespace bestserve::reproduce {
namespace {

void Validate(const ConfigNode& check, const ClaimContext& context) {
  const std::vector<double>& rates = context.experiment.rates;
  if (rates.front() >= check.GetDouble("min_rps")) {
    check.Child("min_rps").Fail(
        fmt::format("no rate of the experiment is below {} (the lowest is {})",
                    check.GetDouble("min_rps"), rates.front()));
  }
  CheckNonNegative(check, {"min_rps"});
}

void Evaluate(const ExperimentView& v, const ConfigNode& c, ClaimResult& res) {
  const auto& rates = v.spec().rates;
  const int run = RunNamed(v, c, "run");
  const std::vector<int> baselines = RunsNamed(v, c, "baselines");
  const double min_rps = c.GetDouble("min_rps");
  int below_total = 0;
  int wins_below = 0;
  std::vector<std::string> wins;
  for (int i = 0; i < v.NumRates(); ++i) {
    double best = -std::numeric_limits<double>::infinity();
    for (int b : baselines) best = std::max(best, v.At(0, b, i, Metric::kPerformance).mean);
    const bool wins_here = v.At(0, run, i, Metric::kPerformance).mean > best + 0.005;
    if (wins_here) wins.push_back(fmt::format("{:.3g}", rates[static_cast<size_t>(i)]));
    if (rates[static_cast<size_t>(i)] < min_rps) {
      ++below_total;
      if (wins_here) ++wins_below;
    }
  }
  res.paper = fmt::format("{} alone is poor except at extreme rates", c.GetString("run"));
  res.ours = wins.empty()
                 ? fmt::format("{} alone never beats the other static models", c.GetString("run"))
                 : fmt::format("{} alone beats the other static models only at {} rps",
                               c.GetString("run"), fmt::join(wins, ", "));
  res.verdict = Grade(wins_below == 0, wins_below * 5 <= below_total);
}

}  // namespace

extern const ClaimKind kBestOnlyAboveClaim{"best_only_above",
                                           {"run", "baselines", "min_rps"},
                                           ClaimNeeds::kRateSweep,
                                           /*first_variant_only=*/true,
                                           "below min_rps the run never beats the best baseline by "
                                           "> 0.005 | at <= 20% of those rates | not",
                                           Validate,
                                           Evaluate};

}  // namespace bestserve::reproduce
