#include "agent/learn/learner_settings.h"

#include <fmt/format.h>

namespace bestserve {
namespace {

std::string ChoiceOf(const ConfigNode& section, std::string_view key, const std::string& fallback,
                     std::initializer_list<std::string_view> valid) {
  auto child = section.MaybeChild(key);
  if (!child) return fallback;
  const std::string value = child->AsString();
  std::string list;
  for (auto name : valid) {
    if (name == value) return value;
    list += list.empty() ? "" : ", ";
    list += name;
  }
  child->Fail(fmt::format("expected one of {}, got '{}'", list, value));
}

int64_t NonNegativeInt(const ConfigNode& section, std::string_view key, int64_t fallback) {
  auto child = section.MaybeChild(key);
  if (!child) return fallback;
  const int64_t value = child->AsInt();
  if (value < 0) child->Fail(fmt::format("expected an integer >= 0, got {}", value));
  return value;
}

double Probability(const ConfigNode& section, std::string_view key, double fallback) {
  auto child = section.MaybeChild(key);
  if (!child) return fallback;
  const double value = child->AsDouble();
  if (!(value >= 0.0 && value <= 1.0)) {
    child->Fail(fmt::format("expected a number in [0, 1], got {}", value));
  }
  return value;
}

}  // namespace

std::string_view TdLossName(TdLoss loss) { return loss == TdLoss::kHuber ? "huber" : "mse"; }

const std::vector<SettingHelp>& LearnerSettingsHelp() {
  static const std::vector<SettingHelp> kHelp = {
      {"backend", "learner implementation: fast (Eigen, CPU) or torch (libtorch)"},
      {"device", "torch backend only: cpu or cuda"},
      {"hidden_sizes", "hidden layer widths; [256] is the paper's 2-layer MLP"},
      {"gamma", "discount factor per decision"},
      {"learning_rate", "Adam learning rate"},
      {"adam_beta1", "Adam first-moment decay"},
      {"adam_beta2", "Adam second-moment decay"},
      {"adam_eps", "Adam denominator epsilon"},
      {"loss", "TD loss: huber (smooth L1) or mse"},
      {"huber_delta", "Huber loss threshold between quadratic and linear"},
      {"batch_size", "transitions per gradient update"},
      {"target_update_every_updates", "gradient updates between target-network copies"},
      {"iterations", "training iterations (one decision + at most one update each)"},
      {"replay_capacity", "transitions kept in the replay ring buffer"},
      {"learning_starts", "transitions in the buffer before updates begin"},
      {"epsilon_start", "exploration probability at iteration 0"},
      {"epsilon_end", "exploration probability after the decay"},
      {"epsilon_decay_fraction", "fraction of iterations over which epsilon decays linearly"},
      {"checkpoint_every_iterations", "iterations between checkpoints (0: never)"},
      {"eval_every_iterations", "iterations between evaluations (0: never)"},
      {"progress_every_iterations", "iterations between progress reports"},
      {"curve_every_iterations", "iterations between training-curve rows"},
      {"reward_window", "completed transitions averaged for the recent mean reward"},
      {"average_from_fraction",
       "average the online network (at each target copy) from this fraction of iterations on; "
       "1: no averaging"},
  };
  return kHelp;
}

std::string LearnerSettings::Problem() const {
  if (backend != "fast" && backend != "torch") {
    return fmt::format("backend must be fast or torch, got '{}'", backend);
  }
  if (device != "cpu" && device != "cuda") {
    return fmt::format("device must be cpu or cuda, got '{}'", device);
  }
  if (device == "cuda" && backend != "torch") {
    return fmt::format("device 'cuda' needs backend 'torch', got backend '{}'", backend);
  }
  for (size_t i = 0; i < hidden_sizes.size(); ++i) {
    if (hidden_sizes[i] <= 0) {
      return fmt::format("hidden_sizes[{}] must be > 0, got {}", i, hidden_sizes[i]);
    }
  }
  if (!(gamma >= 0.0 && gamma <= 1.0)) return fmt::format("gamma must be in [0, 1], got {}", gamma);
  if (!(learning_rate > 0.0))
    return fmt::format("learning_rate must be > 0, got {}", learning_rate);
  if (!(adam_beta1 >= 0.0 && adam_beta1 < 1.0)) {
    return fmt::format("adam_beta1 must be in [0, 1), got {}", adam_beta1);
  }
  if (!(adam_beta2 >= 0.0 && adam_beta2 < 1.0)) {
    return fmt::format("adam_beta2 must be in [0, 1), got {}", adam_beta2);
  }
  if (!(adam_eps > 0.0)) return fmt::format("adam_eps must be > 0, got {}", adam_eps);
  if (!(huber_delta > 0.0)) return fmt::format("huber_delta must be > 0, got {}", huber_delta);
  if (batch_size <= 0) return fmt::format("batch_size must be > 0, got {}", batch_size);
  if (target_update_every_updates <= 0) {
    return fmt::format("target_update_every_updates must be > 0, got {}",
                       target_update_every_updates);
  }
  if (iterations <= 0) return fmt::format("iterations must be > 0, got {}", iterations);
  if (learning_starts < batch_size) {
    return fmt::format("learning_starts ({}) must be >= batch_size ({})", learning_starts,
                       batch_size);
  }
  if (replay_capacity < learning_starts) {
    return fmt::format("replay_capacity ({}) must be >= learning_starts ({})", replay_capacity,
                       learning_starts);
  }
  if (!(epsilon_start >= 0.0 && epsilon_start <= 1.0)) {
    return fmt::format("epsilon_start must be in [0, 1], got {}", epsilon_start);
  }
  if (!(epsilon_end >= 0.0 && epsilon_end <= 1.0)) {
    return fmt::format("epsilon_end must be in [0, 1], got {}", epsilon_end);
  }
  if (!(epsilon_decay_fraction >= 0.0 && epsilon_decay_fraction <= 1.0)) {
    return fmt::format("epsilon_decay_fraction must be in [0, 1], got {}", epsilon_decay_fraction);
  }
  if (checkpoint_every_iterations < 0) {
    return fmt::format("checkpoint_every_iterations must be >= 0, got {}",
                       checkpoint_every_iterations);
  }
  if (eval_every_iterations < 0) {
    return fmt::format("eval_every_iterations must be >= 0, got {}", eval_every_iterations);
  }
  if (progress_every_iterations <= 0) {
    return fmt::format("progress_every_iterations must be > 0, got {}", progress_every_iterations);
  }
  if (curve_every_iterations <= 0) {
    return fmt::format("curve_every_iterations must be > 0, got {}", curve_every_iterations);
  }
  if (reward_window <= 0) return fmt::format("reward_window must be > 0, got {}", reward_window);
  if (!(average_from_fraction >= 0.0 && average_from_fraction <= 1.0)) {
    return fmt::format("average_from_fraction must be in [0, 1], got {}", average_from_fraction);
  }
  return "";
}

void LearnerSettings::Validate() const {
  const std::string problem = Problem();
  if (!problem.empty()) ThrowConfigError("learner settings: {}", problem);
}

LearnerSettings ParseLearnerSettings(const ConfigNode& section) {
  section.ExpectMap("learner settings");
  std::vector<std::string> keys;
  for (const auto& entry : LearnerSettingsHelp()) keys.emplace_back(entry.key);
  section.CheckKeys(keys);

  LearnerSettings s;
  s.backend = ChoiceOf(section, "backend", s.backend, {"fast", "torch"});
  s.device = ChoiceOf(section, "device", s.device, {"cpu", "cuda"});
  if (auto hidden = section.MaybeChild("hidden_sizes")) {
    hidden->ExpectSequence("hidden layer widths");
    s.hidden_sizes.clear();
    for (size_t i = 0; i < hidden->size(); ++i) {
      const ConfigNode element = hidden->Element(i);
      const int64_t width = element.AsInt();
      if (width <= 0 || width > (1 << 20)) {
        element.Fail(fmt::format("expected a layer width in 1..{}, got {}", 1 << 20, width));
      }
      s.hidden_sizes.push_back(static_cast<int>(width));
    }
  }
  s.gamma = Probability(section, "gamma", s.gamma);
  s.learning_rate = section.GetPositiveDouble("learning_rate", s.learning_rate);
  s.adam_beta1 = Probability(section, "adam_beta1", s.adam_beta1);
  s.adam_beta2 = Probability(section, "adam_beta2", s.adam_beta2);
  s.adam_eps = section.GetPositiveDouble("adam_eps", s.adam_eps);
  s.loss = ChoiceOf(section, "loss", "huber", {"huber", "mse"}) == "huber" ? TdLoss::kHuber
                                                                           : TdLoss::kMse;
  s.huber_delta = section.GetPositiveDouble("huber_delta", s.huber_delta);
  s.batch_size = section.GetPositiveInt("batch_size", s.batch_size);
  s.target_update_every_updates =
      section.GetPositiveInt("target_update_every_updates", s.target_update_every_updates);
  s.iterations = section.GetPositiveInt("iterations", s.iterations);
  s.replay_capacity = section.GetPositiveInt("replay_capacity", s.replay_capacity);
  s.learning_starts = section.GetPositiveInt("learning_starts", s.learning_starts);
  s.epsilon_start = Probability(section, "epsilon_start", s.epsilon_start);
  s.epsilon_end = Probability(section, "epsilon_end", s.epsilon_end);
  s.epsilon_decay_fraction =
      Probability(section, "epsilon_decay_fraction", s.epsilon_decay_fraction);
  s.checkpoint_every_iterations =
      NonNegativeInt(section, "checkpoint_every_iterations", s.checkpoint_every_iterations);
  s.eval_every_iterations =
      NonNegativeInt(section, "eval_every_iterations", s.eval_every_iterations);
  s.progress_every_iterations =
      section.GetPositiveInt("progress_every_iterations", s.progress_every_iterations);
  s.curve_every_iterations =
      section.GetPositiveInt("curve_every_iterations", s.curve_every_iterations);
  s.reward_window = section.GetPositiveInt("reward_window", s.reward_window);
  s.average_from_fraction = Probability(section, "average_from_fraction", s.average_from_fraction);

  // Checks across fields quote both values and point at the section.
  const std::string problem = s.Problem();
  if (!problem.empty()) section.Fail(problem);
  return s;
}

std::string LearnerSettingsToYaml(const LearnerSettings& s) {
  std::string hidden;
  for (size_t i = 0; i < s.hidden_sizes.size(); ++i) {
    hidden += fmt::format("{}{}", i == 0 ? "" : ", ", s.hidden_sizes[i]);
  }
  // fmt's "{}" prints doubles in the shortest form that reads back to the same value.
  std::string out;
  out += fmt::format("backend: {}\n", s.backend);
  out += fmt::format("device: {}\n", s.device);
  out += fmt::format("hidden_sizes: [{}]\n", hidden);
  out += fmt::format("gamma: {}\n", s.gamma);
  out += fmt::format("learning_rate: {}\n", s.learning_rate);
  out += fmt::format("adam_beta1: {}\n", s.adam_beta1);
  out += fmt::format("adam_beta2: {}\n", s.adam_beta2);
  out += fmt::format("adam_eps: {}\n", s.adam_eps);
  out += fmt::format("loss: {}\n", TdLossName(s.loss));
  out += fmt::format("huber_delta: {}\n", s.huber_delta);
  out += fmt::format("batch_size: {}\n", s.batch_size);
  out += fmt::format("target_update_every_updates: {}\n", s.target_update_every_updates);
  out += fmt::format("iterations: {}\n", s.iterations);
  out += fmt::format("replay_capacity: {}\n", s.replay_capacity);
  out += fmt::format("learning_starts: {}\n", s.learning_starts);
  out += fmt::format("epsilon_start: {}\n", s.epsilon_start);
  out += fmt::format("epsilon_end: {}\n", s.epsilon_end);
  out += fmt::format("epsilon_decay_fraction: {}\n", s.epsilon_decay_fraction);
  out += fmt::format("checkpoint_every_iterations: {}\n", s.checkpoint_every_iterations);
  out += fmt::format("eval_every_iterations: {}\n", s.eval_every_iterations);
  out += fmt::format("progress_every_iterations: {}\n", s.progress_every_iterations);
  out += fmt::format("curve_every_iterations: {}\n", s.curve_every_iterations);
  out += fmt::format("reward_window: {}\n", s.reward_window);
  if (s.averages_weights()) out += fmt::format("average_from_fraction: {}\n", s.average_from_fraction);
  return out;
}

}  // namespace bestserve
