#include "agent/train/train_run.h"

#include <fmt/format.h>

#include <charconv>
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

std::vector<std::string> ReadCurveRows(const std::string& path, int64_t up_to_iteration) {
  std::vector<std::string> rows;
  std::ifstream in(path);
  std::string line;
  int64_t line_number = 0;
  while (std::getline(in, line)) {
    if (++line_number == 1) continue;  // the header
    int64_t iteration = 0;
    const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), iteration);
    if (ec != std::errc() || end == line.data() + line.size() || *end != ',') {
      ThrowConfigError("{}:{}: not a training-curve row (expected the iteration, then ','); the run "
                       "folder is damaged, train it again without --resume into a new folder",
                       path, line_number);
    }
    if (iteration <= up_to_iteration) rows.push_back(line + "\n");
  }
  return rows;
}

}  // namespace

TrainResult RunTraining(const TrainConfig& config, const TrainOptions& options) {
  const auto log = [&](const std::string& line) {
    if (options.log) options.log(line);
  };
  const fs::path out(options.out_dir);
  const std::string config_dir = fs::path(config.source).parent_path().string();
  const TrainEnvironmentParts parts = MakeTrainEnvironmentParts(config);
  const Scenario& scenario = *parts.scenario;
  const std::shared_ptr<const WorkloadGenerator>& training = parts.training_workload;
  std::shared_ptr<const WorkloadGenerator> validation_generator =
      config.validation_workload ? std::shared_ptr<const WorkloadGenerator>(
                                       MakeWorkloadGenerator(*config.validation_workload, config_dir))
                                 : training;
  RoutingEnvironment env(scenario, training, parts.settings);
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
  const bool with_average = config.learner.averages_weights();
  auto write_curve = [&] {
    std::string text = CurveCsvHeader(with_average);
    for (const auto& row : curve_rows) text += row;
    WriteFileAtomically(curve_path, text);
  };
  double best_score = NAN;
  double average_score = NAN;  // of the latest evaluated weight average
  TrainerHooks hooks;
  hooks.clock_seconds = options.clock;
  hooks.on_curve_row = [&](const CurveRow& row) { curve_rows.push_back(CurveCsvRow(row, with_average)); };
  hooks.evaluate = [&](const PolicySnapshot& snapshot) {
    PolicyRouter router(MlpPolicy(snapshot.shape, snapshot.parameters), spec, "candidate");
    double total = 0.0;
    for (const Workload& w : validation) {
      auto sim = RunSimulation(scenario, w, router);
      total += Summarize(*sim, scenario.tasks, scenario.metrics).mean_reward_fraction;
    }
    const double score = total / static_cast<double>(validation.size());
    if (snapshot.average) average_score = score;
    return score;
  };
  hooks.before_checkpoint = [&](const std::string&, int64_t) { write_curve(); };
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

  // Before anything is written: a backend that cannot load (the torch plugin) is a config error.
  LearnerFactory learner_factory = LearnerFactoryFor(config.learner, options.learner_threads);
  const std::string checkpoint = (out / kCheckpointFile).string();
  Trainer trainer(config.learner, config.seed, env, std::move(learner_factory), hooks, checkpoint);
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
  // Only now that the checkpoint or the initial policy fits this run is anything written: a
  // refused run leaves the folder (and a good run's config in it) as it was.
  fs::create_directories(out);
  WriteFileAtomically((out / "config.yaml").string(), [&] {
    YAML::Emitter e;
    e << config.resolved;
    return std::string(e.c_str()) + "\n";
  }());
  WriteFileAtomically((out / "scenario.yaml").string(), ResolvedConfigYaml(scenario));
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
    if (std::optional<PolicyWeights> average = trainer.AveragePolicyWeights()) {
      // Evaluated at the last iteration, after its last sample: the score is this average's.
      if (!std::isnan(average_score)) average->metadata.emplace_back("validation_score", fmt::format("{}", average_score));
      result.average_policy = (out / "average.bsw").string();
      SavePolicyWeights(result.average_policy, WithRoutingMetadata(*average, scenario, spec, config.name));
    }
    JsonWriter j;
    j.BeginObject();
    j.FieldString("name", config.name);
    j.FieldInt("seed", static_cast<int64_t>(config.seed));
    j.FieldInt("iterations", trainer.iteration());
    j.FieldInt("updates", trainer.updates());
    j.FieldInt("episodes", trainer.episodes());
    j.Field("best_validation_score", result.best_score);
    if (!result.average_policy.empty()) {
      j.FieldInt("averaged_networks", trainer.averaged_samples());
      j.Field("average_validation_score", average_score);
    }
    j.FieldString("backend", config.learner.backend);
    j.FieldString("network", trainer.shape().ToString());
    j.FieldString("revision", BESTSERVE_GIT_REVISION);
    j.EndObject();
    WriteFileAtomically((out / "run.json").string(), j.str());
  }
  return result;
}

}  // namespace bestserve
