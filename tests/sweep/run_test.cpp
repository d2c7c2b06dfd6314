// Running sweeps in-process: sharded = unsharded, common random numbers, resume and failures,
// refusals of mixed grids and missing cells.
#include <catch2/catch.hpp>

#include <sstream>

#include "scenario/compare.h"
#include "sweep/merge.h"
#include "sweep/runner.h"
#include "tests/sweep/sweep_test_support.h"

namespace bestserve::sweep {
namespace {

using testing::ReadAll;
using testing::ScratchDir;

PreparedSweep Prepare(const std::string& text) {
  return PrepareSweep(ParseGrid(ConfigNode::LoadString(text, "grid.yaml"), ""));
}

RunReport Run(const PreparedSweep& sweep, const std::string& dir, Shard shard = {}, int32_t workers = 1,
              std::function<void(const Cell&)> before_cell = {}) {
  RunOptions options;
  options.out_dir = dir;
  options.shard = shard;
  options.workers = workers;
  options.before_cell = std::move(before_cell);
  return RunSweep(sweep, options);
}

// The first six request-log columns: id, arrival_s, task, prompt_tokens, output_tokens, deadline_s.
// A cell's requests.csv, as the runner writes it.
std::string Log(const CellRun& run) {
  return FormatRequestLog(run.result.records, run.result.model_names, run.scenario.tasks);
}

std::vector<std::string> Arrivals(const std::string& request_log) {
  std::vector<std::string> rows;
  std::istringstream in(request_log);
  std::string line;
  while (std::getline(in, line)) {
    size_t pos = 0;
    for (int i = 0; i < 6 && pos != std::string::npos; ++i) pos = line.find(',', pos + 1);
    rows.push_back(line.substr(0, pos));
  }
  return rows;
}

template <typename E>
std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("sharded runs, merged, give exactly the rows of an unsharded run", "[sweep][run]") {
  const PreparedSweep sweep = Prepare(testing::kTinyGrid);
  ScratchDir scratch("sharded");
  const std::string whole = scratch.Path("whole");
  const RunReport report = Run(sweep, whole, {}, 2);
  CHECK(report.ran == 12);
  CHECK(report.failed == 0);
  const MergeResult reference = MergeSweep(whole);
  CHECK(reference.status.done == 12);
  for (int64_t n = 2; n <= 5; ++n) {
    INFO("N = " << n);
    const std::string dir = scratch.Path(fmt::format("shards{}", n));
    int64_t ran = 0;
    // Shards in reverse order, as array tasks may well finish.
    for (int64_t k = n - 1; k >= 0; --k) {
      const RunReport shard = Run(sweep, dir, Shard{k, n});
      CHECK(shard.in_shard == static_cast<int64_t>(ShardCells(Shard{k, n}, 12).size()));
      ran += shard.ran;
    }
    CHECK(ran == 12);
    const MergeResult merged = MergeSweep(dir);
    CHECK(ReadAll(dir + "/merged.csv") == ReadAll(whole + "/merged.csv"));
    CHECK(ReadAll(dir + "/merged.json") == ReadAll(whole + "/merged.json"));
    CHECK(ReadAll(dir + "/paired.csv") == ReadAll(whole + "/paired.csv"));
    CHECK(ReadAll(dir + "/grid.yaml") == ReadAll(whole + "/grid.yaml"));
    for (const Cell& cell : sweep.cells) CHECK(ReadAll(CellPath(dir, cell.id)) == ReadAll(CellPath(whole, cell.id)));
  }
  // The table has a row per cell and the paired comparisons a row per (rate, other router).
  const std::string csv = ReadAll(whole + "/merged.csv");
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 13);
  CHECK(csv.rfind("index,cell_id,rate_rps,router,seed,num_requests,completed,rejected,mean_reward_fraction,", 0) == 0);
  const std::string paired = ReadAll(whole + "/paired.csv");
  CHECK(paired.rfind("rate_rps,router,reference,metric,n,mean_difference,sd,t_quantile,ci95_low,ci95_high\n"
                     "1,dedicated:opt-6.7b,greedy,mean_reward_fraction,2,",
                     0) == 0);
  CHECK(std::count(paired.begin(), paired.end(), '\n') == 4);
}

TEST_CASE("common random numbers: cells that differ only in router see the identical arrivals", "[sweep][run][crn]") {
  const PreparedSweep sweep = Prepare(R"(fixed: {workload.duration_s: 20}
axes:
  seed: [5, 6]
  rate_rps: [6]
  router: [greedy, dedicated:opt-6.7b, static:opt-125m, threshold]
)");
  REQUIRE(sweep.cells.size() == 8);
  std::vector<CellRun> runs;
  for (const Cell& cell : sweep.cells) runs.push_back(RunCell(sweep, cell));
  const auto seed5 = Arrivals(Log(runs[0]));
  REQUIRE(seed5.size() > 100);  // about 6 rps x 20 s, plus the header
  for (int r = 1; r < 4; ++r) {
    INFO("router " << runs[static_cast<size_t>(r)].router);
    CHECK(Arrivals(Log(runs[static_cast<size_t>(r)])) == seed5);
    // ... while the routing, and so the outcome, differs.
    CHECK(Log(runs[static_cast<size_t>(r)]) != Log(runs[0]));
  }
  for (int r = 5; r < 8; ++r) CHECK(Arrivals(Log(runs[static_cast<size_t>(r)])) == Arrivals(Log(runs[4])));
  CHECK(Arrivals(Log(runs[4])) != seed5);  // another seed, other arrivals
}

TEST_CASE("a cell runs exactly the scenario its settings describe", "[sweep][run]") {
  const PreparedSweep sweep = Prepare(testing::kTinyGrid);
  const Cell& cell = sweep.cells[5];  // rate 4, greedy, seed 2
  const CellRun run = RunCell(sweep, cell);
  ScenarioOverrides overrides;
  overrides.seed = 2;
  overrides.rate_rps = 4;
  overrides.duration_s = 10;
  const Scenario direct = LoadScenario("", overrides);
  const auto expected = CompareRouters(direct, {"greedy"});
  CHECK(Log(run) == FormatRequestLog(expected.front().records, expected.front().model_names, direct.tasks));
  CHECK(run.router == "greedy");
  CHECK(run.scenario.seed == 2);
}

TEST_CASE("a failed cell is recorded and the sweep goes on; a rerun skips finished cells and retries it",
          "[sweep][run][resume]") {
  const PreparedSweep sweep = Prepare(testing::kTinyGrid);
  ScratchDir scratch("resume");
  const std::string dir = scratch.Path("out");
  const RunReport first = Run(sweep, dir, {}, 2, [](const Cell& cell) {
    if (cell.index == 3) throw Error("injected failure");
  });
  CHECK(first.ran == 12);
  CHECK(first.failed == 1);
  REQUIRE(first.failures.size() == 1);
  CHECK(first.failures[0].first->index == 3);
  const std::string error_file = CellErrorPath(dir, sweep.cells[3].id);
  CHECK(ReadAll(error_file).find("\"error\": \"injected failure\"") != std::string::npos);
  CHECK(testing::CountCellFiles(dir) == 11);

  const std::string missing = ErrorOf<Error>([&] { MergeSweep(dir); });
  CHECK(missing == fmt::format("{}: 1 of 12 cells missing (1 failed, 0 not run):\n  cell 3 {}: rate_rps=1, "
                               "router=dedicated:opt-6.7b, seed=2 -- failed: injected failure\nrerun `bestserve sweep run "
                               "GRID --out {}` (finished cells are skipped), or merge what is there with --allow-missing",
                               dir, sweep.cells[3].id, dir));
  CHECK(!std::filesystem::exists(dir + "/merged.csv"));
  MergeOptions allow;
  allow.allow_missing = true;
  const MergeResult partial = MergeSweep(dir, allow);
  CHECK(partial.status.done == 11);
  CHECK(ReadAll(dir + "/merged.json").find("\"error\": \"injected failure\"") != std::string::npos);

  const RunReport second = Run(sweep, dir);
  CHECK(second.already_done == 11);
  CHECK(second.ran == 1);
  CHECK(second.failed == 0);
  CHECK(!std::filesystem::exists(error_file));
  const RunReport third = Run(sweep, dir);
  CHECK(third.already_done == 12);
  CHECK(third.ran == 0);
  CHECK(MergeSweep(dir).status.missing.empty());
}

TEST_CASE("a folder of another grid is refused, and merge refuses cells of another grid", "[sweep][run][errors]") {
  const PreparedSweep a = Prepare(testing::kTinyGrid);
  std::string other_text = testing::kTinyGrid;
  other_text.replace(other_text.find("duration_s: 10"), 14, "duration_s: 11");
  const PreparedSweep b = Prepare(other_text);
  CHECK(a.grid_hash != b.grid_hash);
  CHECK(a.cells[0].id == b.cells[0].id);  // ids name the axes only; the hash tells the grids apart
  ScratchDir scratch("mixed");
  const std::string dir_a = scratch.Path("a");
  const std::string dir_b = scratch.Path("b");
  Run(a, dir_a, Shard{0, 4});
  CHECK(ErrorOf<ConfigError>([&] { Run(b, dir_a); }) ==
        fmt::format("{}/grid.yaml: this folder holds a sweep of another grid (grid hash {}; this grid 'tiny' has {}): "
                    "choose another --out, or delete the folder to start over",
                    dir_a, a.grid_hash, b.grid_hash));
  Run(b, dir_b, Shard{1, 4});
  // A cell of grid b dropped into a's folder (same id, other hash).
  const std::string id = b.cells[1].id;
  std::filesystem::copy_file(CellPath(dir_b, id), CellPath(dir_a, id));
  CHECK(ErrorOf<ConfigError>([&] { MergeSweep(dir_a); }) ==
        fmt::format("{}/cells: 1 cell file(s) come from another grid than {}/grid.yaml (grid hash {}): {}.json (grid "
                    "hash {}); refusing to mix grids: move them away or merge each grid's folder on its own",
                    dir_a, dir_a, a.grid_hash, id, b.grid_hash));
  // A cell file whose id is not in the grid at all.
  std::filesystem::copy_file(CellPath(dir_b, id), dir_a + "/cells/0123456789abcdef.json");
  CHECK(ErrorOf<ConfigError>([&] { MergeSweep(dir_a); }).find("2 cell file(s) come from another grid") != std::string::npos);
  CHECK(ErrorOf<ConfigError>([&] { MergeSweep(scratch.Path("nowhere")); }) ==
        fmt::format("{}: not a sweep folder (no grid.yaml); run `bestserve sweep run GRID --out {}` first",
                    scratch.Path("nowhere"), scratch.Path("nowhere")));
}

TEST_CASE("labels are part of the grid hash; the name and paired settings are not, and a rerun updates them",
          "[sweep][run]") {
  const std::string text = testing::kTinyGrid;
  auto with = [&text](const std::string& from, const std::string& to) {
    std::string t = text;
    t.replace(t.find(from), from.size(), to);
    return Prepare(t);
  };
  const PreparedSweep a = Prepare(text);
  CHECK(with("router: [greedy, dedicated:opt-6.7b]",
             "router: {values: [greedy, dedicated:opt-6.7b], labels: [g, big]}").grid_hash != a.grid_hash);
  CHECK(with("rate_rps: [1, 4, 12]", "workload.rate_rps: [1, 4, 12]").grid_hash != a.grid_hash);  // a column name
  const PreparedSweep renamed = with("name: tiny", "name: tiny\npaired: {reference: dedicated:opt-6.7b}");
  CHECK(renamed.grid_hash == a.grid_hash);
  ScratchDir scratch("relabel");
  const std::string dir = scratch.Path("out");
  Run(a, dir, {}, 2);
  CHECK(MergeSweep(dir).reference == "greedy");
  const RunReport rerun = Run(renamed, dir);
  CHECK(rerun.already_done == 12);
  CHECK(MergeSweep(dir).reference == "dedicated:opt-6.7b");
}

TEST_CASE("the manifest DIR/grid.yaml is itself a grid with the same cells and hash", "[sweep][run]") {
  const PreparedSweep sweep = Prepare(R"(fixed: {workload.duration_s: 5, router: threshold}
axes:
  rate_rps: {values: [2, 8], labels: [low, high]}
  workload.kind: [poisson]
  cluster.interference_factor: [0, 0.25]
)");
  ScratchDir scratch("manifest");
  const std::string dir = scratch.Path("out");
  InitSweepDir(sweep, dir);
  const PreparedSweep again = PrepareSweep(LoadGrid(ManifestPath(dir)));
  CHECK(again.grid_hash == sweep.grid_hash);
  REQUIRE(again.cells.size() == sweep.cells.size());
  for (size_t i = 0; i < sweep.cells.size(); ++i) CHECK(again.cells[i].id == sweep.cells[i].id);
  CHECK(CellLabel(again.grid, again.cells[3]) == "rate_rps=high, workload.kind=poisson, cluster.interference_factor=0.25");
  // No router axis: merged rows carry the fixed router in a `router` column, and no comparisons.
  Run(sweep, dir, {}, 2);
  const MergeResult merged = MergeSweep(dir);
  CHECK(merged.reference.empty());
  CHECK(merged.csv.rfind("index,cell_id,rate_rps,workload.kind,cluster.interference_factor,router,num_requests,", 0) == 0);
  CHECK(merged.csv.find(",low,poisson,0,threshold,") != std::string::npos);
  CHECK(!std::filesystem::exists(dir + "/paired.csv"));
}

}  // namespace bestserve::sweep
