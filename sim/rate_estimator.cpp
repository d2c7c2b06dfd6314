#include "sim/rate_estimator.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace bestserve {

namespace {
constexpr double kMinSpanS = 1e-6;
}  // namespace

LastKRateEstimator::LastKRateEstimator(int k) : k_(k), times_(static_cast<size_t>(k) + 1, 0.0) {
  BS_CHECK(k >= 1);
}

void LastKRateEstimator::Reset() {
  next_ = 0;
  count_ = 0;
}

double LastKRateEstimator::Observe(const Request& request) {
  times_[next_] = request.arrival_s;
  next_ = (next_ + 1) % times_.size();
  count_ = std::min(count_ + 1, times_.size());
  if (count_ < 2) return 0.0;
  // The oldest stored time is at next_ when the ring is full, else at 0.
  const size_t oldest = count_ == times_.size() ? next_ : 0;
  const double span = std::max(request.arrival_s - times_[oldest], kMinSpanS);
  return static_cast<double>(count_ - 1) / span;
}

std::string LastKRateEstimator::Describe() const { return fmt::format("last_k(k={})", k_); }

std::unique_ptr<RateEstimator> LastKRateEstimator::Clone() const {
  return std::make_unique<LastKRateEstimator>(k_);
}

EwmaRateEstimator::EwmaRateEstimator(double half_life_s) : half_life_s_(half_life_s) {
  BS_CHECK(half_life_s > 0.0);
}

void EwmaRateEstimator::Reset() {
  seen_ = false;
  has_gap_ = false;
  mean_gap_s_ = 0.0;
}

double EwmaRateEstimator::Observe(const Request& request) {
  if (!seen_) {
    seen_ = true;
    last_arrival_s_ = request.arrival_s;
    return 0.0;
  }
  const double gap = request.arrival_s - last_arrival_s_;
  last_arrival_s_ = request.arrival_s;
  if (!has_gap_) {
    mean_gap_s_ = gap;
    has_gap_ = true;
  } else {
    // Weight of the old mean decays with the time elapsed, so a burst is seen within about
    // one half-life whatever the rate.
    const double keep = std::exp2(-gap / half_life_s_);
    mean_gap_s_ = keep * mean_gap_s_ + (1.0 - keep) * gap;
  }
  return 1.0 / std::max(mean_gap_s_, kMinSpanS);
}

std::string EwmaRateEstimator::Describe() const {
  return fmt::format("ewma(half_life_s={})", half_life_s_);
}

std::unique_ptr<RateEstimator> EwmaRateEstimator::Clone() const {
  return std::make_unique<EwmaRateEstimator>(half_life_s_);
}

double TrueRateEstimator::Observe(const Request& request) {
  if (std::isnan(request.nominal_rate_rps)) {
    throw ConfigError(fmt::format(
        "rate_estimator 'true' needs the workload's nominal rate, but request {} carries none "
        "(replayed traces do not); use last_k or ewma",
        request.id));
  }
  return request.nominal_rate_rps;
}

std::unique_ptr<RateEstimator> TrueRateEstimator::Clone() const {
  return std::make_unique<TrueRateEstimator>();
}

std::unique_ptr<RateEstimator> MakeRateEstimator(const std::optional<ConfigNode>& section) {
  if (!section) return std::make_unique<LastKRateEstimator>(5);
  const std::string kind = section->GetString("kind");
  if (kind == "last_k") {
    section->CheckKeys({"kind", "k"});
    const int64_t k = section->GetPositiveInt("k", 5);
    if (k > 100000) section->Child("k").Fail(fmt::format("expected k <= 100000, got {}", k));
    return std::make_unique<LastKRateEstimator>(static_cast<int>(k));
  }
  if (kind == "ewma") {
    section->CheckKeys({"kind", "half_life_s"});
    return std::make_unique<EwmaRateEstimator>(section->GetPositiveDouble("half_life_s", 1.0));
  }
  if (kind == "true") {
    section->CheckKeys({"kind"});
    return std::make_unique<TrueRateEstimator>();
  }
  section->Child("kind").Fail(
      fmt::format("unknown rate estimator '{}'; valid: last_k, ewma, true", kind));
}

}  // namespace bestserve
