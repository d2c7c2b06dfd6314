// Every registered router (built-in kinds and a policy file) on request streams a real gateway
// can receive: many requests at one timestamp, 100k requests in one second, prompts longer than
// every model's window (and than the latency tables), and a system with one model only; under each
// rate estimator. Zero-length outputs are not simulated here: the engine itself (not a router)
// aborts on them (decoding never reaches 0 generated tokens and its context leaves the decode
// table); that belongs to the engine's over-context work. Routers never see the output length
// outside oracle_view. No router may abort a run: every request is served or
// rejected exactly once, with a finite reward in [0, peak], and a prompt no window holds is
// rejected with the context-window reason.
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

// Each kind's default specs, or for kinds that need a file, the policy file.
std::vector<std::string> AllSpecs(const ServingSystem& system, const std::string& policy) {
  std::vector<std::string> specs;
  for (const RouterKind* kind : RouterKinds()) {
    std::vector<std::string> own = kind->default_specs(system);
    if (own.empty()) own.push_back(std::string(kind->name) + ":" + policy);
    for (auto& spec : own) specs.push_back(std::move(spec));
  }
  return specs;
}

Request MakeRequest(int64_t id, double arrival_s, int32_t prompt, int32_t output, TaskId task) {
  Request r;
  r.id = id;
  r.arrival_s = arrival_s;
  r.prompt_tokens = prompt;
  r.output_tokens = output;
  r.task = task;
  return r;
}

// Runs `spec` on `workload` and checks the invariants; returns the records.
std::vector<RequestRecord> RunChecked(const Scenario& scenario, const std::string& spec, const Workload& workload) {
  INFO("router " << spec << ", rate estimator " << scenario.rate_estimator->Describe());
  Workload with_deadlines = workload;
  scenario.deadline.ApplyTo(with_deadlines, scenario.tasks);
  auto router = MakeRouter(spec, MakeRouterContext(scenario));
  std::unique_ptr<Simulator> sim;
  REQUIRE_NOTHROW(sim = RunSimulation(scenario, with_deadlines, *router));
  const auto& records = sim->records();
  REQUIRE(records.size() == workload.size());
  int64_t bad = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    const RequestRecord& r = records[i];
    const bool ok = r.request.id == static_cast<int64_t>(i) && r.finished && r.model >= 0 &&
                    r.model < static_cast<ModelId>(scenario.system.model_names.size()) && std::isfinite(r.reward) &&
                    r.reward >= 0.0 && r.reward <= r.peak_reward + 1e-12 &&
                    (r.reject != RejectReason::kNone || r.completion_s >= r.request.arrival_s) &&
                    (r.reject == RejectReason::kNone || r.reward == 0.0);
    if (!ok) ++bad;
  }
  CHECK(bad == 0);
  return records;
}

Scenario LoadWith(std::vector<std::pair<std::string, std::string>> set_values) {
  ScenarioOverrides overrides;
  overrides.set_values = std::move(set_values);
  return LoadScenario("", overrides);
}

const char* const kEstimators[] = {"{kind: last_k, k: 5}", "{kind: last_k_v2, k: 5, resolution_s: 0.001}",
                                   "{kind: two_scale, fast_half_life_s: 1, slow_half_life_s: 30}",
                                   "{kind: ewma, half_life_s: 1}"};

class PolicyFile {
 public:
  explicit PolicyFile(const std::string& name, std::vector<std::string> models = {"opt-125m", "opt-1.3b", "opt-6.7b"})
      : path_((std::filesystem::temp_directory_path() / name).string()) {
    SavePolicyWeights(path_, testing::RandomRoutingPolicy(11, {64}, ObservationEncoding::kPaperV1, std::move(models)));
  }
  ~PolicyFile() { std::filesystem::remove(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace

TEST_CASE("no router aborts on simultaneous arrivals or prompts past every window",
          "[router][adversarial]") {
  // 500 requests at one timestamp, then a mix: prompts of 2048 (no room for an output token in
  // OPT's 2048 window), 5000 and 20000 tokens (past every window and the 4096-token prefill
  // table), one-token outputs, and ordinary requests in between.
  Workload workload;
  int64_t id = 0;
  for (int i = 0; i < 500; ++i) workload.push_back(MakeRequest(id++, 1.0, 64, 32, i % 4));
  const int32_t prompts[] = {2048, 5000, 20000, 1000, 64};
  const int32_t outputs[] = {1, 1, 200, 2, 16};
  for (int i = 0; i < 500; ++i) {
    workload.push_back(MakeRequest(id++, 2.0 + 0.01 * (i / 5), prompts[i % 5], outputs[(i / 5) % 5], i % 4));
  }
  const PolicyFile policy("bestserve_adversarial.bsw");
  for (const char* estimator : kEstimators) {
    // The policy file records last_k; a policy must run with its own estimator, so it runs only there.
    const Scenario scenario = LoadWith({{"rate_estimator", estimator}});
    for (const std::string& spec : AllSpecs(scenario.system, policy.path())) {
      if (spec.rfind("policy:", 0) == 0 && std::string(estimator).find("last_k,") == std::string::npos) continue;
      const auto records = RunChecked(scenario, spec, workload);
      for (const RequestRecord& r : records) {
        if (r.request.prompt_tokens >= 5000) CHECK(r.reject == RejectReason::kExceedsContextWindow);
      }
    }
  }
}

TEST_CASE("no router aborts on 100k requests in one second", "[router][adversarial][slow]") {
  Workload workload;
  for (int64_t i = 0; i < 100000; ++i) {
    workload.push_back(MakeRequest(i, static_cast<double>(i) / 100000.0, 32 + static_cast<int32_t>(i % 97),
                                   1 + static_cast<int32_t>(i % 13), static_cast<TaskId>(i % 4)));
  }
  const PolicyFile policy("bestserve_adversarial_100k.bsw");
  const Scenario scenario = LoadWith({{"rate_estimator", "{kind: last_k_v2, k: 5, resolution_s: 0.001}"}});
  const Scenario paper = LoadWith({});
  for (const std::string& spec : AllSpecs(scenario.system, policy.path())) {
    RunChecked(spec.rfind("policy:", 0) == 0 ? paper : scenario, spec, workload);
  }
}

TEST_CASE("no router aborts on a system with one model only", "[router][adversarial]") {
  const Scenario scenario =
      LoadWith({{"cluster.gpu_groups[0].instances", "[{model: opt-1.3b, memory_fraction: 0.9}]"}});
  REQUIRE(scenario.system.model_names.size() == 1);
  Workload workload;
  for (int64_t i = 0; i < 300; ++i) {
    workload.push_back(MakeRequest(i, 0.5 * static_cast<double>(i / 50), i % 3 == 0 ? 3000 : 100,
                                   1 + static_cast<int32_t>(i % 4) * 20, static_cast<TaskId>(i % 4)));
  }
  const PolicyFile policy("bestserve_adversarial_one.bsw", {"opt-1.3b"});
  for (const std::string& spec : AllSpecs(scenario.system, policy.path())) {
    const auto records = RunChecked(scenario, spec, workload);
    for (const RequestRecord& r : records) CHECK(r.model == 0);
  }
}

}  // namespace bestserve
