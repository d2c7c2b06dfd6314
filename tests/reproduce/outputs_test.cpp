// From cells to outputs, on synthetic data whose right answers are known by construction: the
// verdict rules of each check, the aggregation over seeds, and the table layout.
#include <catch2/catch.hpp>

#include <cmath>

#include "reproduce/outputs.h"
#include "tests/reproduce/reproduce_test_support.h"

namespace bestserve::testing {
namespace {

using reproduce::BuildOutputs;
using reproduce::ExperimentData;
using reproduce::ExperimentOutputs;
using reproduce::Verdict;

const std::string kRuns = R"(  - {label: policy, router: greedy}
  - {label: big, router: "dedicated:opt-6.7b"}
  - {label: mid, router: "dedicated:opt-1.3b"}
)";

// Rates are [0.5, 1, 2, 4, 8]. "big" collapses at 2 rps; "mid" holds 0.9; the policy follows
// the best static choice minus `policy_gap`, and moves from opt-6.7b to opt-1.3b with the rate.
ExperimentData SweepData(const reproduce::ExperimentSpec& spec, double policy_gap) {
  ExperimentData data;
  data.spec = &spec;
  data.seeds = 2;
  data.models = {"opt-125m", "opt-1.3b", "opt-6.7b"};
  data.tasks = {"hellaswag", "copa", "piqa", "openbookqa"};
  const double big[] = {1.0, 0.99, 0.6, 0.1, 0.0};
  for (int i = 0; i < 5; ++i) {
    for (int64_t seed = 1; seed <= 2; ++seed) {
      // Seeds differ by +-0.01 so that means, mins and maxes are distinguishable.
      const double jitter = seed == 1 ? -0.01 : 0.01;
      const double best = std::max(big[i], 0.9);
      data.Add(MakeCell(0, 0, i, seed, MakeSummary(best - policy_gap + jitter, {0, 20 * i, 100 - 20 * i})));
      data.Add(MakeCell(0, 1, i, seed, MakeSummary(big[i] + jitter, {0, 0, 100})));
      data.Add(MakeCell(0, 2, i, seed, MakeSummary(0.9 + jitter, {0, 100, 0})));
    }
  }
  return data;
}

const reproduce::ClaimResult& Claim(const ExperimentOutputs& out, const std::string& id) {
  for (const auto& c : out.claims) {
    if (c.id == id) return c;
  }
  FAIL("no claim " << id);
  throw;
}

TEST_CASE("rate-sweep checks grade known data", "[reproduce][outputs]") {
  ScratchDir dir("outputs_sweep");
  const std::string claims = R"(  - {id: collapse_in, text: t, check: {kind: collapse_rate, run: big, below: 0.9, paper_rps: 2, factor: 2}}
  - {id: collapse_far, text: t, check: {kind: collapse_rate, run: big, below: 0.9, paper_rps: 32, factor: 2}}
  - {id: collapse_never, text: t, check: {kind: collapse_rate, run: mid, below: 0.8, paper_rps: 2}}
  - {id: multiple, text: t, check: {kind: available_multiple, run: policy, reference: big, below: 0.8, multiple: 10}}
  - {id: static, text: t, check: {kind: not_worse_than_best_static, run: policy, baselines: [big, mid], tolerance: 0.02}}
  - {id: low, text: t, check: {kind: matches_at_low_rates, run: policy, reference: big, max_rps: 1, tolerance: 0.02}}
  - {id: shift, text: t, check: {kind: rate_shift, run: policy, model: opt-6.7b, min_drop: 0.3}}
)";
  const auto plan = reproduce::LoadPlan(WriteRateSweepPlan(dir, kRuns, "  - {id: fig2, kind: performance, title: t}\n", claims));
  const auto& spec = plan.experiments.at(0);

  SECTION("a policy 0.01 below the best static choice") {
    const ExperimentData data = SweepData(spec, 0.01);
    const ExperimentOutputs out = BuildOutputs(data);
    // big first falls below 0.9 at 2 rps: inside [1, 4] for a paper value of 2, outside for 32.
    CHECK(Claim(out, "collapse_in").verdict == Verdict::kReproduced);
    CHECK(Claim(out, "collapse_in").ours.find("2 rps") != std::string::npos);
    CHECK(Claim(out, "collapse_far").verdict == Verdict::kPartly);
    CHECK(Claim(out, "collapse_never").verdict == Verdict::kNot);
    // The policy never falls below 0.8 (up to 8 rps); big does at 2 rps: >= 4x, not 10x.
    CHECK(Claim(out, "multiple").verdict == Verdict::kPartly);
    CHECK(Claim(out, "static").verdict == Verdict::kReproduced);
    CHECK(Claim(out, "low").verdict == Verdict::kReproduced);
    // opt-6.7b share: lowest third (rate 0.5) 100%, highest third (8 rps) 20%: a drop of 0.8.
    CHECK(Claim(out, "shift").verdict == Verdict::kReproduced);
  }
  SECTION("a policy 0.05 below: partly; 0.2 below: not") {
    CHECK(Claim(BuildOutputs(SweepData(spec, 0.05)), "static").verdict == Verdict::kPartly);
    CHECK(Claim(BuildOutputs(SweepData(spec, 0.05)), "low").verdict == Verdict::kPartly);
    CHECK(Claim(BuildOutputs(SweepData(spec, 0.2)), "static").verdict == Verdict::kNot);
  }
  SECTION("figure data: mean and min-max band over seeds, one row per run and rate") {
    const ExperimentOutputs out = BuildOutputs(SweepData(spec, 0.01));
    REQUIRE(out.files.size() == 1);
    CHECK(out.files[0].path == "data/fig2_performance.csv");
    const auto rows = ParseCsv(out.files[0].text);
    REQUIRE(rows.size() == 3 * 5);
    // big at 2 rps: seeds 0.59 and 0.61.
    const auto& row = rows[5 + 2];
    CHECK(row.at("series") == "big");
    CHECK(std::stod(row.at("x")) == 2.0);
    CHECK(std::stod(row.at("y")) == Approx(0.6));
    CHECK(std::stod(row.at("lo")) == Approx(0.59));
    CHECK(std::stod(row.at("hi")) == Approx(0.61));
    REQUIRE(out.figures.size() == 1);
    CHECK(out.figures[0].kind == "lines");
    CHECK(out.figures[0].log_x);
  }
}

TEST_CASE("table shape and hardware utility checks grade known data", "[reproduce][outputs]") {
  ScratchDir dir("outputs_workload");
  dir.Write("exp.yaml", R"(title: test workload
kind: workload
scenario: experiments/scenarios/paper_unpredictable1.yaml
seeds: 2
runs:
  - {label: policy, router: greedy}
  - {label: big, router: "dedicated:opt-6.7b"}
  - {label: big8, router: "dedicated:opt-6.7b", set: {"cluster.gpu_groups[0].count": 8}}
tables:
  - id: table2
    title: t
    paper:
      policy: [142, 470, 713, 1264, 1723]
      big: [307, 307, 307, 307, 625]
figures:
  - {id: fig14, kind: utility_measures, reference: big8, title: t}
claims:
  - {id: shape, text: t, check: {kind: table_shape, table: table2}}
  - id: utility
    text: t
    check: {kind: hardware_utility, run: policy, reference: big8, paper: {share_higher: 0.97, mean_ratio: 3.94, past90_ratio: 1.51}}
)");
  const std::string plan_path = dir.Write("plan.yaml", "policies: {}\nexperiments: [exp.yaml]\n");
  const auto plan = reproduce::LoadPlan(plan_path);
  const auto& spec = plan.experiments.at(0);
  ExperimentData data;
  data.spec = &spec;
  data.seeds = 2;
  for (int64_t seed = 1; seed <= 2; ++seed) {
    Summary policy = MakeSummary(0.95);
    policy.threshold_counts = {100, 400, 700, 1200, 1700};  // leads below = 1.00, like the paper
    policy.window_averages = {1.0, 0.95, 0.92, 0.4};       // utility /4: 0.25, 0.2375, 0.23, 0.1
    Summary big = MakeSummary(0.6);
    big.threshold_counts = {300 + seed, 300, 300, 300, 600};  // leads at = 1.00 only
    Summary big8 = MakeSummary(0.9);
    big8.num_gpus = 8;
    big8.window_averages = {1.0, 1.0, 0.8, 0.85};  // utility /8: 0.125, 0.125, 0.1, 0.10625
    data.Add(MakeCell(0, 0, 0, seed, policy));
    data.Add(MakeCell(0, 1, 0, seed, big));
    data.Add(MakeCell(0, 2, 0, seed, big8));
  }
  const ExperimentOutputs out = BuildOutputs(data);
  CHECK(Claim(out, "shape").verdict == Verdict::kReproduced);
  // Policy utility higher in 3 of 4 windows: 75% (> 50%, as the paper); mean ratio
  // (3.27/4/4) / (3.65/4/8) = 0.2044/0.1141 = 1.79 (> 1); past 0.9: 3 vs 2 windows = 1.5.
  const auto& utility = Claim(out, "utility");
  INFO(utility.ours);
  CHECK(utility.verdict == Verdict::kReproduced);
  CHECK(utility.ours.find("75.0%") != std::string::npos);
  CHECK(utility.ours.find("1.79x") != std::string::npos);
  CHECK(utility.ours.find("1.50x") != std::string::npos);

  SECTION("the utility figure: the three measures of each run against the reference") {
    const auto& file = out.files.at(0);
    CHECK(file.path == "data/fig14_utility_measures.csv");
    std::map<std::string, double> policy;
    for (const auto& row : ParseCsv(file.text)) {
      if (row.at("category") == "policy") policy[row.at("panel")] = std::stod(row.at("y"));
      CHECK(row.at("category") != "big8");  // not compared with itself
    }
    CHECK(policy.at("share of windows with higher utility") == Approx(0.75));
    CHECK(policy.at("mean utility ratio") == Approx((3.27 / 16) / (3.65 / 32)));
    CHECK(policy.at("ratio of windows >= 0.90 of peak") == Approx(1.5));
  }
  SECTION("the table: one row per threshold and the mean reward; ours then the paper's columns") {
    REQUIRE(out.tables_markdown.size() == 1);
    const std::string& md = out.tables_markdown[0];
    CHECK(md.find("| threshold | ours: policy | ours: big | ours: big8 | paper: policy | paper: big |") != std::string::npos);
    CHECK(md.find("| = 1.00 | 100 ± 0 | 302 ± 1 | 0 ± 0 | 142 | 307 |") != std::string::npos);
    CHECK(md.find("| >= 0.94 | 1700 ± 0 | 600 ± 0 | 0 ± 0 | 1723 | 625 |") != std::string::npos);
    CHECK(md.find("| mean reward (fraction of peak) | 0.9500 | 0.6000 | 0.9000 | - | - |") != std::string::npos);
    int rows = 0;
    for (size_t p = md.find("\n|"); p != std::string::npos; p = md.find("\n|", p + 1)) ++rows;
    CHECK(rows == 2 + 5 + 1);  // header, rule, 5 thresholds, mean reward
  }
  SECTION("a table whose leaders differ is not reproduced") {
    ExperimentData flipped;
    flipped.spec = &spec;
    flipped.seeds = 2;
    for (const auto& cell : data.cells) {
      CellResult c = cell;
      if (c.key.run == 1) c.summary.threshold_counts = {0, 2000, 2000, 2000, 2000};
      flipped.Add(c);
    }
    CHECK(Claim(BuildOutputs(flipped), "shape").verdict == Verdict::kNot);
  }
}

TEST_CASE("share shifts count the paper's direction only", "[reproduce][outputs]") {
  ScratchDir dir("outputs_shift");
  const std::string claims = R"(  - id: soft
    text: t
    check:
      kind: share_shift
      run: policy
      reference: big
      shifts:
        - {task: hellaswag, model: opt-6.7b, direction: up, paper_change: 0.52}
        - {task: copa, model: opt-1.3b, direction: up}
)";
  const auto plan = reproduce::LoadPlan(WriteRateSweepPlan(dir, kRuns, "  - {id: fig2, kind: performance, title: t}\n", claims));
  const auto& spec = plan.experiments.at(0);
  auto data_with = [&](std::vector<int64_t> policy_mix, std::vector<int64_t> big_mix) {
    ExperimentData data;
    data.spec = &spec;
    data.seeds = 2;
    for (int i = 0; i < 5; ++i) {
      for (int64_t seed = 1; seed <= 2; ++seed) {
        data.Add(MakeCell(0, 0, i, seed, MakeSummary(0.9, policy_mix)));
        data.Add(MakeCell(0, 1, i, seed, MakeSummary(0.9, big_mix)));
        data.Add(MakeCell(0, 2, i, seed, MakeSummary(0.9, {0, 100, 0})));
      }
    }
    return data;
  };
  // Every task has the same mix here. Reference -> run: 6.7b 40% -> 60% (up), 1.3b 60% -> 40%
  // (down): one of the two shifts goes the paper's way.
  const auto mixed = BuildOutputs(data_with({0, 40, 60}, {0, 60, 40}));
  INFO(Claim(mixed, "soft").detail);
  CHECK(Claim(mixed, "soft").verdict == Verdict::kPartly);
  CHECK(Claim(mixed, "soft").detail.find("+50%") != std::string::npos);  // 40% -> 60%
  CHECK(Claim(mixed, "soft").detail.find("+52%") != std::string::npos);  // the paper's
  const auto both = BuildOutputs(data_with({0, 60, 40}, {40, 40, 20}));
  CHECK(Claim(both, "soft").verdict == Verdict::kReproduced);
  // 6.7b 20% -> 40% and 1.3b 40% -> 60%: both up. 6.7b 50% -> 40% and 1.3b 50% -> 40%: both down.
  const auto none = BuildOutputs(data_with({20, 40, 40}, {0, 50, 50}));
  CHECK(Claim(none, "soft").verdict == Verdict::kNot);
}

}  // namespace
}  // namespace bestserve::testing
