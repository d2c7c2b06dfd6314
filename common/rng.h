// Deterministic random numbers that give the same bytes with every standard library.
//
// std::mt19937_64's output sequence is fixed by the C++ standard, but the algorithms behind
// std::*_distribution are not (libstdc++ and libc++ differ), so golden files drawn through them
// would not be portable. Every variate here is computed from raw engine bits by our own small,
// tested functions.
//
// Seeding: one master seed per run; each consumer (arrivals, lengths, task mix, router
// randomness, ...) derives its own independent stream with DeriveSeed(master, "name"), so adding
// a consumer never shifts another consumer's draws.
#pragma once

#include <cstdint>
#include <random>
#include <string_view>

namespace bestserve {

// SplitMix64 finalizer: a bijective 64-bit mixer (Steele, Lea, Flood 2014).
uint64_t MixBits(uint64_t x);
// The seed of counter `counter` (an episode, an iteration) of the stream whose seed is
// `stream_seed`: the trainer's episodes, exploration and replay draws, and the Python env's
// episodes, which must be the trainer's.
inline uint64_t CounterSeed(uint64_t stream_seed, uint64_t counter) {
  return MixBits(stream_seed ^ MixBits(counter));
}

// Seed for the named stream `stream_name` of a run whose master seed is `master_seed`.
// Stable across platforms and releases: FNV-1a of the name, mixed with the master seed.
uint64_t DeriveSeed(uint64_t master_seed, std::string_view stream_name);

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}

  uint64_t NextU64() { return engine_(); }

  // Uniform on [0, 1) with 53 random bits.
  double Uniform01() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

  // Uniform on (0, 1]: safe to take the logarithm of.
  double UniformOpen0() { return (static_cast<double>(engine_() >> 11) + 1.0) * 0x1.0p-53; }

  // Uniform on [lo, hi). Precondition: lo <= hi.
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform01(); }

  // Uniform integer in [0, n), unbiased (Lemire's multiply-shift with rejection).
  // Precondition: n > 0.
  uint64_t UniformIndex(uint64_t n);

  // Exponential with the given rate (mean 1/rate), by inversion. Precondition: rate > 0.
  double Exponential(double rate);

  // Geometric on {1, 2, 3, ...} with the given mean (success probability 1/mean), by inversion.
  // Precondition: mean >= 1. mean == 1 always returns 1.
  int64_t GeometricAtLeastOne(double mean);

  // True with probability p.
  bool Bernoulli(double p) { return Uniform01() < p; }

 private:
  std::mt19937_64 engine_;
};

}  // namespace bestserve
