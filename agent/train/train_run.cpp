#include "agent/train/train_run.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "agent/train/learner_factory.h"
#include "router/policy/policy_io.h"
#include "agent/train/trainer.h"
#include "common/files.h"
#include "common/json_writer.h"
#include "agent/env/routing_env.h"
#include "router/policy/policy_metadata.h"
#include "router/builtin/policy_router.h"
#include "sim/metrics.h"
#include "workloads/registry.h"

namespace bestserve {
namespace fs = std::filesystem;
namespace {

constexpr const char* kCheckpointFile = "checkpoint.bsc";

std::string Num(double v) { return fmt::format("{}", v); }

ObservationSpec ParseObservation(const std::optional<ConfigNode>& node) {
  ObservationSpec spec;
  if (!node) return spec;
  node->CheckKeys({"encoding", "in_flight_scale", "rate_scale_rps"});
  const std::string encoding = node->GetString("encoding", "paper-v1");
  if (encoding == "paper-v1") {
    spec.encoding = ObservationEncoding::kPaperV1;
  } else if (encoding == "extended-v1") {
    spec.encoding = ObservationEncoding::kExtendedV1;
  } else {
    node->Child("encoding").Fail(fmt::format("expected paper-v1 or extended-v1, got '{}'", encoding));
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
  return weights;
}

std::vector<std::string> ReadCurveRows(const std::string& path, int64_t up_to_iteration) {
  std::vector<std::string> rows;
  std::ifstream in(path);
  std::string line;
  bool header = true;
  while (std::getline(in, line)) {
    if (header) {
      header = false;
      continue;
    }
    const int64_t iteration = std::stoll(line.substr(0, line.find(',')));
    if (iteration <= up_to_iteration) rows.push_back(line + "\n");
  }
  return rows;
}

}  // namespace

TrainConfig LoadTrainConfig(const std::string& path, const TrainOverrides& overrides) {
  const ConfigNode root = ConfigNode::LoadFile(path);
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

TrainResult RunTraining(const TrainConfig& config, const TrainOptions& options) {
  const auto log = [&](const std::string& line) {
    if (options.log) options.log(line);
  };
  const fs::path out(options.out_dir);
  const std::string config_dir = fs::path(config.source).parent_path().string();
  const Scenario scenario = LoadTrainScenario(config);
  std::shared_ptr<const WorkloadGenerator> training =
      config.training_workload ? std::shared_ptr<const WorkloadGenerator>(
                                     MakeWorkloadGenerator(*config.training_workload, config_dir))
                               : scenario.workload;
  std::shared_ptr<const WorkloadGenerator> validation_generator =
      config.validation_workload ? std::shared_ptr<const WorkloadGenerator>(
                                       MakeWorkloadGenerator(*config.validation_workload, config_dir))
                                 : training;
  RoutingEnvSettings env_settings;
  env_settings.observation = config.observation;
  env_settings.episode_requests = config.episode_requests;
  RoutingEnvironment env(scenario, training, env_settings);
  const ObservationSpec spec = env.observation_spec();

  // The fixed validation workloads, generated once.
  std::vector<Workload> validation;
  for (uint64_t seed : config.validation_seeds) {
    Workload w = validation_generator->Generate(WorkloadContext{&scenario.tasks, seed});
    if (static_cast<int64_t>(w.size()) > config.validation_requests) w.resize(static_cast<size_t>(config.validation_requests));
    scenario.deadline.ApplyTo(w, scenario.tasks);
    validation.push_back(std::move(w));
  }

  std::vector<std::string> curve_rows;
  const std::string curve_path = (out / "curve.csv").string();
  auto write_curve = [&] {
    std::string text = CurveCsvHeader();
    for (const auto& row : curve_rows) text += row;
    WriteFileAtomically(curve_path, text);
  };
  double best_score = NAN;
  TrainerHooks hooks;
  hooks.clock_seconds = options.clock;
  hooks.on_curve_row = [&](const CurveRow& row) { curve_rows.push_back(CurveCsvRow(row)); };
  hooks.evaluate = [&](const PolicySnapshot& snapshot) {
    PolicyRouter router(MlpPolicy(snapshot.shape, snapshot.parameters), spec, "candidate");
    double total = 0.0;
    for (const Workload& w : validation) {
      auto sim = RunSimulation(scenario, w, router);
      total += Summarize(*sim, scenario.tasks, scenario.metrics).mean_reward_fraction;
    }
    return total / static_cast<double>(validation.size());
  };
  hooks.on_checkpoint = [&](const std::string&, int64_t) { write_curve(); };
  hooks.on_progress = [&](const TrainingProgress& p) {
    if (options.progress) options.progress(p.iteration, p.total_iterations);
    log(fmt::format("iteration {}/{} ({:.1f}%) | {:.0f} it/s | ETA {} | epsilon {:.3f} | loss {:.5f} | "
                    "recent reward {:.4f}",
                    p.iteration, p.total_iterations, 100.0 * p.iteration / std::max<int64_t>(p.total_iterations, 1),
                    p.iterations_per_second,
                    std::isfinite(p.eta_seconds) ? fmt::format("{:.0f} s", p.eta_seconds) : std::string("-"),
                    p.epsilon, p.mean_loss, p.recent_mean_reward));
  };
  Trainer* trainer_ptr = nullptr;
  hooks.on_new_best = [&](const PolicySnapshot& snapshot, double score) {
    best_score = score;
    PolicyWeights weights = trainer_ptr->CurrentPolicy();
    weights.parameters = snapshot.parameters;
    weights.metadata.emplace_back("validation_score", fmt::format("{}", score));
    SavePolicyWeights((out / "best.bsw").string(), WithRoutingMetadata(weights, scenario, spec, config.name));
    log(fmt::format("new best policy at iteration {}: validation mean reward {:.4f} of peak", snapshot.iteration,
                    score));
  };

  fs::create_directories(out);
  WriteFileAtomically((out / "config.yaml").string(), [&] {
    YAML::Emitter e;
    e << config.resolved;
    return std::string(e.c_str()) + "\n";
  }());
  WriteFileAtomically((out / "scenario.yaml").string(), ResolvedConfigYaml(scenario));

  const std::string checkpoint = (out / kCheckpointFile).string();
  Trainer trainer(config.learner, config.seed, env, LearnerFactoryFor(config.learner), hooks, checkpoint);
  trainer_ptr = &trainer;
  if (options.resume && fs::exists(checkpoint)) {
    trainer.Resume(checkpoint);
    curve_rows = ReadCurveRows(curve_path, trainer.iteration());
    log(fmt::format("resumed from {} at iteration {}", checkpoint, trainer.iteration()));
  } else {
    if (options.resume) log(fmt::format("no checkpoint in {}; starting from the beginning", options.out_dir));
    if (!options.init_from.empty()) {
      trainer.InitFrom(LoadPolicyWeights(options.init_from), options.init_from);
      log(fmt::format("fine-tuning from {}", options.init_from));
    }
  }
  const double start = options.clock ? options.clock() : 0.0;
  trainer.Run(options.stop_at_iteration);
  TrainResult result;
  result.iterations = trainer.iteration();
  result.wall_seconds = options.clock ? options.clock() - start : 0.0;
  if (trainer.best()) result.best_score = trainer.best()->score;
  write_curve();
  if (trainer.finished()) {
    result.final_policy = (out / "final.bsw").string();
    SavePolicyWeights(result.final_policy, WithRoutingMetadata(trainer.CurrentPolicy(), scenario, spec, config.name));
    if (fs::exists(out / "best.bsw")) result.best_policy = (out / "best.bsw").string();
    JsonWriter j;
    j.BeginObject();
    j.FieldString("name", config.name);
    j.FieldInt("seed", static_cast<int64_t>(config.seed));
    j.FieldInt("iterations", trainer.iteration());
    j.FieldInt("updates", trainer.updates());
    j.FieldInt("episodes", trainer.episodes());
    j.Field("best_validation_score", result.best_score);
    j.FieldString("backend", config.learner.backend);
    j.FieldString("network", trainer.shape().ToString());
    j.FieldString("revision", BESTSERVE_GIT_REVISION);
    j.EndObject();
    WriteFileAtomically((out / "run.json").string(), j.str());
  }
  return result;
}

}  // namespace bestserve
