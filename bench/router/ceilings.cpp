#include "bench/router/ceilings.h"

#include <chrono>
#include <cstring>
#include <new>
#include <vector>

// Compiled like the router's kernels (router/lib/packed_mlp.cpp): one copy per instruction set,
// picked at run time.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define BESTSERVE_BENCH_MULTIVERSIONED __attribute__((target_clones("default", "avx2", "avx512f")))
#else
#define BESTSERVE_BENCH_MULTIVERSIONED
#endif

namespace bestserve::bench {
namespace {

typedef float V16 __attribute__((vector_size(64)));
using Clock = std::chrono::steady_clock;

// Twelve independent chains, six multiplying and six adding: enough in flight to hide latency.
BESTSERVE_BENCH_MULTIVERSIONED
float MulAddChains(long rounds) {
  V16 m[6], a[6];
  for (int i = 0; i < 6; ++i) {
    m[i] = V16{} + (1.0f + 1e-7f * static_cast<float>(i));
    a[i] = V16{} + static_cast<float>(i);
  }
  const V16 factor = V16{} + 0.99999994f;
  const V16 step = V16{} + 1e-9f;
  for (long r = 0; r < rounds; ++r) {
#pragma GCC unroll 6
    for (int i = 0; i < 6; ++i) {
      m[i] *= factor;
      a[i] += step;
    }
  }
  float sum = 0.0f;
  for (int i = 0; i < 6; ++i) sum += m[i][0] + a[i][0];
  return sum;
}

BESTSERVE_BENCH_MULTIVERSIONED
float SumLines(const float* data, size_t floats, long rounds) {
  V16 acc[4] = {};
  for (long r = 0; r < rounds; ++r) {
    for (size_t i = 0; i < floats; i += 64) {
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        V16 v;
        std::memcpy(&v, data + i + 16 * static_cast<size_t>(j), sizeof(v));
        acc[j] += v;
      }
    }
  }
  return acc[0][0] + acc[1][1] + acc[2][2] + acc[3][3];
}

volatile float g_sink;

}  // namespace

double UnfusedPeakFlops() {
  const long rounds = 50'000'000;
  double best = 0.0;
  for (int trial = 0; trial < 3; ++trial) {
    const auto start = Clock::now();
    g_sink = MulAddChains(rounds);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    best = std::max(best, 12.0 * 16.0 * static_cast<double>(rounds) / seconds);
  }
  return best;
}

double StreamBytesPerSecond(size_t bytes) {
  const size_t floats = bytes / sizeof(float) / 64 * 64;
  auto* data = static_cast<float*>(::operator new(floats * sizeof(float), std::align_val_t(64)));
  for (size_t i = 0; i < floats; ++i) data[i] = 1e-6f * static_cast<float>(i % 1000);
  const long rounds = static_cast<long>(4'000'000'000ULL / bytes) + 1;
  double best = 0.0;
  for (int trial = 0; trial < 3; ++trial) {
    const auto start = Clock::now();
    g_sink = SumLines(data, floats, rounds);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    best = std::max(best, static_cast<double>(floats * sizeof(float)) * static_cast<double>(rounds) / seconds);
  }
  ::operator delete(data, std::align_val_t(64));
  return best;
}

}  // namespace bestserve::bench
