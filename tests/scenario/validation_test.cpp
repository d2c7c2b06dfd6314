// `bestserve validate`: the readers of measured runs (with errors that name file and record)
// and, when ../shared is present, the calibrated fidelity scenario against vLLM's measurements.
#include "scenario/validation.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include "common/files.h"

namespace bestserve {
namespace {

namespace fs = std::filesystem;

std::string TempFile(const std::string& name, const std::string& text) {
  const fs::path dir = fs::temp_directory_path() / "bestserve_validation_test";
  fs::create_directories(dir);
  const std::string path = (dir / name).string();
  WriteFileAtomically(path, text);
  return path;
}

std::optional<fs::path> SharedFidelity() {
  const char* env = std::getenv("BESTSERVE_SHARED_DIR");
  const fs::path dir =
      fs::path(env != nullptr ? env : "../shared") / "fidelity/distserve-opt13b-a100";
  if (!fs::exists(dir / "measured/vllm-100-1.exp")) {
    WARN("skipped: no measured vLLM runs at " << dir.string() << " (set BESTSERVE_SHARED_DIR)");
    return std::nullopt;
  }
  return dir;
}

const std::string kMeasured =
    "[{'prompt_len': 5, 'output_len': 3, 'issue_time': 100.5, 'first_token_time': 100.6, "
    "'complete_time': 100.7, 'ttft_ms': 100.0, 'tpot_ms': 50.0, 'latency_ms': 200.0}, "
    "{'prompt_len': 7, 'output_len': 1, 'issue_time': 100.0, 'first_token_time': 100.02, "
    "'complete_time': 100.02, 'ttft_ms': 20.0, 'tpot_ms': 0.0, 'latency_ms': 20.0}]\n"
    "{\n\tnum_requests: 2\n}\n";
const std::string kWorkload =
    R"([{"prompt_len": 7, "output_len": 1, "start_time": 0.0}, {"prompt_len": 5, "output_len": 3, "start_time": 0.5}])";

}  // namespace

TEST_CASE("DistServe's measured and workload files are read and paired by issue time",
          "[scenario][validate]") {
  const MeasuredRun run =
      ReadDistServeRun(TempFile("m.exp", kMeasured), TempFile("w.exp", kWorkload));
  REQUIRE(run.requests.size() == 2);
  CHECK(run.requests[0].prompt_tokens == 7);
  CHECK(run.requests[0].arrival_s == 0.0);
  CHECK(std::isnan(run.requests[0].tpot_s));  // one output token: no TPOT
  CHECK(run.requests[1].arrival_s == Approx(0.5));
  CHECK(run.requests[1].ttft_s == Approx(0.1));
  CHECK(run.requests[1].tpot_s == Approx(0.05));
  CHECK(run.requests[1].e2e_s == Approx(0.2));
}

TEST_CASE("malformed or mismatched measured runs fail naming the file and the record",
          "[scenario][validate]") {
  const std::string workload = TempFile("w.exp", kWorkload);
  std::string broken = kMeasured;
  broken.replace(broken.find("'ttft_ms': 100.0"), 16, "'ttft_ms': 'n/a'");
  CHECK_THROWS_WITH(ReadDistServeRun(TempFile("broken.exp", broken), workload),
                    Catch::Contains("broken.exp: record 0: 'ttft_ms' is 'n/a', expected a number"));
  std::string missing = kMeasured;
  missing.replace(missing.find("'latency_ms': 20.0"), 18, "'latency': 20.0");
  CHECK_THROWS_WITH(ReadDistServeRun(TempFile("missing.exp", missing), workload),
                    Catch::Contains("missing.exp: record 1: missing 'latency_ms'"));
  CHECK_THROWS_WITH(ReadDistServeRun(TempFile("syntax.exp", "[{'prompt_len': 5,\n"), workload),
                    Catch::Contains("syntax.exp: expected a Python list of dicts"));
  std::string other = kWorkload;
  other.replace(other.find("\"prompt_len\": 5"), 15, "\"prompt_len\": 6");
  CHECK_THROWS_WITH(ReadDistServeRun(TempFile("m.exp", kMeasured), TempFile("other.exp", other)),
                    Catch::Contains("m.exp: record 0 (issued 2th) has lengths 5/3 but"));
  CHECK_THROWS_WITH(
      ReadDistServeRun(
          TempFile("m.exp", kMeasured),
          TempFile("short.exp", R"([{"prompt_len": 7, "output_len": 1, "start_time": 0.0}])")),
      Catch::Contains("has 2 requests but"));
  CHECK_THROWS_WITH(
      ReadMeasuredCsv(TempFile("bad.csv",
                               "arrival_s,prompt_tokens,output_tokens,ttft_s,tpot_s,e2e_s\n"
                               "0,10,2,0.1,0.02,0.12\n0.5,10,x,0.1,0.02,0.12\n")),
      Catch::Contains("bad.csv:3: column 3 is 'x', expected a number >= 0"));
  const MeasuredRun csv =
      ReadMeasuredCsv(TempFile("good.csv",
                               "arrival_s,prompt_tokens,output_tokens,ttft_s,tpot_s,e2e_s\n3,10,1,"
                               "0.1,,0.1\n4,8,2,0.1,0.02,0.12\n"));
  REQUIRE(csv.requests.size() == 2);
  CHECK(csv.requests[1].arrival_s == 1.0);
  CHECK(std::isnan(csv.requests[0].tpot_s));
}

const std::string kVllmJson =
    std::string(BESTSERVE_SOURCE_DIR) + "/tests/scenario/data/vllm_benchmark_small.json";

TEST_CASE("vLLM's benchmark JSON is read with arrivals from a log or from the script's seed",
          "[scenario][validate]") {
  SECTION("arrivals from a file: e2e = ttft + sum(itls), tpot = sum(itls) / (output - 1)") {
    const MeasuredRun run =
        ReadVllmBenchmarkJson(kVllmJson, std::string(BESTSERVE_SOURCE_DIR) +
                                             "/tests/scenario/data/vllm_benchmark_small.arrivals");
    REQUIRE(run.requests.size() == 3);
    CHECK(run.requests[0].arrival_s == 0.0);
    CHECK(run.requests[1].arrival_s == Approx(0.25));
    CHECK(run.requests[2].arrival_s == Approx(0.75));
    CHECK(run.requests[0].prompt_tokens == 55);
    CHECK(run.requests[0].output_tokens == 4);
    CHECK(run.requests[0].ttft_s == Approx(0.05));
    CHECK(run.requests[0].e2e_s == Approx(0.05 + 0.02 + 0.03 + 0.04));
    CHECK(run.requests[0].tpot_s == Approx((0.02 + 0.03 + 0.04) / 3));
    CHECK(std::isnan(run.requests[1].tpot_s));  // one output token
    CHECK(run.requests[1].e2e_s == Approx(0.2));
    CHECK(run.requests[2].tpot_s == Approx(0.025));
  }
  SECTION("poisson:SEED redraws numpy's schedule at the file's request_rate") {
    // numpy 1.24: np.random.seed(0); np.random.exponential(1 / 3, 2) =
    // [0.26529150272103663, 0.41864358765527926].
    const MeasuredRun run = ReadVllmBenchmarkJson(kVllmJson, "poisson:0");
    REQUIRE(run.requests.size() == 3);
    CHECK(run.requests[1].arrival_s == Approx(0.26529150272103663).epsilon(1e-12));
    CHECK(run.requests[2].arrival_s ==
          Approx(0.26529150272103663 + 0.41864358765527926).epsilon(1e-12));
    // np.random.seed(7); np.random.gamma(1.0, 1 / 2.5, 2) (vLLM >= 0.6, burstiness 1) is the same
    // stream as np.random.exponential(1 / 2.5, 2): [0.0317507638085778, 0.6055034698235148].
    const std::vector<double> a = VllmBenchmarkPoissonArrivals(3, 2.5, 7);
    CHECK(a[0] == 0.0);
    CHECK(a[1] == Approx(0.0317507638085778).epsilon(1e-12));
    CHECK(a[2] == Approx(0.0317507638085778 + 0.6055034698235148).epsilon(1e-12));
  }
  SECTION("malformed files fail naming the file and the record") {
    const std::string good = ReadFile(kVllmJson);
    auto with = [&](const std::string& from, const std::string& to) {
      std::string text = good;
      text.replace(text.find(from), from.size(), to);
      return TempFile("vllm.json", text);
    };
    CHECK_THROWS_WITH(
        ReadVllmBenchmarkJson(with("[0.05, 0.2, 0.05]", "[0.05, \"x\", 0.05]"), "poisson:0"),
        Catch::Contains("vllm.json: record 1: ttfts[1] is 'x', expected a number"));
    CHECK_THROWS_WITH(
        ReadVllmBenchmarkJson(with("[0.02, 0.03, 0.04]", "[0.02, -1, 0.04]"), "poisson:0"),
        Catch::Contains("vllm.json: record 0: itls[0][1] is '-1', expected a time in seconds"));
    CHECK_THROWS_WITH(ReadVllmBenchmarkJson(with("[4, 1, 2]", "[4, 1]"), "poisson:0"),
                      Catch::Contains("vllm.json: 'output_lens' has 2 entries but 'input_lens' "
                                      "has 3"));
    CHECK_THROWS_WITH(
        ReadVllmBenchmarkJson(
            with("[[0.02, 0.03, 0.04], [], [0.025]]", "[[0.02, 0.03, 0.04], [], []]"), "poisson:0"),
        Catch::Contains("vllm.json: record 2: 2 output tokens but itls[2] is empty"));
    CHECK_THROWS_WITH(ReadVllmBenchmarkJson(kVllmJson, "poisson:-1"),
                      Catch::Contains("expected poisson:SEED with SEED in [0, 2^32)"));
    CHECK_THROWS_WITH(ReadVllmBenchmarkJson(kVllmJson, TempFile("arr.txt", "0\n0.5\nsoon\n")),
                      Catch::Contains("arr.txt:3: 'soon' is not an arrival time in seconds"));
    CHECK_THROWS_WITH(ReadVllmBenchmarkJson(kVllmJson, TempFile("arr.txt", "0\n0.5\n0.2\n")),
                      Catch::Contains("arr.txt:3: arrival 0.2 is before the previous line's 0.5"));
  }
}

ValidationResult ValidateMeasured(const fs::path& dir, const std::string& run) {
  const Scenario scenario = LoadScenario(std::string(BESTSERVE_SOURCE_DIR) +
                                         "/experiments/fidelity/opt13b_a100_vllm.yaml");
  const MeasuredRun measured = ReadDistServeRun((dir / ("measured/" + run + ".exp")).string(),
                                                (dir / ("workload/" + run + ".exp")).string());
  return Validate(scenario, measured, ValidationOptions{});
}

// Regression bounds: the issue's floors (mean TPOT and E2E within 5%, p90 TTFT within 15%, SLO
// attainment within 2 points) where the scenario meets them, a little outside what it achieves
// where it does not (README "How close is the simulator to a real server"). One request is one
// point of SLO attainment at 100 requests.
TEST_CASE("the calibrated vLLM scenario stays close to the measured vllm-100-1 run",
          "[scenario][validate][fidelity]") {
  const auto dir = SharedFidelity();
  if (!dir) return;
  const ValidationResult r = ValidateMeasured(*dir, "vllm-100-1");
  INFO(FormatValidationMarkdown(r));
  // Today: TPOT mean +2.5%, E2E mean +1.7%, p90 TTFT -5.3%, SLO +2.0 points, E2E MAPE 3.2%.
  CHECK(r.rejected == 0);
  CHECK(std::abs(r.tpot_s.mean_error) < 0.05);
  CHECK(std::abs(r.e2e_s.mean_error) < 0.05);
  CHECK(std::abs(r.ttft_s.simulated.p90 / r.ttft_s.measured.p90 - 1.0) < 0.15);
  CHECK(std::abs(r.slo_simulated - r.slo_measured) <= 0.03);
  CHECK(r.e2e_s.mape < 0.05);
}

TEST_CASE("the calibrated vLLM scenario stays close to the measured vllm-300-3 run",
          "[scenario][validate][fidelity]") {
  const auto dir = SharedFidelity();
  if (!dir) return;
  const ValidationResult r = ValidateMeasured(*dir, "vllm-300-3");
  INFO(FormatValidationMarkdown(r));
  // Today: TPOT mean -0.3%, E2E mean -0.3%, p90 TTFT +10.3%, SLO +3.7 points (floor: 2, not
  // met), E2E MAPE 3.2%. The run sits at the KV-capacity knee: the TTFT tail depends steeply on
  // when the cache fills (docs/fidelity.md, "Calibration"), so a change anywhere in the engine
  // shows here first.
  CHECK(r.rejected == 0);
  CHECK(r.counters.preemptions <= 2);  // the real server preempted nothing
  CHECK(std::abs(r.tpot_s.mean_error) < 0.05);
  CHECK(std::abs(r.e2e_s.mean_error) < 0.05);
  CHECK(std::abs(r.ttft_s.simulated.p90 / r.ttft_s.measured.p90 - 1.0) < 0.15);
  CHECK(std::abs(r.slo_simulated - r.slo_measured) < 0.05);
  CHECK(r.e2e_s.mape < 0.05);
}

}  // namespace bestserve
