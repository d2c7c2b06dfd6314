// What this machine allows a router decision, measured in the benchmark's own run: the vector
// peak of separate multiplies and adds (the router's arithmetic: no fused multiply-add, so that it
// decides exactly as the trainer, router/policy/mlp.h), and the rate at which one core streams a
// buffer from its caches (a single decision reads every weight once).
#pragma once

#include <cstddef>

namespace bestserve::bench {

// Floating-point operations per second of independent 16-wide multiplies and adds, half each.
double UnfusedPeakFlops();
// Bytes per second of reading `bytes` (a multiple of 64) over and over, 64 bytes per load.
double StreamBytesPerSecond(size_t bytes);

}  // namespace bestserve::bench
