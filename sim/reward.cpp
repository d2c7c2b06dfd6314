#include "sim/reward.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>

namespace bestserve {

const char* ToString(RewardKind kind) { return kind == RewardKind::kSoft ? "soft" : "hard"; }

const char* ToString(SoftShape shape) {
  switch (shape) {
    case SoftShape::kPercentPerMs:
      return "percent_per_ms";
    case SoftShape::kLinearToCutoff:
      return "linear_to_cutoff";
    case SoftShape::kExponential:
      return "exponential";
  }
  return "?";
}

const char* ToString(SoftLateness lateness) {
  return lateness == SoftLateness::kPerOutputToken ? "per_output_token" : "end_to_end";
}

DeadlineSpec DeadlineSpec::Parse(const ConfigNode& section) {
  section.CheckKeys({"ms_per_token", "base_ms", "reward", "soft", "ttft_ms", "tpot_ms", "schedule"});
  DeadlineSpec spec;
  spec.ms_per_token = section.GetPositiveDouble("ms_per_token", spec.ms_per_token);
  spec.base_ms = section.GetNonNegativeDouble("base_ms", spec.base_ms);
  const std::string reward = section.GetString("reward", "hard");
  if (reward == "hard") {
    spec.reward = RewardKind::kHard;
  } else if (reward == "soft") {
    spec.reward = RewardKind::kSoft;
  } else {
    section.Child("reward").Fail(fmt::format("expected 'hard' or 'soft', got '{}'", reward));
  }
  if (auto schedule = section.MaybeChild("schedule")) {
    if (!schedule->IsSequence() || schedule->size() == 0) {
      schedule->Fail("expected a list of {start_s, ms_per_token} entries, the first with start_s: 0");
    }
    for (size_t i = 0; i < schedule->size(); ++i) {
      const ConfigNode entry = schedule->Element(i);
      entry.CheckKeys({"start_s", "ms_per_token"});
      if (!entry.Has("start_s")) entry.Fail("missing key 'start_s' (seconds of arrival time from which ms_per_token applies)");
      const double start_s = entry.GetNonNegativeDouble("start_s", 0.0);
      const double ms = entry.GetPositiveDouble("ms_per_token");
      if (i == 0 && start_s != 0.0) entry.Child("start_s").Fail("the first entry must start at 0");
      if (i > 0 && !(start_s > spec.schedule.back().first)) {
        entry.Child("start_s").Fail(fmt::format("starts must increase: {} after {}", start_s, spec.schedule.back().first));
      }
      spec.schedule.emplace_back(start_s, ms);
    }
    // The schedule wins over ms_per_token (a scenario file's value under an override's
    // schedule); the resolved config writes its first entry as ms_per_token.
    spec.ms_per_token = spec.schedule.front().second;
  }
  if (section.Has("ttft_ms")) spec.ttft_slo_ms = section.GetPositiveDouble("ttft_ms");
  if (section.Has("tpot_ms")) spec.tpot_slo_ms = section.GetPositiveDouble("tpot_ms");
  if (auto soft = section.MaybeChild("soft")) {
    soft->CheckKeys({"shape", "penalty_per_ms", "cutoff_fraction", "half_life_ms", "lateness"});
    const std::string shape = soft->GetString("shape", "percent_per_ms");
    if (shape == "percent_per_ms") {
      spec.soft_shape = SoftShape::kPercentPerMs;
    } else if (shape == "linear_to_cutoff") {
      spec.soft_shape = SoftShape::kLinearToCutoff;
    } else if (shape == "exponential") {
      spec.soft_shape = SoftShape::kExponential;
    } else {
      soft->Child("shape").Fail(fmt::format(
          "unknown shape '{}'; valid: percent_per_ms, linear_to_cutoff, exponential", shape));
    }
    spec.penalty_per_ms = soft->GetNonNegativeDouble("penalty_per_ms", spec.penalty_per_ms);
    spec.cutoff_fraction = soft->GetNonNegativeDouble("cutoff_fraction", spec.cutoff_fraction);
    spec.half_life_ms = soft->GetPositiveDouble("half_life_ms", spec.half_life_ms);
    const std::string lateness = soft->GetString("lateness", "end_to_end");
    if (lateness == "end_to_end") {
      spec.soft_lateness = SoftLateness::kEndToEnd;
    } else if (lateness == "per_output_token") {
      spec.soft_lateness = SoftLateness::kPerOutputToken;
    } else {
      soft->Child("lateness").Fail(
          fmt::format("unknown lateness '{}'; valid: end_to_end, per_output_token", lateness));
    }
  }
  return spec;
}

double DeadlineSpec::MsPerToken(double task_override_ms, double arrival_s) const {
  if (!std::isnan(task_override_ms)) return task_override_ms;
  if (schedule.empty()) return ms_per_token;
  // The last entry starting at or before the arrival (the first starts at 0).
  const auto after = std::upper_bound(schedule.begin(), schedule.end(), arrival_s,
                                      [](double t, const std::pair<double, double>& e) { return t < e.first; });
  return after == schedule.begin() ? schedule.front().second : std::prev(after)->second;
}

double DeadlineSpec::DeadlineSeconds(const TaskSpec& task, int32_t output_tokens, double arrival_s) const {
  return (base_ms + MsPerToken(task.deadline_ms_per_token_override, arrival_s) * output_tokens) * 1e-3;
}

void DeadlineSpec::ApplyTo(Workload& workload, const TaskTable& tasks) const {
  for (Request& r : workload) {
    if (std::isnan(r.deadline_s))
      r.deadline_s = DeadlineSeconds(tasks.task(r.task), r.output_tokens, r.arrival_s);
  }
}

double ComputeReward(const DeadlineSpec& spec, double quality, double latency_s,
                     double deadline_s) {
  if (latency_s <= deadline_s) return quality;
  if (spec.reward == RewardKind::kHard) return 0.0;
  const double late_ms = (latency_s - deadline_s) * 1e3;
  const double deadline_ms = deadline_s * 1e3;
  // Paper: "0 once the lateness exceeds 10% of the deadline": exactly 10% still earns reward.
  if (late_ms > spec.cutoff_fraction * deadline_ms) return 0.0;
  switch (spec.soft_shape) {
    case SoftShape::kPercentPerMs:
      return quality * std::max(0.0, 1.0 - spec.penalty_per_ms * late_ms);
    case SoftShape::kLinearToCutoff:
      if (spec.cutoff_fraction <= 0.0) return 0.0;
      return quality * std::max(0.0, 1.0 - late_ms / (spec.cutoff_fraction * deadline_ms));
    case SoftShape::kExponential:
      return quality * std::exp2(-late_ms / spec.half_life_ms);
  }
  return 0.0;
}

double ComputeEndToEndReward(const DeadlineSpec& spec, double quality, double latency_s, double deadline_s,
                             int32_t output_tokens) {
  // Met, hard, or read end to end: the one-deadline rule as it stands (same bits as before the
  // per-token reading existed). Only the soft lateness of a late request is read per token.
  if (latency_s <= deadline_s || spec.reward == RewardKind::kHard ||
      spec.soft_lateness == SoftLateness::kEndToEnd || output_tokens <= 1) {
    return ComputeReward(spec, quality, latency_s, deadline_s);
  }
  const double tokens = static_cast<double>(output_tokens);
  return ComputeReward(spec, quality, latency_s / tokens, deadline_s / tokens);
}

bool MeetsDeadlines(const DeadlineSpec& spec, const ServedLatencies& l, double deadline_s) {
  if (!(l.e2e_s <= deadline_s)) return false;
  if (!std::isnan(spec.ttft_slo_ms) && !(l.ttft_s <= spec.ttft_slo_ms * 1e-3)) return false;
  if (!std::isnan(spec.tpot_slo_ms) && !std::isnan(l.tpot_s) &&
      !(l.tpot_s <= spec.tpot_slo_ms * 1e-3)) {
    return false;
  }
  return true;
}

double ComputeSloReward(const DeadlineSpec& spec, double quality, const ServedLatencies& l,
                        double deadline_s) {
  // Each deadline's factor is the one-deadline reward of quality 1: the shapes stay defined in
  // ComputeReward alone.
  if (!spec.has_slos()) return ComputeEndToEndReward(spec, quality, l.e2e_s, deadline_s, l.output_tokens);
  double factor = ComputeEndToEndReward(spec, 1.0, l.e2e_s, deadline_s, l.output_tokens);
  if (!std::isnan(spec.ttft_slo_ms)) {
    factor = std::min(factor, ComputeReward(spec, 1.0, l.ttft_s, spec.ttft_slo_ms * 1e-3));
  }
  if (!std::isnan(spec.tpot_slo_ms) && !std::isnan(l.tpot_s)) {
    factor = std::min(factor, ComputeReward(spec, 1.0, l.tpot_s, spec.tpot_slo_ms * 1e-3));
  }
  return quality * factor;
}

RequestOutcome JudgeRequest(const DeadlineSpec& spec, double quality, double arrival_s, double first_token_s,
                            double completion_s, int32_t output_tokens, double deadline_s) {
  const double latency_s = completion_s - arrival_s;
  RequestOutcome outcome;
  if (spec.has_slos()) {
    ServedLatencies served;
    served.e2e_s = latency_s;
    served.ttft_s = first_token_s - arrival_s;
    served.tpot_s = output_tokens > 1 ? (completion_s - first_token_s) / (output_tokens - 1) : std::nan("");
    served.output_tokens = output_tokens;
    outcome.deadline_met = MeetsDeadlines(spec, served, deadline_s);
    outcome.reward = ComputeSloReward(spec, quality, served, deadline_s);
  } else {
    // The paper's end-to-end deadline alone (golden outputs pin these bits).
    outcome.deadline_met = latency_s <= deadline_s;
    outcome.reward = ComputeEndToEndReward(spec, quality, latency_s, deadline_s, output_tokens);
  }
  return outcome;
}

}  // namespace bestserve
