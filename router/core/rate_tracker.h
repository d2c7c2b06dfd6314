// Arrival-rate estimators' arithmetic, shared by the simulator's rate estimators
// (router/core/rate_estimator.h) and the deployable router library, so that both compute the same
// estimate bit for bit from the same arrival times. Standard library only.
//
//   LastKRate: k / (t_now - t_(k-th previous arrival)), over the last k gaps; fewer than k gaps
//              seen: the gaps there are; the first arrival gives 0. The span is floored at one
//              microsecond so simultaneous arrivals give a finite estimate.
//   EwmaRate:  1 / (exponentially weighted mean gap), each gap's weight decaying as
//              2^(-gap / half_life); the first arrival gives 0.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace bestserve {

// Which estimator, with its parameter: what a policy file records (router/policy/
// policy_metadata.h) and what a scenario's `rate_estimator` section builds.
struct RateEstimatorSettings {
  std::string kind = "last_k";  // last_k | ewma | true
  int32_t k = 5;
  double half_life_s = 1.0;
};

inline constexpr double kMinRateSpanS = 1e-6;

class LastKRate {
 public:
  explicit LastKRate(int k) : times_(static_cast<size_t>(k) + 1, 0.0) {}
  void Reset() {
    next_ = 0;
    count_ = 0;
  }
  // Records an arrival at `time_s` (non-decreasing) and returns the estimate including it.
  double Observe(double time_s) {
    times_[next_] = time_s;
    next_ = (next_ + 1) % times_.size();
    count_ = std::min(count_ + 1, times_.size());
    if (count_ < 2) return 0.0;
    const size_t oldest = count_ == times_.size() ? next_ : 0;
    const double span = std::max(time_s - times_[oldest], kMinRateSpanS);
    return static_cast<double>(count_ - 1) / span;
  }
  int k() const { return static_cast<int>(times_.size()) - 1; }

 private:
  std::vector<double> times_;  // ring of the last k+1 arrival times
  size_t next_ = 0;
  size_t count_ = 0;
};

class EwmaRate {
 public:
  explicit EwmaRate(double half_life_s) : half_life_s_(half_life_s) {}
  void Reset() {
    seen_ = false;
    has_gap_ = false;
    mean_gap_s_ = 0.0;
  }
  double Observe(double time_s) {
    if (!seen_) {
      seen_ = true;
      last_s_ = time_s;
      return 0.0;
    }
    const double gap = time_s - last_s_;
    last_s_ = time_s;
    if (!has_gap_) {
      mean_gap_s_ = gap;
      has_gap_ = true;
    } else {
      // The old mean's weight decays with the time elapsed, so a burst shows within about one
      // half-life whatever the rate.
      const double keep = std::exp2(-gap / half_life_s_);
      mean_gap_s_ = keep * mean_gap_s_ + (1.0 - keep) * gap;
    }
    return 1.0 / std::max(mean_gap_s_, kMinRateSpanS);
  }
  double half_life_s() const { return half_life_s_; }

 private:
  double half_life_s_;
  double last_s_ = 0.0;
  double mean_gap_s_ = 0.0;
  bool seen_ = false;
  bool has_gap_ = false;
};

}  // namespace bestserve
