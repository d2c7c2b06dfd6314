// Claim check `not_worse_than_best_static`: a run tracks the best of its baselines at every rate,
// in every variant. Its keys and verdict rule are in its entry at the end of this file (the manual,
// docs/reproduce.md, "Checks and verdict rules", shows the same).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "reproduce/claims/claim_kind.h"

namespace bestserve::reproduce {
namespace {

void Validate(const ConfigNode& check, const ClaimContext& /*context*/) {
  CheckNonNegative(check, {"tolerance"});
}

void Evaluate(const ExperimentView& v, const ConfigNode& c, ClaimResult& res) {
  const auto& rates = v.spec().rates;
  const double tol = c.GetDouble("tolerance", 0.02);
  double worst = -std::numeric_limits<double>::infinity();
  double at = NAN;
  int at_least = 0;
  int points = 0;
  std::string where;
  for (int var = 0; var < v.NumVariants(); ++var) {
    const int run = RunNamed(v, c, "run", var);
    const std::vector<int> baselines = RunsNamed(v, c, "baselines", var);
    if (run < 0 || std::count(baselines.begin(), baselines.end(), -1) > 0) continue;
    for (int i = 0; i < v.NumRates(); ++i) {
      double best = -std::numeric_limits<double>::infinity();
      for (int b : baselines) {
        if (b >= 0) best = std::max(best, v.At(var, b, i, Metric::kPerformance).mean);
      }
      const double shortfall = best - v.At(var, run, i, Metric::kPerformance).mean;
      ++points;
      if (shortfall <= 1e-12) ++at_least;
      if (shortfall > worst) {
        worst = shortfall;
        at = rates[static_cast<size_t>(i)];
        where = PanelOf(v, var);
      }
    }
  }
  res.paper = "the policy tracks the best static model at every rate (Figure 2)";
  res.ours = fmt::format(
      "at or above the best static model at {} of {} rates; worst shortfall {:.4f} of peak at {}{}",
      at_least, points, std::max(0.0, worst), RateText(at),
      where.empty() ? "" : " (" + where + ")");
  res.verdict = points > 0 ? Grade(worst <= tol, worst <= 3 * tol) : Verdict::kNot;
}

}  // namespace

extern const ClaimKind kNotWorseThanBestStaticClaim{
    "not_worse_than_best_static",
    {"run", "baselines", "tolerance"},
    ClaimNeeds::kRateSweep,
    /*first_variant_only=*/false,
    "at every rate (every variant) the run >= best baseline - tolerance | within 3 x tolerance | "
    "not",
    Validate,
    Evaluate};

}  // namespace bestserve::reproduce
