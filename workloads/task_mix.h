// How requests are assigned to tasks.
//
//   task_mix: uniform                         # default: every task equally likely
//   task_mix: {weights: {hellaswag: 3, copa: 1}}   # tasks not named get weight 0
//   task_mix: {only: hellaswag}               # a single task
#pragma once

#include <optional>
#include <vector>

#include "common/config.h"
#include "common/rng.h"
#include "common/tasks.h"

namespace bestserve {

class TaskMix {
 public:
  // Uniform over every task of the table.
  static TaskMix Uniform(const TaskTable& tasks);
  // Parses the forms above; `node` absent means uniform.
  static TaskMix Parse(const std::optional<ConfigNode>& node, const TaskTable& tasks);

  TaskId Sample(Rng& rng) const;
  const std::vector<double>& probabilities() const { return probabilities_; }

 private:
  std::vector<double> cumulative_;
  std::vector<double> probabilities_;
};

}  // namespace bestserve
