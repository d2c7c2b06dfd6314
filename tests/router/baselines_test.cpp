// The latency-aware baselines (slack, scorer, vqueue) against hand-computed choices on the paper
// system. On an idle system with no arrival rate the shared prediction reduces to the closed form
//   latency(m) = prefill_m(prompt) + (mean output - 1) x decode_step_m(batch 1, prompt + mean output / 2),
// computed here from the profile tables; each router's rule is then applied by hand.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include "router/builtin/registry.h"
#include "scenario/scenario.h"

namespace bestserve {
namespace {

constexpr TaskId kTask = 1;
constexpr int32_t kPrompt = 64;

struct IdleCase {
  Scenario scenario = LoadScenario("");
  std::unique_ptr<Simulator> sim;
  RouterView view;
  std::vector<double> latency;  // closed form, by model
  std::vector<double> quality;  // quality / the task's peak, by model

  explicit IdleCase(int32_t prompt = kPrompt) {
    Request r;
    r.prompt_tokens = prompt;
    r.output_tokens = 10;
    r.task = kTask;
    r.deadline_s = 1.0;
    sim = MakeSimulator(scenario);
    sim->Reset(Workload{r});
    REQUIRE(sim->AdvanceToNextArrival());
    view = sim->view();
    REQUIRE(view.arrival_rate_rps == 0.0);
    const double out = scenario.tasks.task(kTask).output_tokens.Mean();
    const auto& q = scenario.quality[kTask];
    const double peak = *std::max_element(q.begin(), q.end());
    // The closed form only where the tables reach (a longer prompt is predicted +inf anyway).
    for (size_t m = 0; m < scenario.system.model_names.size() && prompt <= 2048; ++m) {
      const auto& profile = *scenario.system.model_profiles[m];
      latency.push_back(profile.PrefillSeconds(prompt) +
                        (out - 1.0) * profile.DecodeStepSeconds(1, prompt + 0.5 * out));
      quality.push_back(q[m] / peak);
    }
  }
  // Sets the request's budget to `budget_s` (no per-token part).
  RouterView WithBudget(double budget_s) const {
    RouterView v = view;
    v.deadline_base_s = budget_s;
    v.deadline_per_token_s = 0.0;
    return v;
  }
  ModelId Route(const std::string& spec, const RouterView& v) const {
    auto router = MakeRouter(spec, MakeRouterContext(scenario));
    router->Reset(v.num_models());
    return router->Route(v);
  }
};

}  // namespace

TEST_CASE("slack takes the largest model that leaves slack, else the most slack", "[router][baselines]") {
  const IdleCase c;
  // The paper's models, smallest to largest, are also fastest to slowest when idle.
  REQUIRE(c.latency[0] < c.latency[1]);
  REQUIRE(c.latency[1] < c.latency[2]);
  CHECK(c.Route("slack", c.WithBudget(c.latency[2] * 1.01)) == 2);
  CHECK(c.Route("slack", c.WithBudget(0.5 * (c.latency[1] + c.latency[2]))) == 1);
  CHECK(c.Route("slack", c.WithBudget(0.5 * (c.latency[0] + c.latency[1]))) == 0);
  CHECK(c.Route("slack", c.WithBudget(0.5 * c.latency[0])) == 0);  // none leaves slack: the most
  // A prompt no window holds: every prediction +inf; the largest (the simulator rejects it).
  const IdleCase too_long(5000);
  CHECK(too_long.Route("slack", too_long.WithBudget(100.0)) == 2);
}

TEST_CASE("scorer maximizes quality / peak - lambda x latency / budget", "[router][baselines]") {
  const IdleCase c;
  const double budget = 2.0 * c.latency[2];
  std::set<ModelId> chosen;
  for (double lambda : {0.0, 0.05, 0.2, 0.5, 1.0, 3.0, 10.0, 100.0}) {
    INFO("lambda " << lambda);
    ModelId expected = 0;
    double best = -1e300;
    for (size_t m = 0; m < c.latency.size(); ++m) {
      const double score = c.quality[m] - lambda * c.latency[m] / budget;
      if (score > best) {
        best = score;
        expected = static_cast<ModelId>(m);
      }
    }
    const ModelId got = c.Route(fmt::format("scorer:{}", lambda), c.WithBudget(budget));
    CHECK(got == expected);
    chosen.insert(got);
  }
  // The sweep of lambda must move the choice, or the check proves little.
  CHECK(chosen.size() >= 2);
  CHECK(c.Route("scorer:0", c.WithBudget(budget)) ==
        static_cast<ModelId>(std::max_element(c.quality.begin(), c.quality.end()) - c.quality.begin()));
}

TEST_CASE("vqueue follows drift-plus-penalty with its virtual queue", "[router][baselines]") {
  const IdleCase c;
  // A budget the largest model misses (ratio > 1), so the queue grows and the choice moves.
  const double budget = 0.5 * (c.latency[1] + c.latency[2]);
  const RouterView v = c.WithBudget(budget);
  const double vweight = 1.0;
  auto router = MakeRouter("vqueue", MakeRouterContext(c.scenario));
  router->Reset(v.num_models());
  double queue = 0.0;
  std::set<ModelId> chosen;
  for (int step = 0; step < 12; ++step) {
    INFO("step " << step << ", queue " << queue);
    ModelId expected = 0;
    double best = -1e300;
    for (size_t m = 0; m < c.latency.size(); ++m) {
      const double score = vweight * c.quality[m] - queue * std::min(c.latency[m] / budget, 10.0);
      if (score > best) {
        best = score;
        expected = static_cast<ModelId>(m);
      }
    }
    const ModelId got = router->Route(v);
    REQUIRE(got == expected);
    chosen.insert(got);
    queue = std::max(0.0, queue + std::min(c.latency[static_cast<size_t>(got)] / budget, 10.0) - 1.0);
  }
  CHECK(chosen.size() >= 2);
  // A new run starts with an empty queue: the best-quality model again.
  router->Reset(v.num_models());
  CHECK(router->Route(v) == static_cast<ModelId>(std::max_element(c.quality.begin(), c.quality.end()) -
                                                  c.quality.begin()));
}

}  // namespace bestserve
