// Settings of the Double-DQN learner and its training loop (open_spiel DQNSettings style):
// a plain struct with the paper's defaults, parsed and validated from one YAML section.
//
// | key                         | default   | meaning                                            |
// |-----------------------------|-----------|----------------------------------------------------|
// | backend                     | fast      | "fast" (CPU kernels) or "torch" (libtorch)         |
// | device                      | cpu       | torch only: "cpu" or "cuda"                        |
// | hidden_sizes                | [256]     | [256] = the paper's "2-layer MLP, hidden 256"      |
// | gamma                       | 0.99      | discount per decision (paper)                      |
// | learning_rate               | 1e-4      | Adam step size (paper)                             |
// | adam_beta1, adam_beta2      | 0.9/0.999 | Adam moment decay (torch defaults)                 |
// | adam_eps                    | 1e-8      | Adam denominator epsilon (torch default)           |
// | loss                        | huber     | "huber" (smooth L1, huber_delta) or "mse"          |
// | huber_delta                 | 1.0       | Huber: quadratic within, linear beyond             |
// | batch_size                  | 1024      | transitions per gradient update (paper)            |
// | target_update_every_updates | 500       | online -> target copy period (paper: 500)          |
// | iterations                  | 1200000   | decisions to train for (paper, hard deadlines)     |
// | replay_capacity             | 100000    | transitions the replay ring keeps                  |
// | learning_starts             | 10000     | stored transitions before the first update         |
// | epsilon_start, epsilon_end  | 1.0/0.05  | exploration at iteration 0 / after the decay       |
// | epsilon_decay_fraction      | 0.1       | linear decay over this fraction of iterations      |
// | checkpoint_every_iterations | 50000     | checkpoint period (0: never)                       |
// | eval_every_iterations       | 50000     | evaluation-hook period (0: never)                  |
// | progress_every_iterations   | 10000     | progress-callback period                           |
// | curve_every_iterations      | 1000      | training-curve row period                          |
// | reward_window               | 1000      | transitions averaged for the recent mean reward    |
// | average_from_fraction       | 1.0       | weight averaging from this fraction on (1: none)   |
//
// average_from_fraction < 1 turns on weight averaging (SWA: Izmailov et al. 2018; for DQN,
// Nikishin et al. 2018): from that fraction of the iterations on, the online network is added to
// a running mean at every target copy, and the run also delivers that mean (average.bsw),
// evaluated beside the online network. It does not change the training trajectory.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"

namespace bestserve {

enum class TdLoss { kHuber, kMse };

struct LearnerSettings {
  std::string backend = "fast";
  std::string device = "cpu";
  std::vector<int> hidden_sizes = {256};
  double gamma = 0.99;
  double learning_rate = 1e-4;
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_eps = 1e-8;
  TdLoss loss = TdLoss::kHuber;
  double huber_delta = 1.0;
  int64_t batch_size = 1024;
  int64_t target_update_every_updates = 500;
  int64_t iterations = 1'200'000;
  int64_t replay_capacity = 100'000;
  int64_t learning_starts = 10'000;
  double epsilon_start = 1.0;
  double epsilon_end = 0.05;
  double epsilon_decay_fraction = 0.1;
  int64_t checkpoint_every_iterations = 50'000;
  int64_t eval_every_iterations = 50'000;
  int64_t progress_every_iterations = 10'000;
  int64_t curve_every_iterations = 1'000;
  int64_t reward_window = 1'000;
  double average_from_fraction = 1.0;

  bool averages_weights() const { return average_from_fraction < 1.0; }

  // Empty when the settings are usable, else the first problem, quoting the values.
  std::string Problem() const;
  // Throws ConfigError("learner settings: <problem>") when Problem() is not empty.
  void Validate() const;

  bool operator==(const LearnerSettings& other) const = default;
};

// One line of help per key, in table order (for --help and docs).
struct SettingHelp {
  std::string_view key;
  std::string_view help;
};
const std::vector<SettingHelp>& LearnerSettingsHelp();

// Reads a learner section (a YAML map); absent keys keep their defaults. Unknown keys fail
// listing the valid ones; bad values fail with file:line:col, key path, expected and got.
LearnerSettings ParseLearnerSettings(const ConfigNode& section);

// The fully resolved settings as a YAML map that ParseLearnerSettings reads back unchanged.
// average_from_fraction appears only when averaging is on, so that the settings of every run
// without it (run folders, reproduction cache keys, checkpoint fingerprints) read as before.
std::string LearnerSettingsToYaml(const LearnerSettings& settings);

std::string_view TdLossName(TdLoss loss);

}  // namespace bestserve
