// kind: mixture: each seed draws one component with its weight's probability, generates it as
// that component alone would with its own stream, and redraws lengths where asked.
#include "workloads/mixture.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <string>

#include "common/rng.h"
#include "tests/workloads/test_support.h"
#include "workloads/registry.h"

namespace bestserve {
namespace {

using testing::TestTasks;
using testing::Yaml;

const char* kMixture =
    "{kind: mixture, components: ["
    "{weight: 1, workload: {kind: poisson, rate_rps: 2, duration_s: 60}}, "
    "{weight: 3, workload: {kind: poisson, rate_rps: 20, duration_s: 60}, "
    " prompt_tokens: {kind: uniform, min: 1000, max: 2000}, output_tokens: 7}]}";

TEST_CASE("a mixture draws each component with its weight's probability, per seed", "[workloads][mixture]") {
  const auto generator = MakeWorkloadGenerator(Yaml(kMixture), ".");
  const auto& mixture = dynamic_cast<const MixtureWorkload&>(*generator);
  const int n = 4000;
  int second = 0;
  for (uint64_t seed = 0; seed < static_cast<uint64_t>(n); ++seed) second += mixture.ComponentFor(seed) == 1 ? 1 : 0;
  // Binomial(4000, 0.75): standard deviation 27.4; five of them either side.
  CHECK(std::abs(second - 0.75 * n) < 5 * std::sqrt(n * 0.75 * 0.25));
  CHECK(mixture.ComponentFor(12345) == mixture.ComponentFor(12345));
}

TEST_CASE("a drawn component generates as it would alone, with its own stream and redrawn lengths",
          "[workloads][mixture]") {
  const TaskTable tasks = TestTasks();
  const auto generator = MakeWorkloadGenerator(Yaml(kMixture), ".");
  const auto& mixture = dynamic_cast<const MixtureWorkload&>(*generator);
  const auto slow = MakeWorkloadGenerator(Yaml("{kind: poisson, rate_rps: 2, duration_s: 60}"), ".");
  const auto fast = MakeWorkloadGenerator(Yaml("{kind: poisson, rate_rps: 20, duration_s: 60}"), ".");
  bool saw[2] = {false, false};
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    INFO("seed " << seed);
    const size_t i = mixture.ComponentFor(seed);
    saw[i] = true;
    const Workload got = generator->Generate({&tasks, seed});
    const Workload alone = (i == 0 ? slow : fast)->Generate({&tasks, DeriveSeed(seed, "mixture/" + std::to_string(i))});
    REQUIRE(got.size() == alone.size());
    Rng lengths(DeriveSeed(seed, "mixture/" + std::to_string(i) + "/lengths"));
    for (size_t k = 0; k < got.size(); ++k) {
      CHECK(got[k].arrival_s == alone[k].arrival_s);
      CHECK(got[k].task == alone[k].task);
      if (i == 0) {
        CHECK(got[k].prompt_tokens == alone[k].prompt_tokens);
        CHECK(got[k].output_tokens == alone[k].output_tokens);
      } else {
        // Prompt then output per request, in arrival order, from the component's length stream.
        const int32_t prompt = static_cast<int32_t>(1000 + lengths.UniformIndex(1001));
        CHECK(got[k].prompt_tokens == prompt);
        CHECK(got[k].output_tokens == 7);
      }
    }
    CHECK(generator->Generate({&tasks, seed}).size() == got.size());
  }
  CHECK(saw[0]);
  CHECK(saw[1]);
  CHECK_THAT(generator->Describe(), Catch::Contains("0.75: poisson") && Catch::Contains("prompts"));
}

TEST_CASE("bad mixtures are refused naming the key", "[workloads][mixture][errors]") {
  auto error_of = [](const std::string& text) {
    try {
      MakeWorkloadGenerator(Yaml(text), ".");
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(error_of("{kind: mixture, components: []}"), Catch::Contains("expected at least one component"));
  CHECK_THAT(error_of("{kind: mixture, components: [{weight: 0, workload: {kind: poisson, rate_rps: 1, duration_s: 5}}]}"),
             Catch::Contains("weight"));
  CHECK_THAT(error_of("{kind: mixture, components: [{workload: {kind: poisson, rate_rps: 1, duration_s: 5}, lengths: 3}]}"),
             Catch::Contains("unknown key 'lengths'"));
  CHECK_THAT(error_of("{kind: mixture, components: [{weight: 1}]}"), Catch::Contains("workload"));
  CHECK_THAT(error_of("{kind: mixture, components: [{workload: {kind: nope}}]}"),
             Catch::Contains("unknown workload kind 'nope'"));
}

}  // namespace
}  // namespace bestserve

namespace bestserve {

TEST_CASE("a component's max_tokens_hint: a fraction of clients send the output length or the next power of two",
          "[workloads][mixture]") {
  const TaskTable tasks = testing::TestTasks();
  const auto generate = [&](const std::string& hint, uint64_t seed) {
    const std::string yaml = "{kind: mixture, components: [{workload: {kind: poisson, rate_rps: 50, duration_s: 60}, "
                              "output_tokens: {kind: uniform, min: 1, max: 3000}, max_tokens_hint: " + hint + "}]}";
    return MakeWorkloadGenerator(testing::Yaml(yaml.c_str()), ".")->Generate({&tasks, seed});
  };
  const Workload exact = generate("{rule: exact}", 3);
  REQUIRE(exact.size() > 2000);
  for (const Request& r : exact) REQUIRE(r.max_tokens == r.output_tokens);
  const Workload capped = generate("{rule: next_power_of_two, fraction: 0.3}", 3);
  REQUIRE(capped.size() == exact.size());
  int64_t sent = 0;
  for (const Request& r : capped) {
    if (r.max_tokens == 0) continue;
    ++sent;
    // The smallest power of two at or above the output length.
    REQUIRE(r.max_tokens >= r.output_tokens);
    REQUIRE((r.max_tokens & (r.max_tokens - 1)) == 0);
    REQUIRE((r.max_tokens == 1 || r.max_tokens / 2 < r.output_tokens));
  }
  // Binomial(n, 0.3): five standard deviations either side.
  const double n = static_cast<double>(capped.size());
  CHECK(std::abs(static_cast<double>(sent) - 0.3 * n) < 5 * std::sqrt(n * 0.3 * 0.7));
  // The hints' own stream: arrivals and lengths are the same with or without them.
  const Workload none = MakeWorkloadGenerator(
      testing::Yaml("{kind: mixture, components: [{workload: {kind: poisson, rate_rps: 50, duration_s: 60}, "
                    "output_tokens: {kind: uniform, min: 1, max: 3000}}]}"), ".")->Generate({&tasks, 3});
  REQUIRE(none.size() == capped.size());
  for (size_t i = 0; i < none.size(); ++i) {
    REQUIRE(none[i].arrival_s == capped[i].arrival_s);
    REQUIRE(none[i].output_tokens == capped[i].output_tokens);
    REQUIRE(none[i].max_tokens == 0);
  }
  CHECK_THROWS_WITH(generate("{rule: guess}", 1), Catch::Contains("expected exact or next_power_of_two, got 'guess'"));
  CHECK_THROWS_WITH(generate("{rule: exact, fraction: 1.5}", 1), Catch::Contains("expected a fraction in [0, 1]"));
  CHECK_THROWS_WITH(generate("{rule: exact, share: 1}", 1), Catch::Contains("share"));
}

}  // namespace bestserve
