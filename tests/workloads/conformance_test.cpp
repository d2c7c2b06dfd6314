// The conformance battery every registered workload kind passes (open_spiel basic_tests): it
// builds from a small config, returns valid time-sorted requests, is byte-deterministic per
// seed (and seed-sensitive), and its request CSV survives write -> read -> write unchanged.
#include <catch2/catch.hpp>
#include <map>
#include <string>

#include "tests/workloads/test_support.h"
#include "workloads/registry.h"
#include "workloads/request_csv.h"
#include "workloads/workload_config.h"
#include "workloads/workload_ops.h"

namespace bestserve {
namespace {

using testing::ScratchDir;
using testing::TestTasks;
using testing::Yaml;

// One small config per kind; a new kind without an entry fails the coverage check below.
std::map<std::string, std::string> SmallConfigs(const ScratchDir& dir) {
  const std::string trace = dir.Write("llm.csv",
                                      "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                                      "2023-11-16 18:15:46.6805900,374,44\n"
                                      "2023-11-16 18:15:50.9951690,396,109\n"
                                      "2023-11-16 18:15:51.0000000,12,9\n");
  const std::string functions = dir.Write("f.csv",
                                          "HashOwner,HashApp,HashFunction,Trigger,1,2\n"
                                          "o,a,f,http,30,12\n");
  const std::string csv =
      dir.Write("w.csv",
                "id,arrival_s,task,prompt_tokens,output_tokens,deadline_s,"
                "nominal_rate_rps\n0,0.25,copa,10,3,,2\n1,1.5,piqa,20,4,0.5,\n");
  return {
      {"poisson", "{kind: poisson, rate_rps: 3, duration_s: 30}"},
      {"unpredictable1", "{kind: unpredictable1, num_requests: 500}"},
      {"unpredictable2", "{kind: unpredictable2, num_requests: 500, rate_choice: random_walk}"},
      {"mmpp",
       "{kind: mmpp, num_requests: 400, states: [{name: a, rate_rps: 1}, {name: b, rate_rps: 9}], "
       "generator: [[-0.1, 0.1], [0.3, -0.3]]}"},
      {"maf1_like", "{kind: maf1_like, mean_rate_rps: 5, duration_s: 120}"},
      {"maf2_like", "{kind: maf2_like, num_requests: 500}"},
      {"trace", fmt::format("{{kind: trace, format: azure_llm, path: '{}'}}", trace)},
      {"merge",
       fmt::format("{{kind: merge, sources: [{{workload: {{kind: poisson, rate_rps: 2, duration_s: "
                   "20}}}}, {{workload: {{kind: trace, format: azure_functions_2019, path: '{}'}}, "
                   "offset_s: 5, rate_scale: 4}}]}}",
                   functions)},
      {"csv", fmt::format("{{kind: csv, path: '{}'}}", csv)},
      {"mixture",
       "{kind: mixture, components: [{weight: 2, workload: {kind: poisson, rate_rps: 3, duration_s: 30}}, "
       "{workload: {kind: unpredictable1, num_requests: 300}, prompt_tokens: {kind: geometric, mean: 700}, "
       "output_tokens: {kind: uniform, min: 1, max: 64}}]}"},
  };
}

TEST_CASE("Every registered workload kind passes the conformance battery",
          "[workloads][conformance]") {
  ScratchDir dir;
  const TaskTable tasks = TestTasks();
  const auto configs = SmallConfigs(dir);
  for (const std::string& kind : WorkloadKinds()) {
    INFO("kind " << kind);
    REQUIRE(configs.count(kind) == 1);
    const auto generator = MakeWorkloadGenerator(Yaml(configs.at(kind)), "");
    CHECK_FALSE(generator->Describe().empty());
    const Workload a = generator->Generate(WorkloadContext{&tasks, 7});
    REQUIRE_FALSE(a.empty());
    for (size_t i = 0; i < a.size(); ++i) {
      REQUIRE(a[i].id == static_cast<int64_t>(i));
      REQUIRE(a[i].arrival_s >= 0.0);
      if (i > 0) REQUIRE(a[i].arrival_s >= a[i - 1].arrival_s);
      REQUIRE(a[i].task >= 0);
      REQUIRE(a[i].task < tasks.num_tasks());
      REQUIRE(a[i].prompt_tokens >= 1);
      REQUIRE(a[i].output_tokens >= 1);
    }
    // Determinism: same seed, same bytes; a different seed changes something (a csv replay
    // has no randomness).
    const std::string bytes = FormatRequestCsv(a, tasks);
    CHECK(FormatRequestCsv(generator->Generate(WorkloadContext{&tasks, 7}), tasks) == bytes);
    if (kind != "csv") {
      CHECK(FormatRequestCsv(generator->Generate(WorkloadContext{&tasks, 8}), tasks) != bytes);
    }
    // The saved CSV replays to the same bytes.
    const Workload back = ParseRequestCsv(bytes, "<memory>", tasks);
    CHECK(FormatRequestCsv(back, tasks) == bytes);
  }
}

TEST_CASE("An unknown kind lists the valid ones", "[workloads][config]") {
  CHECK_THROWS_WITH(MakeWorkloadGenerator(Yaml("{kind: bursty}"), ""),
                    Catch::Contains("unknown workload kind 'bursty'; valid kinds: poisson, "
                                    "unpredictable1, unpredictable2, mmpp, maf1_like, maf2_like, "
                                    "trace, merge, mixture, csv"));
}

TEST_CASE("Merging keeps every request, in time order, ties by source order", "[workloads]") {
  Workload a(3), b(2);
  a[0].arrival_s = 1.0;
  a[1].arrival_s = 2.0;
  a[2].arrival_s = 4.0;
  b[0].arrival_s = 2.0;
  b[1].arrival_s = 3.0;
  b[0].task = 1;
  const Workload m = MergeWorkloads({a, b});
  REQUIRE(m.size() == 5);
  CHECK(m[1].arrival_s == 2.0);
  CHECK(m[1].task == 0);  // a's request at 2.0 comes first
  CHECK(m[2].task == 1);
  for (size_t i = 0; i < m.size(); ++i) CHECK(m[i].id == static_cast<int64_t>(i));
  const Workload cut = CutWindow(m, 2.0, 4.0);
  REQUIRE(cut.size() == 3);
  CHECK(cut[0].arrival_s == 0.0);
  Workload scaled = m;
  ScaleRate(&scaled, 2.0, 0.0);
  CHECK(scaled[4].arrival_s == 2.0);
  CHECK(MeanRate(scaled) == Approx(5.0 / 1.5));
}

TEST_CASE("The generate config resolves the seed, the task table and the workload section",
          "[workloads][config]") {
  ScratchDir dir;
  dir.Write("tasks.yaml", R"(
models: [m]
tasks:
  - {name: only, prompt_tokens: 5, output_tokens: 6, quality: [1.0]}
)");
  const std::string config = dir.Write("gen.yaml", R"(
seed: 9
tasks: tasks.yaml
workload: {kind: poisson, rate_rps: 2, duration_s: 10}
)");
  const WorkloadRunConfig run = LoadWorkloadRunConfig(config);
  CHECK(run.seed == 9);
  CHECK(LoadWorkloadRunConfig(config, 3).seed == 3);
  const GeneratedWorkload g = GenerateWorkload(run);
  CHECK(g.tasks.num_tasks() == 1);
  CHECK(g.description == "poisson(rate 2 rps, 10 s)");
  CHECK_FALSE(g.workload.empty());
  const std::string bad =
      dir.Write("bad.yaml", "seed: -1\nworkload: {kind: poisson, rate_rps: 1}\n");
  CHECK_THROWS_WITH(
      LoadWorkloadRunConfig(bad),
      Catch::Contains("bad.yaml:1:7") && Catch::Contains("expected a seed >= 0, got -1"));
  const std::string typo =
      dir.Write("typo.yaml", "sead: 1\nworkload: {kind: poisson, rate_rps: 1}\n");
  CHECK_THROWS_WITH(LoadWorkloadRunConfig(typo), Catch::Contains("unknown key 'sead'"));
  const std::string missing =
      dir.Write("missing.yaml", "tasks: nope.yaml\nworkload: {kind: poisson, rate_rps: 1}\n");
  CHECK_THROWS_WITH(LoadWorkloadRunConfig(missing),
                    Catch::Contains("task table 'nope.yaml' not found"));
}

}  // namespace
}  // namespace bestserve
