// Claim check `rate_shift`: a run sends less to a model as the rate grows.
// Its keys and verdict rule are in its entry at the end of this file (the manual,
// docs/reproduce.md, "Checks and verdict rules", shows the same).
#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "reproduce/claims/claim_kind.h"

namespace bestserve::reproduce {
namespace {

void Validate(const ConfigNode& check, const ClaimContext& /*context*/) {
  CheckNonNegative(check, {"min_drop"});
}

void Evaluate(const ExperimentView& v, const ConfigNode& c, ClaimResult& res) {
  const auto& rates = v.spec().rates;
  const int run = RunNamed(v, c, "run");
  const int model = v.ModelIndex(c.GetString("model"));
  const int third = std::max(1, v.NumRates() / 3);
  std::vector<int> low, high;
  for (int i = 0; i < third; ++i) low.push_back(i);
  for (int i = v.NumRates() - third; i < v.NumRates(); ++i) high.push_back(i);
  const double a = v.Share(0, run, low, -1, model);
  const double b = v.Share(0, run, high, -1, model);
  const double min_drop = c.GetDouble("min_drop", 0.3);
  res.paper =
      fmt::format("smaller models take over from {} as the rate grows", c.GetString("model"));
  res.ours = fmt::format(
      "{} share {} over the lowest {} rates ({} to {}), {} over the highest {} ({} to {})",
      c.GetString("model"), Pct(a), third, RateText(rates[0]),
      RateText(rates[static_cast<size_t>(third - 1)]), Pct(b), third,
      RateText(rates[static_cast<size_t>(v.NumRates() - third)]), RateText(rates.back()));
  res.verdict = Grade(a - b >= min_drop, a - b > 0.0);
}

}  // namespace

extern const ClaimKind kRateShiftClaim{"rate_shift",
                                       {"run", "model", "min_drop"},
                                       ClaimNeeds::kRateSweep,
                                       /*first_variant_only=*/true,
                                       "the model's share over the lowest third of the rates minus "
                                       "over the highest third >= min_drop | > 0 | not",
                                       Validate,
                                       Evaluate};

}  // namespace bestserve::reproduce
