// How requests are assigned to tasks.
//
//   task_mix: uniform                              # default: every task equally likely
//   task_mix: {weights: {hellaswag: 3, copa: 1}}   # tasks not named get weight 0
//   task_mix: {only: hellaswag}                    # a single task
//   task_mix:                                      # a mix that changes over time
//     schedule:
//       - {start_s: 0,   mix: {weights: {hellaswag: 9, copa: 1}}}
//       - {start_s: 300, mix: {weights: {hellaswag: 1, copa: 9}}}   # abrupt 90/10 -> 10/90
//
// A schedule entry starts either at a time (`start_s`, seconds of workload time, i.e. the
// request's arrival_s) or at a request index (`start_request`, 0-based position in the
// workload); one schedule uses one of the two throughout. The first entry starts at 0 and
// starts increase strictly. Each entry's `mix` is any of the non-schedule forms above. An
// entry holds until the next one starts (the shift is abrupt, as in the paper's open question
// of 90/10 shifts; a gradual shift is a sequence of small steps).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/rng.h"
#include "common/tasks.h"

namespace bestserve {

class TaskMix {
 public:
  // Uniform over every task of the table.
  static TaskMix Uniform(const TaskTable& tasks);
  // Parses the non-schedule forms above; `node` absent means uniform.
  static TaskMix Parse(const std::optional<ConfigNode>& node, const TaskTable& tasks);

  // One Uniform01 draw per call.
  TaskId Sample(Rng& rng) const;
  const std::vector<double>& probabilities() const { return probabilities_; }

 private:
  std::vector<double> cumulative_;
  std::vector<double> probabilities_;
};

// A piecewise-constant task mix over time or over request indices. A plain mix is a schedule
// with one entry, so every generator takes a schedule.
class TaskMixSchedule {
 public:
  enum class Axis { kTime, kRequest };

  // Parses every form above; `node` absent means uniform.
  static TaskMixSchedule Parse(const std::optional<ConfigNode>& node, const TaskTable& tasks);
  static TaskMixSchedule Single(TaskMix mix);

  // The task of the request with 0-based position `index` arriving at `arrival_s`. One
  // Uniform01 draw per call, whichever entry applies, so a schedule never shifts other draws.
  TaskId Sample(Rng& rng, double arrival_s, int64_t index) const;

  Axis axis() const { return axis_; }
  size_t num_entries() const { return mixes_.size(); }
  // Entry `i`'s start (seconds or request index, by axis) and mix.
  double start(size_t i) const { return starts_[i]; }
  const TaskMix& mix(size_t i) const { return mixes_[i]; }

 private:
  Axis axis_ = Axis::kTime;
  std::vector<double> starts_;  // ascending; starts_[0] == 0
  std::vector<TaskMix> mixes_;
};

}  // namespace bestserve
