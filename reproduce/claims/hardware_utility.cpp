// Claim check `hardware_utility`: the paper's three window-by-window hardware-utility measures of a
// run against a reference. Its keys and verdict rule are in its entry at the end of this file (the
// manual, docs/reproduce.md, "Checks and verdict rules", shows the same).
#include <fmt/format.h>

#include <cmath>
#include <vector>

#include "reproduce/claims/claim_kind.h"

namespace bestserve::reproduce {
namespace {

void Validate(const ConfigNode& check, const ClaimContext& /*context*/) {
  const ConfigNode paper = check.Child("paper");
  paper.ExpectMap("the paper's numbers {share_higher, mean_ratio, past90_ratio}");
  paper.CheckKeys({"share_higher", "mean_ratio", "past90_ratio"});
  for (const char* key : {"share_higher", "mean_ratio", "past90_ratio"}) {
    paper.GetPositiveDouble(key);
  }
}

void Evaluate(const ExperimentView& v, const ConfigNode& c, ClaimResult& res) {
  const int run = RunNamed(v, c, "run");
  const int ref = RunNamed(v, c, "reference");
  const UtilityMeasures m = MeasureUtility(v, run, ref);
  const std::vector<double>& share = m.share_higher;
  const std::vector<double>& ratio = m.mean_ratio;
  const std::vector<double>& past90 = m.past90_ratio;
  const ConfigNode paper = c.Child("paper");
  const SeedStats sh = SummarizeSeeds(share), ra = SummarizeSeeds(ratio),
                  p9 = SummarizeSeeds(past90);
  res.paper = fmt::format(
      "higher utility {} of the time, {:.2f}x on average, past 90% of peak {:.2f}x as often",
      Pct(paper.GetDouble("share_higher")), paper.GetDouble("mean_ratio"),
      paper.GetDouble("past90_ratio"));
  res.ours = fmt::format(
      "higher utility {} of the time, {:.2f}x on average, past 90% of peak {:.2f}x as often",
      Pct(sh.mean), ra.mean, p9.mean);
  int agree = 0;
  agree += (sh.mean > 0.5) == (paper.GetDouble("share_higher") > 0.5);
  agree += (ra.mean > 1.0) == (paper.GetDouble("mean_ratio") > 1.0);
  agree += (p9.mean > 1.0) == (paper.GetDouble("past90_ratio") > 1.0);
  res.detail = fmt::format(
      "| measure | paper | ours (mean over {} seed{}) |\n|---|---:|---:|\n| windows with higher "
      "utility | {} | {} |\n"
      "| mean utility ratio | {:.2f} | {:.2f} |\n| ratio of windows >= 0.90 of peak | {:.2f} | "
      "{:.2f} |\n",
      v.seeds(), v.seeds() == 1 ? "" : "s", Pct(paper.GetDouble("share_higher")), Pct(sh.mean),
      paper.GetDouble("mean_ratio"), ra.mean, paper.GetDouble("past90_ratio"), p9.mean);
  res.verdict = std::isfinite(sh.mean) && std::isfinite(ra.mean) && std::isfinite(p9.mean)
                    ? Grade(agree == 3, agree > 0)
                    : Verdict::kNot;
}

}  // namespace

extern const ClaimKind kHardwareUtilityClaim{
    "hardware_utility",
    {"run", "reference", "paper"},
    ClaimNeeds::kWorkload,
    /*first_variant_only=*/true,
    "all three measures agree with the paper in direction | one or two | none",
    Validate,
    Evaluate};

}  // namespace bestserve::reproduce
