#include "workloads/task_mix.h"

#include <fmt/format.h>

namespace bestserve {
TaskMix TaskMix::Uniform(const TaskTable& tasks) {
  TaskMix mix;
  const auto n = static_cast<size_t>(tasks.num_tasks());
  for (size_t i = 0; i < n; ++i) {
    mix.probabilities_.push_back(1.0 / static_cast<double>(n));
    mix.cumulative_.push_back(static_cast<double>(i + 1) / static_cast<double>(n));
  }
  return mix;
}

TaskMix TaskMix::Parse(const std::optional<ConfigNode>& node, const TaskTable& tasks) {
  if (!node) return Uniform(tasks);
  if (node->IsScalar()) {
    const std::string text = node->AsString();
    if (text == "uniform") return Uniform(tasks);
    node->Fail(fmt::format("expected 'uniform' or a map with 'weights' or 'only', got '{}'", text));
  }
  node->CheckKeys({"weights", "only"});
  std::vector<double> weights(static_cast<size_t>(tasks.num_tasks()), 0.0);
  if (node->Has("only") == node->Has("weights")) {
    node->Fail("expected exactly one of 'weights' or 'only'");
  }
  if (node->Has("only")) {
    const ConfigNode only = node->Child("only");
    try {
      weights[static_cast<size_t>(tasks.FindTask(only.AsString()))] = 1.0;
    } catch (const ConfigError& e) {
      only.Fail(e.what());
    }
  } else {
    const ConfigNode map = node->Child("weights");
    map.ExpectMap("task weights");
    for (const auto& name : map.Keys()) {
      const ConfigNode weight = map.Child(name);
      const double value = weight.AsDouble();
      if (value < 0.0) weight.Fail(fmt::format("expected a weight >= 0, got {}", value));
      TaskId id = 0;
      try {
        id = tasks.FindTask(name);
      } catch (const ConfigError& e) {
        weight.Fail(e.what());
      }
      weights[static_cast<size_t>(id)] = value;
    }
  }
  double total = 0.0;
  for (double w : weights) total += w;
  if (!(total > 0.0)) node->Fail("expected at least one task with a positive weight");
  TaskMix mix;
  double running = 0.0;
  for (double w : weights) {
    running += w;
    mix.probabilities_.push_back(w / total);
    mix.cumulative_.push_back(running / total);
  }
  mix.cumulative_.back() = 1.0;
  return mix;
}

TaskId TaskMix::Sample(Rng& rng) const {
  const double u = rng.Uniform01();
  for (size_t i = 0; i < cumulative_.size(); ++i) {
    if (u < cumulative_[i] && probabilities_[i] > 0.0) return static_cast<TaskId>(i);
  }
  // u lands past the last positive bucket only by rounding: take the last positive task.
  for (size_t i = cumulative_.size(); i-- > 0;) {
    if (probabilities_[i] > 0.0) return static_cast<TaskId>(i);
  }
  return 0;
}

}  // namespace bestserve
