// Turns arrival times into requests: the one place that assigns ids, tasks and token lengths.
//
// Every generator produces arrival times (and the rate it drew them at) in time order and hands
// them to a RequestSink, which
//   * numbers requests 0, 1, 2, ... in arrival order,
//   * draws the task from the task-mix schedule with the "tasks" stream,
//   * draws prompt then output tokens from the task's TokenLengthSpec with the "lengths" stream,
//     unless the caller passes token counts (a trace that has them).
// Separate streams keep the arrival process independent of the mix and the length tables:
// changing the task mix never moves an arrival time.
#pragma once

#include <cstdint>

#include "common/error.h"
#include "common/request.h"
#include "common/rng.h"
#include "common/tasks.h"
#include "workloads/task_mix.h"
#include "workloads/workload_generator.h"

namespace bestserve {

// The most requests one workload may hold (about 0.5 GB): more is a typo in a rate or duration,
// and would exhaust memory rather than simulate.
inline constexpr int64_t kMaxWorkloadRequests = 10'000'000;

class RequestSink {
 public:
  // `mix` and `ctx.tasks` must outlive the sink. Appends to `*out`, which may hold earlier
  // requests (ids continue from out->size()).
  RequestSink(const WorkloadContext& ctx, const TaskMixSchedule& mix, Workload* out);

  // Appends a request at `arrival_s` (>= the previous one) drawn at `nominal_rate_rps`
  // (NaN when unknown). Task and both token counts come from the tables.
  void Add(double arrival_s, double nominal_rate_rps) {
    Request& r = Push(arrival_s, nominal_rate_rps, SampleTask(arrival_s));
    const TaskSpec& task = tasks_->task(r.task);
    r.prompt_tokens = task.prompt_tokens.Sample(lengths_);
    r.output_tokens = task.output_tokens.Sample(lengths_);
  }

  // As Add, with token counts given (>= 1) rather than drawn.
  void AddWithTokens(double arrival_s, double nominal_rate_rps, int32_t prompt_tokens,
                     int32_t output_tokens) {
    Request& r = Push(arrival_s, nominal_rate_rps, SampleTask(arrival_s));
    r.prompt_tokens = prompt_tokens;
    r.output_tokens = output_tokens;
  }

  // As Add and AddWithTokens, with the task chosen by the caller (e.g. by function hash)
  // instead of the mix; the "tasks" stream is not drawn from.
  void AddWithTask(double arrival_s, double nominal_rate_rps, TaskId task) {
    Request& r = Push(arrival_s, nominal_rate_rps, task);
    const TaskSpec& spec = tasks_->task(task);
    r.prompt_tokens = spec.prompt_tokens.Sample(lengths_);
    r.output_tokens = spec.output_tokens.Sample(lengths_);
  }
  void AddWithTaskAndTokens(double arrival_s, double nominal_rate_rps, TaskId task,
                            int32_t prompt_tokens, int32_t output_tokens) {
    Request& r = Push(arrival_s, nominal_rate_rps, task);
    r.prompt_tokens = prompt_tokens;
    r.output_tokens = output_tokens;
  }

  int64_t size() const { return static_cast<int64_t>(out_->size()); }
  double last_arrival_s() const { return out_->empty() ? -1.0 : out_->back().arrival_s; }

 private:
  TaskId SampleTask(double arrival_s) {
    return mix_->Sample(task_rng_, arrival_s, static_cast<int64_t>(out_->size()));
  }
  Request& Push(double arrival_s, double nominal_rate_rps, TaskId task) {
    BS_DCHECK(out_->empty() || arrival_s >= out_->back().arrival_s);
    if (static_cast<int64_t>(out_->size()) >= kMaxWorkloadRequests) {
      ThrowConfigError("the workload produces more than {} requests, the limit of one run; lower "
                       "its rate, duration or request count",
                       kMaxWorkloadRequests);
    }
    Request& r = out_->emplace_back();
    r.id = static_cast<int64_t>(out_->size()) - 1;
    r.arrival_s = arrival_s;
    r.nominal_rate_rps = nominal_rate_rps;
    r.task = task;
    return r;
  }

  const TaskTable* tasks_;
  const TaskMixSchedule* mix_;
  Workload* out_;
  Rng task_rng_;
  Rng lengths_;
};

}  // namespace bestserve
