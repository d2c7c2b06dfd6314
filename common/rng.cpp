#include "common/rng.h"

#include <cmath>
#include <limits>

#include "common/error.h"
#include "common/hash.h"

namespace bestserve {

__extension__ typedef unsigned __int128 Uint128;  // GCC/Clang builtin; not ISO C++

uint64_t MixBits(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t DeriveSeed(uint64_t master_seed, std::string_view stream_name) {
  return MixBits(MixBits(master_seed) ^ Fnv1a64(stream_name));
}

uint64_t Rng::UniformIndex(uint64_t n) {
  BS_CHECK(n > 0);
  // Lemire, "Fast random integer generation in an interval" (2019).
  Uint128 product = static_cast<Uint128>(engine_()) * n;
  auto low = static_cast<uint64_t>(product);
  if (low < n) {
    const uint64_t threshold = (0 - n) % n;
    while (low < threshold) {
      product = static_cast<Uint128>(engine_()) * n;
      low = static_cast<uint64_t>(product);
    }
  }
  return static_cast<uint64_t>(product >> 64);
}

double Rng::Exponential(double rate) {
  BS_CHECK(rate > 0.0);
  return -std::log(UniformOpen0()) / rate;
}

int64_t Rng::GeometricAtLeastOne(double mean) {
  BS_CHECK(mean >= 1.0);
  if (mean == 1.0) return 1;
  const double p = 1.0 / mean;
  // P(X > k) = (1-p)^k, so X = 1 + floor(log U / log(1-p)) for U uniform on (0, 1].
  const double draw = std::floor(std::log(UniformOpen0()) / std::log1p(-p));
  if (draw >= 0.5 * static_cast<double>(std::numeric_limits<int64_t>::max())) {
    return std::numeric_limits<int64_t>::max() / 2;
  }
  return 1 + static_cast<int64_t>(draw);
}

}  // namespace bestserve
