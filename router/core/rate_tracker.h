// Arrival-rate estimators' arithmetic, shared by the simulator's rate estimators
// (router/core/rate_estimator.h) and the deployable router library, so that both compute the same
// estimate bit for bit from the same arrival times. Standard library only.
//
//   LastKRate:   k / (t_now - t_(k-th previous arrival)), over the last k gaps; fewer than k gaps
//                seen: the gaps there are; the first arrival gives 0. The span is floored at one
//                microsecond so simultaneous arrivals give a finite estimate (the paper's
//                estimator, kept bit for bit; 5e6 req/s when k+1 arrivals share a timestamp).
//   LastKRateV2: the same while the last k gaps span at least `resolution_s` (the clock's or the
//                trace's time grid); when they span less, the arrivals are only known to lie
//                within one grid cell, so the estimate is m / resolution_s with m the arrivals in
//                (t_now - resolution_s, t_now], this one included. Bounded by (arrivals in one
//                cell) / cell for any timestamps; the first arrival gives 0.
//   EwmaRate:    1 / (exponentially weighted mean gap), each gap's weight decaying as
//                2^(-gap / half_life); the first arrival gives 0. Arrivals that share the first
//                timestamp define no gap yet: until the first positive gap the estimate is
//                (arrivals so far - 1) / half_life, the burst spread over one half-life, not the
//                1 / (1 us floor) = 10^6 req/s a zero mean gap would give.
//   DecayedCountRate: ln 2 / half_life x (arrivals before this one, each weighted
//                2^(-age / half_life)): an exponentially decayed count, defined for any timestamps
//                with no floor (simultaneous arrivals each count 1). For a Poisson stream of
//                rate L its mean at an arrival is L (1 - 2^(-elapsed / half_life)): it ramps up
//                from 0 over a few half-lives after start-up.
//   TwoScaleRate: the larger of a fast and a slow DecayedCountRate: a burst shows within the
//                fast half-life, a lull is trusted only after the slow one.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

namespace bestserve {

// Which estimator, with its parameter: what a policy file records (router/policy/
// policy_metadata.h) and what a scenario's `rate_estimator` section builds.
struct RateEstimatorSettings {
  std::string kind = "last_k";  // last_k | last_k_v2 | ewma | two_scale | true
  int32_t k = 5;                // last_k, last_k_v2
  double half_life_s = 1.0;     // ewma
  double resolution_s = 1e-3;   // last_k_v2
  double fast_half_life_s = 1.0;   // two_scale
  double slow_half_life_s = 30.0;  // two_scale
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
  size_t count() const { return count_; }
  // Time from the oldest arrival in the ring to the newest (0 before two arrivals).
  double span() const {
    if (count_ < 2) return 0.0;
    const size_t newest = (next_ + times_.size() - 1) % times_.size();
    const size_t oldest = count_ == times_.size() ? next_ : 0;
    return times_[newest] - times_[oldest];
  }

 private:
  std::vector<double> times_;  // ring of the last k+1 arrival times
  size_t next_ = 0;
  size_t count_ = 0;
};

class LastKRateV2 {
 public:
  LastKRateV2(int k, double resolution_s) : last_k_(k), resolution_s_(resolution_s) {}
  void Reset() {
    last_k_.Reset();
    recent_.clear();
  }
  double Observe(double time_s) {
    const double last_k = last_k_.Observe(time_s);
    recent_.push_back(time_s);
    while (!recent_.empty() && !(recent_.front() > time_s - resolution_s_)) recent_.pop_front();
    if (last_k_.count() < 2) return 0.0;
    if (last_k_.span() >= resolution_s_) return last_k;
    return static_cast<double>(recent_.size()) / resolution_s_;
  }
  int k() const { return last_k_.k(); }
  double resolution_s() const { return resolution_s_; }

 private:
  LastKRate last_k_;
  double resolution_s_;
  std::deque<double> recent_;  // arrival times in (t_now - resolution_s, t_now]
};

class DecayedCountRate {
 public:
  explicit DecayedCountRate(double half_life_s) : half_life_s_(half_life_s) {}
  void Reset() {
    seen_ = false;
    weight_ = 0.0;
  }
  double Observe(double time_s) {
    // The earlier arrivals' count decayed to now (this one excluded, so that the mean at an
    // arrival of a Poisson stream is its rate, once past start-up).
    const double earlier = seen_ ? weight_ * std::exp2(-(time_s - last_s_) / half_life_s_) : 0.0;
    weight_ = earlier + 1.0;
    seen_ = true;
    last_s_ = time_s;
    return (earlier * std::log(2.0)) / half_life_s_;
  }
  double half_life_s() const { return half_life_s_; }

 private:
  double half_life_s_;
  double last_s_ = 0.0;
  double weight_ = 0.0;  // sum over arrivals so far of 2^(-age / half_life), at the last one
  bool seen_ = false;
};

class TwoScaleRate {
 public:
  TwoScaleRate(double fast_half_life_s, double slow_half_life_s) : fast_(fast_half_life_s), slow_(slow_half_life_s) {}
  void Reset() {
    fast_.Reset();
    slow_.Reset();
  }
  double Observe(double time_s) {
    fast_rps_ = fast_.Observe(time_s);
    slow_rps_ = slow_.Observe(time_s);
    return std::max(fast_rps_, slow_rps_);
  }
  double fast_rps() const { return fast_rps_; }
  double slow_rps() const { return slow_rps_; }
  double fast_half_life_s() const { return fast_.half_life_s(); }
  double slow_half_life_s() const { return slow_.half_life_s(); }

 private:
  DecayedCountRate fast_;
  DecayedCountRate slow_;
  double fast_rps_ = 0.0;
  double slow_rps_ = 0.0;
};

class EwmaRate {
 public:
  explicit EwmaRate(double half_life_s) : half_life_s_(half_life_s) {}
  void Reset() {
    seen_ = false;
    has_gap_ = false;
    mean_gap_s_ = 0.0;
    simultaneous_at_start_ = 0;
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
      if (gap <= 0.0) return static_cast<double>(++simultaneous_at_start_) / half_life_s_;
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
  int64_t simultaneous_at_start_ = 0;  // arrivals after the first, at its timestamp
};

}  // namespace bestserve
