// Claim check `beats_static_mean`: a run's mean performance over the rates beats every baseline, in
// every variant. Its keys and verdict rule are in its entry at the end of this file (the manual,
// docs/reproduce.md, "Checks and verdict rules", shows the same).
#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <vector>

#include "reproduce/claims/claim_kind.h"

namespace bestserve::reproduce {
namespace {

void Evaluate(const ExperimentView& v, const ConfigNode& c, ClaimResult& res) {
  int wins = 0;
  int variants = 0;
  std::vector<std::string> parts;
  for (int var = 0; var < v.NumVariants(); ++var) {
    const int run = RunNamed(v, c, "run", var);
    const std::vector<int> baselines = RunsNamed(v, c, "baselines", var);
    if (run < 0 || std::count(baselines.begin(), baselines.end(), -1) > 0) continue;
    ++variants;
    const double mine = SummarizeSeeds(v.RateMeanPerSeed(var, run, Metric::kPerformance)).mean;
    double best = -1;
    std::string best_name;
    for (int b : baselines) {
      const double x = SummarizeSeeds(v.RateMeanPerSeed(var, b, Metric::kPerformance)).mean;
      if (x > best) {
        best = x;
        best_name = v.RunLabel(b);
      }
    }
    if (mine > best) ++wins;
    parts.push_back(fmt::format("{}{:.4f} vs best static {:.4f} ({})",
                                PanelOf(v, var).empty() ? "" : PanelOf(v, var) + ": ", mine, best,
                                best_name));
  }
  res.paper = "beats every static baseline";
  res.ours = fmt::format("mean performance {}", fmt::join(parts, "; "));
  res.verdict =
      variants > 0 ? Grade(wins == variants, 2 * wins >= variants && wins > 0) : Verdict::kNot;
}

}  // namespace

extern const ClaimKind kBeatsStaticMeanClaim{
    "beats_static_mean",
    {"run", "baselines"},
    ClaimNeeds::kAnyExperiment,
    /*first_variant_only=*/false,
    "mean performance above every baseline in every variant | in >= half | not",
    nullptr,
    Evaluate};

}  // namespace bestserve::reproduce
