// `bestserve reproduce` killed with SIGKILL at several points (mid-training, between the
// policy and the experiments, mid-experiment), resumed each time, ends with the same outputs as
// an uninterrupted run; a failed figure run leaves no REPORT.md linking missing figures.
#include <catch2/catch.hpp>

#include <filesystem>
#include <functional>
#include <map>
#include <vector>

#include "tests/reproduce/reproduce_test_support.h"

namespace bestserve::testing {
namespace {

namespace fs = std::filesystem;

// 6,000 iterations with a checkpoint every 500: a few seconds, several checkpoints to land in.
const char* kTraining = R"(name: crash
seed: 1
scenario: experiments/scenarios/paper_4gpu.yaml
training_workload: {kind: unpredictable2, num_requests: 300, min_rate_rps: 0.25, max_rate_rps: 48}
episode_requests: 300
learner: {iterations: 6000, batch_size: 32, learning_starts: 500, replay_capacity: 5000, hidden_sizes: [16],
          checkpoint_every_iterations: 500, progress_every_iterations: 500}
validation: {workload: {kind: unpredictable1, num_requests: 200}, seeds: [7], requests: 200}
)";

// Every output file but run.json (it holds timings), by path.
std::map<std::string, std::string> Outputs(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    const std::string rel = fs::relative(entry.path(), dir).string();
    if (entry.is_regular_file() && rel != "run.json") files[rel] = ReadAll(entry.path().string());
  }
  return files;
}

bool AnyFileNamed(const std::string& dir, const std::string& name) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->path().filename() == name) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("reproduce killed mid-training, after training and mid-experiment resumes to the same outputs",
          "[reproduce][crash]") {
  ScratchDir dir("crash_reproduce");
  dir.Write("hard.yaml", kTraining);
  const std::string plan = WriteRateSweepPlan(dir, "  - {label: policy, router: \"trained:hard\"}\n  - {label: greedy, router: greedy}\n",
                                              "  - {id: fig2, kind: performance, title: t}\n", "", "",
                                              "  hard: {train: hard.yaml}\n");
  const auto reference = RunBestserve(fmt::format("reproduce --plan {} --no-plots -j 1 --out {} --cache {}", plan,
                                                  dir.Path("reference"), dir.Path("reference_cache")));
  INFO(reference.output);
  REQUIRE(reference.exit_code == 0);

  const std::string out = dir.Path("out");
  const std::string cache = dir.Path("cache");
  const std::vector<std::string> args = {"reproduce", "--plan", plan, "--no-plots", "-j", "1", "--out", out, "--cache", cache};
  const std::vector<std::pair<const char*, std::function<bool()>>> points = {
      {"first checkpoint", [&] { return AnyFileNamed(cache, "checkpoint.bsc"); }},
      {"a best policy", [&] { return AnyFileNamed(cache, "best.bsw"); }},
      {"policy cached", [&] { return AnyFileNamed(cache, "cache.json"); }},
  };
  int kills = 0;
  for (const auto& [name, ready] : points) {
    INFO("kill point: " << name);
    kills += RunBestserveAndKillWhen(args, ready) ? 1 : 0;
  }
  CHECK(kills >= 2);
  const auto finish = RunBestserve(fmt::format("reproduce --plan {} --no-plots -j 1 --out {} --cache {}", plan, out, cache));
  INFO(finish.output);
  REQUIRE(finish.exit_code == 0);
  const auto expected = Outputs(dir.Path("reference"));
  CHECK(expected.count("REPORT.md") == 1);
  CHECK(Outputs(out) == expected);
}

TEST_CASE("a figure run that fails leaves no REPORT.md behind", "[reproduce][crash]") {
  ScratchDir dir("failed_figures");
  const std::string plan = WriteRateSweepPlan(dir, "  - {label: greedy, router: greedy}\n",
                                              "  - {id: fig2, kind: performance, title: t}\n", "");
  const auto result = RunBestserve(fmt::format("reproduce --plan {} --python /bin/false -j 1 --out {} --cache {}", plan,
                                               dir.Path("out"), dir.Path("cache")));
  INFO(result.output);
  CHECK(result.exit_code == 1);
  CHECK_THAT(result.output, Catch::Contains("REPORT.md is not"));
  CHECK(fs::exists(dir.Path("out/data/fig2_performance.csv")));
  CHECK_FALSE(fs::exists(dir.Path("out/REPORT.md")));
}

}  // namespace bestserve::testing
