// The policy's observation, built from what a gateway knows. Shared, byte for byte, by the
// trainer's environment, the simulator's policy router and the deployable router library, so a
// policy sees in deployment exactly the encoding it was trained on.
//
// Encoding "paper-v1" (the paper's state: task, per-model batch, arrival-rate estimate):
//
//   | index               | value                                                        |
//   |---------------------|--------------------------------------------------------------|
//   | 0 .. T-1            | one-hot of the request's task                                |
//   | T .. T+M-1          | log1p(in_flight[m]) / log1p(in_flight_scale): per-model batch |
//   |                     |   (requests dispatched and unfinished, running + queued)     |
//   | T+M                 | log1p(rate_rps) / log1p(rate_scale_rps): the rate estimate   |
//
// Logarithms keep a burst of hundreds in flight from swamping the network's inputs while still
// separating 0, 1 and 2 (which decide whether OPT-6.7B meets its deadline); the scales map the
// paper's ranges (batches up to ~64, rates up to 48 rps) to about [0, 1]. Values beyond the
// scales exceed 1; nothing is clipped.
//
// Encoding "extended-v1" appends, per model, log1p(queued[m]) / log1p(in_flight_scale), so a
// policy can tell a full batch from a queue. Encoding "request-v1" appends to extended-v1 this
// request's prompt length, log1p(prompt_tokens) / log1p(kPromptScaleTokens): a policy can then
// tell a 30-token question from a 3,000-token conversation, whose prefill and KV use differ
// 100-fold (2,048 tokens, OPT's window, maps to 1; longer prompts exceed 1). Dimensions:
// paper-v1 T + M + 1, extended-v1 T + 2M + 1, request-v1 T + 2M + 2.
//
// Encoding "gateway-v1" appends to request-v1 what else a gateway in front of the servers knows
// (issue 15), T + 3M + 6 in all:
//
//   | index (after request-v1) | value                                                      |
//   |--------------------------|------------------------------------------------------------|
//   | +0 .. +M-1               | log1p(in_flight_prompt_tokens[m]) / log1p(kInFlightTokenScale): |
//   |                          |   the prompt tokens of the requests in flight on model m  |
//   |                          |   (a count says 3; tokens say whether they are 3 questions |
//   |                          |   or 3 conversations, 100x apart in prefill and KV)        |
//   | +M                       | log1p(slow_rate_rps) / log1p(rate_scale_rps): the arrival  |
//   |                          |   rate as an exponentially decayed count with a            |
//   |                          |   kSlowRateHalfLifeS half-life (rate_tracker.h,            |
//   |                          |   DecayedCountRate), beside the fast estimate above: a     |
//   |                          |   burst against the load it rides on                       |
//   | +M+1                     | the client's max_tokens: log1p(max_tokens) /               |
//   |                          |   log1p(kPromptScaleTokens), 0 when the client sent none   |
//   | +M+2                     | log1p(deadline_base_ms) / log1p(kDeadlineBaseScaleMs)      |
//   | +M+3                     | log1p(deadline_per_token_ms) / log1p(kDeadlinePerTokenScaleMs): |
//   |                          |   the latency objective in force (base + per output token) |
//
// The deadline features let one policy serve tight and loose objectives (deadlines that change
// mid-run: experiments/open_questions); the paper's policy cannot tell them apart.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace bestserve {

enum class ObservationEncoding : int32_t { kPaperV1 = 1, kExtendedV1 = 2, kRequestV1 = 3, kGatewayV1 = 4 };

inline constexpr float kPromptScaleTokens = 2048.0f;
// gateway-v1's scales: 64 conversations of 1,000 tokens in flight map to about 1; a 10 s
// end-to-end budget and a 100 ms per-token allowance map to 1.
inline constexpr double kInFlightTokenScale = 65536.0;
inline constexpr double kDeadlineBaseScaleMs = 10000.0;
inline constexpr double kDeadlinePerTokenScaleMs = 100.0;
// The slow rate's half-life: long enough to carry the load a burst rides on (the paper's rate
// segments last minutes), short enough to follow a diurnal trace.
inline constexpr double kSlowRateHalfLifeS = 30.0;

// Whether an encoding reads the per-model queued counts / this request's prompt length / the
// rest of what gateway-v1 adds.
inline bool UsesQueued(ObservationEncoding e) { return e != ObservationEncoding::kPaperV1; }
inline bool UsesPromptTokens(ObservationEncoding e) {
  return e == ObservationEncoding::kRequestV1 || e == ObservationEncoding::kGatewayV1;
}
inline bool UsesGatewayFacts(ObservationEncoding e) { return e == ObservationEncoding::kGatewayV1; }

// request-v1's prompt feature, log1p(tokens) / log1p(kPromptScaleTokens), in float.
inline float PromptFeature(int32_t prompt_tokens) {
  static const float denominator = std::log1p(kPromptScaleTokens);
  return std::log1p(static_cast<float>(prompt_tokens)) / denominator;
}

struct ObservationSpec {
  ObservationEncoding encoding = ObservationEncoding::kPaperV1;
  int32_t num_tasks = 0;
  int32_t num_models = 0;
  float in_flight_scale = 64.0f;
  float rate_scale_rps = 64.0f;

  int32_t size() const {
    return num_tasks + num_models * (UsesQueued(encoding) ? 2 : 1) + 1 + (UsesPromptTokens(encoding) ? 1 : 0) +
           (UsesGatewayFacts(encoding) ? num_models + 4 : 0);
  }
};

// What the gateway knows at a decision. Arrays have num_models entries.
struct GatewayState {
  int32_t task = 0;
  const int32_t* in_flight = nullptr;  // per model: running + queued
  const int32_t* queued = nullptr;     // per model; read by extended-v1 and request-v1
  double arrival_rate_rps = 0.0;
  int32_t prompt_tokens = 0;           // this request's; read by request-v1 and gateway-v1
  // Read by gateway-v1 only:
  const int64_t* in_flight_prompt_tokens = nullptr;  // per model: prompt tokens of requests in flight
  double slow_rate_rps = 0.0;          // DecayedCountRate(kSlowRateHalfLifeS), this arrival included
  int32_t max_tokens = 0;              // the client's max_tokens; 0: not sent
  double deadline_base_s = 0.0;        // latency objective: base + per output token
  double deadline_per_token_s = 0.0;
};

// gateway-v1's scalar features, one expression each, shared by both encoders below.
inline float ScaledLog1p(double value, double scale) {
  return static_cast<float>(std::log1p(std::max(value, 0.0)) / std::log1p(scale));
}
inline float* EncodeGatewayFacts(const ObservationSpec& spec, const GatewayState& state, float* p) {
  for (int32_t m = 0; m < spec.num_models; ++m) {
    *p++ = ScaledLog1p(static_cast<double>(state.in_flight_prompt_tokens[m]), kInFlightTokenScale);
  }
  *p++ = ScaledLog1p(state.slow_rate_rps, static_cast<double>(spec.rate_scale_rps));
  *p++ = state.max_tokens > 0 ? PromptFeature(state.max_tokens) : 0.0f;
  *p++ = ScaledLog1p(state.deadline_base_s * 1e3, kDeadlineBaseScaleMs);
  *p++ = ScaledLog1p(state.deadline_per_token_s * 1e3, kDeadlinePerTokenScaleMs);
  return p;
}

// Writes spec.size() floats to `out`. Preconditions: 0 <= state.task < num_tasks, arrays set.
inline void EncodeObservation(const ObservationSpec& spec, const GatewayState& state, float* out) {
  for (int32_t t = 0; t < spec.num_tasks; ++t) out[t] = t == state.task ? 1.0f : 0.0f;
  const float batch_norm = 1.0f / std::log1p(spec.in_flight_scale);
  float* p = out + spec.num_tasks;
  for (int32_t m = 0; m < spec.num_models; ++m) {
    *p++ = std::log1p(static_cast<float>(state.in_flight[m])) * batch_norm;
  }
  *p++ = static_cast<float>(std::log1p(state.arrival_rate_rps) / std::log1p(static_cast<double>(spec.rate_scale_rps)));
  if (UsesQueued(spec.encoding)) {
    for (int32_t m = 0; m < spec.num_models; ++m) {
      *p++ = std::log1p(static_cast<float>(state.queued[m])) * batch_norm;
    }
  }
  if (UsesPromptTokens(spec.encoding)) *p++ = PromptFeature(state.prompt_tokens);
  if (UsesGatewayFacts(spec.encoding)) EncodeGatewayFacts(spec, state, p);
}

// EncodeObservation with its constants computed once: the two scales' logarithms, and the
// feature of every count below kTabulatedCounts (log1p(count) * batch_norm, computed by the same
// expressions). Same floats as EncodeObservation, bit for bit (tests/router/observation_test.cpp),
// in a fraction of the time: a decision then evaluates one logarithm (the rate's) instead of six.
// Read-only after construction: any number of threads may call Encode at once.
class ObservationEncoder {
 public:
  static constexpr int32_t kTabulatedCounts = 1024;

  explicit ObservationEncoder(const ObservationSpec& spec)
      : spec_(spec),
        batch_norm_(1.0f / std::log1p(spec.in_flight_scale)),
        rate_denominator_(std::log1p(static_cast<double>(spec.rate_scale_rps))) {
    count_feature_.resize(kTabulatedCounts);
    for (int32_t c = 0; c < kTabulatedCounts; ++c) count_feature_[static_cast<size_t>(c)] = Compute(c);
  }

  const ObservationSpec& spec() const { return spec_; }

  // Writes spec().size() floats to `out`; preconditions as EncodeObservation's.
  void Encode(const GatewayState& state, float* out) const {
    for (int32_t t = 0; t < spec_.num_tasks; ++t) out[t] = t == state.task ? 1.0f : 0.0f;
    float* p = out + spec_.num_tasks;
    for (int32_t m = 0; m < spec_.num_models; ++m) *p++ = CountFeature(state.in_flight[m]);
    *p++ = static_cast<float>(std::log1p(state.arrival_rate_rps) / rate_denominator_);
    if (UsesQueued(spec_.encoding)) {
      for (int32_t m = 0; m < spec_.num_models; ++m) *p++ = CountFeature(state.queued[m]);
    }
    if (UsesPromptTokens(spec_.encoding)) *p++ = PromptFeature(state.prompt_tokens);
    if (UsesGatewayFacts(spec_.encoding)) EncodeGatewayFacts(spec_, state, p);
  }

 private:
  float Compute(int32_t count) const { return std::log1p(static_cast<float>(count)) * batch_norm_; }
  float CountFeature(int32_t count) const {
    return count >= 0 && count < kTabulatedCounts ? count_feature_[static_cast<size_t>(count)] : Compute(count);
  }

  ObservationSpec spec_;
  float batch_norm_;
  double rate_denominator_;
  std::vector<float> count_feature_;
};

inline const char* ToString(ObservationEncoding e) {
  switch (e) {
    case ObservationEncoding::kExtendedV1:
      return "extended-v1";
    case ObservationEncoding::kRequestV1:
      return "request-v1";
    case ObservationEncoding::kGatewayV1:
      return "gateway-v1";
    case ObservationEncoding::kPaperV1:
      break;
  }
  return "paper-v1";
}

// The encoding a name denotes, or nullopt (names: paper-v1, extended-v1, request-v1, gateway-v1).
inline std::optional<ObservationEncoding> ObservationEncodingFromName(std::string_view name) {
  for (ObservationEncoding e : {ObservationEncoding::kPaperV1, ObservationEncoding::kExtendedV1,
                                ObservationEncoding::kRequestV1, ObservationEncoding::kGatewayV1}) {
    if (name == ToString(e)) return e;
  }
  return std::nullopt;
}

}  // namespace bestserve
