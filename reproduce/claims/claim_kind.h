// The one registry of claim checks: a table of claim kinds, each defined in its own file beside
// this one (collapse_rate.cpp, share_shift.cpp, ...). A claim of an experiment file names its
// check as `check: {kind: <name>, ..keys}`; the plan (reproduce/plan.cpp) validates the keys and
// names through the kind's entry when it loads, and the outputs (reproduce/outputs.cpp) grade
// the claim with the kind's evaluate function. Neither knows any kind by name.
//
// Adding a check: copy the smallest kind (utility_higher.cpp) to <name>.cpp, define its
// `const ClaimKind k<Name>Claim`, add one line to the table in registry.cpp and the row of its
// verdict rule to docs/reproduce.md. tests/reproduce/claims_registry_test.cpp enumerates the table.
#pragma once

#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"
#include "reproduce/experiment_view.h"
#include "reproduce/plan.h"

namespace bestserve::reproduce {

enum class Verdict { kReproduced, kPartly, kNot };
const char* VerdictName(Verdict verdict);

struct ClaimResult {
  std::string id;
  std::string text;
  Verdict verdict = Verdict::kNot;
  std::string paper;   // the paper's figure for it, short
  std::string ours;    // ours, short
  std::string detail;  // Markdown (may be empty)
  std::string why_different;
};

// The experiments a check can read.
enum class ClaimNeeds { kAnyExperiment, kRateSweep, kWorkload };

// What a check's validation sees: the experiment (runs, rates, tables) and the model and task
// names of its scenario.
struct ClaimContext {
  const ExperimentSpec& experiment;
  const std::vector<std::string>& models;
  const std::vector<std::string>& tasks;
};

struct ClaimKind {
  const char* name;               // the check's `kind`
  std::vector<std::string> keys;  // the keys it accepts besides `kind`
  ClaimNeeds needs;
  // True: compares runs in the first variant only. False: in every variant where all its runs
  // run together.
  bool first_variant_only;
  // Its row of the manual's verdict table: "reproduced when | partly when | otherwise".
  const char* verdict_rule;
  // Checks beyond those every kind gets when the plan loads (accepted keys, the experiment kind,
  // the runs named by `run`, `reference` and `baselines`, the models and tasks named by `model`
  // and `task`); fails through the check's nodes. May be null.
  void (*validate)(const ConfigNode& check, const ClaimContext& context);
  // Grades the claim: fills `paper`, `ours`, `detail` and `verdict` of `result`.
  void (*evaluate)(const ExperimentView& view, const ConfigNode& check, ClaimResult& result);
};

// Every kind, in the order of the manual's table.
std::span<const ClaimKind* const> ClaimKinds();
// The kind named `name`, or nullptr.
const ClaimKind* FindClaimKind(std::string_view name);
// The names of every kind, sorted (for messages).
std::vector<std::string> ClaimKindNames();

// The claim graded on the experiment's data (the plan has validated its check).
ClaimResult EvaluateClaim(const ExperimentView& view, const ClaimSpec& claim);

// ---- shared by the kinds ----------------------------------------------------------------------

// Fails on `node` unless its value is one of `valid`, listing them.
void CheckName(const ConfigNode& node, const std::vector<std::string>& valid,
               const std::string& what);
// Each of `keys` that the check has must be a number >= 0.
void CheckNonNegative(const ConfigNode& check, std::initializer_list<const char*> keys);

Verdict Grade(bool full, bool partial);
std::string RateText(double rps);  // "2 rps"
std::string Pct(double x);         // "12.5%"
// The lowest rate at which the run's mean performance falls below `below` (NaN: never).
double CollapseRate(const ExperimentView& v, int variant, int run, double below);
// The run named at `key` of the check (or each run listed there), resolved in `variant`; -1 when
// it does not run there.
int RunNamed(const ExperimentView& v, const ConfigNode& check, const char* key, int variant = 0);
std::vector<int> RunsNamed(const ExperimentView& v, const ConfigNode& check, const char* key,
                           int variant = 0);

}  // namespace bestserve::reproduce
