// Streaming runs (issue 19): a replay read lazily, records handed on as they finish and
// summarized online must give what a run that holds everything gives, bit for bit.
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <bit>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/files.h"
#include "scenario/compare.h"
#include "scenario/scenario.h"
#include "sim/metrics.h"
#include "workloads/request_csv.h"

namespace bestserve {
namespace {

namespace fs = std::filesystem;

// A folder of its own under the system's temporary folder, removed at the end.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / fmt::format("bestserve_streaming_test_{}", ::getpid());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

// Two records the same bit for bit (doubles compared as bits, so NaN equals NaN).
bool SameRecord(const RequestRecord& a, const RequestRecord& b) {
  const auto bits = [](double x) { return std::bit_cast<uint64_t>(x); };
  return a.request.id == b.request.id && bits(a.request.arrival_s) == bits(b.request.arrival_s) &&
         a.request.task == b.request.task && a.request.prompt_tokens == b.request.prompt_tokens &&
         a.request.output_tokens == b.request.output_tokens && bits(a.request.deadline_s) == bits(b.request.deadline_s) &&
         bits(a.request.nominal_rate_rps) == bits(b.request.nominal_rate_rps) && a.model == b.model &&
         a.replica == b.replica && bits(a.admitted_s) == bits(b.admitted_s) &&
         bits(a.first_token_s) == bits(b.first_token_s) && bits(a.completion_s) == bits(b.completion_s) &&
         bits(a.reward) == bits(b.reward) && bits(a.peak_reward) == bits(b.peak_reward) && a.finished == b.finished &&
         a.deadline_met == b.deadline_met && a.reject == b.reject;
}

// The built-in paper scenario past saturation (queues, so records finish out of id order), on
// either engine; over-context requests truncated so that the engine edits some requests.
Scenario BusyScenario(const std::string& engine) {
  ScenarioOverrides overrides;
  overrides.rate_rps = 40.0;
  overrides.duration_s = 300.0;
  overrides.set_values = {{"cluster.engine.kind", engine}};
  return LoadScenario("", overrides);
}

TEST_CASE("a streamed run hands on the records a kept run holds, in id order, bit for bit", "[streaming]") {
  for (const std::string engine : {"paper", "vllm"}) {
    CAPTURE(engine);
    const Scenario scenario = BusyScenario(engine);
    const Workload workload = MakeScenarioWorkload(scenario);
    REQUIRE(workload.size() > 10000);  // past the 4096-record chunks the streamed run erases

    auto router = MakeScenarioRouter(scenario, "greedy");
    auto kept = RunSimulation(scenario, workload, *router);

    std::vector<RequestRecord> handed_on;
    int64_t most_held = 0;
    auto sim = MakeSimulator(scenario);
    sim->Reset(std::make_unique<VectorRequestSource>(workload), 0, [&](const RequestRecord& rec) {
      handed_on.push_back(rec);
    });
    router->Reset(static_cast<int32_t>(scenario.system.model_names.size()));
    while (sim->AdvanceToNextArrival()) {
      sim->Dispatch(router->Route(sim->view()));
      most_held = std::max(most_held, static_cast<int64_t>(sim->records().size()));
    }
    sim->Drain();

    CHECK(sim->all_finished());
    CHECK(sim->finish_order().empty());
    // Held: the span of ids in flight plus at most twice a chunk, not the run.
    CHECK(most_held < static_cast<int64_t>(workload.size()) / 2);
    REQUIRE(handed_on.size() == kept->records().size());
    bool out_of_id_order_finish = false;
    for (size_t i = 0; i < handed_on.size(); ++i) {
      CHECK(handed_on[i].request.id == static_cast<int64_t>(i));
      if (!SameRecord(handed_on[i], kept->records()[i])) FAIL("record " << i << " differs");
    }
    const auto& order = kept->finish_order();
    for (size_t i = 1; i < order.size(); ++i) out_of_id_order_finish = out_of_id_order_finish || order[i] < order[i - 1];
    CHECK(out_of_id_order_finish);  // the case worth testing: requests overtake each other
    CHECK(sim->counters().events == kept->counters().events);
  }
}

TEST_CASE("a summary built online with spilled quantile inputs equals the summary of the kept records", "[streaming]") {
  TempDir dir;
  const Scenario scenario = BusyScenario("vllm");
  auto router = MakeScenarioRouter(scenario, "greedy");
  auto sim = RunSimulation(scenario, MakeScenarioWorkload(scenario), *router);
  const Summary kept = Summarize(*sim, scenario.tasks, scenario.metrics);

  SummaryBuilder builder(sim->system(), scenario.tasks, scenario.metrics);
  builder.SpillTo(dir.path.string());
  std::string windows = "window_start,window_average\n";
  builder.StreamWindowsTo([&](int64_t i, double w) { windows += fmt::format("{},{}\n", i, w); });
  for (const RequestRecord& rec : sim->records()) builder.Add(rec);
  const Summary streamed = builder.Finish(sim->counters());

  CHECK(streamed.window_averages.empty());
  CHECK(streamed.num_windows == kept.num_windows);
  CHECK(kept.num_windows == static_cast<int64_t>(kept.window_averages.size()));
  CHECK(FormatSummaryJson(streamed) == FormatSummaryJson(kept));
  CHECK(windows == FormatWindows(kept));
  CHECK(fs::is_empty(dir.path));  // the spill files were unlinked when made
}

TEST_CASE("simulate's streamed run folder is the folder a kept run writes, for a replayed request CSV", "[streaming]") {
  TempDir dir;
  const Scenario generated = BusyScenario("paper");
  const std::string csv = (dir.path / "requests_in.csv").string();
  WriteFileAtomically(csv, FormatRequestCsv(MakeScenarioWorkload(generated), generated.tasks));
  ScenarioOverrides overrides;
  overrides.set_values = {{"workload", fmt::format("{{kind: csv, path: {}}}", csv)}};
  const Scenario scenario = LoadScenario("", overrides);

  const auto kept = CompareRouters(scenario, {"greedy"});
  WriteRunFolder((dir.path / "kept").string(), scenario, kept.front());
  const RouterResult streamed = RunRouterStreaming(scenario, "greedy", (dir.path / "streamed").string());
  CHECK(streamed.records.empty());
  for (const char* file : {"config.yaml", "requests.csv", "windows.csv", "summary.json"}) {
    CAPTURE(file);
    CHECK(ReadFile((dir.path / "streamed" / file).string()) == ReadFile((dir.path / "kept" / file).string()));
  }
  CHECK(std::distance(fs::directory_iterator(dir.path / "streamed"), fs::directory_iterator()) == 4);
}

TEST_CASE("a bad row deep in a replayed CSV fails the streamed run and leaves the run folder as it was", "[streaming]") {
  TempDir dir;
  const Scenario generated = BusyScenario("paper");
  std::string text = FormatRequestCsv(MakeScenarioWorkload(generated), generated.tasks);
  text += "999999,0.5,hellaswag,10,10,,\n";  // earlier than the row before it
  const std::string csv = (dir.path / "bad.csv").string();
  WriteFileAtomically(csv, text);
  ScenarioOverrides overrides;
  overrides.set_values = {{"workload", fmt::format("{{kind: csv, path: {}}}", csv)}};
  const Scenario scenario = LoadScenario("", overrides);

  const fs::path existing = dir.path / "existing";
  WriteFileAtomically((existing / "requests.csv").string(), "earlier run\n");
  CHECK_THROWS_WITH(RunRouterStreaming(scenario, "greedy", existing.string()),
                    Catch::Contains("bad.csv:") && Catch::Contains("column 'arrival_s'") &&
                        Catch::Contains("rows must be sorted by arrival time"));
  CHECK(ReadFile((existing / "requests.csv").string()) == "earlier run\n");
  CHECK(std::distance(fs::directory_iterator(existing), fs::directory_iterator()) == 1);  // no temporaries left

  const fs::path fresh = dir.path / "fresh";
  CHECK_THROWS_AS(RunRouterStreaming(scenario, "greedy", fresh.string()), ConfigError);
  CHECK_FALSE(fs::exists(fresh));
}

TEST_CASE("the streaming request CSV reader gives ReadRequestCsv's requests and errors", "[streaming]") {
  TempDir dir;
  const Scenario scenario = LoadScenario("");
  const Workload workload = scenario.workload->Generate(WorkloadContext{&scenario.tasks, 7});
  const std::string path = (dir.path / "w.csv").string();
  WriteFileAtomically(path, FormatRequestCsv(workload, scenario.tasks));
  RequestCsvReader reader(path, scenario.tasks);
  Workload streamed;
  Request r;
  while (reader.Next(&r)) streamed.push_back(r);
  CHECK(FormatRequestCsv(streamed, scenario.tasks) == FormatRequestCsv(workload, scenario.tasks));

  const auto both_fail_with = [&](const std::string& text, const std::string& message) {
    WriteFileAtomically(path, text);
    CHECK_THROWS_WITH(ReadRequestCsv(path, scenario.tasks), Catch::Contains(message));
    CHECK_THROWS_WITH(([&] {
                        RequestCsvReader bad(path, scenario.tasks);
                        Request x;
                        while (bad.Next(&x)) {
                        }
                      }()),
                      Catch::Contains(message));
  };
  const std::string header = "id,arrival_s,task,prompt_tokens,output_tokens,deadline_s,nominal_rate_rps\n";
  both_fail_with(header + "0,1,hellaswag,5,5,,\n\n1,2,hellaswag,5,5,,\n0,3,hellaswag,5,5,,\n",
                 "w.csv:5: column 'id': request id 0 repeats (first on line 2)");
  // Ids past the bit set's range are remembered with their line.
  both_fail_with(header + "-4,1,hellaswag,5,5,,\n99999999999,2,hellaswag,5,5,,\n-4,3,hellaswag,5,5,,\n",
                 "w.csv:4: column 'id': request id -4 repeats (first on line 2)");
  both_fail_with(header + "0,2,hellaswag,5,5,,\n1,1,hellaswag,5,5,,\n", "w.csv:3: column 'arrival_s'");
  both_fail_with(header, "no request rows after the header");
  both_fail_with("", "the file is empty");
}

}  // namespace
}  // namespace bestserve

namespace bestserve {
namespace {

TEST_CASE("evaluate's streamed routers move into place only when all have run", "[streaming]") {
  TempDir dir;
  const Scenario scenario = LoadScenario("", ScenarioOverrides{.rate_rps = 4.0, .duration_s = 30.0});
  const fs::path out = dir.path / "out";
  WriteFileAtomically((out / "greedy" / "requests.csv").string(), "earlier run\n");
  WriteFileAtomically((out / "random").string(), "a file where random's folder would go\n");
  CHECK_THROWS(EvaluateRoutersStreaming(scenario, {"greedy", "random"}, out.string()));
  CHECK(ReadFile((out / "greedy" / "requests.csv").string()) == "earlier run\n");
  CHECK(std::distance(fs::directory_iterator(out / "greedy"), fs::directory_iterator()) == 1);
  CHECK(std::distance(fs::directory_iterator(out), fs::directory_iterator()) == 2);  // no staging left

  fs::remove(out / "random");
  const auto results = EvaluateRoutersStreaming(scenario, {"greedy", "random"}, out.string());
  REQUIRE(results.size() == 2);
  const auto kept = CompareRouters(scenario, {"greedy", "random"});
  for (size_t i = 0; i < 2; ++i) {
    CHECK(FormatSummaryJson(results[i].summary) == FormatSummaryJson(kept[i].summary));
    CHECK(ReadFile((out / kept[i].spec / "summary.json").string()) == FormatSummaryJson(kept[i].summary));
  }
  CHECK(std::distance(fs::directory_iterator(out), fs::directory_iterator()) == 2);
}

TEST_CASE("a failed streamed run removes the folders it created, and a killed one's litter goes next time", "[streaming]") {
  TempDir dir;
  const std::string csv = (dir.path / "bad.csv").string();
  WriteFileAtomically(csv, "id,arrival_s,task,prompt_tokens,output_tokens,deadline_s,nominal_rate_rps\n"
                           "0,1,hellaswag,5,5,,\n1,0.5,hellaswag,5,5,,\n");
  ScenarioOverrides overrides;
  overrides.set_values = {{"workload", fmt::format("{{kind: csv, path: {}}}", csv)}};
  const Scenario scenario = LoadScenario("", overrides);
  CHECK_THROWS_AS(RunRouterStreaming(scenario, "greedy", (dir.path / "a" / "b").string()), ConfigError);
  CHECK_FALSE(fs::exists(dir.path / "a"));

  // What a killed evaluate leaves (a staging folder of a process that no longer exists) is
  // removed by the next run into that folder; the pid is above Linux's largest (pid_max <= 2^22).
  const fs::path out = dir.path / "out";
  WriteFileAtomically((out / ".staging.tmp.999999999" / "greedy" / "requests.csv").string(), "partial\n");
  WriteFileAtomically((out / "requests.csv.tmp.999999999").string(), "partial\n");
  // Not ours: a user's file that merely looks like a temporary, and anything in a subfolder.
  WriteFileAtomically((out / "notes.txt.tmp.999999999").string(), "keep\n");
  WriteFileAtomically((out / "mine" / "requests.csv.tmp.999999999").string(), "keep\n");
  RunRouterStreaming(LoadScenario("", ScenarioOverrides{.rate_rps = 4.0, .duration_s = 10.0}), "greedy", out.string());
  CHECK_FALSE(fs::exists(out / ".staging.tmp.999999999"));
  CHECK_FALSE(fs::exists(out / "requests.csv.tmp.999999999"));
  CHECK(fs::exists(out / "notes.txt.tmp.999999999"));
  CHECK(fs::exists(out / "mine" / "requests.csv.tmp.999999999"));
  CHECK(fs::exists(out / "summary.json"));
}

}  // namespace
}  // namespace bestserve
