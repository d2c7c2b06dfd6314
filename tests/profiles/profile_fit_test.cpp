// The fit step: exact at measured points (a hand-written CSV with known values), the prefill
// mappings, monotonicity warnings and the explicit repair, incomplete grids, co-location ratios
// and the leave-one-out check.
#include "profiles/tools/profile_fit.h"

#include <catch2/catch.hpp>
#include <string>

#include "sim/latency_profile.h"
#include "tests/profiles/test_support.h"

namespace bestserve::profiling {
namespace {

using testing::DataPath;
using testing::ReadText;

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  const auto pos = text.find(from);
  REQUIRE(pos != std::string::npos);
  return text.replace(pos, from.size(), to);
}

FitResult Fit(const std::string& csv, const FitOptions& options = {}) {
  return FitProfileSet(ParseRawCsv(csv, "exact.csv"),
                       LoadProvenance(DataPath("exact_provenance.json")), options);
}

ProfileSet Load(const FitResult& fit) {
  return ProfileSet::Parse(ConfigNode::LoadString(fit.yaml, "fit.yaml"));
}

const ModelProfile& Model(const ProfileSet& set) { return set.Find("m1")->model(); }

std::string FitError(const std::string& csv, const FitOptions& options = {}) {
  try {
    Fit(csv, options);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("the fitted tables equal the measured medians exactly", "[profiling][fit]") {
  const FitResult fit = Fit(ReadText(DataPath("exact.csv")));
  const ProfileSet set = Load(fit);
  CHECK(set.provenance_kind == "measured");
  CHECK(set.gpu_name == "fixture-gpu (hand-written test data)");
  CHECK(set.gpu_memory_bytes == 25769803776.0);
  const ModelProfile& m = Model(set);
  CHECK(m.weight_bytes == 1024);  // the allocator's figure wins over the computed 1000
  CHECK(m.kv_bytes_per_token == 10);
  CHECK(m.activation_reserve_bytes == 2048);
  CHECK(m.parameters == 500);
  CHECK(m.max_batch_size == 16);
  CHECK(m.max_context_tokens == 1024);
  CHECK(m.decode_step_ms.xs() == std::vector<double>{1, 4, 16});
  CHECK(m.decode_step_ms.ys() == std::vector<double>{1, 256, 1024});
  CHECK(m.decode_step_ms.values() ==
        std::vector<double>{5.5, 6.25, 7.125, 6.5, 8.0625, 11.75, 10.1, 16.5, 30.333333333333332});
  // 1 x 128 (9.000001 ms) and 2 x 64 (8.5 ms) are both 128 tokens: the default keeps the max.
  CHECK(m.prefill_ms.xs() == std::vector<double>{1, 16, 128, 512});
  CHECK(m.prefill_ms.ys() == std::vector<double>{4.0, 4.5, 9.000001, 20.123456789});
}

TEST_CASE("profile lookups at measured points return the measured medians", "[profiling][fit]") {
  const ProfileSet set = Load(Fit(ReadText(DataPath("exact.csv"))));
  const LatencyProfile& p = *set.Find("m1");
  // Bilinear lookups are exact at grid points, including the last row and column.
  const int batches[] = {1, 4, 16};
  const double contexts[] = {1, 256, 1024};
  const double values[3][3] = {
      {5.5, 6.25, 7.125}, {6.5, 8.0625, 11.75}, {10.1, 16.5, 30.333333333333332}};
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      INFO("batch " << batches[i] << " context " << contexts[j]);
      CHECK(p.DecodeStepSeconds(batches[i], contexts[j]) == values[i][j] * 1e-3);
    }
  }
  CHECK(p.PrefillSeconds(1) == 4.0 * 1e-3);
  CHECK(p.PrefillSeconds(16) == 4.5 * 1e-3);
  CHECK(p.PrefillSeconds(128) == 9.000001 * 1e-3);
  CHECK(p.PrefillSeconds(512) == 20.123456789 * 1e-3);
}

TEST_CASE("the fit report states exactness, collisions, leave-one-out and co-location",
          "[profiling][fit]") {
  const FitResult fit = Fit(ReadText(DataPath("exact.csv")));
  const std::string& r = fit.report;
  CHECK_THAT(
      r, Catch::Contains("decode_step_ms: 3 batch sizes [1, 4, 16] x 3 contexts [1, 256, 1024]; "
                         "medians of the measured points, exact at all 9"));
  CHECK_THAT(r, Catch::Contains(
                    "prefill_ms: 4 token counts [1, 16, 128, 512] from 5 measured (batch x prompt) "
                    "points, mapping max; exact at 4 of them"));
  CHECK_THAT(r,
             Catch::Contains("several compositions, one total: 128 tokens: 1 x 128 = 9.000001 ms, "
                             "2 x 64 = 8.5 ms -> 9.000001 ms (max); spread 5.9%"));
  CHECK_THAT(r, Catch::Contains("not measured: 1 skipped_token_cap"));
  CHECK_THAT(r, Catch::Contains("along batch: 3 points"));
  CHECK_THAT(r, Catch::Contains("along context: 3 points"));
  CHECK_THAT(r, Catch::Contains("along tokens: 2 points"));
  CHECK_THAT(r, Catch::Contains("monotone: non-decreasing in batch size and in context"));
  CHECK_THAT(
      r, Catch::Contains("m1 (batch 4, context 256) with m2 (batch 4, context 256): 8.0625 ms -> "
                         "12.09375 ms, ratio 1.500"));
  CHECK_THAT(r, Catch::Contains("median interference_factor: 0.500"));
  CHECK(fit.warnings == 0);
  REQUIRE(fit.colocation.size() == 1);
  CHECK(fit.colocation[0].ratio() == 1.5);
  CHECK_THAT(fit.yaml, Catch::Contains("interference_factor: 0.5 "));
  CHECK_THAT(fit.yaml, Catch::Contains("kind: measured"));
  CHECK_THAT(fit.yaml,
             Catch::Contains("command: \"hand-written test fixture (not a measurement)\""));
}

TEST_CASE("the prefill mapping is explicit: batch1 and mean", "[profiling][fit]") {
  const std::string csv = ReadText(DataPath("exact.csv"));
  FitOptions options;
  options.prefill_mapping = PrefillMapping::kBatchOne;
  ProfileSet set = Load(Fit(csv, options));
  CHECK(Model(set).prefill_ms.xs() == std::vector<double>{1, 16, 128});
  CHECK(Model(set).prefill_ms.ys() == std::vector<double>{4.0, 4.5, 9.000001});
  options.prefill_mapping = PrefillMapping::kMean;
  const FitResult fit = Fit(csv, options);
  set = Load(fit);
  CHECK(Model(set).prefill_ms.ys() ==
        std::vector<double>{4.0, 4.5, (9.000001 + 8.5) / 2, 20.123456789});
  CHECK_THAT(fit.report, Catch::Contains("mapping mean; exact at 3 of them"));
  CHECK_THAT(fit.yaml, Catch::Contains("prefill_mapping: mean"));
}

TEST_CASE("a decrease is a warning and the values stay unless the repair is asked for",
          "[profiling][fit]") {
  // Batch 4 at context 1024 now takes less than at context 256.
  const std::string csv =
      Replace(ReadText(DataPath("exact.csv")), "m1,decode,ok,4,1024,0,,0,0,ms,3,11.75,11.7,11.8",
              "m1,decode,ok,4,1024,0,,0,0,ms,3,8.0,7.9,8.1");
  FitResult fit = Fit(csv);
  CHECK_THAT(
      fit.report,
      Catch::Contains("WARNING: decode_step_ms decreases with context at batch 4: 8.0625 ms "
                      "(context 256) -> 8 ms (context 1024), -0.8%; within the p10-p90 spread"));
  CHECK(fit.warnings == 1);
  CHECK(fit.repairs.empty());
  CHECK(Model(Load(fit)).decode_step_ms.values()[5] == 8.0);

  FitOptions options;
  options.monotone_repair = true;
  fit = Fit(csv, options);
  REQUIRE(fit.repairs.size() == 1);
  CHECK(fit.repairs[0] ==
        "m1 decode_step_ms (batch 4, context 1024): 8 -> 8.0625 ms (running maximum)");
  CHECK_THAT(
      fit.report,
      Catch::Contains("repaired: m1 decode_step_ms (batch 4, context 1024): 8 -> 8.0625 ms"));
  CHECK_THAT(fit.yaml, Catch::Contains("monotone_repair: true"));
  CHECK_THAT(
      fit.yaml,
      Catch::Contains(
          "- \"m1 decode_step_ms (batch 4, context 1024): 8 -> 8.0625 ms (running maximum)\""));
  const ProfileSet set = Load(fit);  // kept alive: m refers into it
  const ModelProfile& m = Model(set);
  CHECK(m.decode_step_ms.values()[5] == 8.0625);
  CHECK(m.decode_step_ms.values()[8] == 30.333333333333332);  // untouched elsewhere
}

TEST_CASE("an incomplete decode grid is refused unless rows or columns are dropped explicitly",
          "[profiling][fit]") {
  const std::string csv =
      Replace(ReadText(DataPath("exact.csv")),
              "m1,decode,ok,16,1024,0,,0,0,ms,3,30.333333333333332,30.2,30.4,30.3,30.2,30.4,"
              "cuda-events,30.2;30.333333333333332;30.4",
              "m1,decode,skipped_memory,16,1024,0,,0,0,ms,0,,,,,,,,");
  CHECK(FitError(csv) ==
        "exact.csv: the decode grid of 'm1' is incomplete: 1 of 9 batch x context cells have no "
        "measurement: "
        "(batch 16, context 1024: skipped_memory); the simulator's table needs every cell. Profile "
        "a grid "
        "whose cells all fit in memory, or pass --incomplete-grid drop-batches (or drop-contexts) "
        "to keep "
        "only the complete rows (columns)");
  FitOptions options;
  options.incomplete_grid = IncompleteGrid::kDropBatches;
  FitResult fit = Fit(csv, options);
  CHECK(fit.dropped == std::vector<std::string>{
                           "m1: dropped decode batch size 16 (1 cells without a measurement)"});
  ProfileSet set = Load(fit);
  CHECK(Model(set).decode_step_ms.xs() == std::vector<double>{1, 4});
  CHECK(Model(set).max_batch_size == 4);
  options.incomplete_grid = IncompleteGrid::kDropContexts;
  set = Load(Fit(csv, options));
  CHECK(Model(set).decode_step_ms.ys() == std::vector<double>{1, 256});
  CHECK(Model(set).max_batch_size == 16);
}

TEST_CASE("leave-one-out predicts interior points from their neighbours", "[profiling][fit]") {
  const auto points = LeaveOneOut({0, 1, 2, 4}, {1, 3, 2, 2});
  REQUIRE(points.size() == 2);
  CHECK(points[0].index == 1);
  CHECK(points[0].predicted == 1.5);
  CHECK(points[0].relative_error == 0.5);
  CHECK(points[1].index == 2);
  CHECK(points[1].predicted == Approx(3 + (2.0 - 1.0) / 3.0 * (2 - 3)));
  CHECK(LeaveOneOut({1, 2}, {1, 2}).empty());
  // Linear data is predicted exactly.
  for (const auto& p : LeaveOneOut({1, 2, 4, 8}, {3, 5, 9, 17})) CHECK(p.relative_error == 0.0);
}

TEST_CASE("the default set name is the output folder's name", "[profiling][fit]") {
  CHECK(DefaultSetName("profiles/h100/profile.yaml") == "h100");
  CHECK(DefaultSetName("profile.yaml") == "measured");
}

}  // namespace bestserve::profiling
