// A resumed sweep reuses only cell files that are whole results of its grid: a truncated cell,
// or one whose metric is not a number, is counted missing by status and merge and recomputed
// by the next run, after which the merged table equals an undamaged run's.
#include <catch2/catch.hpp>

#include <filesystem>

#include "common/files.h"
#include "sweep/merge.h"
#include "sweep/runner.h"
#include "tests/sweep/sweep_test_support.h"

namespace bestserve::sweep {

TEST_CASE("a truncated or non-numeric cell file is never reused: merge counts it missing, run recomputes it",
          "[sweep][run][resume][reliability]") {
  const PreparedSweep sweep = PrepareSweep(ParseGrid(ConfigNode::LoadString(testing::kTinyGrid, "grid.yaml"), ""));
  testing::ScratchDir scratch("cell_verify");
  const std::string dir = scratch.Path("out");
  RunOptions options;
  options.out_dir = dir;
  REQUIRE(RunSweep(sweep, options).ran == 12);
  const std::string intact = MergeSweep(dir).csv;

  // Cell 2 cut in half (a copy interrupted by a full disk); cell 5 with a word for a number.
  const std::string truncated_path = CellPath(dir, sweep.cells[2].id);
  const std::string truncated = ReadFile(truncated_path);
  WriteFileAtomically(truncated_path, truncated.substr(0, truncated.size() / 2));
  const std::string edited_path = CellPath(dir, sweep.cells[5].id);
  std::string edited = ReadFile(edited_path);
  const size_t metrics = edited.find("\"metrics\": {");
  REQUIRE(metrics != std::string::npos);
  const size_t value = edited.find(": ", metrics + 12) + 2;
  edited.replace(value, edited.find_first_of(",\n", value) - value, "\"fast\"");
  WriteFileAtomically(edited_path, edited);
  CHECK(CellFileProblem(truncated_path, sweep.grid_hash, sweep.cells[2].id).has_value());
  const auto problem = CellFileProblem(edited_path, sweep.grid_hash, sweep.cells[5].id);
  REQUIRE(problem.has_value());
  CHECK_THAT(*problem, Catch::Contains("is 'fast', expected a number or null"));
  CHECK_FALSE(CellFileProblem(CellPath(dir, sweep.cells[0].id), sweep.grid_hash, sweep.cells[0].id).has_value());

  const SweepStatus status = ReadSweepStatus(dir);
  REQUIRE(status.missing.size() == 2);
  CHECK(status.missing[0].index == 2);
  CHECK_THAT(status.missing[0].error, Catch::Contains("damaged cell file"));
  CHECK(status.missing[1].index == 5);
  CHECK_THROWS_WITH(MergeSweep(dir), Catch::Contains("2 of 12 cells missing"));

  const RunReport rerun = RunSweep(sweep, options);
  CHECK(rerun.already_done == 10);
  CHECK(rerun.ran == 2);
  CHECK(ReadFile(truncated_path) == truncated);
  CHECK(MergeSweep(dir).csv == intact);
}

}  // namespace bestserve::sweep
