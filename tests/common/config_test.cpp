// The config reader's messages: file, line:column, key path, expected vs got.
#include <catch2/catch.hpp>

#include "common/config.h"
#include "common/json_writer.h"
#include "common/tasks.h"

namespace bestserve {
namespace {

std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("config errors name file, position, key path and the expectation", "[common][config]") {
  const ConfigNode root = ConfigNode::LoadString("a:\n  b: 1.5\n  c: [1, x]\nd: yes\n", "f.yaml");
  CHECK(ErrorOf([&] { root.CheckKeys({"a"}); }) == "f.yaml:4:1: at 'd': unknown key 'd'; valid keys here: a");
  CHECK(ErrorOf([&] { root.Child("a").GetInt("b"); }) == "f.yaml:2:6: at 'a.b': expected an integer, got '1.5'");
  CHECK(ErrorOf([&] { root.Child("a").Child("c").Element(1).AsDouble(); }) ==
        "f.yaml:3:10: at 'a.c[1]': expected a number, got 'x'");
  CHECK(ErrorOf([&] { root.Child("a").Child("zz"); }) == "f.yaml:2:3: at 'a': missing required key 'zz'");
  CHECK(ErrorOf([&] { root.Child("a").GetPositiveDouble("b"); }).empty());
  CHECK(ErrorOf([&] { root.Child("a").Child("c").AsDouble(); }) ==
        "f.yaml:3:6: at 'a.c': expected a single value, got a list");
  CHECK(root.GetBool("d", false));
  CHECK_THAT(ErrorOf([] { ConfigNode::LoadString("a: [1,\n", "g.yaml"); }), Catch::StartsWith("g.yaml:"));
  CHECK_THAT(ErrorOf([] { ConfigNode::LoadFile("/no/such/file.yaml"); }),
             Catch::Contains("/no/such/file.yaml: cannot open"));
}

TEST_CASE("task tables validate utilities and token lengths", "[common][config]") {
  const std::string good =
      "models: [s, l]\ntasks:\n  - {name: t, prompt_tokens: 10, output_tokens: {kind: uniform, min: 2, max: 4}, "
      "quality: [0.5, 1.0]}\n";
  const TaskTable table = TaskTable::Parse(ConfigNode::LoadString(good, "t.yaml"));
  CHECK(table.QualityFor(0, "l") == 1.0);
  CHECK(table.task(0).output_tokens.Mean() == 3.0);
  CHECK_THAT(ErrorOf([&] { table.QualityFor(0, "xl"); }), Catch::Contains("model 'xl' has no quality values"));
  CHECK_THAT(ErrorOf([] {
               TaskTable::Parse(ConfigNode::LoadString(
                   "models: [s]\ntasks: [{name: t, prompt_tokens: 1, output_tokens: 1, quality: [1.5]}]", "u.yaml"));
             }),
             Catch::Contains("expected a utility in [0, 1], got 1.5"));
  CHECK_THAT(ErrorOf([] {
               TaskTable::Parse(ConfigNode::LoadString(
                   "models: [s]\ntasks: [{name: t, prompt_tokens: 0, output_tokens: 1, quality: [1]}]", "v.yaml"));
             }),
             Catch::Contains("expected a token count >= 1, got 0"));
}

TEST_CASE("the JSON writer nests, escapes and prints numbers in shortest round-trip form", "[common][json]") {
  JsonWriter w;
  w.BeginObject().Field("x", 0.1).FieldString("s", "a\"b\n").Key("list").NumberArray({1.0, 2.5}).Key("nan").Number(std::nan(""));
  w.Key("empty").BeginArray().EndArray().EndObject();
  CHECK(w.str() == "{\n  \"x\": 0.1,\n  \"s\": \"a\\\"b\\n\",\n  \"list\": [\n    1,\n    2.5\n  ],\n  \"nan\": null,\n  \"empty\": []\n}\n");
}

TEST_CASE("machine-written data may hold its whole document on one line; a config may not",
          "[common][config]") {
  // 5,000 records of a measured log on one line, as DistServe writes them (about 100 KB).
  std::string line = "[";
  for (int i = 0; i < 5000; ++i) line += (i ? ", " : "") + std::string("{'prompt_len': 12, 'ttft_ms': 1.5}");
  line += "]";
  REQUIRE(line.size() > (64u << 10));
  const ConfigNode data = ConfigNode::LoadData(line, "log.exp");
  CHECK(data.size() == 5000);
  CHECK(data.Element(4999).GetDouble("ttft_ms") == 1.5);
  CHECK_THROWS_WITH(ConfigNode::LoadString(line, "c.yaml"), Catch::Contains("c.yaml:1: line of"));
}

}  // namespace bestserve
