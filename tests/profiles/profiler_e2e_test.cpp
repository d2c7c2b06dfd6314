// End to end on a CPU: profiles/tools/profile_gpu.py measures tiny OPT-style models, `bestserve
// profile fit` turns its output into a profile set, and the simulator's loader accepts it.
//
// Hidden tag [.e2e]: the ctest entry `profiling_e2e` runs it through run_with_torch.sh, which
// reports the test as skipped (exit 77, with the reason) where the Python cannot import torch.
// Run by hand, the test itself warns and returns in that case.
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "profiles/tools/provenance_record.h"
#include "profiles/tools/raw_measurements.h"
#include "sim/latency_profile.h"
#include "tests/profiles/test_support.h"

namespace bestserve::profiling {

TEST_CASE("the profiler runs end to end on a CPU with tiny models and its output fits and loads",
          "[profiling][.e2e]") {
  const std::string python = BESTSERVE_PROFILER_PYTHON;
  if (testing::Run(python + " -c 'import torch'").exit_code != 0) {
    WARN("skipped: " << python << " cannot import torch (install Debian's python3-torch)");
    return;
  }
  testing::ScratchDir dir("e2e");
  const std::string script = std::string(BESTSERVE_SOURCE_DIR) + "/profiles/tools/profile_gpu.py";
  const std::string raw_dir = dir.Path("raw");
  auto result =
      testing::Run(python + " " + script + " --tiny --device cpu --threads 1 --out " + raw_dir);
  INFO(result.output);
  REQUIRE(result.exit_code == 0);

  const RawMeasurements raw = LoadRawCsv(raw_dir + "/measurements.csv");
  CHECK(raw.models == std::vector<std::string>{"tiny-a", "tiny-b"});
  const ProvenanceRecord provenance = LoadProvenance(raw_dir + "/provenance.json");
  CHECK(provenance.device == "cpu");
  CHECK(provenance.dtype == "float32");
  CHECK(provenance.timer == "perf-counter");

  const std::string out = dir.Path("tiny/profile.yaml");
  result = testing::Run(std::string(BESTSERVE_BINARY) + " profile fit " + raw_dir +
                        "/measurements.csv --out " + out);
  INFO(result.output);
  REQUIRE(result.exit_code == 0);
  CHECK_THAT(result.output, Catch::Contains("measured on 'cpu', not a GPU"));
  CHECK_THAT(result.output, Catch::Contains("co-location measured on 'cpu': meaningless for GPUs"));

  const ProfileSet set = ProfileSet::LoadFile(out);
  CHECK(set.name == "tiny");
  CHECK(set.provenance_kind == "measured");
  CHECK(set.ModelNames() == std::vector<std::string>{"tiny-a", "tiny-b"});
  CHECK(set.gpu_name.rfind("cpu", 0) == 0);
  for (const std::string model : {"tiny-a", "tiny-b"}) {
    const ModelProfile& m = set.Find(model)->model();
    INFO(model);
    CHECK(m.decode_step_ms.xs() == std::vector<double>{1, 2, 4});
    CHECK(m.decode_step_ms.ys() == std::vector<double>{1, 16, 128});
    // --tiny prefill: batches {1, 2} x prompts {1, 8, 32}, capped at 64 tokens per iteration.
    CHECK(m.prefill_ms.xs() == std::vector<double>{1, 2, 8, 16, 32, 64});
    CHECK(m.max_batch_size == 4);
    CHECK(m.max_context_tokens == 128);
    for (double v : m.decode_step_ms.values()) CHECK(v > 0.0);
  }
  // Weights and KV bytes follow from the tiny architectures in float32 (4 bytes).
  CHECK(set.Find("tiny-a")->model().kv_bytes_per_token == 2 * 2 * 64 * 4);
  CHECK(set.Find("tiny-b")->model().kv_bytes_per_token == 2 * 2 * 128 * 4);
  CHECK(set.Find("tiny-a")->model().weight_bytes == 4 * set.Find("tiny-a")->model().parameters);
  const std::string yaml = testing::ReadText(out);
  CHECK_THAT(yaml, Catch::Contains("tiny-a"));
  CHECK_THAT(yaml, Catch::Contains("peer_model: \"tiny-b\""));
  CHECK_THAT(yaml, Catch::Contains("transformers: "));
}

}  // namespace bestserve::profiling
