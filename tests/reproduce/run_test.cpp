// Reproduce() end to end at a tiny scale: the files it writes, byte-identical outputs whatever
// the number of workers, and the policy cache (trained once, reused, retrained when the policy
// it is fine-tuned from changes).
#include <catch2/catch.hpp>

#include <filesystem>
#include <set>

#include "common/error.h"

#include "reproduce/policy_cache.h"
#include "reproduce/reproduce.h"
#include "tests/reproduce/reproduce_test_support.h"

namespace bestserve::testing {
namespace {

namespace fs = std::filesystem;
using reproduce::LoadPlan;

const std::string kRuns = R"(  - {label: big, router: "dedicated:opt-6.7b"}
  - {label: mid, router: "dedicated:opt-1.3b"}
  - {label: greedy, router: greedy}
)";
const std::string kFigures = R"(  - {id: fig2, kind: performance, title: perf}
  - {id: fig2, kind: selection, runs: [greedy], title: mix}
  - {id: fig3, kind: task_selection, run: greedy, title: tasks}
)";
// A training of 2,500 iterations on small episodes, validated on 200 requests: about a second.
const std::string kTinyTraining = R"(name: tiny
seed: 1
scenario: experiments/scenarios/paper_4gpu.yaml
training_workload: {kind: unpredictable2, num_requests: 300, min_rate_rps: 0.25, max_rate_rps: 48}
episode_requests: 300
learner: {iterations: 2500, batch_size: 64, learning_starts: 500, replay_capacity: 5000, progress_every_iterations: 500}
validation: {workload: {kind: unpredictable1, num_requests: 200}, seeds: [7], requests: 200}
)";
const std::string kClaims = R"(  - {id: collapse, text: big collapses, check: {kind: collapse_rate, run: big, below: 0.9, paper_rps: 2, factor: 2}}
)";

std::vector<std::pair<std::string, std::string>> OutputFiles(const std::string& dir) {
  std::vector<std::pair<std::string, std::string>> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const std::string rel = fs::relative(entry.path(), dir).string();
    if (rel == "run.json") continue;  // timings
    files.emplace_back(rel, ReadAll(entry.path().string()));
  }
  std::sort(files.begin(), files.end());
  return files;
}

reproduce::ReproduceOptions Options(const std::string& out, const std::string& cache, int32_t workers) {
  reproduce::ReproduceOptions o;
  o.out_dir = out;
  o.cache_dir = cache;
  o.workers = workers;
  return o;
}

TEST_CASE("a tiny reproduction writes every output, the same bytes with 1 or 2 workers", "[reproduce][run]") {
  ScratchDir dir("tiny_run");
  const auto plan = LoadPlan(WriteRateSweepPlan(dir, kRuns, kFigures, kClaims));
  const auto one = reproduce::Reproduce(plan, Options(dir.Path("out1"), dir.Path("cache"), 1));
  const auto two = reproduce::Reproduce(plan, Options(dir.Path("out2"), dir.Path("cache"), 2));
  CHECK(one.reproduced + one.partly + one.not_reproduced == 1);
  const auto files1 = OutputFiles(dir.Path("out1"));
  const auto files2 = OutputFiles(dir.Path("out2"));
  CHECK(files1 == files2);
  std::vector<std::string> names;
  for (const auto& [name, _] : files1) names.push_back(name);
  CHECK(names == std::vector<std::string>{"REPORT.md", "claims.csv", "data/fig2_performance.csv", "data/fig2_selection.csv",
                                          "data/fig3_task_selection.csv", "figures.json"});
  // 3 runs x 5 rates; selection: 5 rates x 3 models; per task: 4 tasks x 5 rates x 3 models.
  CHECK(ParseCsv(ReadAll(dir.Path("out1/data/fig2_performance.csv"))).size() == 15);
  CHECK(ParseCsv(ReadAll(dir.Path("out1/data/fig2_selection.csv"))).size() == 15);
  CHECK(ParseCsv(ReadAll(dir.Path("out1/data/fig3_task_selection.csv"))).size() == 60);
  // The selection shares of one rate add up to 1.
  double total = 0.0;
  for (const auto& row : ParseCsv(ReadAll(dir.Path("out1/data/fig2_selection.csv")))) {
    if (row.at("x") == "2") total += std::stod(row.at("fraction"));
  }
  CHECK(total == Approx(1.0));
  const std::string report = ReadAll(dir.Path("out1/REPORT.md"));
  CHECK(report.find("big collapses") != std::string::npos);
  CHECK(report.find("![fig2](figures/fig2_performance.png)") != std::string::npos);
  CHECK(report.find("QUICK") == std::string::npos);
  const std::string manifest = ReadAll(dir.Path("out1/figures.json"));
  CHECK(manifest.find("\"banner\": \"\"") != std::string::npos);
  CHECK(fs::exists(dir.Path("out1/run.json")));
}

TEST_CASE("policies are trained once, reused by key, and retrained when their parent changes", "[reproduce][cache]") {
  ScratchDir dir("cache_run");
  dir.Write("hard.yaml", kTinyTraining);
  dir.Write("soft.yaml", R"(name: soft
seed: 2
scenario: experiments/scenarios/paper_4gpu.yaml
set: {deadline.reward: soft}
training_workload: {kind: unpredictable2, num_requests: 300, min_rate_rps: 0.25, max_rate_rps: 48}
episode_requests: 300
learner: {iterations: 1500, batch_size: 64, learning_starts: 500, replay_capacity: 5000, progress_every_iterations: 500}
validation: {workload: {kind: unpredictable1, num_requests: 200}, seeds: [7], requests: 200}
)");
  const auto write_plan = [&](const std::string& hard_quick) {
    return WriteRateSweepPlan(dir, "  - {label: policy, router: \"trained:soft\"}\n", "  - {id: fig2, kind: performance, title: t}\n",
                              "", "",
                              "  hard: {train: hard.yaml, quick: " + hard_quick + "}\n  soft: {train: soft.yaml, init_from: hard}\n");
  };
  reproduce::PolicyOptions options;
  options.cache_dir = dir.Path("cache");
  options.quick = true;
  std::vector<std::string> progress;
  options.progress = [&](const std::string& name, int64_t it, int64_t total) {
    progress.push_back(fmt::format("{} {}/{}", name, it, total));
  };

  const auto plan = LoadPlan(write_plan("{iterations: 2000}"));
  const auto first = reproduce::ProvidePolicies(plan, options);
  REQUIRE(first.size() == 2);
  CHECK_FALSE(first[0].reused);
  CHECK(first[0].iterations == 2000);  // the quick budget
  CHECK(first[1].iterations == 1500);
  CHECK(fs::exists(first[1].file));
  CHECK(std::count(progress.begin(), progress.end(), "hard 2000/2000") == 1);

  const auto second = reproduce::ProvidePolicies(plan, options);
  CHECK(second[0].reused);
  CHECK(second[1].reused);
  CHECK(second[0].key == first[0].key);

  // Another cache, two trainings at a time: the same keys and the same policy bytes.
  options.cache_dir = dir.Path("cache2");
  options.workers = 2;
  const auto other = reproduce::ProvidePolicies(plan, options);
  CHECK_FALSE(other[1].reused);
  CHECK(other[1].key == first[1].key);
  CHECK(other[1].file != first[1].file);
  CHECK(ReadAll(other[1].file) == ReadAll(first[1].file));
  options.cache_dir = dir.Path("cache");

  // A different hard budget: a new hard key, and so a new soft key though soft.yaml is unchanged.
  const auto changed = reproduce::ProvidePolicies(LoadPlan(write_plan("{iterations: 2100}")), options);
  CHECK_FALSE(changed[0].reused);
  CHECK(changed[0].key != first[0].key);
  CHECK_FALSE(changed[1].reused);
  CHECK(changed[1].key != first[1].key);

  // When checkpoints are saved changes no bit of training, so not the key either.
  const auto checkpointed = reproduce::CacheKeys(
      LoadPlan(write_plan("{iterations: 2000, learner: {checkpoint_every_iterations: 100}}")), true);
  CHECK(checkpointed[0] == first[0].key);

  // Full mode is another config (no quick budget): other keys.
  CHECK(reproduce::PlannedIterations(plan, false) == std::vector<int64_t>{2500, 1500});
  const auto quick_keys = reproduce::CacheKeys(plan, true);
  const auto full_keys = reproduce::CacheKeys(plan, false);
  CHECK(quick_keys[0] == first[0].key);
  CHECK(full_keys[0] != quick_keys[0]);
  CHECK(full_keys[1] != quick_keys[1]);

  // The task table's contents are in the key, not only its path.
  dir.Write("tasks.yaml", ReadAll(std::string(BESTSERVE_SOURCE_DIR) + "/profiles/tasks/opt_zero_shot.yaml"));
  dir.Write("hard.yaml", ReadAll(dir.Path("hard.yaml")) + "set: {tasks: " + dir.Path("tasks.yaml") + "}\n");
  const auto before = reproduce::CacheKeys(plan, true);
  std::string tasks = ReadAll(dir.Path("tasks.yaml"));
  tasks.replace(tasks.find("[0.45, 0.78, 1.00]"), 18, "[0.40, 0.78, 1.00]");
  dir.Write("tasks.yaml", tasks);
  CHECK(reproduce::CacheKeys(plan, true)[0] != before[0]);

  // --retrain trains again, into the same folders.
  options.retrain = true;
  const auto retrained = reproduce::ProvidePolicies(LoadPlan(write_plan("{iterations: 2000}")), options);
  CHECK_FALSE(retrained[1].reused);
}

TEST_CASE("an entry without its completion marker is trained, not reused", "[reproduce][cache]") {
  ScratchDir dir("cache_marker");
  dir.Write("hard.yaml", kTinyTraining);
  const auto plan = LoadPlan(WriteRateSweepPlan(dir, "  - {label: policy, router: \"trained:hard\"}\n",
                                                "  - {id: fig2, kind: performance, title: t}\n", "", "",
                                                "  hard: {train: hard.yaml}\n"));
  reproduce::PolicyOptions options;
  options.cache_dir = dir.Path("cache");
  const std::string key = reproduce::CacheKeys(plan, false)[0];
  // What a training killed before its first checkpoint leaves: a folder, a stray policy file.
  dir.Write("cache/hard-" + key + "/best.bsw", "not a policy");
  const auto trained = reproduce::ProvidePolicies(plan, options);
  CHECK_FALSE(trained[0].reused);
  CHECK(ReadAll(trained[0].file) != "not a policy");
  CHECK(fs::exists(dir.Path("cache/hard-" + key + "/cache.json")));
}

TEST_CASE("a failing training fails its fine-tunes and the run, naming the policy, without hanging", "[reproduce][cache]") {
  ScratchDir dir("cache_fail");
  dir.Write("hard.yaml", kTinyTraining);
  // A fine-tune whose network shape does not match the policy it starts from fails at start.
  std::string wide = kTinyTraining;
  wide.replace(wide.find("learner: {"), 10, "learner: {hidden_sizes: [64], ");
  dir.Write("wide.yaml", wide);
  dir.Write("after.yaml", kTinyTraining);
  const auto plan = LoadPlan(WriteRateSweepPlan(
      dir, "  - {label: policy, router: \"trained:after\"}\n  - {label: other, router: \"trained:hard\"}\n",
      "  - {id: fig2, kind: performance, title: t}\n", "", "",
      "  hard: {train: hard.yaml}\n  wide: {train: wide.yaml, init_from: hard}\n  after: {train: after.yaml, init_from: wide}\n"));
  reproduce::PolicyOptions options;
  options.cache_dir = dir.Path("cache");
  options.workers = 2;
  try {
    reproduce::ProvidePolicies(plan, options);
    FAIL("expected an error");
  } catch (const Error& e) {
    INFO(e.what());
    CHECK(std::string(e.what()).find("training policy 'wide' failed") != std::string::npos);
  }
  // The parent finished and is cached; nothing of the failed fine-tune claims to be complete.
  const auto keys = reproduce::CacheKeys(plan, false);
  CHECK(fs::exists(dir.Path("cache/hard-" + keys[0] + "/cache.json")));
  CHECK_FALSE(fs::exists(dir.Path("cache/wide-" + keys[1] + "/cache.json")));
  CHECK_FALSE(fs::exists(dir.Path("cache/after-" + keys[2])));
}

TEST_CASE("outputs are the same bytes from a fresh cache, a reused one, and with 2 workers", "[reproduce][run]") {
  ScratchDir dir("trained_run");
  dir.Write("hard.yaml", kTinyTraining);
  dir.Write("wl.yaml", R"(title: workload
kind: workload
scenario: experiments/scenarios/paper_unpredictable1.yaml
set: {workload.num_requests: 400}
seeds: 2
runs:
  - {label: policy, router: "trained:hard"}
  - {label: big, router: "dedicated:opt-6.7b"}
  - {label: greedy, router: greedy}
tables:
  - {id: table2, title: t, paper: {policy: [142, 470, 713, 1264, 1723], big: [307, 307, 307, 307, 625]}}
figures:
  - {id: fig6, kind: trace, title: t}
claims:
  - {id: shape, text: t, check: {kind: table_shape, table: table2}}
)");
  dir.Write("exp.yaml", R"(title: sweep
kind: rate_sweep
scenario: experiments/scenarios/paper_4gpu.yaml
set: {workload.duration_s: 5}
rates: [0.5, 4, 16]
seeds: 2
runs:
  - {label: policy, router: "trained:hard"}
  - {label: big, router: "dedicated:opt-6.7b"}
figures:
  - {id: fig2, kind: performance, title: t}
  - {id: fig3, kind: task_selection, runs: [policy, big], title: t}
claims:
  - {id: static, text: t, check: {kind: not_worse_than_best_static, run: policy, baselines: [big], tolerance: 0.02}}
)");
  const auto plan = LoadPlan(dir.Write("plan.yaml", "policies: {hard: {train: hard.yaml}}\nexperiments: [exp.yaml, wl.yaml]\n"));
  reproduce::Reproduce(plan, Options(dir.Path("fresh"), dir.Path("cache"), 1));
  reproduce::Reproduce(plan, Options(dir.Path("reused"), dir.Path("cache"), 1));
  reproduce::Reproduce(plan, Options(dir.Path("two"), dir.Path("cache2"), 2));
  const auto fresh = OutputFiles(dir.Path("fresh"));
  CHECK(fresh.size() == 9);  // REPORT.md, claims.csv, figures.json, 3 figure CSVs, table2 .md and .csv, policies/hard.bsp
  CHECK(fresh == OutputFiles(dir.Path("reused")));
  CHECK(fresh == OutputFiles(dir.Path("two")));
  // Two runs x 4 tasks panels in the per-task figure.
  std::set<std::string> panels;
  for (const auto& row : ParseCsv(ReadAll(dir.Path("fresh/data/fig3_task_selection.csv")))) panels.insert(row.at("panel"));
  CHECK(panels.size() == 8);
  CHECK(panels.count("big: copa") == 1);

  // A later run with fewer outputs removes the files it does not produce.
  const auto fig2 = reproduce::SelectOutputs(plan, {"fig2"});
  reproduce::Reproduce(fig2, Options(dir.Path("fresh"), dir.Path("cache"), 1));
  CHECK(fs::exists(dir.Path("fresh/data/fig2_performance.csv")));
  CHECK_FALSE(fs::exists(dir.Path("fresh/data/fig6_trace.csv")));
  CHECK_FALSE(fs::exists(dir.Path("fresh/tables/table2.md")));
}

}  // namespace
}  // namespace bestserve::testing

namespace bestserve::testing {
namespace {

TEST_CASE("bestserve reproduce: bad input exits 3 with a located message and writes nothing", "[reproduce][cli]") {
  ScratchDir dir("cli_bad");
  const std::string bad = WriteRateSweepPlan(dir, kRuns, kFigures,
                                             "  - {id: c, text: t, check: {kind: collapse_rate, run: biggest, paper_rps: 2}}\n");
  const auto result = RunBestserve(fmt::format("reproduce --plan {} --out {} --cache {}", bad, dir.Path("out"), dir.Path("cache")));
  CHECK(result.exit_code == 3);
  CHECK(result.output.find("exp.yaml:16") != std::string::npos);
  CHECK(result.output.find("unknown run 'biggest'") != std::string::npos);
  CHECK_FALSE(fs::exists(dir.Path("out")));
  CHECK_FALSE(fs::exists(dir.Path("cache")));

  const std::string good = WriteRateSweepPlan(dir, kRuns, kFigures, kClaims);
  const auto only = RunBestserve(fmt::format("reproduce --plan {} --only fig99 --out {}", good, dir.Path("out")));
  CHECK(only.exit_code == 3);
  CHECK(only.output.find("unknown table or figure 'fig99'; expected some of: fig2,fig3") != std::string::npos);
  CHECK_FALSE(fs::exists(dir.Path("out")));
}

TEST_CASE("bestserve reproduce --only runs a subset and draws its figures", "[reproduce][cli]") {
  ScratchDir dir("cli_only");
  const std::string plan = WriteRateSweepPlan(dir, kRuns, kFigures, kClaims);
  const auto result = RunBestserve(fmt::format("reproduce --plan {} --only fig3 --out {} --cache {} -j 2", plan,
                                               dir.Path("out"), dir.Path("cache")));
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  CHECK(result.output.find("report: ") != std::string::npos);
  CHECK(fs::exists(dir.Path("out/data/fig3_task_selection.csv")));
  CHECK_FALSE(fs::exists(dir.Path("out/data/fig2_performance.csv")));
  CHECK(fs::file_size(dir.Path("out/figures/fig3_task_selection.png")) > 10000);
  CHECK(fs::file_size(dir.Path("out/figures/fig3_task_selection.svg")) > 10000);
}

}  // namespace
}  // namespace bestserve::testing
