// Crash safety: `bestserve train` and `bestserve sweep run` killed with SIGKILL at several
// points, each time resumed, end with the same bytes as an uninterrupted run.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <vector>

#include "tests/apps/cli_helpers.h"

namespace bestserve {
namespace {

namespace fs = std::filesystem;
using testing::ReadAll;
using testing::RunBestserve;
using testing::RunBestserveAndKillWhen;

// A tiny training run with a checkpoint every 250 of 3,000 iterations (a few seconds).
const char* kTraining = R"(name: crash
seed: 5
training_workload: {kind: unpredictable2, num_requests: 300, min_rate_rps: 0.5, max_rate_rps: 40, segment_mean_requests: 50}
episode_requests: 300
learner: {iterations: 3000, learning_starts: 200, batch_size: 32, hidden_sizes: [16], checkpoint_every_iterations: 250,
          eval_every_iterations: 500, progress_every_iterations: 500, curve_every_iterations: 100}
validation: {requests: 150, seeds: [11]}
)";

int64_t CurveRows(const std::string& run) {
  const std::string curve = ReadAll(run + "/curve.csv");
  return static_cast<int64_t>(std::count(curve.begin(), curve.end(), '\n'));
}

}  // namespace

TEST_CASE("train killed at several points and resumed each time ends byte-identical to an uninterrupted run",
          "[apps][crash][train]") {
  testing::ScratchDir dir("crash_train");
  const std::string config = dir.Write("train.yaml", kTraining);
  const std::string straight = dir.Path("straight");
  const std::string killed = dir.Path("killed");
  const auto reference = RunBestserve(fmt::format("train --config {} --out {}", config, straight));
  INFO(reference.output);
  REQUIRE(reference.exit_code == 0);

  // Kill points: before anything is written; as soon as the run folder's config exists; at the
  // first checkpoint; with the curve past iteration 1000; once a best policy was saved; past 2000.
  const std::vector<std::pair<const char*, std::function<bool()>>> points = {
      {"at start", [] { return true; }},
      {"config written", [&] { return fs::exists(killed + "/config.yaml"); }},
      {"first checkpoint", [&] { return fs::exists(killed + "/checkpoint.bsc"); }},
      {"curve past 1000", [&] { return fs::exists(killed + "/curve.csv") && CurveRows(killed) > 11; }},
      {"best policy saved", [&] { return fs::exists(killed + "/best.bsw"); }},
      {"curve past 2000", [&] { return fs::exists(killed + "/curve.csv") && CurveRows(killed) > 21; }},
  };
  int kills = 0;
  for (const auto& [name, ready] : points) {
    INFO("kill point: " << name);
    if (fs::exists(killed + "/run.json")) break;  // already finished
    std::vector<std::string> args = {"train", "--config", config, "--out", killed};
    if (fs::exists(killed)) args.push_back("--resume");
    kills += RunBestserveAndKillWhen(args, ready) ? 1 : 0;
  }
  CHECK(kills >= 3);
  const auto finish = RunBestserve(fmt::format("train --config {} --out {} --resume", config, killed));
  INFO(finish.output);
  REQUIRE(finish.exit_code == 0);
  for (const char* file : {"final.bsw", "best.bsw", "curve.csv", "run.json", "config.yaml", "scenario.yaml"}) {
    INFO(file);
    const std::string expected = ReadAll(straight + "/" + file);
    CHECK_FALSE(expected.empty());
    CHECK(ReadAll(killed + "/" + file) == expected);
  }
}

TEST_CASE("sweep run killed at several points and rerun each time merges to the uninterrupted table",
          "[apps][crash][sweep]") {
  testing::ScratchDir dir("crash_sweep");
  const std::string grid = dir.Write("grid.yaml", R"(name: crash
fixed: {workload.duration_s: 20}
axes:
  rate_rps: {log: {start: 1, stop: 40, num: 8}}
  router: [greedy, threshold, dedicated:opt-1.3b]
  seed: {count: 4}
)");
  const std::string reference = dir.Path("reference");
  const std::string killed = dir.Path("killed");
  REQUIRE(RunBestserve(fmt::format("sweep run {} --out {} -j 2 -q", grid, reference)).exit_code == 0);
  REQUIRE(RunBestserve("sweep merge " + reference).exit_code == 0);

  auto cells = [&] {
    std::error_code ec;
    int n = 0;
    for (const auto& entry : fs::directory_iterator(killed + "/cells", ec)) n += entry.path().extension() == ".json";
    return n;
  };
  int kills = 0;
  for (int after_cells : {0, 10, 40, 70}) {
    kills += RunBestserveAndKillWhen({"sweep", "run", grid, "--out", killed, "-j", "1", "-q"},
                                     [&] { return cells() >= after_cells; })
                 ? 1
                 : 0;
  }
  CHECK(kills >= 3);
  REQUIRE(RunBestserve(fmt::format("sweep run {} --out {} -j 2 -q", grid, killed)).exit_code == 0);
  REQUIRE(RunBestserve("sweep merge " + killed).exit_code == 0);
  for (const char* file : {"merged.csv", "merged.json", "paired.csv"}) {
    INFO(file);
    CHECK(ReadAll(killed + "/" + file) == ReadAll(reference + "/" + file));
  }
}

}  // namespace bestserve
