// Rewards at hand-computed points, including the paper's soft-deadline edges.
#include "sim/reward.h"

#include <catch2/catch.hpp>
#include <cmath>

namespace bestserve {

TEST_CASE("hard deadlines pay the full utility when met and nothing when missed", "[sim][reward]") {
  DeadlineSpec hard;
  CHECK(ComputeReward(hard, 0.78, 1.0, 1.28) == 0.78);
  CHECK(ComputeReward(hard, 0.78, 1.28, 1.28) == 0.78);  // exactly on time counts as met
  CHECK(ComputeReward(hard, 0.78, 1.2800001, 1.28) == 0.0);
}

TEST_CASE("soft deadlines lose 1% per ms late and pay nothing past 10% lateness", "[sim][reward]") {
  DeadlineSpec soft;
  soft.reward = RewardKind::kSoft;
  // Deadline 2 s: the 10% cutoff is 200 ms, but 1%/ms reaches zero at 100 ms first.
  CHECK(ComputeReward(soft, 1.0, 2.0, 2.0) == 1.0);
  CHECK(ComputeReward(soft, 1.0, 2.010, 2.0) == Approx(0.90).margin(1e-9));
  CHECK(ComputeReward(soft, 0.5, 2.050, 2.0) == Approx(0.25).margin(1e-9));
  CHECK(ComputeReward(soft, 1.0, 2.100, 2.0) == Approx(0.0).margin(1e-9));
  CHECK(ComputeReward(soft, 1.0, 2.150, 2.0) == 0.0);
  // Deadline 0.32 s (8 tokens): the cutoff is 32 ms. At exactly 32 ms late the reward is
  // 1 - 0.32; one microsecond later the lateness exceeds 10% and the reward is 0.
  CHECK(ComputeReward(soft, 1.0, 0.352, 0.32) == Approx(0.68).margin(1e-6));
  CHECK(ComputeReward(soft, 1.0, 0.352001, 0.32) == 0.0);
}

TEST_CASE("other soft shapes follow their formulas", "[sim][reward]") {
  DeadlineSpec linear;
  linear.reward = RewardKind::kSoft;
  linear.soft_shape = SoftShape::kLinearToCutoff;
  // 1 s deadline, cutoff 100 ms: 25 ms late keeps 75%.
  CHECK(ComputeReward(linear, 0.8, 1.025, 1.0) == Approx(0.6).margin(1e-9));
  DeadlineSpec exponential;
  exponential.reward = RewardKind::kSoft;
  exponential.soft_shape = SoftShape::kExponential;
  exponential.half_life_ms = 10.0;
  CHECK(ComputeReward(exponential, 1.0, 1.020, 1.0) == Approx(0.25).margin(1e-9));
  CHECK(ComputeReward(exponential, 1.0, 1.2, 1.0) == 0.0);  // past the 10% cutoff
}

TEST_CASE("soft lateness read per output token divides the ms late by the output length", "[sim][reward]") {
  const DeadlineSpec per_token = DeadlineSpec::Parse(
      ConfigNode::LoadString("{reward: soft, soft: {lateness: per_output_token}}", "deadline"));
  REQUIRE(per_token.soft_lateness == SoftLateness::kPerOutputToken);
  const DeadlineSpec end_to_end = DeadlineSpec::Parse(ConfigNode::LoadString("{reward: soft}", "deadline"));
  // 50 output tokens at 40 ms/token: deadline 2 s. 30 ms late in all is 0.6 ms late per token:
  // 1 - 0.006 per token, 1 - 0.30 end to end.
  CHECK(ComputeEndToEndReward(per_token, 1.0, 2.030, 2.0, 50) == Approx(0.994).margin(1e-9));
  CHECK(ComputeEndToEndReward(end_to_end, 1.0, 2.030, 2.0, 50) == Approx(0.70).margin(1e-9));
  // The cutoff is a fraction of the deadline under both readings: 10% of 2 s is 200 ms in all,
  // 4 ms per token. 199 ms late: 3.98 ms per token, 1 - 0.0398; 201 ms late: nothing.
  CHECK(ComputeEndToEndReward(per_token, 1.0, 2.199, 2.0, 50) == Approx(0.9602).margin(1e-9));
  CHECK(ComputeEndToEndReward(per_token, 1.0, 2.201, 2.0, 50) == 0.0);
  // Met deadlines, hard rewards and one-token answers are the same under both readings.
  CHECK(ComputeEndToEndReward(per_token, 0.7, 1.9, 2.0, 50) == 0.7);
  CHECK(ComputeEndToEndReward(per_token, 1.0, 2.050, 2.0, 1) == ComputeReward(per_token, 1.0, 2.050, 2.0));
  DeadlineSpec hard = per_token;
  hard.reward = RewardKind::kHard;
  CHECK(ComputeEndToEndReward(hard, 1.0, 2.001, 2.0, 50) == 0.0);
  // The default reading is ComputeReward itself.
  CHECK(ComputeEndToEndReward(end_to_end, 0.5, 2.050, 2.0, 50) == ComputeReward(end_to_end, 0.5, 2.050, 2.0));
  // With SLOs the end-to-end factor follows the same reading.
  DeadlineSpec with_slo = per_token;
  with_slo.ttft_slo_ms = 1000.0;
  ServedLatencies served;
  served.e2e_s = 2.030;
  served.ttft_s = 0.5;
  served.output_tokens = 50;
  CHECK(ComputeSloReward(with_slo, 1.0, served, 2.0) == Approx(0.994).margin(1e-9));
  REQUIRE_THROWS_WITH(
      DeadlineSpec::Parse(ConfigNode::LoadString("{soft: {lateness: per_token}}", "deadline")),
      Catch::Contains("unknown lateness 'per_token'; valid: end_to_end, per_output_token"));
}

TEST_CASE("deadlines are 40 ms per output token unless the task overrides it", "[sim][reward]") {
  DeadlineSpec spec;
  TaskSpec task;
  CHECK(spec.DeadlineSeconds(task, 32) == Approx(1.28));
  task.deadline_ms_per_token_override = 80.0;
  CHECK(spec.DeadlineSeconds(task, 32) == Approx(2.56));
  spec.base_ms = 100.0;
  CHECK(spec.DeadlineSeconds(task, 10) == Approx(0.9));
}

TEST_CASE("a deadline schedule changes ms per token by arrival time; task overrides stay fixed", "[sim][reward]") {
  const DeadlineSpec spec = DeadlineSpec::Parse(ConfigNode::LoadString(
      "{schedule: [{start_s: 0, ms_per_token: 40}, {start_s: 60, ms_per_token: 20}, {start_s: 120, ms_per_token: 80}]}",
      "deadline"));
  CHECK(spec.ms_per_token == 40.0);
  TaskSpec task;
  CHECK(spec.DeadlineSeconds(task, 10, 0.0) == Approx(0.4));
  CHECK(spec.DeadlineSeconds(task, 10, 59.999) == Approx(0.4));
  CHECK(spec.DeadlineSeconds(task, 10, 60.0) == Approx(0.2));  // an entry applies from its start on
  CHECK(spec.DeadlineSeconds(task, 10, 119.0) == Approx(0.2));
  CHECK(spec.DeadlineSeconds(task, 10, 1e6) == Approx(0.8));
  task.deadline_ms_per_token_override = 100.0;
  CHECK(spec.DeadlineSeconds(task, 10, 70.0) == Approx(1.0));
  // ApplyTo reads each request's arrival.
  const TaskTable tasks = TaskTable::Parse(ConfigNode::LoadString(
      "{models: [m], tasks: [{name: t, prompt_tokens: 8, output_tokens: 10, quality: [1.0]}]}", "tasks"));
  Workload w(2);
  w[0].arrival_s = 10.0;
  w[1].arrival_s = 70.0;
  for (Request& r : w) r.output_tokens = 10;
  spec.ApplyTo(w, tasks);
  CHECK(w[0].deadline_s == Approx(0.4));
  CHECK(w[1].deadline_s == Approx(0.2));

  auto parse_error = [](const std::string& text) {
    try {
      DeadlineSpec::Parse(ConfigNode::LoadString(text, "deadline"));
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(parse_error("{schedule: [{start_s: 5, ms_per_token: 40}]}"), Catch::Contains("must start at 0"));
  CHECK_THAT(parse_error("{schedule: [{start_s: 0, ms_per_token: 40}, {start_s: 0, ms_per_token: 20}]}"),
             Catch::Contains("starts must increase"));
  // The schedule replaces ms_per_token (e.g. a scenario file's value under an override's schedule).
  CHECK(DeadlineSpec::Parse(ConfigNode::LoadString("{ms_per_token: 30, schedule: [{start_s: 0, ms_per_token: 40}]}",
                                                   "deadline"))
            .ms_per_token == 40.0);
  CHECK_THAT(parse_error("{schedule: [{ms_per_token: 40}]}"), Catch::Contains("start_s"));
  CHECK_THAT(parse_error("{schedule: []}"), Catch::Contains("expected a list"));
}

TEST_CASE("TTFT and TPOT SLOs are deadlines beside the end-to-end one", "[sim][reward]") {
  DeadlineSpec spec = DeadlineSpec::Parse(
      ConfigNode::LoadString("{ms_per_token: 100, ttft_ms: 200, tpot_ms: 100}", "deadline"));
  REQUIRE(spec.has_slos());
  // A 32-token request, deadline 3.2 s end to end.
  const double deadline_s = 3.2;
  SECTION("hard: all met pays A; any missed pays 0") {
    CHECK(ComputeSloReward(spec, 0.78, {2.0, 0.2, 0.05}, deadline_s) == 0.78);  // on the edges
    CHECK(MeetsDeadlines(spec, {2.0, 0.2, 0.05}, deadline_s));
    CHECK(ComputeSloReward(spec, 0.78, {2.0, 0.21, 0.05}, deadline_s) == 0.0);  // TTFT late
    CHECK_FALSE(MeetsDeadlines(spec, {2.0, 0.21, 0.05}, deadline_s));
    CHECK(ComputeSloReward(spec, 0.78, {2.0, 0.1, 0.101}, deadline_s) == 0.0);  // TPOT late
    CHECK(ComputeSloReward(spec, 0.78, {3.3, 0.1, 0.05}, deadline_s) == 0.0);   // E2E late
    // A one-token output has no TPOT: only TTFT and E2E count.
    CHECK(ComputeSloReward(spec, 0.78, {0.15, 0.15, std::nan("")}, deadline_s) == 0.78);
  }
  SECTION("soft: the worst-missed deadline decides, each by the paper's 1% per ms") {
    spec.reward = RewardKind::kSoft;
    // TTFT 10 ms late of 200 (within the 10% cutoff): factor 0.90; TPOT 5 ms late of 100:
    // 0.95; E2E on time: 1. Reward = 0.5 x 0.90.
    CHECK(ComputeSloReward(spec, 0.5, {3.0, 0.21, 0.105}, deadline_s) == Approx(0.45).margin(1e-9));
    // TTFT 25 ms late: past 10% of 200 ms, factor 0 whatever the rest.
    CHECK(ComputeSloReward(spec, 0.5, {1.0, 0.225, 0.05}, deadline_s) == 0.0);
    // E2E 30 ms late of 3,200 ms (within 10%): factor 0.70, SLOs met: 0.70.
    CHECK(ComputeSloReward(spec, 1.0, {3.23, 0.1, 0.05}, deadline_s) == Approx(0.70).margin(1e-9));
  }
  SECTION("without SLOs it is the end-to-end reward, bit for bit") {
    DeadlineSpec plain;
    plain.reward = RewardKind::kSoft;
    for (const double e2e : {1.0, 2.01, 2.05, 2.1, 3.0}) {
      CHECK(ComputeSloReward(plain, 0.7, {e2e, 5.0, 5.0}, 2.0) ==
            ComputeReward(plain, 0.7, e2e, 2.0));
    }
  }
  SECTION("bad values name the key") {
    CHECK_THROWS_WITH(DeadlineSpec::Parse(ConfigNode::LoadString("{ttft_ms: 0}", "deadline")),
                      Catch::Contains("ttft_ms"));
    CHECK_THROWS_WITH(DeadlineSpec::Parse(ConfigNode::LoadString("{tpot: 100}", "deadline")),
                      Catch::Contains("tpot"));
  }
}

TEST_CASE("JudgeRequest: the end-to-end rule without SLOs, every deadline with them", "[sim][reward]") {
  DeadlineSpec plain;
  // 11 tokens, deadline 0.44 s: arrival 1.0, first token 1.2, last 1.4 (met), or 1.5 (missed).
  RequestOutcome met = JudgeRequest(plain, 0.8, 1.0, 1.2, 1.4, 11, 0.44);
  CHECK(met.deadline_met);
  CHECK(met.reward == 0.8);
  RequestOutcome missed = JudgeRequest(plain, 0.8, 1.0, 1.2, 1.5, 11, 0.44);
  CHECK_FALSE(missed.deadline_met);
  CHECK(missed.reward == 0.0);
  // A 150 ms TTFT SLO: the same met request now misses (TTFT 200 ms); TPOT 20 ms meets 30 ms.
  DeadlineSpec slo = plain;
  slo.ttft_slo_ms = 150.0;
  CHECK_FALSE(JudgeRequest(slo, 0.8, 1.0, 1.2, 1.4, 11, 0.44).deadline_met);
  slo.ttft_slo_ms = 250.0;
  slo.tpot_slo_ms = 30.0;
  const RequestOutcome both = JudgeRequest(slo, 0.8, 1.0, 1.2, 1.4, 11, 0.44);
  CHECK(both.deadline_met);
  CHECK(both.reward == 0.8);
  slo.tpot_slo_ms = 15.0;  // (1.4 - 1.2) / 10 = 20 ms per token after the first
  CHECK_FALSE(JudgeRequest(slo, 0.8, 1.0, 1.2, 1.4, 11, 0.44).deadline_met);
}

}  // namespace bestserve
