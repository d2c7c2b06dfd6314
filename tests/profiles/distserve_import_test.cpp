// `bestserve profile import`: DistServe's fitted model becomes a profile whose iteration times
// are DistServe's formula, to the last bit, on sampled batches.
#include "profiles/tools/distserve_import.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include "common/rng.h"
#include "sim/parametric_profile.h"

namespace bestserve {
namespace {

std::string Fixture() {
  return std::string(BESTSERVE_SOURCE_DIR) + "/tests/profiles/data/distserve_fixture.json";
}

std::optional<std::string> SharedDistServeJson() {
  const char* env = std::getenv("BESTSERVE_SHARED_DIR");
  const std::filesystem::path path = std::filesystem::path(env != nullptr ? env : "../shared") /
                                     "fidelity/distserve-opt13b-a100/profiler-a100-80g.vllm.json";
  if (!std::filesystem::exists(path)) {
    WARN("skipped: no DistServe profile at " << path.string() << " (set BESTSERVE_SHARED_DIR)");
    return std::nullopt;
  }
  return path.string();
}

// Checks the imported profile against the formula written out here from the file's numbers.
void CheckFormula(const std::string& json, int tp) {
  profiling::DistServeImportOptions options;
  options.json_path = json;
  options.model = "opt-13b";
  options.tensor_parallel = tp;
  const ProfileSet set = ProfileSet::Parse(
      ConfigNode::LoadString(profiling::ImportDistServeProfile(options), "imported"));
  CHECK(set.provenance_kind == "fitted");
  CHECK(set.provenance_summary.find("Fitted by DistServe from measurements on") == 0);
  const auto profile = set.Find("opt-13b");
  CHECK(std::string(profile->latency_model()) == "distserve");
  const ConfigNode entry =
      ConfigNode::LoadFile(json).Child("facebook/opt-13b").Child(std::to_string(tp));
  auto coef = [&](const char* key, size_t i) { return entry.Child(key).Element(i).AsDouble(); };
  const int64_t threshold = entry.Child("decoding_large_small_bs_threshold").AsInt();

  Rng rng(14);
  for (int trial = 0; trial < 200; ++trial) {
    IterationShape prefill;
    const auto n = 1 + rng.UniformIndex(8);
    double sum = 0.0;
    double sum_squares = 0.0;
    for (uint64_t i = 0; i < n; ++i) {
      const auto len = static_cast<int64_t>(1 + rng.UniformIndex(2048));
      prefill.prefills.push_back(PrefillChunk{len, 0});
      sum += static_cast<double>(len);
      sum_squares += static_cast<double>(len) * static_cast<double>(len);
    }
    const double prefill_ms =
        coef("prefill", 0) + coef("prefill", 1) * sum + coef("prefill", 2) * sum_squares + 1.0;
    CHECK(profile->IterationSeconds(prefill) == prefill_ms * 1e-3);

    IterationShape decode;
    decode.decode_seqs = static_cast<int32_t>(1 + rng.UniformIndex(256));
    double context_plus_one = 0.0;
    for (int32_t i = 0; i < decode.decode_seqs; ++i) {
      const auto cached = static_cast<int64_t>(1 + rng.UniformIndex(2047));
      decode.decode_cached_tokens += cached;
      context_plus_one += static_cast<double>(cached + 1);
    }
    const char* regime = decode.decode_seqs < threshold ? "decoding_smallbs" : "decoding_largebs";
    const double decode_ms =
        coef(regime, 0) + coef(regime, 1) * context_plus_one + coef(regime, 2) * decode.decode_seqs;
    CHECK(profile->IterationSeconds(decode) == decode_ms * 1e-3);
  }
}

}  // namespace

TEST_CASE("an imported DistServe profile reproduces DistServe's formula exactly",
          "[profiling][distserve]") {
  CheckFormula(Fixture(), 1);
  CheckFormula(Fixture(), 2);
  if (const auto shared = SharedDistServeJson()) CheckFormula(*shared, 1);
}

TEST_CASE("the importer names the file and what is missing", "[profiling][distserve]") {
  profiling::DistServeImportOptions options;
  options.json_path = Fixture();
  options.model = "opt-30b";
  CHECK_THROWS_WITH(profiling::ImportDistServeProfile(options),
                    Catch::Contains("distserve_fixture.json: model 'opt-30b' is not in the file; "
                                    "it has: facebook/opt-13b, facebook/opt-66b"));
  options.model = "opt-13b";
  options.tensor_parallel = 4;
  CHECK_THROWS_WITH(profiling::ImportDistServeProfile(options),
                    Catch::Contains("no tensor-parallel degree 4; the file has: 1, 2"));
}

}  // namespace bestserve
