// `bestserve train`: learn a routing policy with Double DQN on the simulator.
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "apps/bestserve/app_support.h"
#include "apps/bestserve/commands.h"
#include "agent/train/train_run.h"

namespace bestserve::app {

void AddTrainCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "Train a Double-DQN routing policy in simulation");
  struct Flags {
    std::string config;
    std::string out;
    std::optional<uint64_t> seed;
    std::optional<int64_t> iterations;
    std::string init_from;
    bool resume = false;
    int threads = 2;
  };
  auto flags = std::make_shared<Flags>();
  cmd->add_option("--config", flags->config, "Training config YAML (e.g. experiments/train/paper_hard.yaml)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--out", flags->out, "Run folder (config, curve, checkpoints, policies)")->required();
  cmd->add_option("--seed", flags->seed, "Master seed (overrides `seed`)")->check(SeedFlag());
  cmd->add_option("--iterations", flags->iterations, "Training iterations (overrides learner.iterations)");
  auto* init_from =
      cmd->add_option("--init-from", flags->init_from, "Fine-tune from this policy file (e.g. runs/hard/best.bsw)")
          ->check(CLI::ExistingFile);
  // A resumed run continues from its checkpoint, which already holds the fine-tuned start.
  cmd->add_flag("--resume", flags->resume, "Continue from the run folder's checkpoint")->excludes(init_from);
  cmd->add_option("--threads", flags->threads,
                  "Threads of each learner update (fast backend, one-hidden-layer networks): 1 or 2; "
                  "the same policy bits either way")
      ->check(CLI::Range(1, 2))
      ->capture_default_str();
  cmd->callback([flags] {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (fs::exists(flags->out, ec) && !fs::is_directory(flags->out, ec)) {
      ThrowConfigError("--out {}: exists and is not a folder; expected a run folder", flags->out);
    }
    if (!flags->resume) {
      for (const char* file : {"run.json", "checkpoint.bsc", "config.yaml"}) {
        if (fs::exists(fs::path(flags->out) / file, ec)) {
          ThrowConfigError("--out {}: already holds a training run ({}); pass --resume to continue it, "
                           "or choose a new folder",
                           flags->out, file);
        }
      }
    }
    TrainOverrides overrides;
    overrides.seed = flags->seed;
    overrides.iterations = flags->iterations;
    const TrainConfig config = LoadTrainConfig(flags->config, overrides);
    const bool tty = isatty(fileno(stdout)) != 0;
    fmt::print("bestserve train: run '{}' seed {} -> {}\n", config.name, config.seed, flags->out);
    fmt::print("  observation {} -> hidden {} -> one Q-value per model; {} iterations, batch {}, lr {}, "
               "gamma {}, backend {}\n",
               ToString(config.observation.encoding), fmt::join(config.learner.hidden_sizes, "-"),
               config.learner.iterations, config.learner.batch_size, config.learner.learning_rate,
               config.learner.gamma, config.learner.backend);
    TrainOptions options;
    options.out_dir = flags->out;
    options.resume = flags->resume;
    options.init_from = flags->init_from;
    options.learner_threads = flags->threads;
    const auto start = std::chrono::steady_clock::now();
    options.clock = [start] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    options.log = [tty](const std::string& line) {
      // On a terminal progress lines overwrite each other; elsewhere they are plain log lines.
      if (tty && line.rfind("iteration ", 0) == 0) {
        fmt::print("\r\033[K{}", line);
      } else {
        fmt::print("{}{}\n", tty ? "\r\033[K" : "", line);
      }
      std::fflush(stdout);
    };
    const TrainResult result = RunTraining(config, options);
    fmt::print("{}done: {} iterations in {:.1f} s; best validation mean reward {:.4f} of peak\n",
               tty ? "\n" : "", result.iterations, result.wall_seconds, result.best_score);
    fmt::print("  policies: {} (best), {} (final){}\n", result.best_policy, result.final_policy,
               result.average_policy.empty() ? "" : fmt::format(", {} (weight average)", result.average_policy));
  });
}

}  // namespace bestserve::app
