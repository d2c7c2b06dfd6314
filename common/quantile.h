// The one quantile of bestserve: linear interpolation between the closest ranks of sorted values
// (Hyndman and Fan's type 7, numpy's and R's default), used by every summary (latency
// percentiles, workload statistics, fits).
#pragma once

#include <cmath>
#include <cstddef>
#include <span>

namespace bestserve {

// Quantile q in [0, 1] of `sorted` (ascending); `if_empty` for an empty list.
inline double Quantile(std::span<const double> sorted, double q, double if_empty) {
  if (sorted.empty()) return if_empty;
  const size_t last = sorted.size() - 1;
  const double h = static_cast<double>(last) * q;
  const auto lo = static_cast<size_t>(std::floor(h));
  if (lo >= last) return sorted[last];
  return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[lo + 1] - sorted[lo]);
}

}  // namespace bestserve
