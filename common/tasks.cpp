#include "common/tasks.h"

#include <fmt/format.h>

#include <cmath>

namespace bestserve {

TokenLengthSpec TokenLengthSpec::Parse(const ConfigNode& node) {
  TokenLengthSpec spec;
  if (node.IsScalar()) {
    const int64_t tokens = node.AsInt();
    if (tokens < 1) node.Fail(fmt::format("expected a token count >= 1, got {}", tokens));
    spec.kind = Kind::kFixed;
    spec.fixed_tokens = static_cast<int32_t>(tokens);
    return spec;
  }
  node.ExpectMap("token-length settings");
  const std::string kind = node.GetString("kind");
  if (kind == "fixed") {
    node.CheckKeys({"kind", "tokens"});
    const int64_t tokens = node.GetInt("tokens");
    if (tokens < 1) node.Child("tokens").Fail(fmt::format("expected >= 1, got {}", tokens));
    spec.kind = Kind::kFixed;
    spec.fixed_tokens = static_cast<int32_t>(tokens);
  } else if (kind == "uniform") {
    node.CheckKeys({"kind", "min", "max"});
    const int64_t lo = node.GetInt("min");
    const int64_t hi = node.GetInt("max");
    if (lo < 1) node.Child("min").Fail(fmt::format("expected >= 1, got {}", lo));
    if (hi < lo) node.Fail(fmt::format("expected min <= max, got min = {} and max = {}", lo, hi));
    spec.kind = Kind::kUniform;
    spec.min_tokens = static_cast<int32_t>(lo);
    spec.max_tokens = static_cast<int32_t>(hi);
  } else if (kind == "geometric") {
    node.CheckKeys({"kind", "mean"});
    const double mean = node.GetDouble("mean");
    if (!(mean >= 1.0)) node.Child("mean").Fail(fmt::format("expected a mean >= 1, got {}", mean));
    spec.kind = Kind::kGeometric;
    spec.mean_tokens = mean;
  } else {
    node.Child("kind").Fail(
        fmt::format("unknown token-length kind '{}'; valid kinds: fixed, uniform, geometric", kind));
  }
  return spec;
}

int32_t TokenLengthSpec::Sample(Rng& rng) const {
  switch (kind) {
    case Kind::kFixed:
      return fixed_tokens;
    case Kind::kUniform:
      return min_tokens + static_cast<int32_t>(rng.UniformIndex(
                              static_cast<uint64_t>(max_tokens - min_tokens) + 1));
    case Kind::kGeometric: {
      const int64_t draw = rng.GeometricAtLeastOne(mean_tokens);
      return static_cast<int32_t>(std::min<int64_t>(draw, 1 << 30));
    }
  }
  return fixed_tokens;
}

double TokenLengthSpec::Mean() const {
  switch (kind) {
    case Kind::kFixed: return fixed_tokens;
    case Kind::kUniform: return 0.5 * (min_tokens + max_tokens);
    case Kind::kGeometric: return mean_tokens;
  }
  return fixed_tokens;
}

std::string TokenLengthSpec::Describe() const {
  switch (kind) {
    case Kind::kFixed: return fmt::format("{}", fixed_tokens);
    case Kind::kUniform: return fmt::format("uniform[{}, {}]", min_tokens, max_tokens);
    case Kind::kGeometric: return fmt::format("geometric(mean {})", mean_tokens);
  }
  return "";
}

TaskTable TaskTable::Parse(const ConfigNode& root) {
  TaskTable table;
  table.source_ = root.source();
  root.CheckKeys({"models", "tasks", "notes"});
  const ConfigNode models = root.Child("models");
  models.ExpectSequence("model names");
  if (models.size() == 0) models.Fail("expected at least one model name");
  for (size_t i = 0; i < models.size(); ++i) {
    const std::string name = models.Element(i).AsString();
    for (const auto& existing : table.model_names_) {
      if (existing == name) models.Element(i).Fail(fmt::format("model '{}' is listed twice", name));
    }
    table.model_names_.push_back(name);
  }
  const ConfigNode tasks = root.Child("tasks");
  tasks.ExpectSequence("tasks");
  if (tasks.size() == 0) tasks.Fail("expected at least one task");
  for (size_t i = 0; i < tasks.size(); ++i) {
    const ConfigNode node = tasks.Element(i);
    node.CheckKeys({"name", "prompt_tokens", "output_tokens", "quality", "deadline_ms_per_token",
                    "notes"});
    TaskSpec task;
    task.name = node.GetString("name");
    for (const auto& existing : table.tasks_) {
      if (existing.name == task.name) {
        node.Child("name").Fail(fmt::format("task '{}' is defined twice", task.name));
      }
    }
    task.prompt_tokens = TokenLengthSpec::Parse(node.Child("prompt_tokens"));
    task.output_tokens = TokenLengthSpec::Parse(node.Child("output_tokens"));
    const ConfigNode quality = node.Child("quality");
    quality.ExpectSequence("utilities, one per model");
    if (quality.size() != table.model_names_.size()) {
      quality.Fail(fmt::format("expected {} utilities (one per model: {}), got {}",
                               table.model_names_.size(), fmt::join(table.model_names_, ", "),
                               quality.size()));
    }
    for (size_t m = 0; m < quality.size(); ++m) {
      const double value = quality.Element(m).AsDouble();
      if (value < 0.0 || value > 1.0) {
        quality.Element(m).Fail(fmt::format("expected a utility in [0, 1], got {}", value));
      }
      task.quality.push_back(value);
    }
    if (node.Has("deadline_ms_per_token")) {
      task.deadline_ms_per_token_override = node.GetPositiveDouble("deadline_ms_per_token");
    }
    table.tasks_.push_back(std::move(task));
  }
  return table;
}

TaskTable TaskTable::LoadFile(const std::string& path) {
  return Parse(ConfigNode::LoadFile(path));
}

TaskId TaskTable::FindTask(const std::string& name) const {
  std::vector<std::string> names;
  for (size_t i = 0; i < tasks_.size(); ++i) {
    if (tasks_[i].name == name) return static_cast<TaskId>(i);
    names.push_back(tasks_[i].name);
  }
  ThrowConfigError("unknown task '{}'; tasks in {}: {}", name, source_, fmt::join(names, ", "));
}

double TaskTable::QualityFor(TaskId task, const std::string& model_name) const {
  for (size_t m = 0; m < model_names_.size(); ++m) {
    if (model_names_[m] == model_name) return tasks_.at(static_cast<size_t>(task)).quality[m];
  }
  ThrowConfigError("model '{}' has no quality values in the task table {}; it lists: {}",
                   model_name, source_, fmt::join(model_names_, ", "));
}

}  // namespace bestserve
