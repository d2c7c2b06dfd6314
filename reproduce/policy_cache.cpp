#include "reproduce/policy_cache.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "common/files.h"
#include "scenario/scenario.h"
#include "common/hash.h"
#include "common/json_writer.h"
#include "agent/train/train_run.h"
#include "agent/train/trainer.h"

namespace bestserve::reproduce {
namespace {

namespace fs = std::filesystem;

// Part of every key: bumped when the trainer's arithmetic changes, so that a cache never hands
// back a policy this code would not train. 2: the fast learner sums the paper network's batch
// gradients in two halves (agent/learn/fast_learner.h).
constexpr const char* kCacheFormat = "bestserve-policy-cache-2";

TrainConfig LoadPolicyConfig(const PolicySpec& spec, bool quick) {
  TrainOverrides overrides;
  if (quick && spec.quick_iterations) overrides.iterations = *spec.quick_iterations;
  TrainConfig config = LoadTrainConfig(spec.train_config, overrides);
  if (quick && spec.quick_learner) {
    // Quick-mode learner keys on top of the config's resolved learner section.
    YAML::Node merged = YAML::Load(LearnerSettingsToYaml(config.learner));
    for (const std::string& key : spec.quick_learner->Keys()) merged[key] = YAML::Clone(spec.quick_learner->Child(key).yaml());
    YAML::Emitter text;
    text << merged;
    try {
      config.learner = ParseLearnerSettings(ConfigNode::LoadString(text.c_str(), spec.where + " (quick.learner)"));
      config.learner.Validate();
    } catch (const ConfigError& error) {
      throw ConfigError(fmt::format("{}: quick.learner: {}", spec.where, error.what()));
    }
    config.resolved["learner"] = YAML::Load(LearnerSettingsToYaml(config.learner));
  }
  return config;
}

std::string YamlText(const YAML::Node& node) {
  YAML::Emitter e;
  e << node;
  return e.c_str();
}

std::string CacheKey(const TrainConfig& config, const std::string& init_key) {
  uint64_t h = Fnv1a64(kCacheFormat);
  h = Fnv1a64(fmt::format("\ntraining results version {}\n", kTrainingResultsVersion), h);
  h = Fnv1a64("\nconfig\n", h);
  YAML::Node resolved = YAML::Clone(config.resolved);
  resolved.remove("name");   // labels, not settings
  resolved.remove("notes");
  // When checkpoints are saved and progress printed does not change a bit of training
  // (agent/train/trainer.cpp, IsOperationalKey; tested), so it must not change the key either.
  if (resolved["learner"] && resolved["learner"].IsMap()) {
    resolved["learner"].remove("checkpoint_every_iterations");
    resolved["learner"].remove("progress_every_iterations");
  }
  h = Fnv1a64(YamlText(resolved), h);
  // The scenario as resolved names its task table and profile set by path; their contents (the
  // utility matrix, token lengths, deadlines, latency tables) decide the policy too.
  const Scenario scenario = LoadTrainScenario(config);
  h = Fnv1a64("\nscenario\n", h);
  h = Fnv1a64(ResolvedConfigYaml(scenario), h);
  h = Fnv1a64("\ntasks\n" + ReadFile(scenario.tasks.source()), h);
  h = Fnv1a64("\nprofiles\n" + ReadFile(scenario.profiles.source), h);
  h = Fnv1a64("\ninit_from\n" + init_key, h);
  return fmt::format("{:016x}", h);
}

std::string CacheJson(const TrainedPolicy& p, const std::string& init_from) {
  JsonWriter j;
  j.BeginObject();
  j.FieldString("format", kCacheFormat);
  j.FieldString("policy", p.name);
  j.FieldString("key", p.key);
  j.FieldString("file", fs::path(p.file).filename().string());
  j.FieldInt("iterations", p.iterations);
  j.Field("validation_score", p.validation_score);
  j.FieldString("init_from", init_from);
  j.Field("training_wall_seconds", p.wall_seconds);
  j.EndObject();
  return j.str();
}

std::vector<TrainConfig> LoadPolicyConfigs(const Plan& plan, bool quick) {
  std::vector<TrainConfig> configs;
  for (const PolicySpec& spec : plan.policies) configs.push_back(LoadPolicyConfig(spec, quick));
  return configs;
}

// Keys in plan order: a fine-tune's key includes its parent's, which comes earlier.
std::vector<std::string> KeysOf(const Plan& plan, const std::vector<TrainConfig>& configs) {
  std::vector<std::string> keys;
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < plan.policies.size(); ++i) {
    const PolicySpec& spec = plan.policies[i];
    keys.push_back(CacheKey(configs[i], spec.init_from.empty() ? "" : keys[index.at(spec.init_from)]));
    index[spec.name] = i;
  }
  return keys;
}

}  // namespace

std::vector<int64_t> PlannedIterations(const Plan& plan, bool quick) {
  std::vector<int64_t> out;
  for (const TrainConfig& config : LoadPolicyConfigs(plan, quick)) out.push_back(config.learner.iterations);
  return out;
}

std::vector<std::string> CacheKeys(const Plan& plan, bool quick) { return KeysOf(plan, LoadPolicyConfigs(plan, quick)); }

std::vector<TrainedPolicy> ProvidePolicies(const Plan& plan, const PolicyOptions& options) {
  const size_t n = plan.policies.size();
  // Configs and keys first (a bad config fails before any training), in dependency order.
  const std::vector<TrainConfig> configs = LoadPolicyConfigs(plan, options.quick);
  const std::vector<std::string> keys = KeysOf(plan, configs);
  std::vector<TrainedPolicy> result(n);
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < n; ++i) {
    const PolicySpec& spec = plan.policies[i];
    TrainedPolicy& p = result[i];
    p.name = spec.name;
    p.key = keys[i];
    p.dir = (fs::path(options.cache_dir) / fmt::format("{}-{}", spec.name, p.key)).string();
    index[spec.name] = i;
  }

  std::mutex mutex;
  std::condition_variable changed;
  std::vector<int> state(n, 0);  // 0 waiting, 1 running, 2 done, 3 failed
  std::vector<std::string> errors(n);
  auto log = [&](const std::string& line) {
    if (options.log) options.log(line);
  };

  auto provide = [&](size_t i, int learner_threads) {
    const PolicySpec& spec = plan.policies[i];
    TrainedPolicy& p = result[i];
    const fs::path dir(p.dir);
    const fs::path marker = dir / "cache.json";
    if (!options.retrain && fs::exists(marker)) {
      const YAML::Node cached = YAML::LoadFile(marker.string());
      p.file = (dir / cached["file"].as<std::string>()).string();
      p.iterations = cached["iterations"].as<int64_t>();
      const YAML::Node score = cached["validation_score"];
      p.validation_score = score.IsNull() ? NAN : score.as<double>();
      p.reused = true;
      if (fs::exists(p.file)) {
        std::lock_guard lock(mutex);
        log(fmt::format("policy '{}': reusing {} ({} iterations)", p.name, p.dir, p.iterations));
        if (options.progress) options.progress(p.name, configs[i].learner.iterations, configs[i].learner.iterations);
        return;
      }
      p.reused = false;  // the entry lost its policy file: train again
    }
    // The entry is complete only once cache.json is written again: a training killed from here on
    // must not leave an old marker beside new, partial files. --retrain starts from nothing.
    fs::remove(marker);
    if (options.retrain) fs::remove_all(dir);
    TrainOptions train;
    train.out_dir = p.dir;
    train.resume = fs::exists(dir / "checkpoint.bsc");
    if (!spec.init_from.empty()) train.init_from = result[index.at(spec.init_from)].file;
    train.clock = options.clock;
    train.learner_threads = learner_threads;
    train.progress = [&, name = spec.name](int64_t it, int64_t total) {
      std::lock_guard lock(mutex);
      if (options.progress) options.progress(name, it, total);
    };
    {
      std::lock_guard lock(mutex);
      log(fmt::format("policy '{}': training {} iterations{} -> {}{}", p.name, configs[i].learner.iterations,
                      spec.init_from.empty() ? "" : fmt::format(" from '{}'", spec.init_from), p.dir,
                      train.resume ? " (resuming from its checkpoint)" : ""));
    }
    const TrainResult trained = RunTraining(configs[i], train);
    p.file = trained.best_policy.empty() ? trained.final_policy : trained.best_policy;
    p.iterations = trained.iterations;
    p.validation_score = trained.best_score;
    p.wall_seconds = trained.wall_seconds;
    WriteFileAtomically(marker.string(), CacheJson(p, spec.init_from));
  };

  // A small scheduler: up to `workers` trainings at once, each starting when the policy it is
  // fine-tuned from is done.
  auto worker = [&] {
    while (true) {
      size_t job = n;
      int learner_threads = 1;
      {
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] {
          bool all_settled = true;
          for (size_t i = 0; i < n; ++i) {
            if (state[i] < 2) all_settled = false;
            const std::string& parent = plan.policies[i].init_from;
            const int parent_state = parent.empty() ? 2 : state[index.at(parent)];
            if (state[i] == 0 && parent_state == 3) {
              state[i] = 3;
              errors[i] = fmt::format("not trained: policy '{}' it starts from failed", parent);
            }
            if (state[i] == 0 && parent_state == 2 && job == n) job = i;
          }
          return job != n || all_settled || std::none_of(state.begin(), state.end(), [](int s) { return s == 0; });
        });
        if (job == n) return;
        state[job] = 1;
        // A training that no other can run beside (the others wait for it, or there is one
        // worker's core left idle) splits its updates over two threads: the same bits, sooner.
        bool another_startable = false;
        for (size_t i = 0; i < n; ++i) {
          const std::string& parent = plan.policies[i].init_from;
          if (state[i] == 0 && (parent.empty() || state[index.at(parent)] == 2)) another_startable = true;
        }
        const int running = static_cast<int>(std::count(state.begin(), state.end(), 1));
        learner_threads = options.workers >= 2 && running == 1 && !another_startable ? 2 : 1;
      }
      std::string error;
      try {
        provide(job, learner_threads);
      } catch (const std::exception& e) {
        error = e.what();
      }
      {
        std::lock_guard lock(mutex);
        state[job] = error.empty() ? 2 : 3;
        errors[job] = error;
      }
      changed.notify_all();
    }
  };
  const int32_t workers = std::max<int32_t>(1, std::min<int32_t>(options.workers, static_cast<int32_t>(n)));
  std::vector<std::thread> threads;
  for (int32_t t = 0; t < workers; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < n; ++i) {
    if (state[i] != 2) throw Error(fmt::format("training policy '{}' failed: {}", plan.policies[i].name, errors[i]));
  }
  return result;
}

}  // namespace bestserve::reproduce
