// Claim check `matches_at_low_rates`: a run performs like a reference run at the low rates.
// Its keys and verdict rule are in its entry at the end of this file (the manual,
// docs/reproduce.md, "Checks and verdict rules", shows the same).
#include <fmt/format.h>

#include <cmath>
#include <vector>

#include "reproduce/claims/claim_kind.h"

namespace bestserve::reproduce {
namespace {

void Validate(const ConfigNode& check, const ClaimContext& context) {
  const std::vector<double>& rates = context.experiment.rates;
  if (rates.front() > check.GetDouble("max_rps")) {
    check.Child("max_rps").Fail(fmt::format("no rate of the experiment is <= {} (the lowest is {})",
                                            check.GetDouble("max_rps"), rates.front()));
  }
  CheckNonNegative(check, {"max_rps", "tolerance"});
}

void Evaluate(const ExperimentView& v, const ConfigNode& c, ClaimResult& res) {
  const auto& rates = v.spec().rates;
  const double max_rps = c.GetDouble("max_rps");
  const double tol = c.GetDouble("tolerance", 0.02);
  const int run = RunNamed(v, c, "run");
  const int ref = RunNamed(v, c, "reference");
  double worst = 0.0;
  double at = NAN;
  for (int i = 0; i < v.NumRates() && rates[static_cast<size_t>(i)] <= max_rps; ++i) {
    const double gap = std::abs(v.At(0, run, i, Metric::kPerformance).mean -
                                v.At(0, ref, i, Metric::kPerformance).mean);
    if (gap >= worst) {
      worst = gap;
      at = rates[static_cast<size_t>(i)];
    }
  }
  res.paper = fmt::format("matches {} at low rates", c.GetString("reference"));
  res.ours = fmt::format("largest gap up to {}: {:.4f} of peak (at {})", RateText(max_rps), worst,
                         RateText(at));
  res.verdict = Grade(worst <= tol, worst <= 3 * tol);
}

}  // namespace

extern const ClaimKind kMatchesAtLowRatesClaim{
    "matches_at_low_rates",
    {"run", "reference", "max_rps", "tolerance"},
    ClaimNeeds::kRateSweep,
    /*first_variant_only=*/true,
    "largest absolute difference at rates <= max_rps <= tolerance | <= 3 x tolerance | not",
    Validate,
    Evaluate};

}  // namespace bestserve::reproduce
