// The bestserve executable end to end: bad input gives one clear error and no output,
// outputs are deterministic, the resolved config loads back unchanged, every subcommand runs.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "scenario/scenario.h"
#include "tests/apps/cli_helpers.h"

namespace bestserve {
namespace {

using testing::ReadAll;
using testing::RunBestserve;
using testing::ScratchDir;

using testing::kScenario;

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  const auto pos = text.find(from);
  REQUIRE(pos != std::string::npos);
  return text.replace(pos, from.size(), to);
}

struct BadCase {
  const char* name;
  std::string config;      // scenario text
  std::string csv;         // request CSV text, when the case is about the CSV
  std::string extra_args;  // extra flags
  std::vector<std::string> expected;  // substrings of the one error message
};

}  // namespace

TEST_CASE("each malformed config or CSV gives one clear error, exit code 3 and no output",
          "[apps][errors]") {
  const std::string csv_scenario = Replace(kScenario, "workload: {kind: poisson, rate_rps: 3, duration_s: 20}",
                                           "workload: {kind: csv, path: requests.csv}");
  const std::string header = "id,arrival_s,task,prompt_tokens,output_tokens,deadline_s,nominal_rate_rps\n";
  const std::vector<BadCase> cases = {
      {"unknown top-level key", Replace(kScenario, "seed: 3", "seed: 3\nrate: 4"), "", "",
       {"scenario.yaml:3:1", "unknown key 'rate'", "valid keys here: name, seed"}},
      {"wrong type", Replace(kScenario, "seed: 3", "seed: three"), "", "",
       {"scenario.yaml:2:7", "at 'seed'", "expected an integer, got 'three'"}},
      {"negative rate", Replace(kScenario, "rate_rps: 3", "rate_rps: -2"), "", "",
       {"scenario.yaml:13:37", "workload.rate_rps", "expected a number > 0, got -2"}},
      {"memory fractions over 1", Replace(kScenario, "memory_fraction: 0.20", "memory_fraction: 0.30"), "", "",
       {"cluster.gpu_groups[0].instances", "add up to 1.1", "expected <= 1"}},
      {"model missing from the profile", Replace(kScenario, "model: opt-1.3b", "model: opt-13b"), "", "",
       {"instances[1].model", "model 'opt-13b' is not in the profile set 'paper'", "opt-125m, opt-1.3b, opt-6.7b"}},
      {"weights that do not fit", Replace(kScenario, "{model: opt-125m, memory_fraction: 0.05}",
                                          "{model: opt-6.7b, memory_fraction: 0.05}"), "", "",
       {"memory_fraction", "needs", "GiB for weights"}},
      {"unknown workload kind", Replace(kScenario, "kind: poisson", "kind: bursty"), "", "",
       {"workload.kind", "unknown workload kind 'bursty'", "valid kinds: poisson"}},
      {"unknown router", Replace(kScenario, "router: greedy", "router: smartest"), "", "",
       {"scenario.yaml:14:9", "unknown router", "static:<model>, random, threshold[:r1,r2,..], greedy, slack, scorer[:lambda], vqueue[:V], policy:<file>"}},
      {"unknown load balancer", Replace(kScenario, "  gpu_groups:", "  load_balancer: fastest\n  gpu_groups:"), "", "",
       {"cluster.load_balancer", "unknown load balancer 'fastest'", "smallest_batch, least_queue, power_of_two"}},
      {"bad reward kind", Replace(kScenario, "reward: hard", "reward: medium"), "", "",
       {"deadline.reward", "expected 'hard' or 'soft', got 'medium'"}},
      {"missing cluster", Replace(kScenario, "cluster:", "clusters:"), "", "",
       {"unknown key 'clusters'"}},
      {"empty file", "", "", "", {"scenario.yaml", "the file is empty"}},
      {"invalid YAML", "name: [unclosed\n", "", "", {"scenario.yaml:", "invalid YAML"}},
      {"missing tasks file", Replace(kScenario, "profiles/tasks/opt_zero_shot.yaml", "nope.yaml"), "", "",
       {"at 'tasks'", "file 'nope.yaml' not found"}},
      {"unknown profile set", Replace(kScenario, "profile: paper", "profile: h100"), "", "",
       {"at 'profile'", "unknown profile set 'h100'", "paper"}},
      {"negative --rate", kScenario, "", "--rate -3", {"--rate: expected a rate > 0 requests/s, got -3"}},
      {"unsorted CSV rows", csv_scenario, header + "0,1.5,copa,10,10,,\n1,1.0,copa,10,10,,\n", "",
       {"requests.csv:3: column 'arrival_s'", "sorted by arrival time; 1 comes after 1.5"}},
      {"non-numeric CSV field", csv_scenario, header + "0,soon,copa,10,10,,\n", "",
       {"requests.csv:2: column 'arrival_s'", "expected a number, got 'soon'"}},
      {"unknown task in CSV", csv_scenario, header + "0,1,chess,10,10,,\n", "",
       {"requests.csv:2: column 'task'", "unknown task 'chess'"}},
      {"CSV with a wrong header", csv_scenario, "time,task\n1,copa\n", "",
       {"requests.csv:1", "expected the request CSV header"}},
      {"CSV row with missing fields", csv_scenario, header + "0,1,copa,10\n", "",
       {"requests.csv:2", "expected 7 comma-separated fields, got 4"}},
      {"empty CSV", csv_scenario, "", "", {"requests.csv", "the file is empty"}},
      {"CSV with zero output tokens", csv_scenario, header + "0,1,copa,10,0,,\n", "",
       {"requests.csv:2: column 'output_tokens'", "expected a token count in [1, 1073741824], got 0"}},
  };
  for (const BadCase& c : cases) {
    SECTION(c.name) {
      ScratchDir dir("bad_input");
      const std::string config = dir.Write("scenario.yaml", c.config);
      if (!c.csv.empty() || c.config.find("kind: csv") != std::string::npos) dir.Write("requests.csv", c.csv);
      const std::string out = dir.Path("out");
      const auto result = RunBestserve(fmt::format("simulate --config {} --out {} {}", config, out, c.extra_args));
      INFO(c.name << ":\n" << result.output);
      CHECK(result.exit_code == 3);
      for (const auto& piece : c.expected) CHECK_THAT(result.output, Catch::Contains(piece));
      CHECK_THAT(result.output, Catch::StartsWith("error: ") || Catch::Contains("\nerror: "));
      CHECK_FALSE(std::filesystem::exists(out));
    }
  }
}

TEST_CASE("the same config and seed give byte-identical outputs; another seed does not",
          "[apps][determinism]") {
  ScratchDir dir("determinism");
  const std::string config = dir.Write("scenario.yaml", kScenario);
  const std::vector<std::string> files = {"config.yaml", "requests.csv", "windows.csv", "summary.json"};
  REQUIRE(RunBestserve(fmt::format("simulate --config {} --out {}", config, dir.Path("a"))).exit_code == 0);
  REQUIRE(RunBestserve(fmt::format("simulate --config {} --out {}", config, dir.Path("b"))).exit_code == 0);
  REQUIRE(RunBestserve(fmt::format("simulate --config {} --out {} --seed 4", config, dir.Path("c"))).exit_code == 0);
  for (const auto& f : files) {
    INFO(f);
    const std::string a = ReadAll(dir.Path("a/" + f));
    CHECK_FALSE(a.empty());
    CHECK(a == ReadAll(dir.Path("b/" + f)));
  }
  CHECK(ReadAll(dir.Path("a/requests.csv")) != ReadAll(dir.Path("c/requests.csv")));
}

TEST_CASE("the resolved config written beside results loads back to the same run", "[apps][config]") {
  ScratchDir dir("roundtrip");
  const std::string config = dir.Write("scenario.yaml", kScenario);
  REQUIRE(RunBestserve(fmt::format("simulate --config {} --out {} --rate 5", config, dir.Path("first"))).exit_code == 0);
  const std::string resolved = ReadAll(dir.Path("first/config.yaml"));
  // Every default is written out.
  for (const char* key : {"load_balancer: smallest_batch", "queueing: per_replica", "interference_factor: 0",
                          "rate_estimator:", "kind: last_k", "ms_per_token: 40", "rate_rps: 5", "oracle_view: false"}) {
    CHECK_THAT(resolved, Catch::Contains(key));
  }
  REQUIRE(RunBestserve(fmt::format("simulate --config {} --out {}", dir.Path("first/config.yaml"), dir.Path("second")))
              .exit_code == 0);
  CHECK(ReadAll(dir.Path("second/config.yaml")) == resolved);
  CHECK(ReadAll(dir.Path("second/requests.csv")) == ReadAll(dir.Path("first/requests.csv")));
}

TEST_CASE("evaluate compares every built-in router on the built-in paper scenario", "[apps][smoke]") {
  ScratchDir dir("evaluate");
  const auto result = RunBestserve(fmt::format("evaluate --duration 30 --out {}", dir.Path("out")));
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  // Every router the registry offers by default (the dedicated baselines print as "alone").
  for (const std::string& router : BuiltinRouterSpecs(LoadScenario("").system)) {
    if (router.starts_with("dedicated:")) continue;
    CHECK_THAT(result.output, Catch::Contains(fmt::format("| {} |", router)));
  }
  CHECK(std::filesystem::exists(dir.Path("out/comparison.md")));
  CHECK(std::filesystem::exists(dir.Path("out/static_opt-6.7b/summary.json")));
}

TEST_CASE("evaluate --suite writes the per-cell table and its heat map", "[apps][suite]") {
  ScratchDir dir("suite");
  const std::string suite = dir.Write("tiny.yaml", R"(name: tiny
seeds: 2
baselines: [greedy, "static:opt-1.3b"]
workloads:
  - name: poisson
    workload: {kind: poisson, rate_rps: 4, duration_s: 20}
    variants:
      - {label: 2rps, set: {workload.rate_rps: 2}}
      - {label: 16rps, set: {workload.rate_rps: 16}}
  - name: bursts
    workload: {kind: unpredictable1, num_requests: 300}
)");
  const auto result =
      RunBestserve(fmt::format("evaluate --suite {} --candidate threshold --out {} -j 1", suite, dir.Path("out")));
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  // Three cells (two variants, one "native"), each a line of the cells table.
  const std::string cells = ReadAll(dir.Path("out/suite_cells.csv"));
  CHECK(std::count(cells.begin(), cells.end(), '\n') == 1 + 3);
  CHECK_THAT(cells, Catch::Contains("poisson,16rps,"));
  CHECK_THAT(cells, Catch::Contains("bursts,native,"));
  const std::string png = ReadAll(dir.Path("out/suite_heatmap.png"));
  CHECK(png.substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
  CHECK_THAT(ReadAll(dir.Path("out/suite_heatmap.svg")), Catch::Contains("<svg"));

  // --no-plots: the tables alone.
  const auto tables_only = RunBestserve(
      fmt::format("evaluate --suite {} --candidate threshold --out {} -j 1 --no-plots", suite, dir.Path("bare")));
  REQUIRE(tables_only.exit_code == 0);
  CHECK(ReadAll(dir.Path("bare/suite_cells.csv")) == cells);
  CHECK_FALSE(std::filesystem::exists(dir.Path("bare/suite_heatmap.png")));
}

TEST_CASE("--set overrides any key and reports bad paths", "[apps][config]") {
  ScratchDir dir("set");
  const std::string config = dir.Write("scenario.yaml", kScenario);
  const auto ok = RunBestserve(fmt::format(
      "simulate --config {} --out {} --set cluster.gpu_groups[0].count=3 --set deadline.reward=soft", config,
      dir.Path("out")));
  INFO(ok.output);
  REQUIRE(ok.exit_code == 0);
  CHECK_THAT(ok.output, Catch::Contains("3 GPU(s)"));
  CHECK_THAT(ReadAll(dir.Path("out/config.yaml")), Catch::Contains("reward: soft"));
  const auto bad = RunBestserve(fmt::format("simulate --config {} --set cluster.gpu_groups[5].count=3", config));
  CHECK(bad.exit_code == 3);
  CHECK_THAT(bad.output, Catch::Contains("--set cluster.gpu_groups[5].count: no list element [5] there"));
  const auto unknown = RunBestserve(fmt::format("simulate --config {} --set cluster.speed=3", config));
  CHECK(unknown.exit_code == 3);
  CHECK_THAT(unknown.output, Catch::Contains("unknown key 'speed'"));
}

TEST_CASE("usage errors exit with code 2", "[apps][errors]") {
  CHECK(RunBestserve("").exit_code == 2);
  CHECK(RunBestserve("simulate --no-such-flag").exit_code == 2);
  CHECK(RunBestserve("simulate --config /does/not/exist.yaml").exit_code == 2);
}

}  // namespace bestserve
