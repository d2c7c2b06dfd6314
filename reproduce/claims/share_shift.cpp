// Claim check `share_shift`: the shares of (task, model) pairs move the paper's way between a
// reference run and a run. Its keys and verdict rule are in its entry at the end of this file (the
// manual, docs/reproduce.md, "Checks and verdict rules", shows the same).
#include <fmt/format.h>

#include <cmath>
#include <string>
#include <vector>

#include "reproduce/claims/claim_kind.h"

namespace bestserve::reproduce {
namespace {

void Validate(const ConfigNode& check, const ClaimContext& context) {
  const ConfigNode shifts = check.Child("shifts");
  shifts.ExpectSequence("shifts: [{task, model, direction, paper_change}]");
  if (shifts.size() == 0) shifts.Fail("expected at least one shift");
  for (size_t i = 0; i < shifts.size(); ++i) {
    const ConfigNode s = shifts.Element(i);
    s.ExpectMap("a shift {task, model, direction, paper_change}");
    s.CheckKeys({"task", "model", "direction", "paper_change"});
    CheckName(s.Child("task"), context.tasks, "task");
    CheckName(s.Child("model"), context.models, "model");
    CheckName(s.Child("direction"), {"up", "down"}, "direction");
    if (s.Has("paper_change")) s.GetDouble("paper_change");
  }
}

void Evaluate(const ExperimentView& v, const ConfigNode& c, ClaimResult& res) {
  const int run = RunNamed(v, c, "run");
  const int ref = RunNamed(v, c, "reference");
  const ConfigNode shifts = c.Child("shifts");
  int agree = 0;
  std::string detail = fmt::format(
      "| task | model | {} | {} | change | paper's change |\n|---|---|---:|---:|---:|---:|\n",
      c.GetString("reference"), c.GetString("run"));
  std::vector<std::string> ours_parts, paper_parts;
  for (size_t k = 0; k < shifts.size(); ++k) {
    const ConfigNode s = shifts.Element(k);
    const int task = v.TaskIndex(s.GetString("task"));
    const int model = v.ModelIndex(s.GetString("model"));
    const double before = v.Share(0, ref, v.AllRates(), task, model);
    const double after = v.Share(0, run, v.AllRates(), task, model);
    const double change = before > 0 ? (after - before) / before : NAN;
    const bool up = s.GetString("direction") == "up";
    // A shift counts when it moves at least half a percentage point the paper's way.
    if (up ? after - before >= 0.005 : before - after >= 0.005) ++agree;
    const std::string paper_change =
        s.Has("paper_change") ? fmt::format("{:+.0f}%", 100.0 * s.GetDouble("paper_change"))
                              : std::string(up ? "up" : "down");
    detail += fmt::format(
        "| {} | {} | {} | {} | {} | {} |\n", s.GetString("task"), s.GetString("model"), Pct(before),
        Pct(after), std::isnan(change) ? std::string("-") : fmt::format("{:+.0f}%", 100.0 * change),
        paper_change);
    ours_parts.push_back(fmt::format("{} {}: {} -> {}", s.GetString("task"), s.GetString("model"),
                                     Pct(before), Pct(after)));
    paper_parts.push_back(
        fmt::format("{} {} {}", s.GetString("task"), s.GetString("model"), paper_change));
  }
  res.paper = fmt::format("{}", fmt::join(paper_parts, "; "));
  res.ours = fmt::format("{} ({} of {} in the paper's direction)", fmt::join(ours_parts, "; "),
                         agree, shifts.size());
  res.detail = detail;
  res.verdict = Grade(agree == static_cast<int>(shifts.size()), agree > 0);
}

}  // namespace

extern const ClaimKind kShareShiftClaim{
    "share_shift",
    {"run", "reference", "shifts"},
    ClaimNeeds::kAnyExperiment,
    /*first_variant_only=*/true,
    "every shift `{task, model, direction, paper_change}` moves >= 0.5 percentage points the "
    "paper's way (pooled over rates) | some do | none do",
    Validate,
    Evaluate};

}  // namespace bestserve::reproduce
