// Statistics definitions on hand-computed examples, and task-mix schedules.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "tests/workloads/test_support.h"
#include "workloads/registry.h"
#include "workloads/task_mix.h"
#include "workloads/workload_stats.h"

namespace bestserve {
namespace {

using testing::kSigmas;
using testing::TestTasks;
using testing::Yaml;

TEST_CASE("Peak-to-mean follows the README definition, empty windows included",
          "[workloads][stats]") {
  // t = 0, 0.2, 0.4, 2.5, 3.9: T = 3.9, ceil(3.9) = 4 windows of 1 s with counts 3, 0, 1, 1.
  const std::vector<double> t = {0.0, 0.2, 0.4, 2.5, 3.9};
  const WindowCounts w = CountWindows(t, 1.0);
  CHECK(w.windows == 4);
  CHECK(w.max_count == 3);
  CHECK(w.peak_to_mean == Approx(3.0 / (5.0 / 4.0)));
  // Counts 3, 0, 1, 1: mean 1.25, population variance (3.0625 + 1.5625 + 0.0625 * 2) / 4.
  CHECK(w.cv == Approx(std::sqrt(4.75 / 4.0) / 1.25));
  // Edge cases the README leaves open: an arrival on the right edge of the last window (T a
  // multiple of w) counts in it; a zero span is one window.
  const WindowCounts edge = CountWindows(std::vector<double>{0.0, 1.0, 2.0}, 1.0);
  CHECK(edge.windows == 2);
  CHECK(edge.max_count == 2);
  CHECK(CountWindows(std::vector<double>{5.0, 5.0}, 60.0).windows == 1);
}

TEST_CASE("Inter-arrival CV uses the population standard deviation; quantiles interpolate",
          "[workloads][stats]") {
  ArrivalData data;
  data.arrival_s = {0.0, 1.0, 1.0, 4.0};  // gaps 1, 0, 3: mean 4/3, population sd sqrt(14/9)
  data.prompt_tokens = {10, 20, 30, 40};
  data.output_tokens = {1, 1, 1, 100};
  const WorkloadStats s = ComputeStats(data);
  CHECK(s.count == 4);
  CHECK(s.duration_s == 4.0);
  CHECK(s.mean_rate_rps == 1.0);
  CHECK(s.zero_gaps == 1);
  CHECK(s.cv_interarrival == Approx(std::sqrt(14.0 / 9.0) / (4.0 / 3.0)));
  // numpy: h = (n - 1) p; p50 of 10..40 = 25; p90 = 37; p99 = 39.7.
  CHECK(s.prompt_tokens->p50 == Approx(25.0));
  CHECK(s.prompt_tokens->p90 == Approx(37.0));
  CHECK(s.prompt_tokens->p99 == Approx(39.7));
  CHECK(s.output_tokens->mean == Approx(25.75));
  // Too few arrivals: undefined, not zero.
  ArrivalData one;
  one.arrival_s = {3.0};
  const WorkloadStats single = ComputeStats(one);
  CHECK(std::isnan(single.mean_rate_rps));
  CHECK(std::isnan(single.cv_interarrival));
  CHECK_THAT(FormatStatsText(single), Catch::Contains("n/a"));
}

TEST_CASE("Stats read a request CSV without a task table and count tasks by name",
          "[workloads][stats]") {
  testing::ScratchDir dir;
  const std::string file =
      dir.Write("w.csv",
                "id,arrival_s,task,prompt_tokens,output_tokens,deadline_s,nominal_rate_rps\n"
                "0,0.5,copa,10,3,,2\n1,1.5,hellaswag,20,4,,2\n2,2.5,copa,30,5,0.4,\n");
  const WorkloadStats s = ComputeStats(LoadArrivalData(file, "auto"));
  CHECK(s.count == 3);
  CHECK(s.task_names == std::vector<std::string>{"copa", "hellaswag"});
  CHECK(s.task_counts == std::vector<int64_t>{2, 1});
  CHECK(s.mean_rate_rps == 1.5);
  const std::string bad =
      dir.Write("bad.csv",
                "id,arrival_s,task,prompt_tokens,output_tokens,deadline_s,nominal_rate_rps\n"
                "0,0.5,copa,10,3,,2\n1,0.25,copa,10,3,,2\n");
  CHECK_THROWS_WITH(LoadArrivalData(bad, "auto"),
                    Catch::StartsWith(bad + ":3:3: column 'arrival_s': expected rows sorted"));
  CHECK_THAT(FormatStatsJson(s),
             Catch::Contains("\"copa\": 2") && Catch::Contains("\"mean_rate_rps\": 1.5"));
}

TEST_CASE("A time schedule switches the task mix abruptly at its start times",
          "[workloads][statistical][task_mix]") {
  const TaskTable tasks = TestTasks();
  const Workload w = MakeWorkloadGenerator(Yaml(R"(
kind: poisson
rate_rps: 100
duration_s: 2000
task_mix:
  schedule:
    - {start_s: 0, mix: {weights: {hellaswag: 9, copa: 1}}}
    - {start_s: 1000, mix: {weights: {hellaswag: 1, copa: 9}}}
)"),
                                           "")
                         ->Generate(WorkloadContext{&tasks, 6});
  int64_t before[4] = {0, 0, 0, 0}, after[4] = {0, 0, 0, 0};
  for (const Request& r : w) ++(r.arrival_s < 1000.0 ? before : after)[r.task];
  CHECK(before[2] + before[3] + after[2] + after[3] == 0);
  const auto n_before = static_cast<double>(before[0] + before[1]);
  const auto n_after = static_cast<double>(after[0] + after[1]);
  // Binomial proportions with p = 0.9, standard error sqrt(0.09 / n).
  CHECK(std::abs(static_cast<double>(before[0]) / n_before - 0.9) <
        kSigmas * std::sqrt(0.09 / n_before));
  CHECK(std::abs(static_cast<double>(after[1]) / n_after - 0.9) <
        kSigmas * std::sqrt(0.09 / n_after));
}

TEST_CASE("A request-index schedule switches at exact positions, in any generator",
          "[workloads][task_mix]") {
  const TaskTable tasks = TestTasks();
  const Workload w = MakeWorkloadGenerator(Yaml(R"(
kind: unpredictable2
num_requests: 3000
task_mix:
  schedule:
    - {start_request: 0, mix: {only: copa}}
    - {start_request: 1000, mix: uniform}
    - {start_request: 2000, mix: {only: piqa}}
)"),
                                           "")
                         ->Generate(WorkloadContext{&tasks, 6});
  for (size_t i = 0; i < 1000; ++i) REQUIRE(w[i].task == 1);
  for (size_t i = 2000; i < 3000; ++i) REQUIRE(w[i].task == 2);
  int64_t seen[4] = {0, 0, 0, 0};
  for (size_t i = 1000; i < 2000; ++i) ++seen[w[i].task];
  for (int t = 0; t < 4; ++t) CHECK(seen[t] > 0);
}

TEST_CASE("Changing the task mix never moves an arrival", "[workloads][task_mix]") {
  const TaskTable tasks = TestTasks();
  const Workload a = MakeWorkloadGenerator(Yaml("{kind: unpredictable1, num_requests: 2000}"), "")
                         ->Generate(WorkloadContext{&tasks, 12});
  const Workload b =
      MakeWorkloadGenerator(
          Yaml("{kind: unpredictable1, num_requests: 2000, task_mix: {only: copa}}"), "")
          ->Generate(WorkloadContext{&tasks, 12});
  for (size_t i = 0; i < a.size(); ++i) REQUIRE(a[i].arrival_s == b[i].arrival_s);
}

TEST_CASE("Bad schedules are refused with their location", "[workloads][config][task_mix]") {
  const TaskTable tasks = TestTasks();
  auto parse = [&](const std::string& yaml) {
    return TaskMixSchedule::Parse(Yaml(yaml).Child("task_mix"), tasks);
  };
  CHECK_THROWS_WITH(parse("task_mix: {schedule: [{start_s: 5, mix: uniform}]}"),
                    Catch::Contains("expected the first entry to start at 0, got 5"));
  CHECK_THROWS_WITH(
      parse("task_mix: {schedule: [{start_s: 0, mix: uniform}, {start_request: 9, mix: uniform}]}"),
      Catch::Contains("expected 'start_s' like the first entry"));
  CHECK_THROWS_WITH(
      parse("task_mix: {schedule: [{start_s: 0, mix: uniform}, {start_s: 0, mix: uniform}]}"),
      Catch::Contains("expected starts to increase strictly; 0 follows 0"));
  CHECK_THROWS_WITH(
      parse("task_mix: {schedule: [{start_s: 0, mix: {only: nope}}]}"),
      Catch::Contains("unknown task 'nope'") && Catch::Contains("task_mix.schedule[0].mix.only"));
  CHECK_THROWS_WITH(parse("task_mix: {schedule: [{start_s: 0}]}"),
                    Catch::Contains("missing required key 'mix'"));
}

}  // namespace
}  // namespace bestserve
