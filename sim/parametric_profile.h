// A latency profile given by a fitted formula rather than a table: DistServe's model of vLLM
// iterations (simdistserve/estimators/time_estimator.py), per model and parallel setup.
//
// Profile YAML (one model of a set; sim/latency_profile.h has the common keys):
//
//   latency_model: distserve
//   distserve:
//     prefill: [a, b, c]              # ms = a + b * sum(len) + c * sum(len^2)
//     decoding_smallbs: [a, b, c]     # ms = a + b * sum(context + 1) + c * batch
//     decoding_largebs: [a, b, c]     # the same from the threshold on
//     decoding_large_small_bs_threshold: 95
//     pipeline_stages: 1              # DistServe adds 1 ms per stage to a prefill
//
// `len` is each sequence's prompt length and `context` its tokens already in the KV cache.
// Under chunked prefill a chunk of n new tokens over k cached ones is charged b*n + c*n*(n+k)
// (attention of the new tokens over the whole prefix, which is c*len^2 for an unchunked prompt);
// a mixed batch adds its decoding sequences' b*sum(context + 1) + c*batch without a second
// intercept. That mixed form is our extension; DistServe never mixes.
//
// The paper engine asks by totals only: a prefill of T tokens is costed as one prompt of T
// tokens, a decode step of batch n and mean context x as n sequences of context x - 1.
#pragma once

#include <array>

#include "common/config.h"
#include "sim/latency_profile.h"

namespace bestserve {

struct DistServeCoefficients {
  std::array<double, 3> prefill{};
  std::array<double, 3> decoding_smallbs{};
  std::array<double, 3> decoding_largebs{};
  int32_t decoding_large_small_bs_threshold = 95;
  int32_t pipeline_stages = 1;

  // DistServe's formulas, in ms, without serving overheads.
  double PrefillMs(int64_t sum_len, double sum_len_squared) const;
  double DecodeMs(int32_t batch, int64_t sum_context_plus_one) const;
};

DistServeCoefficients ParseDistServeCoefficients(const ConfigNode& node);

class DistServeLatencyProfile : public LatencyProfile {
 public:
  DistServeLatencyProfile(ModelProfile model, DistServeCoefficients coefficients)
      : model_(std::move(model)), coefficients_(coefficients) {}
  const ModelProfile& model() const override { return model_; }
  const char* latency_model() const override { return "distserve"; }
  const DistServeCoefficients& coefficients() const { return coefficients_; }

 protected:
  double DoDecodeStepMs(int32_t batch_size, double mean_context_tokens,
                        bool* out_of_range) const override;
  double DoPrefillMs(int64_t prompt_tokens, bool* out_of_range) const override;
  double DoIterationMs(const IterationShape& shape, bool* out_of_range) const override;
  // A formula has no edge: nothing is ever out of range.
  ExtrapolationRule extrapolation() const override { return ExtrapolationRule::kError; }

 private:
  ModelProfile model_;
  DistServeCoefficients coefficients_;
};

}  // namespace bestserve
