// The Double-DQN training loop over the Environment seam, with checkpoints that resume bit for
// bit, a training curve, periodic evaluation with keep-best, and progress reports.
//
// One ITERATION is:
//   1. epsilon = EpsilonAt(settings, iteration); act epsilon-greedily on the pending observation
//      (greedy = argmax of the online network, ties to the lowest action);
//   2. env.Step(action); every completed transition it returns goes into the replay buffer;
//      when the episode is over, the next episode starts (Reset with the next episode seed);
//   3. if the buffer holds >= learning_starts transitions: one gradient update (Adam) on a
//      uniformly sampled batch of batch_size; after every target_update_every_updates updates,
//      the target network becomes a copy of the online one;
//   4. bookkeeping at period boundaries, in this order: evaluation (keep-best), training-curve
//      row, checkpoint, progress report.
// So iterations = environment decisions, and updates = iterations - (iterations before the
// buffer first held learning_starts transitions). The paper's "target network updated every 500
// iterations" is read as every 500 updates (the same cadence once learning has started).
//
// Randomness is counter-based: the exploration draws of iteration i come from a fresh Rng seeded
// by (DeriveSeed(seed, "agent/exploration"), i), the replay batch of update u from
// ("agent/replay", u), the seed of episode e from ("agent/episodes", e), and the initial network
// from ("agent/network-init"). Each stream's state is a pure function of the master seed and a
// counter the checkpoint already holds, so no engine state needs saving.
//
// Resume: the checkpoint holds the learner (online, target, Adam moments and step), the replay
// buffer, all counters, running statistics, the best policy so far, the weight average (when
// averaging is on: the checkpoints of other runs are unchanged), and the current episode's
// index plus every action taken in it. Resume() restores all of that and rebuilds the
// environment by replaying: Reset(seed of the current episode), then Step(a) for each logged
// action, discarding the transitions (they were stored before the checkpoint), and checks that
// the resulting observation equals the checkpointed one bit for bit. This needs only the
// environment contract in agent/env/environment.h (deterministic given episode seed and actions),
// not a serializable simulator. Cost: re-simulating at most one episode.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/env/environment.h"
#include "agent/learn/learner.h"
#include "agent/learn/learner_settings.h"
#include "agent/learn/replay_buffer.h"
#include "router/policy/weights_format.h"

namespace bestserve {

// The version of what training computes: bumped by any change that alters a trained policy's
// bits for the same config, seed and thread count (the learner's arithmetic, replay sampling,
// the environment, the simulator's dynamics). Reproductions cache trained policies under a key
// that includes it (reproduce/policy_cache.h), so such a change retrains rather than silently
// reusing policies of the old code. The signal to bump it: reproduce_quick_golden fails after a
// change because the quick policies changed.
inline constexpr int kTrainingResultsVersion = 1;

// Builds a learner backend (MakeFastLearner, or LearnerFactoryFor() in agent/train/learner_factory.h).
using LearnerFactory = std::function<std::unique_ptr<QLearner>(
    const MlpShape&, const LearnerHyperparameters&, const LearnerState&)>;

// The exploration probability at `iteration`: linear from epsilon_start to epsilon_end over the
// first epsilon_decay_fraction * iterations iterations, then constant.
double EpsilonAt(const LearnerSettings& settings, int64_t iteration);

// What the evaluation hook and keep-best see: the online network after `iteration` iterations,
// or (average = true) the running weight average at that point (LearnerSettings::
// average_from_fraction). Keep-best considers online networks only.
struct PolicySnapshot {
  int64_t iteration = 0;
  const MlpShape& shape;
  const std::vector<float>& parameters;
  bool average = false;
};

struct TrainingProgress {
  int64_t iteration = 0;  // completed iterations
  int64_t total_iterations = 0;
  int64_t updates = 0;
  int64_t episodes = 0;  // episodes started
  double epsilon = 0.0;
  double mean_loss = 0.0;         // mean TD loss of the updates since the last report (NaN: none)
  double recent_mean_reward = 0;  // mean reward of the newest reward_window transitions
  double iterations_per_second = 0.0;  // since the last report; NaN without a clock
  double eta_seconds = 0.0;            // NaN without a clock
};

// One training-curve row. Deterministic (no wall time), so a resumed run writes the same rows.
struct CurveRow {
  int64_t iteration = 0;
  int64_t updates = 0;
  int64_t episodes = 0;
  int64_t transitions = 0;  // completed transitions received so far
  double epsilon = 0.0;
  double mean_loss = 0.0;  // over the updates since the previous row (NaN: none)
  double mean_q = 0.0;     // mean Q(s, a) of those updates (NaN: none)
  double recent_mean_reward = 0.0;
  double eval_score = 0.0;  // NaN unless evaluated at this iteration
  double eval_score_average = 0.0;  // the weight average's score; NaN unless evaluated
};
// "iteration,updates,...\n"; with_average adds the eval_score_average column (runs that average
// weights), so the curves of every other run read as before.
std::string CurveCsvHeader(bool with_average = false);
std::string CurveCsvRow(const CurveRow& row, bool with_average = false);

struct BestPolicy {
  int64_t iteration = 0;
  double score = 0.0;
  std::vector<float> parameters;
};

// All optional. Called on the training thread, synchronously.
struct TrainerHooks {
  std::function<void(const TrainingProgress&)> on_progress;
  std::function<void(const CurveRow&)> on_curve_row;
  // Scores the policy (e.g. mean reward on a fixed validation workload); higher is better.
  // Called every eval_every_iterations and after the last iteration. Must not touch the
  // training environment.
  std::function<double(const PolicySnapshot&)> evaluate;
  // Called when an evaluation beats every earlier one (the caller writes best.bsw).
  std::function<void(const PolicySnapshot&, double score)> on_new_best;
  // Called just before a checkpoint file is written, so that whatever the caller keeps beside the
  // checkpoint (the curve) is on disk first: a kill between the two then leaves the extra rows,
  // which a resume drops, rather than a checkpoint newer than the curve, whose rows would be lost.
  std::function<void(const std::string& path, int64_t iteration)> before_checkpoint;
  // Monotonic seconds, for iterations/s and ETA only (library code reads no clock itself).
  std::function<double()> clock_seconds;
};

class Trainer {
 public:
  // `env` must outlive the trainer. The network is input env.spec().observation_size ->
  // settings.hidden_sizes -> env.spec().num_actions, initialized from `master_seed`.
  // `checkpoint_path` empty: no checkpoints. Throws ConfigError on invalid settings.
  Trainer(const LearnerSettings& settings, uint64_t master_seed, Environment& env,
          const LearnerFactory& factory, TrainerHooks hooks = {}, std::string checkpoint_path = "");
  ~Trainer();

  // Fine-tuning (`--init-from`): online and target networks := `weights`, fresh Adam. Throws
  // ConfigError naming `source` when the network shape, the observation encoding or the action
  // names differ from this trainer's. Precondition: no iteration has run yet.
  void InitFrom(const PolicyWeights& weights, const std::string& source);

  // Restores a checkpoint written by a trainer with the same settings (except the *_every_*
  // periods), seed and environment spec, and rebuilds the environment's episode by replay.
  // Throws ConfigError on a corrupt file or a mismatch, Error when the replay diverges.
  void Resume(const std::string& checkpoint_path);

  // Runs iterations until `stop_at_iteration` (clamped to settings.iterations; negative: run to
  // the end). Returns early only through exceptions.
  void Run(int64_t stop_at_iteration = -1);

  bool finished() const { return iteration_ >= settings_.iterations; }
  int64_t iteration() const { return iteration_; }
  int64_t updates() const { return updates_; }
  int64_t episodes() const { return episodes_; }
  const LearnerSettings& settings() const { return settings_; }
  const MlpShape& shape() const { return shape_; }
  QLearner& learner() { return *learner_; }
  const ReplayBuffer& replay() const { return replay_; }
  const std::optional<BestPolicy>& best() const { return best_; }

  // The online network as a policy file payload (metadata: iteration, updates, seed, backend).
  PolicyWeights CurrentPolicy() const;
  // The best evaluated policy, or nullopt before the first evaluation.
  std::optional<PolicyWeights> BestPolicyWeights() const;
  // The running weight average, or nullopt when averaging is off or has no sample yet.
  std::optional<PolicyWeights> AveragePolicyWeights() const;
  int64_t averaged_samples() const { return average_count_; }

  // The complete resumable state, encoded (what the checkpoint file holds).
  std::string EncodeCheckpoint() const;
  // Writes EncodeCheckpoint() atomically to `path`.
  void SaveCheckpoint(const std::string& path) const;

 private:
  void StartIfNeeded();
  void RunOneIteration();
  void AfterIteration();
  void Evaluate(CurveRow* row);
  void AddToAverage();
  PolicyWeights MakeWeights(const std::vector<float>& parameters,
                            const std::vector<std::pair<std::string, std::string>>& extra) const;
  std::string TrajectoryFingerprint() const;

  LearnerSettings settings_;
  uint64_t master_seed_;
  Environment& env_;
  TrainerHooks hooks_;
  std::string checkpoint_path_;
  MlpShape shape_;
  std::unique_ptr<QLearner> learner_;
  ReplayBuffer replay_;
  uint64_t exploration_stream_;
  uint64_t replay_stream_;
  uint64_t episode_stream_;

  // Counters.
  int64_t iteration_ = 0;
  int64_t updates_ = 0;
  int64_t episodes_ = 0;     // episodes started; the current one has index episodes_ - 1
  int64_t transitions_ = 0;  // completed transitions received

  // The current episode.
  bool started_ = false;
  std::vector<float> observation_;
  std::vector<int32_t> episode_actions_;

  // Running statistics since the last curve row / progress report.
  double curve_loss_sum_ = 0.0;
  double curve_q_sum_ = 0.0;
  int64_t curve_updates_ = 0;
  double progress_loss_sum_ = 0.0;
  int64_t progress_updates_ = 0;
  std::optional<BestPolicy> best_;

  // Weight averaging: the mean of the online networks sampled so far, and how many.
  std::vector<float> average_;
  int64_t average_count_ = 0;

  // Wall-clock progress bookkeeping (never checkpointed: it does not affect training).
  double last_progress_seconds_ = 0.0;
  int64_t last_progress_iteration_ = 0;

  // Reused per iteration.
  TransitionBatch batch_;
  std::vector<float> q_values_;
};

}  // namespace bestserve
