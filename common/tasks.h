// The task table: which tasks exist, how long their prompts and outputs are, how good each
// model is at each task (the paper's utility matrix A[t][m], Table 1), and its deadline rule.
//
// YAML format (profiles/tasks/opt_zero_shot.yaml is the annotated example):
//
//   | key                         | meaning                                                  |
//   |-----------------------------|----------------------------------------------------------|
//   | models                      | model names, in the order the quality lists use           |
//   | tasks[i].name               | task name (unique)                                        |
//   | tasks[i].prompt_tokens      | TokenLengthSpec: fixed / uniform / geometric              |
//   | tasks[i].output_tokens      | TokenLengthSpec                                           |
//   | tasks[i].quality            | list, one utility per model in `models` order, in [0, 1]  |
//   | tasks[i].deadline_ms_per_token | optional per-task override of the scenario's rule      |
//
// A scenario may serve a subset of the table's models, in its own order; QualityFor() maps by
// name, so the table never needs to match the scenario's order.
#pragma once

#include <string>
#include <vector>

#include "common/config.h"
#include "common/request.h"
#include "common/rng.h"

namespace bestserve {

// A distribution of token counts, always >= 1.
struct TokenLengthSpec {
  enum class Kind { kFixed, kUniform, kGeometric };
  Kind kind = Kind::kFixed;
  int32_t fixed_tokens = 32;  // kFixed
  int32_t min_tokens = 1;     // kUniform: inclusive bounds
  int32_t max_tokens = 1;
  double mean_tokens = 32.0;  // kGeometric: on {1, 2, ...} with this mean

  // Accepts a bare integer (fixed) or a map {kind: fixed|uniform|geometric, ...}.
  static TokenLengthSpec Parse(const ConfigNode& node);
  int32_t Sample(Rng& rng) const;
  double Mean() const;
  std::string Describe() const;
};

struct TaskSpec {
  std::string name;
  TokenLengthSpec prompt_tokens;
  TokenLengthSpec output_tokens;
  std::vector<double> quality;  // per model in TaskTable::model_names() order
  double deadline_ms_per_token_override = kUnset;  // NaN: use the scenario's rule
};

class TaskTable {
 public:
  static TaskTable Parse(const ConfigNode& root);
  static TaskTable LoadFile(const std::string& path);

  const std::vector<std::string>& model_names() const { return model_names_; }
  const std::vector<TaskSpec>& tasks() const { return tasks_; }
  int num_tasks() const { return static_cast<int>(tasks_.size()); }
  const TaskSpec& task(TaskId id) const { return tasks_.at(static_cast<size_t>(id)); }
  // The task's id; throws ConfigError listing valid names when unknown.
  TaskId FindTask(const std::string& name) const;
  // A[task][model] for a model named in the table; throws ConfigError when the table has no
  // such model.
  double QualityFor(TaskId task, const std::string& model_name) const;
  // The source the table was read from (for provenance in outputs).
  const std::string& source() const { return source_; }

 private:
  std::vector<std::string> model_names_;
  std::vector<TaskSpec> tasks_;
  std::string source_;
};

}  // namespace bestserve
