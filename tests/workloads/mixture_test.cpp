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
