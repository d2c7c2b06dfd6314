#include "sim/parametric_profile.h"

#include <fmt/format.h>

namespace bestserve {
namespace {

std::array<double, 3> ParseTriple(const ConfigNode& node) {
  node.ExpectSequence("three coefficients [a, b, c]");
  if (node.size() != 3) {
    node.Fail(fmt::format("expected three coefficients [a, b, c], got {}", node.size()));
  }
  return {node.Element(0).AsDouble(), node.Element(1).AsDouble(), node.Element(2).AsDouble()};
}

}  // namespace

double DistServeCoefficients::PrefillMs(int64_t sum_len, double sum_len_squared) const {
  return prefill[0] + prefill[1] * static_cast<double>(sum_len) + prefill[2] * sum_len_squared +
         1.0 * pipeline_stages;
}

double DistServeCoefficients::DecodeMs(int32_t batch, int64_t sum_context_plus_one) const {
  const auto& k = batch < decoding_large_small_bs_threshold ? decoding_smallbs : decoding_largebs;
  return k[0] + k[1] * static_cast<double>(sum_context_plus_one) + k[2] * batch;
}

DistServeCoefficients ParseDistServeCoefficients(const ConfigNode& node) {
  node.ExpectMap("DistServe coefficients");
  node.CheckKeys({"prefill", "decoding_smallbs", "decoding_largebs",
                  "decoding_large_small_bs_threshold", "pipeline_stages"});
  DistServeCoefficients c;
  c.prefill = ParseTriple(node.Child("prefill"));
  c.decoding_smallbs = ParseTriple(node.Child("decoding_smallbs"));
  c.decoding_largebs = ParseTriple(node.Child("decoding_largebs"));
  node.Child("decoding_large_small_bs_threshold");  // required: fails naming it when absent
  c.decoding_large_small_bs_threshold =
      static_cast<int32_t>(node.GetPositiveInt("decoding_large_small_bs_threshold", 1));
  c.pipeline_stages = static_cast<int32_t>(node.GetPositiveInt("pipeline_stages", 1));
  return c;
}

double DistServeLatencyProfile::DoDecodeStepMs(int32_t batch_size, double mean_context_tokens,
                                               bool* out_of_range) const {
  *out_of_range = false;
  // n sequences whose context + 1 is the mean context (the paper engine's count includes the
  // token being computed).
  const auto sum = static_cast<int64_t>(mean_context_tokens * batch_size + 0.5);
  return coefficients_.DecodeMs(batch_size, sum);
}

double DistServeLatencyProfile::DoPrefillMs(int64_t prompt_tokens, bool* out_of_range) const {
  *out_of_range = false;
  const auto len = static_cast<double>(prompt_tokens);
  return coefficients_.PrefillMs(prompt_tokens, len * len);
}

double DistServeLatencyProfile::DoIterationMs(const IterationShape& shape,
                                              bool* out_of_range) const {
  *out_of_range = false;
  const int64_t decode_sum = shape.decode_cached_tokens + shape.decode_seqs;
  if (shape.prefills.empty()) return coefficients_.DecodeMs(shape.decode_seqs, decode_sum);
  int64_t sum_len = 0;
  double sum_attention = 0.0;
  for (const PrefillChunk& chunk : shape.prefills) {
    sum_len += chunk.new_tokens;
    sum_attention += static_cast<double>(chunk.new_tokens) *
                     static_cast<double>(chunk.new_tokens + chunk.cached_tokens);
  }
  double ms = coefficients_.PrefillMs(sum_len, sum_attention);
  if (shape.decode_seqs > 0) {
    const auto& k = shape.decode_seqs < coefficients_.decoding_large_small_bs_threshold
                        ? coefficients_.decoding_smallbs
                        : coefficients_.decoding_largebs;
    ms += k[1] * static_cast<double>(decode_sum) + k[2] * shape.decode_seqs;
  }
  return ms;
}

}  // namespace bestserve
