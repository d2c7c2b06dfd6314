// Evaluation suites (sweep/suite.h): loading, the paired verdict, and the rewards checked against
// plain simulations of the same cells.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "scenario/compare.h"
#include "scenario/scenario.h"
#include "sweep/suite.h"

namespace bestserve::sweep {
namespace {

namespace fs = std::filesystem;

std::string WriteSuite(const std::string& name, const std::string& text) {
  const fs::path path = fs::current_path() / name;
  std::ofstream(path) << text;
  return path.string();
}

// The CI-sized suite: the paper box, two short Poisson settings, three seeds.
const char* kTinySuite = R"(name: tiny
seeds: 3
baselines: ["static:opt-125m", "static:opt-6.7b"]
workloads:
  - name: poisson
    workload: {kind: poisson, rate_rps: 4, duration_s: 20}
    variants:
      - {label: 2rps, set: {workload.rate_rps: 2}}
      - {label: 16rps, set: {workload.rate_rps: 16}}
)";

TEST_CASE("the verdict follows the interval", "[sweep][suite]") {
  CHECK(VerdictOf(0.001, 0.2) == Verdict::kWin);
  CHECK(VerdictOf(-0.2, -0.001) == Verdict::kLoss);
  CHECK(VerdictOf(-0.1, 0.1) == Verdict::kTie);
  CHECK(VerdictOf(0.0, 0.1) == Verdict::kTie);  // touching 0 is not significant
  CHECK(VerdictOf(std::nan(""), std::nan("")) == Verdict::kTie);
}

TEST_CASE("a suite's rewards are the simulator's, paired on identical arrivals, judged per cell", "[sweep][suite]") {
  const Suite suite = LoadSuite(WriteSuite("tiny_suite.yaml", kTinySuite), "");
  REQUIRE(suite.workloads.size() == 1);
  REQUIRE(suite.seeds == std::vector<uint64_t>{1, 2, 3});
  const SuiteResult result = RunSuite(suite, "static:opt-1.3b", 2);
  REQUIRE(result.cells.size() == 2);
  for (const SuiteCellResult& cell : result.cells) {
    REQUIRE(cell.routers == std::vector<std::string>{"static:opt-125m", "static:opt-6.7b", "static:opt-1.3b"});
    // Each number is what a plain simulation of that cell and seed gives.
    for (size_t s = 0; s < suite.seeds.size(); ++s) {
      ScenarioOverrides o;
      o.seed = suite.seeds[s];
      o.set_values = {{"workload", "{kind: poisson, rate_rps: 4, duration_s: 20}"},
                      {"workload.rate_rps", cell.variant == "2rps" ? "2" : "16"}};
      const Scenario scenario = LoadScenario("", o);
      const Workload workload = MakeScenarioWorkload(scenario);
      for (size_t r = 0; r < cell.routers.size(); ++r) {
        const RouterRun run = RunRouterSpec(scenario, cell.routers[r], workload);
        CHECK(cell.reward[r][s] == Summarize(*run.sim, scenario.tasks, scenario.metrics).mean_reward_fraction);
      }
    }
    // The best baseline is the higher mean; the verdict agrees with the interval.
    const auto mean = [](const std::vector<double>& v) { return (v[0] + v[1] + v[2]) / 3.0; };
    CHECK(cell.best_baseline == (mean(cell.reward[0]) >= mean(cell.reward[1]) ? "static:opt-125m" : "static:opt-6.7b"));
    CHECK(cell.verdict == VerdictOf(cell.ci_low, cell.ci_high));
    CHECK(cell.ci_low <= cell.diff_mean);
    CHECK(cell.diff_mean <= cell.ci_high);
  }
  // The hindsight oracle takes the best static model per window, so it is at least every static
  // run's reward (here every router is static) and at most the peak.
  for (const SuiteCellResult& cell : result.cells) {
    for (size_t s = 0; s < suite.seeds.size(); ++s) {
      for (size_t r = 0; r < cell.routers.size(); ++r) CHECK(cell.oracle[s] >= cell.reward[r][s] - 1e-12);
      CHECK(cell.oracle[s] <= 1.0 + 1e-12);
    }
  }
  // OPT-1.3B alone beats OPT-6.7B alone under load (6.7B misses its deadlines at 16 req/s).
  CHECK(result.cells[1].verdict == Verdict::kWin);
  CHECK(result.wins + result.ties + result.losses == 2);
  // Same inputs, other thread count: identical numbers.
  const SuiteResult again = RunSuite(suite, "static:opt-1.3b", 1);
  CHECK(FormatSuiteRewardsCsv(again) == FormatSuiteRewardsCsv(result));
  CHECK(FormatSuiteMarkdown(again) == FormatSuiteMarkdown(result));
}

TEST_CASE("the hindsight oracle takes the best static model per window", "[sweep][suite]") {
  // Two models over the same four requests (peak 1 each): model a earns the first minute, b the
  // second; a single long window must pick one model for everything.
  const auto run = [](std::vector<double> rewards) {
    std::vector<RequestRecord> records;
    const double arrivals[] = {0.0, 10.0, 70.0, 80.0};
    for (size_t i = 0; i < rewards.size(); ++i) {
      RequestRecord rec;
      rec.request.id = static_cast<int64_t>(i);
      rec.request.arrival_s = arrivals[i];
      rec.reward = rewards[i];
      rec.peak_reward = 1.0;
      records.push_back(rec);
    }
    return records;
  };
  const std::vector<RequestRecord> a = run({1.0, 1.0, 0.0, 0.0});
  const std::vector<RequestRecord> b = run({0.0, 0.5, 1.0, 1.0});
  const std::vector<std::span<const RequestRecord>> both{a, b};
  CHECK(HindsightBestStatic(both, 60.0) == 1.0);                // 2 + 2 of 4
  CHECK(HindsightBestStatic(both, 1000.0) == 2.5 / 4.0);        // b's 2.5 beats a's 2
  CHECK(HindsightBestStatic({std::span<const RequestRecord>(a)}, 60.0) == 0.5);
}

TEST_CASE("a suite naming a trace that is not there says where it looked", "[sweep][suite][bad-input]") {
  const std::string path = WriteSuite("trace_suite.yaml", R"(workloads:
  - name: t
    workload: {kind: trace, format: azure_llm, path: "{traces}/nope.csv"}
)");
  try {
    LoadSuite(path, "/nowhere/traces");
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK_THAT(e.what(), Catch::Contains("trace_suite.yaml:3") && Catch::Contains("/nowhere/traces/nope.csv") &&
                             Catch::Contains("--trace-dir"));
  }
  CHECK_THROWS_AS(LoadSuite(WriteSuite("empty_suite.yaml", "workloads: []\n"), ""), ConfigError);
  CHECK_THROWS_AS(LoadSuite(WriteSuite("dup_suite.yaml", "workloads:\n  - {name: a, workload: {kind: poisson}}\n"
                                                         "  - {name: a, workload: {kind: poisson}}\n"),
                            ""),
                  ConfigError);
  CHECK_THROWS_WITH(LoadSuite(WriteSuite("window_suite.yaml", "oracle_window_s: 0\n"
                                                              "workloads:\n  - {name: a, workload: {kind: poisson}}\n"),
                              ""),
                    Catch::Contains("window_suite.yaml:1") && Catch::Contains("oracle_window_s"));
}

}  // namespace
}  // namespace bestserve::sweep
