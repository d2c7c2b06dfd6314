// Claim check `utility_higher`: a run's hardware utility is above a reference run's across variants
// and rates. Its keys and verdict rule are in its entry at the end of this file (the manual,
// docs/reproduce.md, "Checks and verdict rules", shows the same).
#include <fmt/format.h>

#include "reproduce/claims/claim_kind.h"

namespace bestserve::reproduce {
namespace {

void Evaluate(const ExperimentView& v, const ConfigNode& c, ClaimResult& res) {
  int higher = 0;
  int points = 0;
  for (int var = 0; var < v.NumVariants(); ++var) {
    const int run = RunNamed(v, c, "run", var);
    const int ref = RunNamed(v, c, "reference", var);
    if (run < 0 || ref < 0) continue;
    for (int i = 0; i < v.NumRates(); ++i) {
      ++points;
      if (v.At(var, run, i, Metric::kUtility).mean > v.At(var, ref, i, Metric::kUtility).mean) {
        ++higher;
      }
    }
  }
  const double share = points > 0 ? static_cast<double>(higher) / points : 0.0;
  res.paper = "higher utility than OPT-6.7B on 8 GPUs across the rates";
  res.ours = fmt::format("higher utility at {} of {} (variant, rate) points ({})", higher, points,
                         Pct(share));
  res.verdict = Grade(share >= 0.9, share >= 0.5);
}

}  // namespace

extern const ClaimKind kUtilityHigherClaim{
    "utility_higher",
    {"run", "reference"},
    ClaimNeeds::kRateSweep,
    /*first_variant_only=*/false,
    "the run's utility is higher at >= 90% of (variant, rate) points | >= 50% | not",
    nullptr,
    Evaluate};

}  // namespace bestserve::reproduce
