// Training configs: parsing, validation and the policy metadata the trainer writes (no
// libtorch, so the Python package can load the same configs; see train_run.h).
#include <fmt/format.h>

#include <filesystem>

#include "router/policy/policy_metadata.h"
#include "agent/train/train_run.h"
#include "workloads/registry.h"

namespace bestserve {
namespace fs = std::filesystem;
namespace {

std::string Num(double v) { return fmt::format("{}", v); }

ObservationSpec ParseObservation(const std::optional<ConfigNode>& node) {
  ObservationSpec spec;
  if (!node) return spec;
  node->CheckKeys({"encoding", "in_flight_scale", "rate_scale_rps"});
  const std::string encoding = node->GetString("encoding", "paper-v1");
  if (const auto known = ObservationEncodingFromName(encoding)) {
    spec.encoding = *known;
  } else {
    node->Child("encoding").Fail(fmt::format("expected paper-v1, extended-v1, request-v1 or gateway-v1, got '{}'", encoding));
  }
  spec.in_flight_scale = static_cast<float>(node->GetPositiveDouble("in_flight_scale", spec.in_flight_scale));
  spec.rate_scale_rps = static_cast<float>(node->GetPositiveDouble("rate_scale_rps", spec.rate_scale_rps));
  return spec;
}

RateEstimatorSettings EstimatorOf(const Scenario& scenario) {
  const YAML::Node node = scenario.resolved["rate_estimator"];
  RateEstimatorSettings s;
  s.kind = node["kind"].as<std::string>();
  if (node["k"]) s.k = node["k"].as<int32_t>();
  if (node["half_life_s"]) s.half_life_s = node["half_life_s"].as<double>();
  if (node["resolution_s"]) s.resolution_s = node["resolution_s"].as<double>();
  if (node["fast_half_life_s"]) s.fast_half_life_s = node["fast_half_life_s"].as<double>();
  if (node["slow_half_life_s"]) s.slow_half_life_s = node["slow_half_life_s"].as<double>();
  return s;
}

}  // namespace

PolicyWeights WithRoutingMetadata(PolicyWeights weights, const Scenario& scenario, const ObservationSpec& spec,
                                  const std::string& run_name) {
  PolicyMetadata metadata;
  metadata.observation = spec;
  for (const auto& t : scenario.tasks.tasks()) metadata.task_names.push_back(t.name);
  metadata.model_names = scenario.system.model_names;
  metadata.rate_estimator = EstimatorOf(scenario);
  for (auto& entry : EncodePolicyMetadata(metadata)) weights.metadata.push_back(std::move(entry));
  weights.metadata.emplace_back("run", run_name);
  weights.metadata.emplace_back("scenario", scenario.name);
  weights.metadata.emplace_back("deadline.reward", ToString(scenario.deadline.reward));
  // Which reading of the soft rule the policy learned (sim/reward.h); said only for soft rewards,
  // where it matters, so hard policies keep their bytes.
  if (scenario.deadline.reward == RewardKind::kSoft) {
    weights.metadata.emplace_back("deadline.soft.lateness", ToString(scenario.deadline.soft_lateness));
  }
  return weights;
}

TrainConfig LoadTrainConfig(const std::string& path, const TrainOverrides& overrides) {
  const ConfigNode root = ConfigNode::LoadFile(path);
  for (const auto& [key, value] : overrides.set_values) ApplyOverride(root.yaml(), key, value, "override");
  root.CheckKeys({"name", "seed", "scenario", "set", "training_workload", "episode_requests", "observation",
                  "learner", "validation", "notes"});
  const std::string config_dir = fs::path(path).parent_path().string();
  TrainConfig c;
  c.source = path;
  c.name = root.GetString("name", fs::path(path).stem().string());
  const int64_t seed = root.GetInt("seed", 1);
  if (seed < 0) root.Child("seed").Fail(fmt::format("expected a seed >= 0, got {}", seed));
  c.seed = overrides.seed ? *overrides.seed : static_cast<uint64_t>(seed);
  if (auto scenario = root.MaybeChild("scenario")) c.scenario_path = ResolveDataPath(*scenario, config_dir);
  if (auto set = root.MaybeChild("set")) {
    set->ExpectMap("key path -> value overrides");
    for (const auto& key : set->Keys()) {
      c.scenario_overrides.set_values.emplace_back(key, YAML::Dump(set->Child(key).yaml()));
    }
  }
  c.training_workload = root.MaybeChild("training_workload");
  c.episode_requests = root.GetPositiveInt("episode_requests", c.episode_requests);
  c.observation = ParseObservation(root.MaybeChild("observation"));
  if (auto learner = root.MaybeChild("learner")) c.learner = ParseLearnerSettings(*learner);
  if (overrides.iterations) {
    if (*overrides.iterations <= 0) {
      ThrowConfigError("--iterations: expected an iteration count > 0, got {}", *overrides.iterations);
    }
    c.learner.iterations = *overrides.iterations;
  }
  c.learner.Validate();
  if (auto validation = root.MaybeChild("validation")) {
    validation->CheckKeys({"workload", "seeds", "requests"});
    c.validation_workload = validation->MaybeChild("workload");
    if (auto seeds = validation->MaybeChild("seeds")) {
      seeds->ExpectSequence("validation seeds");
      if (seeds->size() == 0) seeds->Fail("expected at least one validation seed");
      c.validation_seeds.clear();
      for (size_t i = 0; i < seeds->size(); ++i) {
        const int64_t s = seeds->Element(i).AsInt();
        if (s < 0) seeds->Element(i).Fail(fmt::format("expected a seed >= 0, got {}", s));
        c.validation_seeds.push_back(static_cast<uint64_t>(s));
      }
    }
    c.validation_requests = validation->GetPositiveInt("requests", c.validation_requests);
  }
  // Validate everything the run will build, before anything runs.
  const Scenario scenario = LoadTrainScenario(c);
  if (c.training_workload) MakeWorkloadGenerator(*c.training_workload, config_dir);
  if (c.validation_workload) MakeWorkloadGenerator(*c.validation_workload, config_dir);

  YAML::Node resolved = YAML::Clone(root.yaml());
  resolved["name"] = c.name;
  resolved["seed"] = fmt::format("{}", c.seed);
  resolved["scenario"] = c.scenario_path.empty() ? std::string("experiments/scenarios/paper_4gpu.yaml")
                                                 : PortableDataPath(c.scenario_path);
  resolved["episode_requests"] = fmt::format("{}", c.episode_requests);
  YAML::Node observation;
  observation["encoding"] = ToString(c.observation.encoding);
  observation["in_flight_scale"] = Num(c.observation.in_flight_scale);
  observation["rate_scale_rps"] = Num(c.observation.rate_scale_rps);
  resolved["observation"] = observation;
  resolved["learner"] = YAML::Load(LearnerSettingsToYaml(c.learner));
  YAML::Node validation = resolved["validation"];
  YAML::Node seeds(YAML::NodeType::Sequence);
  for (uint64_t s : c.validation_seeds) seeds.push_back(fmt::format("{}", s));
  validation["seeds"] = seeds;
  validation["requests"] = fmt::format("{}", c.validation_requests);
  resolved["validation"] = validation;
  c.resolved = resolved;
  return c;
}

Scenario LoadTrainScenario(const TrainConfig& config) {
  ScenarioOverrides overrides = config.scenario_overrides;
  overrides.seed = config.seed;
  return LoadScenario(config.scenario_path, overrides);
}

TrainEnvironmentParts MakeTrainEnvironmentParts(const TrainConfig& config) {
  TrainEnvironmentParts parts;
  parts.scenario = std::make_shared<const Scenario>(LoadTrainScenario(config));
  const std::string config_dir = fs::path(config.source).parent_path().string();
  parts.training_workload = config.training_workload
                                ? std::shared_ptr<const WorkloadGenerator>(
                                      MakeWorkloadGenerator(*config.training_workload, config_dir))
                                : parts.scenario->workload;
  parts.settings.observation = config.observation;
  parts.settings.episode_requests = config.episode_requests;
  return parts;
}

}  // namespace bestserve
