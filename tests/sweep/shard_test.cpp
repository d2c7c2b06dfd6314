// Shards: K/N parsing, disjoint covering balanced slices, the Slurm array environment.
#include <catch2/catch.hpp>

#include <map>

#include "common/error.h"
#include "sweep/shard.h"

namespace bestserve::sweep {
namespace {

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("--shard K/N parses 0-based shards and refuses the rest with the reason", "[sweep][shard]") {
  CHECK(ParseShard("0/1").ToString() == "0/1");
  CHECK(ParseShard("3/4").index == 3);
  CHECK(ParseShard("3/4").count == 4);
  CHECK(ErrorOf([] { ParseShard("4/4"); }) ==
        "--shard '4/4': expected 0 <= K < N (shards are numbered 0 to 3), got K = 4");
  CHECK(ErrorOf([] { ParseShard("1/0"); }) == "--shard '1/0': expected N >= 1 shards, got 0");
  CHECK(ErrorOf([] { ParseShard("2"); }) == "--shard '2': expected K/N, e.g. 0/4 (shards are numbered 0 to N-1)");
  CHECK(ErrorOf([] { ParseShard("a/3"); }) == "--shard 'a/3': expected K/N, e.g. 0/4 (shards are numbered 0 to N-1)");
  CHECK(ErrorOf([] { ParseShard("-1/3"); }).find("expected 0 <= K < N") != std::string::npos);
}

TEST_CASE("shards are disjoint, cover every cell and differ in size by at most one", "[sweep][shard]") {
  for (int64_t n = 1; n <= 5; ++n) {
    for (int64_t cells = 0; cells <= 23; ++cells) {
      std::vector<int> owner(static_cast<size_t>(cells), 0);
      size_t smallest = SIZE_MAX;
      size_t largest = 0;
      for (int64_t k = 0; k < n; ++k) {
        const Shard shard{k, n};
        const auto slice = ShardCells(shard, cells);
        smallest = std::min(smallest, slice.size());
        largest = std::max(largest, slice.size());
        for (int64_t i : slice) {
          REQUIRE(shard.Holds(i));
          ++owner[static_cast<size_t>(i)];
        }
        CHECK(std::is_sorted(slice.begin(), slice.end()));
      }
      for (int count : owner) CHECK(count == 1);
      CHECK(largest - smallest <= 1);
    }
  }
}

TEST_CASE("inside a Slurm array job the shard comes from the array's environment", "[sweep][shard][slurm]") {
  CHECK(!ShardFromSlurmEnv(Env({})).has_value());
  CHECK(!ShardFromSlurmEnv(Env({{"SLURM_JOB_ID", "7"}})).has_value());
  // --array=0-3
  auto s = ShardFromSlurmEnv(
      Env({{"SLURM_ARRAY_TASK_ID", "2"}, {"SLURM_ARRAY_TASK_MIN", "0"}, {"SLURM_ARRAY_TASK_MAX", "3"},
           {"SLURM_ARRAY_TASK_COUNT", "4"}}));
  REQUIRE(s);
  CHECK(s->ToString() == "2/4");
  // --array=1-4, COUNT absent: N from MIN/MAX
  s = ShardFromSlurmEnv(Env({{"SLURM_ARRAY_TASK_ID", "1"}, {"SLURM_ARRAY_TASK_MIN", "1"}, {"SLURM_ARRAY_TASK_MAX", "4"}}));
  REQUIRE(s);
  CHECK(s->ToString() == "0/4");
  // --array=0-6:2
  s = ShardFromSlurmEnv(Env({{"SLURM_ARRAY_TASK_ID", "6"}, {"SLURM_ARRAY_TASK_MIN", "0"}, {"SLURM_ARRAY_TASK_MAX", "6"},
                             {"SLURM_ARRAY_TASK_STEP", "2"}, {"SLURM_ARRAY_TASK_COUNT", "4"}}));
  REQUIRE(s);
  CHECK(s->ToString() == "3/4");
  // ID and COUNT only (MIN taken as 0)
  s = ShardFromSlurmEnv(Env({{"SLURM_ARRAY_TASK_ID", "0"}, {"SLURM_ARRAY_TASK_COUNT", "1"}}));
  REQUIRE(s);
  CHECK(s->ToString() == "0/1");

  CHECK(ErrorOf([] {
          ShardFromSlurmEnv(Env({{"SLURM_ARRAY_TASK_ID", "7"}, {"SLURM_ARRAY_TASK_MIN", "1"},
                                 {"SLURM_ARRAY_TASK_MAX", "7"}, {"SLURM_ARRAY_TASK_COUNT", "3"}}));
        }) == "Slurm array with holes (SLURM_ARRAY_TASK_MIN=1, MAX=7, STEP=1, COUNT=3): shards need a contiguous "
              "range such as --array=0-2; or pass --shard K/N");
  CHECK(ErrorOf([] { ShardFromSlurmEnv(Env({{"SLURM_ARRAY_TASK_ID", "x"}})); }) ==
        "SLURM_ARRAY_TASK_ID='x': expected an integer");
  CHECK(ErrorOf([] { ShardFromSlurmEnv(Env({{"SLURM_ARRAY_TASK_ID", "3"}})); }) ==
        "SLURM_ARRAY_TASK_ID=3 is set but neither SLURM_ARRAY_TASK_COUNT nor SLURM_ARRAY_TASK_MAX is: cannot tell "
        "the number of shards; pass --shard K/N");
  CHECK(ErrorOf([] {
          ShardFromSlurmEnv(Env({{"SLURM_ARRAY_TASK_ID", "4"}, {"SLURM_ARRAY_TASK_COUNT", "4"}}));
        }) == "SLURM_ARRAY_TASK_ID=4 gives shard 4 of 4: out of range (MIN=0, STEP=1)");
}

}  // namespace bestserve::sweep
