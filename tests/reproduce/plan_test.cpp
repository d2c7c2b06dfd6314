// The reproduction plan: the shipped plan covers every table and figure of the paper, and bad
// plans fail before any work with the file, line and key.
#include <catch2/catch.hpp>

#include <algorithm>

#include "common/error.h"
#include "reproduce/plan.h"
#include "tests/reproduce/reproduce_test_support.h"

namespace bestserve::testing {
namespace {

using reproduce::LoadPlan;
using reproduce::Plan;

const std::string kShippedPlan = std::string(BESTSERVE_SOURCE_DIR) + "/experiments/paper/reproduce.yaml";

TEST_CASE("the open-questions plan loads: every name, scenario and check it uses is valid", "[reproduce][plan]") {
  const Plan plan = LoadPlan(std::string(BESTSERVE_SOURCE_DIR) + "/experiments/open_questions/plan.yaml");
  CHECK(plan.experiments.size() == 3);
  REQUIRE(plan.FindPolicy("family_hard") != nullptr);
}

TEST_CASE("the shipped plan covers every table and figure of the paper", "[reproduce][plan]") {
  const Plan plan = LoadPlan(kShippedPlan);
  const std::vector<std::string> ids = plan.OutputIds();
  // PAPER.md lists Tables 2-4 and Figures 2-14.
  for (int t = 2; t <= 4; ++t) CHECK(std::count(ids.begin(), ids.end(), fmt::format("table{}", t)) == 1);
  for (int f = 2; f <= 14; ++f) CHECK(std::count(ids.begin(), ids.end(), fmt::format("fig{}", f)) == 1);
  // The three policies of the paper and the soft one under the per-token reading of the soft
  // rule; both soft ones after the hard one they are fine-tuned from.
  REQUIRE(plan.policies.size() == 4);
  CHECK(plan.policies[0].name == "hard");
  for (const char* name : {"soft", "soft_per_token"}) {
    const auto* soft = plan.FindPolicy(name);
    REQUIRE(soft != nullptr);
    CHECK(soft->init_from == "hard");
  }
  REQUIRE(plan.FindPolicy("per_task") != nullptr);
  // Every experiment shows the two built-in heuristics beside the paper's routers.
  for (const auto& e : plan.experiments) {
    bool greedy = false, threshold = false;
    for (const auto& r : e.runs) {
      greedy = greedy || r.router == "greedy";
      threshold = threshold || r.router == "threshold";
    }
    CHECK((greedy && threshold));
    CHECK(e.seeds >= 3);
  }
  // The stable sweep spans the paper's range, 0.25 to 48 requests/s.
  const auto& stable = plan.experiments.front();
  CHECK(stable.rates.front() == Approx(0.25));
  CHECK(stable.rates.back() == Approx(48));
}

TEST_CASE("--only keeps the named outputs and the policies they need", "[reproduce][plan]") {
  const Plan plan = LoadPlan(kShippedPlan);
  const Plan table4 = reproduce::SelectOutputs(plan, {"table4"});
  REQUIRE(table4.experiments.size() == 1);
  CHECK(table4.experiments[0].tables.size() == 1);
  CHECK(table4.experiments[0].figures.empty());
  // Table 4 runs the soft policy, which starts from the hard one; the per-task one is not needed.
  REQUIRE(table4.policies.size() == 2);
  CHECK(table4.policies[0].name == "hard");
  CHECK(table4.policies[1].name == "soft");
  const Plan fig2 = reproduce::SelectOutputs(plan, {"fig2"});
  REQUIRE(fig2.experiments.size() == 1);
  CHECK(fig2.experiments[0].figures.size() == 2);
  CHECK(fig2.policies.size() == 1);
  CHECK_THROWS_WITH(reproduce::SelectOutputs(plan, {"fig99"}),
                    Catch::Contains("unknown table or figure 'fig99'") && Catch::Contains("table2"));
}

struct BadPlan {
  std::string name;
  std::string runs;
  std::string figures;
  std::string claims;
  std::string extra;
  std::string message;  // expected in the error
  std::string where;    // "exp.yaml:LINE" expected in the error
};

TEST_CASE("bad experiments fail at load with file, line and key", "[reproduce][plan]") {
  const std::string good_runs = "  - {label: big, router: \"dedicated:opt-6.7b\"}\n  - {label: greedy, router: greedy}\n";
  const std::string good_figures = "  - {id: fig2, kind: performance, title: t}\n";
  const std::vector<BadPlan> cases = {
      {"unknown run in a claim", good_runs, good_figures,
       "  - {id: c, text: t, check: {kind: collapse_rate, run: policy, below: 0.9, paper_rps: 2}}\n", "",
       "unknown run 'policy'; the runs are: big, greedy", "exp.yaml:13"},
      {"unknown policy", "  - {label: p, router: \"trained:nope\"}\n", good_figures, "", "",
       "unknown policy 'nope'", "exp.yaml:8"},
      {"unknown figure kind", good_runs, "  - {id: fig2, kind: pie, title: t}\n", "", "", "unknown figure kind 'pie'",
       "exp.yaml:11"},
      {"unknown router", "  - {label: x, router: fastest}\n", good_figures, "", "", "run 'x'", "exp.yaml:8"},
      {"unknown model", good_runs, good_figures,
       "  - {id: c, text: t, check: {kind: rate_shift, run: big, model: opt-175b}}\n", "", "unknown model 'opt-175b'",
       "exp.yaml:13"},
      {"unknown check", good_runs, good_figures, "  - {id: c, text: t, check: {kind: vibes}}\n", "", "unknown check 'vibes'",
       "exp.yaml:13"},
      {"a workload-only figure in a sweep", good_runs, "  - {id: fig6, kind: trace, title: t}\n", "", "",
       "unknown figure kind 'trace' for a rate_sweep experiment", "exp.yaml:11"},
      {"duplicate run label", "  - {label: a, router: greedy}\n  - {label: a, router: threshold}\n", good_figures, "", "",
       "duplicate run 'a'", "exp.yaml:9"},
      {"unknown key", good_runs, good_figures, "", "colour: red\n", "colour", "exp.yaml"},
      {"a first-variant check on a run that is not there",
       "  - {label: big, router: \"dedicated:opt-6.7b\", variants: [b]}\n  - {label: greedy, router: greedy}\n",
       good_figures, "  - {id: c, text: t, check: {kind: collapse_rate, run: big, paper_rps: 2}}\n",
       "variants:\n  - {label: a}\n  - {label: b}\n", "not all of them run there", "exp.yaml:16"},
      {"hardware utility on a rate sweep", good_runs, good_figures,
       "  - {id: c, text: t, check: {kind: hardware_utility, run: big, reference: greedy, paper: {share_higher: 0.9, "
       "mean_ratio: 3, past90_ratio: 1.5}}}\n",
       "", "needs a workload experiment", "exp.yaml:13"},
      {"low-rate check without low rates", good_runs, good_figures,
       "  - {id: c, text: t, check: {kind: matches_at_low_rates, run: big, reference: greedy, max_rps: 0.1}}\n", "",
       "no rate of the experiment is <= 0.1", "exp.yaml:13"},
  };
  for (const BadPlan& c : cases) {
    SECTION(c.name) {
      ScratchDir dir("bad_plan");
      const std::string plan = WriteRateSweepPlan(dir, c.runs, c.figures, c.claims, c.extra);
      try {
        LoadPlan(plan);
        FAIL("expected a ConfigError");
      } catch (const ConfigError& e) {
        const std::string what = e.what();
        INFO(what);
        CHECK(what.find(c.message) != std::string::npos);
        CHECK(what.find(c.where) != std::string::npos);
      }
    }
  }
}

TEST_CASE("policies fine-tuned from each other in a cycle are refused", "[reproduce][plan]") {
  ScratchDir dir("cycle");
  const std::string plan = WriteRateSweepPlan(
      dir, "  - {label: a, router: greedy}\n", "  - {id: fig2, kind: performance, title: t}\n", "", "",
      "  a: {train: experiments/train/paper_hard.yaml, init_from: b}\n  b: {train: experiments/train/paper_soft.yaml, "
      "init_from: a}\n");
  CHECK_THROWS_WITH(LoadPlan(plan), Catch::Contains("cycle") && Catch::Contains("plan.yaml:3"));
}

}  // namespace
}  // namespace bestserve::testing
