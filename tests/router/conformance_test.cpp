// Every registered router kind through the routing invariants, enumerated from the registry (a
// new router is tested by registering it): on the built-in paper scenario (table profiles, paper
// engine) and on the fidelity scenario (a fitted parametric profile, which has no tables to
// clamp to, under the vllm engine), every request is
// served or rejected exactly once, rewards are finite and within [0, peak], a rerun gives the
// identical records, and a bad spec is a ConfigError naming the spec (the command-line text, not
// a line of the built-in scenario).
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "router/builtin/registry.h"
#include "router/policy/policy_io.h"
#include "scenario/scenario.h"
#include "tests/router/router_fixtures.h"

namespace bestserve {
namespace {

// Each kind's specs: its own defaults, or for kinds that need a file, a random policy file.
std::vector<std::string> SpecsOf(const RouterKind& kind, const ServingSystem& system, const std::string& policy) {
  std::vector<std::string> specs = kind.default_specs(system);
  if (specs.empty()) specs.push_back(std::string(kind.name) + ":" + policy);
  return specs;
}

struct Run {
  std::vector<RequestRecord> records;
  std::string described;
};

Run RunWith(const Scenario& scenario, const std::string& spec) {
  auto router = MakeRouter(spec, MakeRouterContext(scenario));
  auto sim = RunSimulation(scenario, MakeScenarioWorkload(scenario), *router);
  return Run{sim->records(), router->Describe()};
}

bool SameRecords(const std::vector<RequestRecord>& a, const std::vector<RequestRecord>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const RequestRecord& x = a[i];
    const RequestRecord& y = b[i];
    const bool same_times = (x.completion_s == y.completion_s || (std::isnan(x.completion_s) && std::isnan(y.completion_s)));
    if (x.model != y.model || x.replica != y.replica || !same_times || x.reward != y.reward ||
        x.reject != y.reject) {
      return false;
    }
  }
  return true;
}

TEST_CASE("every registered router keeps the routing invariants", "[router][conformance]") {
  const std::string fidelity = std::string(BESTSERVE_SOURCE_DIR) + "/experiments/fidelity/opt13b_a100_vllm.yaml";
  const std::string config = GENERATE_REF(as<std::string>{}, "", fidelity);
  INFO("scenario " << (config.empty() ? std::string("built-in") : config));
  ScenarioOverrides overrides;
  overrides.rate_rps = config.empty() ? 10.0 : 3.0;
  overrides.duration_s = 60.0;
  const Scenario scenario = LoadScenario(config, overrides);
  std::vector<std::string> task_names;
  for (TaskId t = 0; t < scenario.tasks.num_tasks(); ++t) task_names.push_back(scenario.tasks.task(t).name);
  const std::string policy = (std::filesystem::temp_directory_path() / "bestserve_conformance.bsw").string();
  SavePolicyWeights(policy, testing::RandomRoutingPolicy(7, {256}, ObservationEncoding::kPaperV1,
                                                         scenario.system.model_names, task_names));
  REQUIRE(RouterKinds().size() >= 5);
  for (const RouterKind* kind : RouterKinds()) {
    for (const std::string& spec : SpecsOf(*kind, scenario.system, policy)) {
      INFO("router " << spec);
      const Run first = RunWith(scenario, spec);
      REQUIRE_FALSE(first.records.empty());
      std::vector<int> seen(first.records.size(), 0);
      for (size_t i = 0; i < first.records.size(); ++i) {
        const RequestRecord& r = first.records[i];
        REQUIRE(r.request.id == static_cast<int64_t>(i));
        ++seen[i];
        CHECK(r.finished);
        CHECK(r.model >= 0);
        CHECK(r.model < static_cast<ModelId>(scenario.system.model_names.size()));
        CHECK(std::isfinite(r.reward));
        CHECK(r.reward >= 0.0);
        CHECK(r.reward <= r.peak_reward + 1e-12);
        if (r.reject == RejectReason::kNone) {
          CHECK(r.completion_s >= r.request.arrival_s);
          CHECK(r.first_token_s <= r.completion_s);
        }
      }
      for (int count : seen) CHECK(count == 1);
      const Run second = RunWith(scenario, spec);
      CHECK(second.described == first.described);
      CHECK(SameRecords(first.records, second.records));
    }
  }
  std::filesystem::remove(policy);
}

TEST_CASE("a bad router spec is an error naming the spec", "[router][conformance]") {
  const Scenario scenario = LoadScenario("");
  const RouterContext ctx = MakeRouterContext(scenario);
  struct Case {
    std::string spec;
    std::string fragment;
  };
  const std::vector<Case> cases = {
      {"smartest", "--router 'smartest': unknown router 'smartest'; valid routers: static:<model>"},
      {"static:opt-99b", "--router 'static:opt-99b': no such model 'opt-99b'"},
      {"static", "--router 'static': expected static:<model>"},
      {"threshold:2,x", "--router 'threshold:2,x': threshold 'x' is not a number"},
      {"threshold:24,2", "--router 'threshold:24,2': expected positive, strictly increasing"},
      {"greedy:3", "--router 'greedy:3': greedy takes no argument"},
      {"random:1", "--router 'random:1': random takes no argument"},
      {"policy:/nonexistent.bsw", "/nonexistent.bsw: policy weights file not found"},
  };
  for (const Case& c : cases) {
    INFO(c.spec);
    try {
      MakeRouter(c.spec, ctx);
      FAIL("accepted");
    } catch (const ConfigError& e) {
      CHECK_THAT(e.what(), Catch::Contains(c.fragment));
      CHECK_THAT(e.what(), !Catch::Contains("paper_4gpu.yaml"));
    }
  }
  // The same through the scenario's --router override: named as the flag, not a YAML line.
  ScenarioOverrides overrides;
  overrides.router = "static:opt-99b";
  try {
    LoadScenario("", overrides);
    FAIL("accepted");
  } catch (const ConfigError& e) {
    CHECK_THAT(e.what(), Catch::StartsWith("--router 'static:opt-99b'"));
  }
}

TEST_CASE("--help text, names and evaluate's defaults come from the registry", "[router][conformance]") {
  const std::string help = RouterHelp();
  std::vector<std::string> names = RouterNames();
  REQUIRE(names.size() == RouterKinds().size());
  for (const RouterKind* kind : RouterKinds()) {
    CHECK_THAT(help, Catch::Contains(kind->usage));
    CHECK_THAT(help, Catch::Contains(kind->help));
  }
  const Scenario scenario = LoadScenario("");
  const std::vector<std::string> specs = BuiltinRouterSpecs(scenario.system);
  size_t expected = scenario.system.model_names.size();  // dedicated:<model>
  for (const RouterKind* kind : RouterKinds()) expected += kind->default_specs(scenario.system).size();
  CHECK(specs.size() == expected);
}

}  // namespace
}  // namespace bestserve
