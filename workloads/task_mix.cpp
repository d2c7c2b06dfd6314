#include "workloads/task_mix.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

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
    node->Fail(fmt::format(
        "expected 'uniform' or a map with 'weights', 'only' or 'schedule', got '{}'", text));
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

TaskMixSchedule TaskMixSchedule::Single(TaskMix mix) {
  TaskMixSchedule schedule;
  schedule.starts_.push_back(0.0);
  schedule.mixes_.push_back(std::move(mix));
  return schedule;
}

TaskMixSchedule TaskMixSchedule::Parse(const std::optional<ConfigNode>& node,
                                       const TaskTable& tasks) {
  if (!node || !node->IsMap() || !node->Has("schedule")) {
    return Single(TaskMix::Parse(node, tasks));
  }
  node->CheckKeys({"schedule"});
  const ConfigNode list = node->Child("schedule");
  list.ExpectSequence("schedule entries {start_s or start_request, mix}");
  if (list.size() == 0) list.Fail("expected at least one schedule entry");
  TaskMixSchedule schedule;
  for (size_t i = 0; i < list.size(); ++i) {
    const ConfigNode entry = list.Element(i);
    entry.ExpectMap("a schedule entry {start_s or start_request, mix}");
    entry.CheckKeys({"start_s", "start_request", "mix"});
    const bool by_time = entry.Has("start_s");
    if (by_time == entry.Has("start_request")) {
      entry.Fail("expected exactly one of 'start_s' or 'start_request'");
    }
    const Axis axis = by_time ? Axis::kTime : Axis::kRequest;
    if (i == 0) {
      schedule.axis_ = axis;
    } else if (axis != schedule.axis_) {
      entry.Fail(fmt::format("expected '{}' like the first entry; a schedule uses one axis",
                             schedule.axis_ == Axis::kTime ? "start_s" : "start_request"));
    }
    double start = 0.0;
    if (by_time) {
      const ConfigNode value = entry.Child("start_s");
      start = value.AsDouble();
      if (!std::isfinite(start) || start < 0.0) {
        value.Fail(fmt::format("expected a start time >= 0 seconds, got {}", start));
      }
    } else {
      const ConfigNode value = entry.Child("start_request");
      const int64_t index = value.AsInt();
      if (index < 0) value.Fail(fmt::format("expected a request index >= 0, got {}", index));
      start = static_cast<double>(index);
    }
    if (i == 0 && start != 0.0) {
      entry.Fail(fmt::format("expected the first entry to start at 0, got {}", start));
    }
    if (i > 0 && !(start > schedule.starts_.back())) {
      entry.Fail(fmt::format("expected starts to increase strictly; {} follows {}", start,
                             schedule.starts_.back()));
    }
    schedule.starts_.push_back(start);
    schedule.mixes_.push_back(TaskMix::Parse(entry.Child("mix"), tasks));
  }
  return schedule;
}

TaskId TaskMixSchedule::Sample(Rng& rng, double arrival_s, int64_t index) const {
  if (mixes_.size() == 1) return mixes_[0].Sample(rng);
  const double position = axis_ == Axis::kTime ? arrival_s : static_cast<double>(index);
  // The last entry whose start is <= position (starts_[0] == 0 <= every position).
  const auto it = std::upper_bound(starts_.begin(), starts_.end(), position);
  const auto entry = static_cast<size_t>(std::max<std::ptrdiff_t>(it - starts_.begin() - 1, 0));
  return mixes_[entry].Sample(rng);
}

}  // namespace bestserve
