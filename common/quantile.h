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
  const double h = (static_cast<double>(sorted.size()) - 1.0) * q;
  const auto lo = static_cast<size_t>(std::floor(h));
  if (lo + 1 >= sorted.size()) return sorted.back();
  return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[lo + 1] - sorted[lo]);
}

}  // namespace bestserve
