// The policy weights file: round trip and clear refusals of bad files.
#include "router/policy/weights_format.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "agent/learn/learner.h"
#include "router/policy/policy_io.h"
#include "common/error.h"
#include "common/files.h"
#include "common/rng.h"

namespace bestserve {
namespace {

PolicyWeights SmallWeights() {
  PolicyWeights w;
  w.shape = MlpShape{3, {4}, 2};
  Rng rng(1);
  w.parameters = InitMlpParameters(w.shape, rng);
  w.observation_encoding = "toy-routing-v1";
  w.action_names = {"large", "small"};
  w.metadata = {{"iteration", "1200"}, {"note", "unit test"}};
  return w;
}

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("bestserve_agent_test_" + name)).string();
}

TEST_CASE("A policy weights file round-trips shape, names, metadata and every weight bit",
          "[agent]") {
  const PolicyWeights w = SmallWeights();
  const std::string path = TempPath("roundtrip.bsw");
  SavePolicyWeights(path, w);
  const PolicyWeights back = LoadPolicyWeights(path);
  CHECK(back.shape == w.shape);
  CHECK(back.parameters == w.parameters);
  CHECK(back.observation_encoding == "toy-routing-v1");
  CHECK(back.action_names == w.action_names);
  CHECK(back.metadata == w.metadata);
  CHECK(back.Metadata("iteration") == "1200");
  // 8 magic + 4 version + 8 size + 4+4+4+4 shape + 4+14 encoding + 4 + (4+5) + (4+5) names
  // + 4 + (4+9 + 4+4) + (4+4 + 4+9) metadata + 8 + 4*26 weights + 8 checksum.
  CHECK(EncodePolicyWeights(w).size() ==
        8 + 4 + 8 + 16 + 18 + 4 + 9 + 9 + 4 + 21 + 21 + 8 + 104 + 8);
  std::filesystem::remove(path);
}

TEST_CASE(
    "Corrupt, truncated, wrong-version and foreign policy files are refused with clear errors",
    "[agent]") {
  const std::string good = EncodePolicyWeights(SmallWeights());
  const std::string size = std::to_string(good.size());

  SECTION("a flipped byte in the weights") {
    std::string bad = good;
    bad[good.size() - 20] = static_cast<char>(bad[good.size() - 20] ^ 0x10);
    REQUIRE_THROWS_WITH(DecodePolicyWeights(bad, "p.bsw"),
                        "p.bsw: checksum mismatch: the file is corrupt or truncated");
  }
  SECTION("a truncated file") {
    REQUIRE_THROWS_WITH(DecodePolicyWeights(good.substr(0, good.size() - 10), "p.bsw"),
                        "p.bsw: truncated: the header declares " + size + " bytes, the file has " +
                            std::to_string(good.size() - 10));
    REQUIRE_THROWS_WITH(
        DecodePolicyWeights(good.substr(0, 10), "p.bsw"),
        "p.bsw: truncated: a 32-bit integer needs 4 more bytes at offset 8, only 2 left");
  }
  SECTION("a newer format version") {
    std::string bad = good;
    bad[8] = 2;
    REQUIRE_THROWS_WITH(DecodePolicyWeights(bad, "p.bsw"),
                        "p.bsw: unsupported format version 2; this build reads version 1");
  }
  SECTION("a file of another kind") {
    REQUIRE_THROWS_WITH(DecodePolicyWeights("name,value\nrate,1\n", "p.bsw"),
                        "p.bsw: not a bestserve policy weights file (its first bytes are not "
                        "\"BSWEIGHT\")");
  }
  SECTION("a shape that does not match the weights, with a valid checksum") {
    PolicyWeights w = SmallWeights();
    w.parameters.pop_back();
    REQUIRE_THROWS_WITH(
        DecodePolicyWeights(EncodePolicyWeights(w), "p.bsw"),
        "p.bsw: shape mismatch: network 3-4-2 has 26 parameters, the file holds 25");
  }
  SECTION("through the file loader, as a ConfigError naming the path") {
    const std::string path = TempPath("corrupt.bsw");
    WriteFileAtomically(path, good.substr(0, good.size() - 1));
    REQUIRE_THROWS_AS(LoadPolicyWeights(path), ConfigError);
    REQUIRE_THROWS_WITH(LoadPolicyWeights(path),
                        path + ": policy weights file: truncated: the header declares " + size +
                            " bytes, the file has " + std::to_string(good.size() - 1));
    std::filesystem::remove(path);
    REQUIRE_THROWS_WITH(LoadPolicyWeights(path), path + ": policy weights file not found");
  }
}

TEST_CASE("The greedy policy of a weights file breaks ties toward the lowest action", "[agent]") {
  // Zero weights: every Q-value equals its bias; equal biases tie.
  MlpShape shape{2, {3}, 3};
  std::vector<float> params(shape.NumParameters(), 0.0f);
  params[shape.BiasOffset(1) + 1] = 0.5f;
  params[shape.BiasOffset(1) + 2] = 0.5f;
  MlpPolicy policy(shape, params);
  CHECK(policy.Act({0.3f, -1.0f}) == 1);
  const float nan_first[] = {std::nanf(""), 1.0f, 2.0f};
  CHECK(GreedyAction(nan_first, 3) == 2);
}

}  // namespace
}  // namespace bestserve
