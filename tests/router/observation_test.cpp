// ObservationEncoder (router/core/observation.h) against the reference EncodeObservation: the
// same floats, bit for bit, on every tabulated count, past the table, on negative counts and on
// rates from zero to far beyond the scale, for both encodings and non-default scales.
#include <catch2/catch.hpp>

#include <cstring>
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
  for (const ObservationEncoding encoding : {ObservationEncoding::kPaperV1, ObservationEncoding::kExtendedV1}) {
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
        const GatewayState state{c & 3, in_flight, queued, rate};
        EncodeObservation(spec, state, reference.data());
        encoder.Encode(state, fast.data());
        if (!SameBits(reference, fast)) ++mismatches;
      }
      CHECK(mismatches == 0);
    }
  }
}
