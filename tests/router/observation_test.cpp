// ObservationEncoder (router/core/observation.h) against the reference EncodeObservation: the
// same floats, bit for bit, on every tabulated count, past the table, on negative counts and on
// rates from zero to far beyond the scale, for both encodings and non-default scales.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "common/rng.h"
#include "router/core/observation.h"

using namespace bestserve;

namespace {

bool SameBits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(float) * a.size()) == 0;
}

}  // namespace

TEST_CASE("the precomputed observation encoder writes the reference encoding's exact bits", "[router]") {
  for (const ObservationEncoding encoding : {ObservationEncoding::kPaperV1, ObservationEncoding::kExtendedV1,
                                             ObservationEncoding::kRequestV1, ObservationEncoding::kGatewayV1}) {
    for (const float scale : {64.0f, 10.0f, 1000.0f}) {
      ObservationSpec spec;
      spec.encoding = encoding;
      spec.num_tasks = 4;
      spec.num_models = 3;
      spec.in_flight_scale = scale;
      spec.rate_scale_rps = scale * 0.75f;
      const ObservationEncoder encoder(spec);
      std::vector<float> reference(static_cast<size_t>(spec.size()));
      std::vector<float> fast(reference.size());
      Rng rng(7);
      int mismatches = 0;
      // Every count of the table and well past it, as in-flight and as queued, with varied rates.
      for (int32_t c = -3; c < ObservationEncoder::kTabulatedCounts + 3000; ++c) {
        const int32_t in_flight[3] = {c, (c * 7) % 5000, 0};
        const int32_t queued[3] = {0, c, (c * 13) % 1500};
        const double rate = c % 5 == 0 ? 0.0 : rng.Uniform(0.0, 500.0);
        const int64_t prompt_tokens[3] = {int64_t{c} * 977, 0, int64_t{c} * c};
        GatewayState state{c & 3, in_flight, queued, rate, c < 0 ? 0 : c * 3};
        state.in_flight_prompt_tokens = prompt_tokens;
        state.slow_rate_rps = rate * 0.5;
        state.max_tokens = c % 3 == 0 ? 0 : c;
        state.deadline_base_s = c % 2 == 0 ? 0.0 : c * 1e-3;
        state.deadline_per_token_s = c % 7 == 0 ? 0.0 : 0.04;
        EncodeObservation(spec, state, reference.data());
        encoder.Encode(state, fast.data());
        if (!SameBits(reference, fast)) ++mismatches;
      }
      CHECK(mismatches == 0);
    }
  }
}

TEST_CASE("request-v1 is extended-v1 plus log1p(prompt tokens) / log1p(2048)", "[router]") {
  ObservationSpec extended;
  extended.encoding = ObservationEncoding::kExtendedV1;
  extended.num_tasks = 4;
  extended.num_models = 3;
  ObservationSpec request = extended;
  request.encoding = ObservationEncoding::kRequestV1;
  REQUIRE(request.size() == extended.size() + 1);
  REQUIRE(request.size() == 4 + 2 * 3 + 2);
  const int32_t in_flight[3] = {3, 0, 17};
  const int32_t queued[3] = {1, 0, 9};
  for (const int32_t prompt : {0, 1, 30, 2048, 3000, 100000}) {
    INFO("prompt " << prompt);
    std::vector<float> a(static_cast<size_t>(extended.size())), b(static_cast<size_t>(request.size()));
    EncodeObservation(extended, GatewayState{2, in_flight, queued, 4.5, prompt}, a.data());
    EncodeObservation(request, GatewayState{2, in_flight, queued, 4.5, prompt}, b.data());
    CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
    CHECK(b.back() == Approx(std::log1p(static_cast<double>(prompt)) / std::log1p(2048.0)).epsilon(1e-6));
  }
  CHECK(ObservationEncodingFromName("request-v1") == ObservationEncoding::kRequestV1);
  CHECK(std::string(ToString(ObservationEncoding::kRequestV1)) == "request-v1");
  CHECK_FALSE(ObservationEncodingFromName("request-v2").has_value());
}

TEST_CASE("gateway-v1 is request-v1 plus tokens in flight, the slow rate, max_tokens and the deadline", "[router]") {
  ObservationSpec request;
  request.encoding = ObservationEncoding::kRequestV1;
  request.num_tasks = 4;
  request.num_models = 3;
  request.rate_scale_rps = 64.0f;
  ObservationSpec gateway = request;
  gateway.encoding = ObservationEncoding::kGatewayV1;
  REQUIRE(gateway.size() == 4 + 3 * 3 + 6);
  REQUIRE(gateway.size() == request.size() + 3 + 4);
  const int32_t in_flight[3] = {3, 0, 17};
  const int32_t queued[3] = {1, 0, 9};
  const int64_t tokens[3] = {3000, 0, 65536};
  GatewayState state{2, in_flight, queued, 4.5, 30};
  state.in_flight_prompt_tokens = tokens;
  state.slow_rate_rps = 63.0;
  state.max_tokens = 255;
  state.deadline_base_s = 9.999;
  state.deadline_per_token_s = 0.04;
  std::vector<float> a(static_cast<size_t>(request.size())), b(static_cast<size_t>(gateway.size()));
  EncodeObservation(request, state, a.data());
  EncodeObservation(gateway, state, b.data());
  CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);  // the prefix is request-v1
  const float* extra = b.data() + a.size();
  // Hand-computed: log1p(x) / log1p(scale) with the documented scales.
  CHECK(extra[0] == Approx(std::log(3001.0) / std::log(65537.0)).epsilon(1e-6));
  CHECK(extra[1] == 0.0f);
  CHECK(extra[2] == Approx(1.0).epsilon(1e-6));                        // 65,536 tokens: the scale
  CHECK(extra[3] == Approx(std::log(64.0) / std::log(65.0)).epsilon(1e-6));  // slow rate 63 of 64
  CHECK(extra[4] == Approx(std::log(256.0) / std::log(2049.0)).epsilon(1e-6));
  CHECK(extra[5] == Approx(std::log(10000.0) / std::log(10001.0)).epsilon(1e-6));
  CHECK(extra[6] == Approx(std::log(41.0) / std::log(101.0)).epsilon(1e-6));  // 40 ms per token
  // No max_tokens sent: 0, below any sent value (max_tokens >= 1 gives > 0).
  state.max_tokens = 0;
  EncodeObservation(gateway, state, b.data());
  CHECK(b[static_cast<size_t>(a.size()) + 4] == 0.0f);
  state.max_tokens = 1;
  EncodeObservation(gateway, state, b.data());
  CHECK(b[static_cast<size_t>(a.size()) + 4] > 0.0f);
  CHECK(ObservationEncodingFromName("gateway-v1") == ObservationEncoding::kGatewayV1);
  CHECK(std::string(ToString(ObservationEncoding::kGatewayV1)) == "gateway-v1");
}
