// Claim check `collapse_rate`: the rate at which a run's performance first falls below a level,
// against the paper's rate. Its keys and verdict rule are in its entry at the end of this file (the
// manual, docs/reproduce.md, "Checks and verdict rules", shows the same).
#include <fmt/format.h>

#include <cmath>

#include "reproduce/claims/claim_kind.h"

namespace bestserve::reproduce {
namespace {

void Validate(const ConfigNode& check, const ClaimContext& /*context*/) {
  CheckNonNegative(check, {"below", "paper_rps", "factor"});
}

void Evaluate(const ExperimentView& v, const ConfigNode& c, ClaimResult& res) {
  const auto& rates = v.spec().rates;
  const double below = c.GetDouble("below", 0.9);
  const double paper = c.GetDouble("paper_rps");
  const double factor = c.GetDouble("factor", 2.0);
  const double ours = CollapseRate(v, 0, RunNamed(v, c, "run"), below);
  res.paper = fmt::format("collapses past about {}", RateText(paper));
  res.ours = std::isnan(ours)
                 ? fmt::format("stays above {:.2f} of peak up to {}", below, RateText(rates.back()))
                 : fmt::format("first below {:.2f} of peak at {}", below, RateText(ours));
  res.verdict = Grade(!std::isnan(ours) && ours >= paper / factor && ours <= paper * factor,
                      !std::isnan(ours));
}

}  // namespace

extern const ClaimKind kCollapseRateClaim{
    "collapse_rate",
    {"run", "below", "paper_rps", "factor"},
    ClaimNeeds::kRateSweep,
    /*first_variant_only=*/true,
    "the first rate where the run falls below `below` is within [paper/factor, paper x factor] | "
    "it falls below somewhere else | not",
    Validate,
    Evaluate};

}  // namespace bestserve::reproduce
