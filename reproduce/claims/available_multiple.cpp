// Claim check `available_multiple`: a run stays available up to a multiple of the rate where a
// reference run collapses. Its keys and verdict rule are in its entry at the end of this file (the
// manual, docs/reproduce.md, "Checks and verdict rules", shows the same).
#include <fmt/format.h>

#include <cmath>

#include "reproduce/claims/claim_kind.h"

namespace bestserve::reproduce {
namespace {

void Validate(const ConfigNode& check, const ClaimContext& /*context*/) {
  CheckNonNegative(check, {"below", "multiple"});
}

void Evaluate(const ExperimentView& v, const ConfigNode& c, ClaimResult& res) {
  const auto& rates = v.spec().rates;
  const double below = c.GetDouble("below", 0.9);
  const double multiple = c.GetDouble("multiple", 10.0);
  const double run = CollapseRate(v, 0, RunNamed(v, c, "run"), below);
  const double ref = CollapseRate(v, 0, RunNamed(v, c, "reference"), below);
  res.paper = fmt::format("available at over {:.0f}x the rate where {} collapses", multiple,
                          c.GetString("reference"));
  if (std::isnan(ref)) {
    res.ours = fmt::format("{} never falls below {:.2f} of peak: nothing to compare",
                           c.GetString("reference"), below);
    res.verdict = Verdict::kNot;
  } else {
    const bool never = std::isnan(run);
    const double ratio = (never ? rates.back() : run) / ref;
    res.ours = fmt::format("{} below {:.2f} of peak from {}; {} {} ({}{:.1f}x)",
                           c.GetString("reference"), below, RateText(ref), c.GetString("run"),
                           never ? fmt::format("stays above it up to {}", RateText(rates.back()))
                                 : fmt::format("from {}", RateText(run)),
                           never ? ">= " : "", ratio);
    res.verdict = Grade(ratio >= multiple, ratio >= 2.0);
  }
}

}  // namespace

extern const ClaimKind kAvailableMultipleClaim{
    "available_multiple",
    {"run", "reference", "below", "multiple"},
    ClaimNeeds::kRateSweep,
    /*first_variant_only=*/true,
    "the run's collapse rate (or the top rate, if it never collapses) >= `multiple` x the "
    "reference's | >= 2x | not",
    Validate,
    Evaluate};

}  // namespace bestserve::reproduce
