// `bestserve sweep` end to end: bad grids fail before anything is written, kill -9 and rerun
// gives the table of an uninterrupted run, merge's exit codes, Slurm variables, plots.
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "tests/sweep/sweep_test_support.h"

namespace bestserve {
namespace {

using testing::ReadAll;
using testing::RunBestserve;
using testing::RunCommand;
using testing::ScratchDir;

struct BadGrid {
  const char* name;
  std::string grid;
  std::vector<std::string> expected;  // substrings of the output (the one error message)
};

}  // namespace

TEST_CASE("each bad grid gives one clear error, exit code 3, and writes nothing", "[sweep][cli][errors]") {
  ScratchDir scratch("bad_grids");
  scratch.Write("two_groups.yaml", R"(cluster:
  gpu_groups:
    - {count: 2, instances: [{model: opt-1.3b, memory_fraction: 1.0}]}
    - {count: 2, instances: [{model: opt-125m, memory_fraction: 1.0}]}
workload: {kind: poisson, rate_rps: 2, duration_s: 5}
)");
  const std::vector<BadGrid> cases = {
      {"unknown axis key", "axes:\n  rate: [1, 2]\n",
       {"grid.yaml:2:9: at 'axes.rate': unknown axis 'rate'; expected a shorthand (rate_rps, duration_s, seed, "
        "router, workload, profile, gpus, placement, reward) or a scenario key path starting with one of: name, "
        "seed, tasks, profile, models, cluster, deadline, workload, router, rate_estimator, metrics, oracle_view"}},
      {"unknown top-level key", "axis:\n  rate_rps: [1]\n",
       {"grid.yaml:1:1: at 'axis': unknown key 'axis'; valid keys here: name, base, fixed, axes, paired, notes"}},
      {"empty axis", "axes:\n  rate_rps: [1, 2]\n  router: []\n",
       {"grid.yaml:3:11: at 'axes.router': empty axis: expected at least one value"}},
      {"empty generated axis", "axes:\n  rate_rps: {linear: {start: 1, stop: 2, num: 0}}\n",
       {"grid.yaml:2:47: at 'axes.rate_rps.linear.num': empty axis: expected num >= 1 points, got 0"}},
      {"rate zero", "axes:\n  rate_rps: [1, 0]\n",
       {"grid.yaml:2:17: at 'axes.rate_rps[1]': expected an arrival rate > 0 requests/s, got 0"}},
      {"negative rate by key path", "axes:\n  workload.rate_rps: [-2]\n",
       {"grid.yaml:2:23: at 'axes.workload.rate_rps[0]': expected an arrival rate > 0 requests/s, got -2"}},
      {"negative rate in a linear range", "axes:\n  rate_rps: {linear: {start: -1, stop: 3, num: 3}}\n",
       {"grid.yaml:2:22: at 'axes.rate_rps.linear' (value 0): expected an arrival rate > 0 requests/s, got -1"}},
      {"fixed rate zero", "fixed: {rate_rps: 0}\n",
       {"grid.yaml:1:19: at 'fixed.rate_rps': expected an arrival rate > 0 requests/s, got 0"}},
      {"missing policy file", "axes:\n  router: [greedy, policy:no_such_policy.bin]\n",
       {"grid.yaml:2:20: at 'axes.router[1]': policy file 'no_such_policy.bin' not found next to the grid ("}},
      {"missing base", "base: no_such_scenario.yaml\naxes:\n  rate_rps: [1]\n",
       {"grid.yaml:1:7: at 'base': base scenario 'no_such_scenario.yaml' not found next to the grid ("}},
      {"duplicate value", "axes:\n  seed: [1, 2, 1]\n",
       {"grid.yaml:2:16: at 'axes.seed[2]': duplicate value 1 on axis 'seed' (also value 0)"}},
      {"unknown key inside a section", "fixed: {workload.duration_s: 5}\naxes:\n  workload.rat: [1]\n",
       {"grid.yaml: cell 0 of 1 (workload.rat=1): ", "at 'workload.rat': unknown key 'rat'; valid keys here:"}},
      {"unknown model of a dedicated router", "fixed: {workload.duration_s: 5}\naxes:\n  router: [greedy, dedicated:opt-99b]\n",
       {"grid.yaml: cell 1 of 2 (router=dedicated:opt-99b): ", "opt-99b"}},
      {"gpus shorthand on a two-group base", "base: two_groups.yaml\naxes:\n  gpus: [1, 2]\n",
       {"grid.yaml:3:9: at 'axes.gpus': the 'gpus' shorthand sets cluster.gpu_groups[0].count, but the base "
        "scenario", "has 2 GPU groups; name the group: cluster.gpu_groups[<i>].count"}},
  };
  for (const auto& c : cases) {
    INFO("case: " << c.name);
    const std::string grid = scratch.Write("grid.yaml", c.grid);
    const std::string out = scratch.Path(std::string("out_") + std::to_string(&c - cases.data()));
    const auto result = RunBestserve(fmt::format("sweep run {} --out {}", grid, out));
    INFO(result.output);
    CHECK(result.exit_code == 3);
    for (const auto& piece : c.expected) {
      CHECK(result.output.find(piece) != std::string::npos);
    }
    CHECK(result.output.rfind("error: ", 0) == 0);
    CHECK(std::count(result.output.begin(), result.output.end(), '\n') == 1);  // one message, one line
    CHECK(!std::filesystem::exists(out));
  }
  // Usage errors exit with 2.
  CHECK(RunBestserve("sweep").exit_code == 2);
  CHECK(RunBestserve("sweep run").exit_code == 2);
  const std::string good = scratch.Write("good.yaml", "axes: {rate_rps: [1]}\n");
  const auto shard = RunBestserve(fmt::format("sweep run {} --out {} --shard 2/2", good, scratch.Path("o")));
  CHECK(shard.exit_code == 3);
  CHECK(shard.output == "error: --shard '2/2': expected 0 <= K < N (shards are numbered 0 to 1), got K = 2\n");
  CHECK(!std::filesystem::exists(scratch.Path("o")));
}

TEST_CASE("kill -9 mid-way and rerun gives the same table as an uninterrupted run; the rerun skips finished cells",
          "[sweep][cli][resume]") {
  ScratchDir scratch("kill");
  // 240 cells of 30 simulated seconds: a few seconds on one worker.
  const std::string grid = scratch.Write("grid.yaml", R"(name: killme
fixed: {workload.duration_s: 30}
axes:
  rate_rps: {log: {start: 1, stop: 40, num: 12}}
  router: [greedy, threshold, dedicated:opt-1.3b, static:opt-125m]
  seed: {count: 5}
)");
  const std::string reference = scratch.Path("reference");
  const std::string killed = scratch.Path("killed");
  const auto full = RunBestserve(fmt::format("sweep run {} --out {} -j 2 -q", grid, reference));
  REQUIRE(full.exit_code == 0);
  REQUIRE(RunBestserve("sweep merge " + reference).exit_code == 0);

  const pid_t pid = testing::SpawnBestserve({"sweep", "run", grid, "--out", killed, "-j", "1"});
  REQUIRE(pid > 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (testing::CountCellFiles(killed) < 30 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  REQUIRE(::kill(pid, SIGKILL) == 0);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFSIGNALED(status));
  const int done_before = testing::CountCellFiles(killed);
  INFO("cells finished before the kill: " << done_before);
  REQUIRE(done_before >= 30);
  REQUIRE(done_before < 240);  // killed mid-way, not after the end
  // An interrupted sweep does not merge.
  const auto early = RunBestserve("sweep merge " + killed);
  CHECK(early.exit_code == 1);
  CHECK(early.output.find(fmt::format("of 240 cells missing (0 failed, {} not run)", 240 - done_before)) !=
        std::string::npos);

  const auto rerun = RunBestserve(fmt::format("sweep run {} --out {} -j 2", grid, killed));
  INFO(rerun.output);
  REQUIRE(rerun.exit_code == 0);
  CHECK(rerun.output.find(fmt::format("  {} already done (skipped), {} to run on 2 worker(s)", done_before,
                                      240 - done_before)) != std::string::npos);
  CHECK(rerun.output.find(fmt::format("ran {} cells in", 240 - done_before)) != std::string::npos);
  REQUIRE(RunBestserve("sweep merge " + killed).exit_code == 0);
  CHECK(ReadAll(killed + "/merged.csv") == ReadAll(reference + "/merged.csv"));
  CHECK(ReadAll(killed + "/merged.json") == ReadAll(reference + "/merged.json"));
  CHECK(ReadAll(killed + "/paired.csv") == ReadAll(reference + "/paired.csv"));
}

TEST_CASE("sweep merge, status and plot from the command line", "[sweep][cli]") {
  ScratchDir scratch("cli_merge");
  const std::string grid = scratch.Write("grid.yaml", testing::kTinyGrid);
  const std::string dir = scratch.Path("out");
  // The shorthand `sweep GRID`, shard by shard.
  for (int k = 0; k < 3; ++k) {
    const auto r = RunBestserve(fmt::format("sweep {} --out {} --shard {}/3 -q", grid, dir, k));
    REQUIRE(r.exit_code == 0);
    CHECK(r.output.find(fmt::format("  shard {}/3 (--shard): 4 cells", k)) != std::string::npos);
    if (k == 0) {
      const auto partial = RunBestserve("sweep status " + dir);
      CHECK(partial.exit_code == 0);
      CHECK(partial.output.find("12 cells: 4 done, 0 failed, 8 not run yet") != std::string::npos);
      const auto missing = RunBestserve("sweep merge " + dir);
      CHECK(missing.exit_code == 1);
      CHECK(missing.output.find("8 of 12 cells missing (0 failed, 8 not run):") != std::string::npos);
      const auto allowed = RunBestserve("sweep merge --allow-missing " + dir);
      CHECK(allowed.exit_code == 0);
      CHECK(allowed.output.find("warning: 8 cells missing (0 failed); listed in merged.json") != std::string::npos);
    }
  }
  const auto merged = RunBestserve("sweep merge " + dir);
  INFO(merged.output);
  CHECK(merged.exit_code == 0);
  CHECK(merged.output.find("merged 12 of 12 cells of 'tiny'") != std::string::npos);
  CHECK(merged.output.find("3 paired comparisons against 'greedy' (95% t intervals over seeds)") != std::string::npos);
  CHECK(RunBestserve("sweep merge --reference nope " + dir).exit_code == 3);
  CHECK(RunBestserve(fmt::format("sweep merge --reference dedicated:opt-6.7b {}", dir)).exit_code == 0);

  const auto plot = RunBestserve(fmt::format("sweep plot {} --out {}", dir, scratch.Path("p.png")));
  INFO(plot.output);
  CHECK(plot.exit_code == 0);
  CHECK(std::filesystem::file_size(scratch.Path("p.png")) > 10000);
  CHECK(RunBestserve("sweep plot " + scratch.Path("nothing_here")).exit_code == 2);  // not a folder: usage
}

TEST_CASE("inside a Slurm array job, run takes its shard from the environment", "[sweep][cli][slurm]") {
  ScratchDir scratch("slurm_env");
  const std::string grid = scratch.Write("grid.yaml", testing::kTinyGrid);
  const auto r = RunCommand(fmt::format("env SLURM_ARRAY_TASK_ID=3 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_MAX=4 "
                                      "SLURM_ARRAY_TASK_COUNT=4 {} sweep run {} --dry-run",
                                      BESTSERVE_BINARY, grid));
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(r.output.find("  shard 2/4 (Slurm array task 3): 3 cells\n") != std::string::npos);
  CHECK(r.output.find("  cell 2 ") != std::string::npos);
  CHECK(r.output.find("  cell 6 ") != std::string::npos);
  CHECK(r.output.find("  cell 10 ") != std::string::npos);
  CHECK(r.output.find("  cell 3 ") == std::string::npos);
  // --shard wins over the environment.
  const auto flag = RunCommand(fmt::format("env SLURM_ARRAY_TASK_ID=0 SLURM_ARRAY_TASK_COUNT=4 {} sweep run {} --dry-run "
                                         "--shard 1/2",
                                         BESTSERVE_BINARY, grid));
  CHECK(flag.output.find("  shard 1/2 (--shard): 6 cells\n") != std::string::npos);
  const auto holes = RunCommand(fmt::format("env SLURM_ARRAY_TASK_ID=5 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_MAX=9 "
                                          "SLURM_ARRAY_TASK_COUNT=3 {} sweep run {} --dry-run",
                                          BESTSERVE_BINARY, grid));
  CHECK(holes.exit_code == 3);
}

}  // namespace bestserve

namespace bestserve {

TEST_CASE("a policy file on the router axis runs, is found next to the grid, and its bytes are part of the grid hash",
          "[sweep][cli][policy]") {
  ScratchDir scratch("policy");
  const std::string train_config = std::string(BESTSERVE_SOURCE_DIR) + "/experiments/train/paper_hard.yaml";
  if (!std::filesystem::exists(train_config)) {
    WARN("no " << train_config << ": `bestserve train` is not in this tree yet; skipped");
    return;
  }
  // A tiny (useless, but valid) policy: what matters here is the file, not its quality.
  const auto train = RunBestserve(fmt::format("train --config {} --out {} --iterations 300", train_config,
                                              scratch.Path("train")));
  INFO(train.output);
  REQUIRE(train.exit_code == 0);
  std::filesystem::copy_file(scratch.Path("train/best.bsw"), scratch.Path("pol.bsw"));
  const std::string grid = scratch.Write("grid.yaml", R"(fixed: {workload.duration_s: 5}
axes:
  rate_rps: [2]
  router: [greedy, policy:pol.bsw]
  seed: {count: 2}
)");
  const std::string dir = scratch.Path("out");
  // Run from elsewhere: the relative policy path is found next to the grid.
  const auto run = RunCommand(fmt::format("cd / && {} sweep run {} --out {} -q", BESTSERVE_BINARY, grid, dir));
  INFO(run.output);
  REQUIRE(run.exit_code == 0);
  const auto merged = RunBestserve("sweep merge " + dir);
  CHECK(merged.exit_code == 0);
  CHECK(ReadAll(dir + "/paired.csv").find("\n2,policy:pol.bsw,greedy,mean_reward_fraction,2,") != std::string::npos);
  // Another policy in the same file: another grid, refused in this folder.
  std::ofstream(scratch.Path("pol.bsw"), std::ios::app) << "x";
  const auto changed = RunBestserve(fmt::format("sweep run {} --out {} -q", grid, dir));
  CHECK(changed.exit_code != 0);
  const auto again = RunBestserve(fmt::format("train --config {} --out {} --iterations 300 --seed 7", train_config,
                                              scratch.Path("train7")));
  REQUIRE(again.exit_code == 0);
  REQUIRE(ReadAll(scratch.Path("train7/best.bsw")) != ReadAll(scratch.Path("train/best.bsw")));
  std::filesystem::copy_file(scratch.Path("train7/best.bsw"), scratch.Path("pol.bsw"),
                             std::filesystem::copy_options::overwrite_existing);
  const auto retrained = RunBestserve(fmt::format("sweep run {} --out {} -q", grid, dir));
  CHECK(retrained.exit_code == 3);
  CHECK(retrained.output.find("this folder holds a sweep of another grid") != std::string::npos);
}

}  // namespace bestserve
