// The claim-kind registry: every kind is documented in the manual with the keys it accepts, used
// by the shipped plan (or listed below as unused, with the reason), and wired into the plan's
// validation (its keys, the list of kinds in the unknown-check error).
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "common/error.h"
#include "reproduce/claims/claim_kind.h"
#include "reproduce/plan.h"
#include "tests/reproduce/reproduce_test_support.h"

namespace bestserve::testing {
namespace {

using reproduce::ClaimKind;
using reproduce::ClaimKinds;

// Kinds no shipped experiment uses, each with the reason it is kept. Empty today: every kind
// checks a claim of the paper.
const std::map<std::string, std::string> kUnusedKinds = {};

std::string Keys(const ClaimKind& kind) { return fmt::format("{}", fmt::join(kind.keys, ", ")); }

// The message of the ConfigError that loading `plan` must throw.
std::string LoadError(const std::string& plan) {
  try {
    reproduce::LoadPlan(plan);
  } catch (const ConfigError& e) {
    return e.what();
  }
  FAIL("expected a ConfigError");
  return "";
}

TEST_CASE("claim kinds have unique names and both functions", "[reproduce][claims]") {
  std::set<std::string> names;
  for (const ClaimKind* kind : ClaimKinds()) {
    INFO(kind->name);
    CHECK(names.insert(kind->name).second);
    CHECK(kind->evaluate != nullptr);
    CHECK(reproduce::FindClaimKind(kind->name) == kind);
    CHECK_FALSE(kind->keys.empty());
  }
  CHECK(reproduce::FindClaimKind("vibes") == nullptr);
  CHECK(reproduce::ClaimKindNames().size() == names.size());
}

TEST_CASE("every claim kind is in the manual's verdict table, with its keys",
          "[reproduce][claims]") {
  const std::string manual = ReadAll(std::string(BESTSERVE_SOURCE_DIR) + "/docs/reproduce.md");
  for (const ClaimKind* kind : ClaimKinds()) {
    const std::string row =
        fmt::format("| `{}` {{{}}} | {} |", kind->name, Keys(*kind), kind->verdict_rule);
    INFO(row);
    CHECK(manual.find(row) != std::string::npos);
  }
}

TEST_CASE("every claim kind is used by the shipped plan or listed as unused",
          "[reproduce][claims]") {
  const reproduce::Plan plan =
      reproduce::LoadPlan(std::string(BESTSERVE_SOURCE_DIR) + "/experiments/paper/reproduce.yaml");
  std::set<std::string> used;
  for (const auto& e : plan.experiments) {
    for (const auto& claim : e.claims) used.insert(claim.kind);
  }
  for (const ClaimKind* kind : ClaimKinds()) {
    INFO(kind->name);
    const bool unused = kUnusedKinds.count(kind->name) > 0;
    CHECK(used.count(kind->name) + (unused ? 1 : 0) ==
          1);  // used, or listed: not both, not neither
  }
  for (const auto& [name, reason] : kUnusedKinds) {
    INFO(name);
    CHECK(reproduce::FindClaimKind(name) != nullptr);
    CHECK_FALSE(reason.empty());
  }
}

TEST_CASE("the plan accepts a check's registered keys and no others", "[reproduce][claims]") {
  const std::string runs =
      "  - {label: big, router: \"dedicated:opt-6.7b\"}\n  - {label: greedy, router: greedy}\n";
  const std::string figures = "  - {id: fig2, kind: performance, title: t}\n";
  for (const ClaimKind* kind : ClaimKinds()) {
    SECTION(kind->name) {
      ScratchDir dir("claim_keys");
      const std::string plan = WriteRateSweepPlan(
          dir, runs, figures,
          fmt::format("  - {{id: c, text: t, check: {{kind: {}, colour: red}}}}\n", kind->name));
      const std::string what = LoadError(plan);
      INFO(what);
      CHECK(what.find("unknown key 'colour'") != std::string::npos);
      CHECK(what.find(fmt::format("valid keys here: kind, {}", Keys(*kind))) != std::string::npos);
      CHECK(what.find("exp.yaml:13") != std::string::npos);
    }
  }
}

TEST_CASE("an unknown check lists every registered kind", "[reproduce][claims]") {
  ScratchDir dir("claim_unknown");
  const std::string plan = WriteRateSweepPlan(dir, "  - {label: greedy, router: greedy}\n",
                                              "  - {id: fig2, kind: performance, title: t}\n",
                                              "  - {id: c, text: t, check: {kind: vibes}}\n");
  const std::string what = LoadError(plan);
  INFO(what);
  CHECK(what.find(fmt::format("unknown check 'vibes'; expected one of: {}",
                              fmt::join(reproduce::ClaimKindNames(), ", "))) != std::string::npos);
  for (const ClaimKind* kind : ClaimKinds()) CHECK(what.find(kind->name) != std::string::npos);
}

}  // namespace
}  // namespace bestserve::testing
