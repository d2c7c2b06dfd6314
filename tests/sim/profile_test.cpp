// Latency profiles: exact at table points, monotone between them, explicit outside them, and
// refused clearly when malformed. Also the shipped paper profile set loads and says it is
// derived.
#include <catch2/catch.hpp>

#include "sim/latency_profile.h"

namespace bestserve {
namespace {

const char* kProfile = R"(
name: t
gpu: {name: g, memory_gib: 24}
provenance: {kind: derived, sources: [s], method: m}
models:
  a:
    weight_bytes: 100
    kv_bytes_per_token: 10
    max_batch_size: 8
    decode_step_ms:
      batch_sizes: [1, 4, 8]
      context_tokens: [0, 1000]
      values: [[10, 12], [16, 20], [30, 40]]
    prefill_ms: {tokens: [1, 100, 1000], values: [5, 9, 50]}
)";

ProfileSet Load(const std::string& text) { return ProfileSet::Parse(ConfigNode::LoadString(text, "p.yaml")); }

std::string MessageOf(const std::string& text) {
  try {
    Load(text);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  const auto pos = text.find(from);
  REQUIRE(pos != std::string::npos);
  return text.replace(pos, from.size(), to);
}

}  // namespace

TEST_CASE("profile interpolation is exact at table points and monotone between", "[sim][profile]") {
  const ProfileSet set = Load(kProfile);
  const auto& a = *set.Find("a");
  CHECK(a.DecodeStepSeconds(1, 0) == Approx(0.010));
  CHECK(a.DecodeStepSeconds(4, 1000) == Approx(0.020));
  CHECK(a.DecodeStepSeconds(8, 0) == Approx(0.030));
  CHECK(a.PrefillSeconds(100) == Approx(0.009));
  CHECK(a.DecodeStepSeconds(2, 500) == Approx((1.0 / 3 * 0.5 * (16 + 20) + 2.0 / 3 * 0.5 * (10 + 12)) * 1e-3));
  double previous = 0.0;
  for (int b = 1; b <= 8; ++b) {
    const double v = a.DecodeStepSeconds(b, 300);
    CHECK(v >= previous);
    previous = v;
  }
  previous = 0.0;
  for (int n = 1; n <= 1000; n += 7) {
    const double v = a.PrefillSeconds(n);
    CHECK(v >= previous);
    previous = v;
  }
}

TEST_CASE("lookups outside the table fail under the error rule and are counted under clamp",
          "[sim][profile]") {
  const ProfileSet strict = Load(kProfile);
  CHECK_THROWS_WITH(strict.Find("a")->PrefillSeconds(5000),
                    Catch::Contains("lookup at 5000 lies outside the prefill_ms table"));
  const ProfileSet clamped = Load(Replace(kProfile, "models:", "extrapolation: clamp\nmodels:"));
  const auto& a = *clamped.Find("a");
  CHECK(a.PrefillSeconds(5000) == Approx(0.050));
  CHECK(a.clamped_lookups() == 1);
}

TEST_CASE("malformed profiles are refused with the location and the expectation", "[sim][profile]") {
  CHECK_THAT(MessageOf(Replace(kProfile, "    kv_bytes_per_token: 10\n", "")),
             Catch::Contains("p.yaml") && Catch::Contains("missing required key 'kv_bytes_per_token'"));
  CHECK_THAT(MessageOf(Replace(kProfile, "[1, 4, 8]", "[1, 8, 4]")),
             Catch::Contains("expected strictly increasing batch_sizes, got 4 after 8"));
  CHECK_THAT(MessageOf(Replace(kProfile, "[30, 40]", "[30]")),
             Catch::Contains("expected 2 values in a row (one per context length), got 1"));
  CHECK_THAT(MessageOf(Replace(kProfile, "kind: derived, sources: [s], method: m", "kind: derived")),
             Catch::Contains("missing required key 'sources'"));
  CHECK_THAT(MessageOf(Replace(kProfile, "max_batch_size: 8", "max_batch_size: 16")),
             Catch::Contains("the table must reach max_batch_size 16; it stops at 8"));
  CHECK_THAT(MessageOf(Replace(kProfile, "values: [5, 9, 50]", "values: [5, -9, 50]")),
             Catch::Contains("p.yaml:14:") && Catch::Contains("expected a latency > 0 ms, got -9"));
}

TEST_CASE("the shipped paper profile set loads and declares itself derived", "[sim][profile]") {
  const ProfileSet set = ProfileSet::LoadFile(BESTSERVE_SOURCE_DIR "/profiles/paper/profile.yaml");
  CHECK(set.provenance_kind == "derived");
  CHECK(set.ModelNames() == std::vector<std::string>{"opt-125m", "opt-1.3b", "opt-6.7b"});
  // Larger models are slower at every batch size: the shape the paper's results rest on.
  for (int b : {1, 8, 64}) {
    CHECK(set.Find("opt-125m")->DecodeStepSeconds(b, 128) < set.Find("opt-1.3b")->DecodeStepSeconds(b, 128));
    CHECK(set.Find("opt-1.3b")->DecodeStepSeconds(b, 128) < set.Find("opt-6.7b")->DecodeStepSeconds(b, 128));
  }
}

}  // namespace bestserve
