#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "reproduce/claims/claim_kind.h"

namespace bestserve::reproduce {

// The registry: one line per claim kind, in the order of the manual's table. Each kind is
// defined in its own file in this folder.
#define BESTSERVE_FOR_EACH_CLAIM_KIND(X) \
  X(kCollapseRateClaim)                  \
  X(kAvailableMultipleClaim)             \
  X(kMatchesAtLowRatesClaim)             \
  X(kNotWorseThanBestStaticClaim)        \
  X(kRateShiftClaim)                     \
  X(kLargestShareTaskClaim)              \
  X(kBestOnlyAboveClaim)                 \
  X(kShareShiftClaim)                    \
  X(kTableShapeClaim)                    \
  X(kBeatsStaticMeanClaim)               \
  X(kUtilityHigherClaim)                 \
  X(kHardwareUtilityClaim)

#define BESTSERVE_DECLARE_CLAIM_KIND(kind) extern const ClaimKind kind;
BESTSERVE_FOR_EACH_CLAIM_KIND(BESTSERVE_DECLARE_CLAIM_KIND)
#undef BESTSERVE_DECLARE_CLAIM_KIND

std::span<const ClaimKind* const> ClaimKinds() {
#define BESTSERVE_CLAIM_KIND_ADDRESS(kind) &kind,
  static const ClaimKind* const kinds[] = {
      BESTSERVE_FOR_EACH_CLAIM_KIND(BESTSERVE_CLAIM_KIND_ADDRESS)};
#undef BESTSERVE_CLAIM_KIND_ADDRESS
  return kinds;
}

const ClaimKind* FindClaimKind(std::string_view name) {
  for (const ClaimKind* kind : ClaimKinds()) {
    if (name == kind->name) return kind;
  }
  return nullptr;
}

std::vector<std::string> ClaimKindNames() {
  std::vector<std::string> names;
  for (const ClaimKind* kind : ClaimKinds()) names.emplace_back(kind->name);
  std::sort(names.begin(), names.end());
  return names;
}

const char* VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kReproduced:
      return "reproduced";
    case Verdict::kPartly:
      return "partly";
    case Verdict::kNot:
      return "not reproduced";
  }
  return "?";
}

ClaimResult EvaluateClaim(const ExperimentView& view, const ClaimSpec& claim) {
  ClaimResult result;
  result.id = claim.id;
  result.text = claim.text;
  result.why_different = claim.why_different;
  if (const ClaimKind* kind = FindClaimKind(claim.kind)) kind->evaluate(view, claim.check, result);
  return result;
}

void CheckName(const ConfigNode& node, const std::vector<std::string>& valid,
               const std::string& what) {
  const std::string value = node.AsString();
  if (std::find(valid.begin(), valid.end(), value) == valid.end()) {
    node.Fail(
        fmt::format("unknown {} '{}'; expected one of: {}", what, value, fmt::join(valid, ", ")));
  }
}

void CheckNonNegative(const ConfigNode& check, std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    if (check.Has(key)) check.GetNonNegativeDouble(key, 0.0);
  }
}

Verdict Grade(bool full, bool partial) {
  return full ? Verdict::kReproduced : partial ? Verdict::kPartly : Verdict::kNot;
}

std::string RateText(double rps) { return fmt::format("{:.3g} rps", rps); }

std::string Pct(double x) { return fmt::format("{:.1f}%", 100.0 * x); }

double CollapseRate(const ExperimentView& v, int variant, int run, double below) {
  for (int i = 0; i < v.NumRates(); ++i) {
    if (v.At(variant, run, i, Metric::kPerformance).mean < below) {
      return v.spec().rates[static_cast<size_t>(i)];
    }
  }
  return NAN;
}

int RunNamed(const ExperimentView& v, const ConfigNode& check, const char* key, int variant) {
  return v.RunFor(check.GetString(key), variant);
}

std::vector<int> RunsNamed(const ExperimentView& v, const ConfigNode& check, const char* key,
                           int variant) {
  std::vector<int> out;
  const ConfigNode list = check.Child(key);
  for (size_t i = 0; i < list.size(); ++i) {
    out.push_back(v.RunFor(list.Element(i).AsString(), variant));
  }
  return out;
}

}  // namespace bestserve::reproduce
