#include "agent/train/trainer.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

#include "common/error.h"
#include "common/files.h"

namespace bestserve {
namespace {

constexpr char kCheckpointMagic[] = "BSAGENTC";  // 8 bytes on disk
constexpr uint32_t kCheckpointVersion = 1;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Settings that only decide when things are reported or saved; they may change across a
// resume without changing the trajectory.
bool IsOperationalKey(std::string_view line) {
  for (std::string_view key : {"checkpoint_every_iterations:", "eval_every_iterations:",
                               "progress_every_iterations:", "curve_every_iterations:"}) {
    if (line.substr(0, key.size()) == key) return true;
  }
  return false;
}

bool SameBits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

std::string DescribeLineDifferences(const std::string& ours, const std::string& theirs) {
  std::istringstream a(ours);
  std::istringstream b(theirs);
  std::string line_a;
  std::string line_b;
  std::string out;
  while (true) {
    const bool more_a = static_cast<bool>(std::getline(a, line_a));
    const bool more_b = static_cast<bool>(std::getline(b, line_b));
    if (!more_a && !more_b) break;
    if (!more_a) line_a = "(nothing)";
    if (!more_b) line_b = "(nothing)";
    if (line_a != line_b) out += fmt::format("; checkpoint has '{}', now '{}'", line_b, line_a);
  }
  return out;
}

}  // namespace

double EpsilonAt(const LearnerSettings& settings, int64_t iteration) {
  const double decay_iterations =
      settings.epsilon_decay_fraction * static_cast<double>(settings.iterations);
  if (decay_iterations <= 0.0) return settings.epsilon_end;
  const double progress = std::min(1.0, static_cast<double>(iteration) / decay_iterations);
  return settings.epsilon_start + (settings.epsilon_end - settings.epsilon_start) * progress;
}

std::string CurveCsvHeader(bool with_average) {
  return std::string(
             "iteration,updates,episodes,transitions,epsilon,mean_loss,mean_q,recent_mean_reward,"
             "eval_score") +
         (with_average ? ",eval_score_average\n" : "\n");
}

std::string CurveCsvRow(const CurveRow& row, bool with_average) {
  // Shortest round-trip doubles; NaN as an empty field.
  auto number = [](double value) {
    return std::isnan(value) ? std::string() : fmt::format("{}", value);
  };
  return fmt::format("{},{},{},{},{},{},{},{},{}{}\n", row.iteration, row.updates, row.episodes,
                     row.transitions, number(row.epsilon), number(row.mean_loss),
                     number(row.mean_q), number(row.recent_mean_reward), number(row.eval_score),
                     with_average ? "," + number(row.eval_score_average) : std::string());
}

Trainer::Trainer(const LearnerSettings& settings, uint64_t master_seed, Environment& env,
                 const LearnerFactory& factory, TrainerHooks hooks, std::string checkpoint_path)
    : settings_(settings),
      master_seed_(master_seed),
      env_(env),
      hooks_(std::move(hooks)),
      checkpoint_path_(std::move(checkpoint_path)),
      // Validate before the replay buffer allocates replay_capacity transitions.
      replay_((settings.Validate(), settings.replay_capacity),
              std::max(1, env.spec().observation_size)),
      exploration_stream_(DeriveSeed(master_seed, "agent/exploration")),
      replay_stream_(DeriveSeed(master_seed, "agent/replay")),
      episode_stream_(DeriveSeed(master_seed, "agent/episodes")) {
  const EnvSpec& spec = env_.spec();
  if (spec.observation_size <= 0 || spec.num_actions <= 0) {
    ThrowConfigError(
        "environment '{}' declares {} observation values and {} actions; both must "
        "be > 0",
        spec.observation_encoding, spec.observation_size, spec.num_actions);
  }
  shape_.input_size = spec.observation_size;
  shape_.hidden_sizes = settings_.hidden_sizes;
  shape_.num_actions = spec.num_actions;
  Rng init_rng(DeriveSeed(master_seed, "agent/network-init"));
  learner_ = factory(shape_, LearnerHyperparameters::From(settings_),
                     FreshLearnerState(InitMlpParameters(shape_, init_rng)));
  BS_CHECK(learner_ != nullptr && learner_->shape() == shape_);
  q_values_.resize(static_cast<size_t>(shape_.num_actions));
}

Trainer::~Trainer() = default;

void Trainer::InitFrom(const PolicyWeights& weights, const std::string& source) {
  BS_CHECK_MSG(iteration_ == 0 && !started_, "InitFrom must come before training starts");
  if (!(weights.shape == shape_)) {
    ThrowConfigError(
        "{}: the policy's network is {}, but this training run's network is {} "
        "(observation size {} from '{}', hidden_sizes from the learner settings, "
        "{} actions)",
        source, weights.shape.ToString(), shape_.ToString(), shape_.input_size,
        env_.spec().observation_encoding, shape_.num_actions);
  }
  if (weights.observation_encoding != env_.spec().observation_encoding) {
    ThrowConfigError(
        "{}: the policy was trained on observation encoding '{}', this environment "
        "uses '{}'",
        source, weights.observation_encoding, env_.spec().observation_encoding);
  }
  if (!weights.action_names.empty() && weights.action_names != env_.spec().action_names) {
    ThrowConfigError("{}: the policy's actions ({}) differ from this environment's ({})", source,
                     fmt::format("{}", fmt::join(weights.action_names, ", ")),
                     fmt::format("{}", fmt::join(env_.spec().action_names, ", ")));
  }
  learner_->SetState(FreshLearnerState(weights.parameters));
}

void Trainer::StartIfNeeded() {
  if (started_) return;
  observation_ = env_.Reset(CounterSeed(episode_stream_, static_cast<uint64_t>(episodes_)));
  ++episodes_;
  episode_actions_.clear();
  BS_CHECK_MSG(observation_.size() == static_cast<size_t>(shape_.input_size),
               "Reset returned {} observation values, the spec declares {}", observation_.size(),
               shape_.input_size);
  started_ = true;
}

void Trainer::Run(int64_t stop_at_iteration) {
  const int64_t stop = stop_at_iteration < 0 ? settings_.iterations
                                             : std::min(stop_at_iteration, settings_.iterations);
  StartIfNeeded();
  if (hooks_.clock_seconds) {
    last_progress_seconds_ = hooks_.clock_seconds();
    last_progress_iteration_ = iteration_;
  }
  while (iteration_ < stop) {
    RunOneIteration();
    AfterIteration();
  }
}

void Trainer::RunOneIteration() {
  // 1. Epsilon-greedy action, from this iteration's own exploration stream.
  const double epsilon = EpsilonAt(settings_, iteration_);
  Rng exploration(CounterSeed(exploration_stream_, static_cast<uint64_t>(iteration_)));
  int32_t action = 0;
  if (exploration.Uniform01() < epsilon) {
    action =
        static_cast<int32_t>(exploration.UniformIndex(static_cast<uint64_t>(shape_.num_actions)));
  } else {
    learner_->OnlineQValues(observation_.data(), 1, q_values_.data());
    action = GreedyAction(q_values_.data(), shape_.num_actions);
  }

  // 2. One environment decision. Credit assignment happened inside the environment: we only
  // store what completed.
  StepResult result = env_.Step(action);
  episode_actions_.push_back(action);
  for (const Transition& transition : result.completed) {
    replay_.Add(transition);
    ++transitions_;
  }
  if (result.episode_over) {
    started_ = false;
    StartIfNeeded();
  } else {
    BS_CHECK_MSG(result.observation.size() == static_cast<size_t>(shape_.input_size),
                 "Step returned {} observation values, the spec declares {}",
                 result.observation.size(), shape_.input_size);
    observation_ = std::move(result.observation);
  }

  // 3. One gradient update once the buffer holds learning_starts transitions.
  if (replay_.size() >= settings_.learning_starts) {
    Rng sampler(CounterSeed(replay_stream_, static_cast<uint64_t>(updates_)));
    replay_.Sample(static_cast<int>(settings_.batch_size), sampler, &batch_);
    const UpdateStats stats = learner_->Update(batch_);
    ++updates_;
    curve_loss_sum_ += stats.loss;
    curve_q_sum_ += stats.mean_q;
    ++curve_updates_;
    progress_loss_sum_ += stats.loss;
    ++progress_updates_;
    // Crucial step: the target network lags the online one by up to this many updates; that
    // delay is what keeps the bootstrapped targets from chasing their own changes.
    if (updates_ % settings_.target_update_every_updates == 0) {
      learner_->SyncTarget();
      AddToAverage();
    }
  }
  ++iteration_;
}

void Trainer::AddToAverage() {
  // Sampled at target copies (a cadence the run already has), once this iteration completes
  // at least average_from_fraction of the run.
  if (!settings_.averages_weights()) return;
  const auto start = static_cast<int64_t>(settings_.average_from_fraction *
                                          static_cast<double>(settings_.iterations));
  if (iteration_ + 1 < start) return;
  const std::vector<float> online = learner_->GetState().online;
  if (average_count_ == 0) average_.assign(online.size(), 0.0f);
  ++average_count_;
  // The incremental mean: exact for the first sample, and in float like the parameters.
  const float inverse_count = 1.0f / static_cast<float>(average_count_);
  for (size_t i = 0; i < online.size(); ++i) average_[i] += (online[i] - average_[i]) * inverse_count;
}

void Trainer::Evaluate(CurveRow* row) {
  const std::vector<float> parameters = learner_->GetState().online;
  const PolicySnapshot snapshot{iteration_, shape_, parameters};
  const double score = hooks_.evaluate(snapshot);
  row->eval_score = score;
  if (!best_ || score > best_->score) {
    best_ = BestPolicy{iteration_, score, parameters};
    if (hooks_.on_new_best) hooks_.on_new_best(snapshot, score);
  }
  if (average_count_ > 0) {
    row->eval_score_average = hooks_.evaluate(PolicySnapshot{iteration_, shape_, average_, true});
  }
}

void Trainer::AfterIteration() {
  const bool last = iteration_ == settings_.iterations;
  auto due = [&](int64_t every) { return every > 0 && (iteration_ % every == 0 || last); };
  CurveRow row;
  row.eval_score = kNaN;
  row.eval_score_average = kNaN;
  if (hooks_.evaluate && due(settings_.eval_every_iterations)) Evaluate(&row);
  if (due(settings_.curve_every_iterations)) {
    row.iteration = iteration_;
    row.updates = updates_;
    row.episodes = episodes_;
    row.transitions = transitions_;
    row.epsilon = EpsilonAt(settings_, iteration_);
    row.mean_loss =
        curve_updates_ > 0 ? curve_loss_sum_ / static_cast<double>(curve_updates_) : kNaN;
    row.mean_q = curve_updates_ > 0 ? curve_q_sum_ / static_cast<double>(curve_updates_) : kNaN;
    row.recent_mean_reward = replay_.RecentMeanReward(settings_.reward_window);
    curve_loss_sum_ = 0.0;
    curve_q_sum_ = 0.0;
    curve_updates_ = 0;
    if (hooks_.on_curve_row) hooks_.on_curve_row(row);
  }
  if (!checkpoint_path_.empty() && due(settings_.checkpoint_every_iterations)) {
    if (hooks_.before_checkpoint) hooks_.before_checkpoint(checkpoint_path_, iteration_);
    SaveCheckpoint(checkpoint_path_);
  }
  if (due(settings_.progress_every_iterations)) {
    TrainingProgress progress;
    progress.iteration = iteration_;
    progress.total_iterations = settings_.iterations;
    progress.updates = updates_;
    progress.episodes = episodes_;
    progress.epsilon = EpsilonAt(settings_, iteration_);
    progress.mean_loss =
        progress_updates_ > 0 ? progress_loss_sum_ / static_cast<double>(progress_updates_) : kNaN;
    progress.recent_mean_reward = replay_.RecentMeanReward(settings_.reward_window);
    progress.iterations_per_second = kNaN;
    progress.eta_seconds = kNaN;
    if (hooks_.clock_seconds) {
      const double now = hooks_.clock_seconds();
      const double elapsed = now - last_progress_seconds_;
      if (elapsed > 0.0) {
        progress.iterations_per_second =
            static_cast<double>(iteration_ - last_progress_iteration_) / elapsed;
        progress.eta_seconds =
            static_cast<double>(settings_.iterations - iteration_) / progress.iterations_per_second;
      }
      last_progress_seconds_ = now;
      last_progress_iteration_ = iteration_;
    }
    progress_loss_sum_ = 0.0;
    progress_updates_ = 0;
    if (hooks_.on_progress) hooks_.on_progress(progress);
  }
}

PolicyWeights Trainer::MakeWeights(
    const std::vector<float>& parameters,
    const std::vector<std::pair<std::string, std::string>>& extra) const {
  PolicyWeights weights;
  weights.shape = shape_;
  weights.parameters = parameters;
  weights.observation_encoding = env_.spec().observation_encoding;
  weights.action_names = env_.spec().action_names;
  if (!weights.action_names.empty() &&
      weights.action_names.size() != static_cast<size_t>(shape_.num_actions)) {
    weights.action_names.clear();  // an inconsistent spec; the names are informational only
  }
  weights.metadata = {{"producer", "bestserve double-dqn trainer"},
                      {"backend", learner_->backend_name()},
                      {"seed", std::to_string(master_seed_)}};
  for (const auto& entry : extra) weights.metadata.push_back(entry);
  return weights;
}

PolicyWeights Trainer::CurrentPolicy() const {
  return MakeWeights(learner_->GetState().online, {{"iteration", std::to_string(iteration_)},
                                                   {"updates", std::to_string(updates_)}});
}

std::optional<PolicyWeights> Trainer::BestPolicyWeights() const {
  if (!best_) return std::nullopt;
  return MakeWeights(best_->parameters, {{"iteration", std::to_string(best_->iteration)},
                                         {"eval_score", fmt::format("{}", best_->score)}});
}

std::optional<PolicyWeights> Trainer::AveragePolicyWeights() const {
  if (average_count_ == 0) return std::nullopt;
  return MakeWeights(average_, {{"iteration", std::to_string(iteration_)},
                                {"averaged_networks", std::to_string(average_count_)},
                                {"average_from_fraction", fmt::format("{}", settings_.average_from_fraction)}});
}

std::string Trainer::TrajectoryFingerprint() const {
  std::istringstream lines(LearnerSettingsToYaml(settings_));
  std::string out;
  std::string line;
  while (std::getline(lines, line)) {
    if (!IsOperationalKey(line)) out += line + "\n";
  }
  out += fmt::format("seed: {}\n", master_seed_);
  out += fmt::format("network: {}\n", shape_.ToString());
  out += fmt::format("observation_encoding: {}\n", env_.spec().observation_encoding);
  return out;
}

std::string Trainer::EncodeCheckpoint() const {
  ByteWriter out;
  out.Raw(std::string_view(kCheckpointMagic, 8));
  out.U32(kCheckpointVersion);
  out.String(TrajectoryFingerprint());
  out.String(LearnerSettingsToYaml(settings_));  // informational: the full settings
  out.I64(iteration_);
  out.I64(updates_);
  out.I64(episodes_);
  out.I64(transitions_);
  const LearnerState state = learner_->GetState();
  out.Floats(state.online);
  out.Floats(state.target);
  out.Floats(state.adam.first_moment);
  out.Floats(state.adam.second_moment);
  out.I64(state.adam.step);
  replay_.Save(out);
  out.U8(started_ ? 1 : 0);
  out.Floats(observation_);
  out.Int32s(episode_actions_);
  out.F64(curve_loss_sum_);
  out.F64(curve_q_sum_);
  out.I64(curve_updates_);
  out.F64(progress_loss_sum_);
  out.I64(progress_updates_);
  out.U8(best_ ? 1 : 0);
  if (best_) {
    out.I64(best_->iteration);
    out.F64(best_->score);
    out.Floats(best_->parameters);
  }
  // Only runs that average weights have this section (the fingerprint says which), so every
  // other checkpoint keeps version 1's bytes.
  if (settings_.averages_weights()) {
    out.I64(average_count_);
    out.Floats(average_);
  }
  out.AppendChecksum();
  return out.Take();
}

void Trainer::SaveCheckpoint(const std::string& path) const {
  WriteFileAtomically(path, EncodeCheckpoint());
}

void Trainer::Resume(const std::string& checkpoint_path) {
  BS_CHECK_MSG(iteration_ == 0 && !started_, "Resume must come before training starts");
  const std::string bytes = ReadFile(checkpoint_path);
  const std::string what = checkpoint_path + ": checkpoint";
  // Everything is decoded and the environment replayed before any member changes, so a failed
  // Resume leaves a fresh trainer behind.
  struct Decoded {
    int64_t iteration, updates, episodes, transitions;
    LearnerState state;
    bool started;
    std::vector<float> observation;
    std::vector<int32_t> actions;
    double curve_loss_sum, curve_q_sum, progress_loss_sum;
    int64_t curve_updates, progress_updates;
    std::optional<BestPolicy> best;
    int64_t average_count = 0;
    std::vector<float> average;
  } d;
  ReplayBuffer replay(replay_.capacity(), replay_.observation_size());
  try {
    ByteReader header(bytes, what);
    if (bytes.size() < 8 ||
        std::string_view(bytes).substr(0, 8) != std::string_view(kCheckpointMagic, 8)) {
      header.Fail("not a bestserve trainer checkpoint (its first bytes are not \"BSAGENTC\")");
    }
    header.Raw(8);
    const uint32_t version = header.U32();
    if (version != kCheckpointVersion) {
      header.Fail(fmt::format("unsupported checkpoint version {}; this build reads version {}",
                              version, kCheckpointVersion));
    }
    ByteReader in(VerifyChecksum(bytes, what), what);
    in.Raw(12);
    const std::string fingerprint = in.String();
    if (fingerprint != TrajectoryFingerprint()) {
      in.Fail(
          "it was written by a run with different settings, seed or environment, so resuming "
          "would not continue the same run" +
          DescribeLineDifferences(TrajectoryFingerprint(), fingerprint));
    }
    in.String();
    d.iteration = in.I64();
    d.updates = in.I64();
    d.episodes = in.I64();
    d.transitions = in.I64();
    const size_t n = shape_.NumParameters();
    in.FloatsInto(&d.state.online, n, "online parameters");
    in.FloatsInto(&d.state.target, n, "target parameters");
    in.FloatsInto(&d.state.adam.first_moment, n, "Adam first moments");
    in.FloatsInto(&d.state.adam.second_moment, n, "Adam second moments");
    d.state.adam.step = in.I64();
    replay.Load(in);
    d.started = in.U8() != 0;
    d.observation = in.Floats();
    d.actions = in.Int32s();
    d.curve_loss_sum = in.F64();
    d.curve_q_sum = in.F64();
    d.curve_updates = in.I64();
    d.progress_loss_sum = in.F64();
    d.progress_updates = in.I64();
    if (in.U8() != 0) {
      BestPolicy best;
      best.iteration = in.I64();
      best.score = in.F64();
      in.FloatsInto(&best.parameters, n, "best parameters");
      d.best = std::move(best);
    }
    if (settings_.averages_weights()) {
      d.average_count = in.I64();
      if (d.average_count < 0 || d.average_count > d.updates / settings_.target_update_every_updates) {
        in.Fail(fmt::format("{} averaged networks after {} updates", d.average_count, d.updates));
      }
      in.FloatsInto(&d.average, d.average_count > 0 ? n : 0, "averaged parameters");
    }
    if (in.remaining() != 0) in.Fail(fmt::format("{} unexpected trailing bytes", in.remaining()));
    // Every counter within what the iterations allow (an unbounded one would overflow when
    // training goes on; checkpoint_fuzz found curve_updates at 2^63 - 1).
    if (d.iteration < 0 || d.iteration > settings_.iterations || d.updates < 0 ||
        d.updates > d.iteration || d.episodes < (d.started ? 1 : 0) || d.episodes > d.iteration + 1 ||
        d.transitions < 0 || d.transitions > d.iteration || d.curve_updates < 0 ||
        d.curve_updates > d.updates || d.progress_updates < 0 || d.progress_updates > d.updates ||
        d.observation.size() != (d.started ? static_cast<size_t>(shape_.input_size) : 0u)) {
      in.Fail("inconsistent counters or episode state");
    }
    // What the checksum cannot vouch for (a file written by another program, or edited and
    // re-summed): every action must name one of this network's actions before anything acts
    // on it (training would otherwise stop on an internal check, not on this file).
    for (size_t k = 0; k < d.actions.size(); ++k) {
      if (d.actions[k] < 0 || d.actions[k] >= shape_.num_actions) {
        in.Fail(fmt::format("decision {} of the current episode is action {}; the network has {} actions", k,
                            d.actions[k], shape_.num_actions));
      }
    }
    if (auto problem = replay.ContentProblem(shape_.num_actions)) in.Fail(*problem);
  } catch (const BinaryFormatError& e) {
    throw ConfigError(e.what());
  }

  // Rebuild the environment's current episode by replaying its actions (see trainer.h).
  if (d.started) {
    std::vector<float> replayed =
        env_.Reset(CounterSeed(episode_stream_, static_cast<uint64_t>(d.episodes - 1)));
    for (size_t k = 0; k < d.actions.size(); ++k) {
      StepResult result = env_.Step(d.actions[k]);
      if (result.episode_over) {
        throw Error(fmt::format(
            "{}: replaying the current episode ended it after {} of {} logged decisions; the "
            "environment is not deterministic given its episode seed and actions",
            checkpoint_path, k + 1, d.actions.size()));
      }
      replayed = std::move(result.observation);
    }
    if (!SameBits(replayed, d.observation)) {
      throw Error(fmt::format(
          "{}: replaying the current episode's {} decisions led to a different observation; the "
          "environment is not deterministic given its episode seed and actions",
          checkpoint_path, d.actions.size()));
    }
  }

  // Commit.
  iteration_ = d.iteration;
  updates_ = d.updates;
  episodes_ = d.episodes;
  transitions_ = d.transitions;
  learner_->SetState(d.state);
  replay_ = std::move(replay);
  started_ = d.started;
  observation_ = std::move(d.observation);
  episode_actions_ = std::move(d.actions);
  curve_loss_sum_ = d.curve_loss_sum;
  curve_q_sum_ = d.curve_q_sum;
  curve_updates_ = d.curve_updates;
  progress_loss_sum_ = d.progress_loss_sum;
  progress_updates_ = d.progress_updates;
  best_ = std::move(d.best);
  average_count_ = d.average_count;
  average_ = std::move(d.average);
}

}  // namespace bestserve
