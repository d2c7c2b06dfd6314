#include "router/core/rate_estimator.h"

#include <fmt/format.h>

#include <cmath>

namespace bestserve {

LastKRateEstimator::LastKRateEstimator(int k) : rate_(k) { BS_CHECK(k >= 1); }
void LastKRateEstimator::Reset() { rate_.Reset(); }
double LastKRateEstimator::Observe(const Request& request) { return rate_.Observe(request.arrival_s); }
std::string DescribeRateEstimator(const RateEstimatorSettings& s) {
  if (s.kind == "last_k") return fmt::format("last_k(k={})", s.k);
  if (s.kind == "ewma") return fmt::format("ewma(half_life_s={})", s.half_life_s);
  if (s.kind == "last_k_v2") return fmt::format("last_k_v2(k={},resolution_s={})", s.k, s.resolution_s);
  if (s.kind == "two_scale") {
    return fmt::format("two_scale(fast_half_life_s={},slow_half_life_s={})", s.fast_half_life_s, s.slow_half_life_s);
  }
  return s.kind;
}

std::string LastKRateEstimator::Describe() const {
  return DescribeRateEstimator({.kind = "last_k", .k = rate_.k()});
}
std::unique_ptr<RateEstimator> LastKRateEstimator::Clone() const {
  return std::make_unique<LastKRateEstimator>(rate_.k());
}

LastKV2RateEstimator::LastKV2RateEstimator(int k, double resolution_s) : rate_(k, resolution_s) {
  BS_CHECK(k >= 1 && resolution_s > 0.0);
}
void LastKV2RateEstimator::Reset() { rate_.Reset(); }
double LastKV2RateEstimator::Observe(const Request& request) { return rate_.Observe(request.arrival_s); }
std::string LastKV2RateEstimator::Describe() const {
  return DescribeRateEstimator({.kind = "last_k_v2", .k = rate_.k(), .resolution_s = rate_.resolution_s()});
}
std::unique_ptr<RateEstimator> LastKV2RateEstimator::Clone() const {
  return std::make_unique<LastKV2RateEstimator>(rate_.k(), rate_.resolution_s());
}

TwoScaleRateEstimator::TwoScaleRateEstimator(double fast_half_life_s, double slow_half_life_s)
    : rate_(fast_half_life_s, slow_half_life_s) {
  BS_CHECK(fast_half_life_s > 0.0 && slow_half_life_s > 0.0);
}
void TwoScaleRateEstimator::Reset() { rate_.Reset(); }
double TwoScaleRateEstimator::Observe(const Request& request) { return rate_.Observe(request.arrival_s); }
std::string TwoScaleRateEstimator::Describe() const {
  return DescribeRateEstimator({.kind = "two_scale",
                                .fast_half_life_s = rate_.fast_half_life_s(),
                                .slow_half_life_s = rate_.slow_half_life_s()});
}
std::unique_ptr<RateEstimator> TwoScaleRateEstimator::Clone() const {
  return std::make_unique<TwoScaleRateEstimator>(rate_.fast_half_life_s(), rate_.slow_half_life_s());
}

EwmaRateEstimator::EwmaRateEstimator(double half_life_s) : rate_(half_life_s) { BS_CHECK(half_life_s > 0.0); }
void EwmaRateEstimator::Reset() { rate_.Reset(); }
double EwmaRateEstimator::Observe(const Request& request) { return rate_.Observe(request.arrival_s); }
std::string EwmaRateEstimator::Describe() const {
  return DescribeRateEstimator({.kind = "ewma", .half_life_s = rate_.half_life_s()});
}
std::unique_ptr<RateEstimator> EwmaRateEstimator::Clone() const {
  return std::make_unique<EwmaRateEstimator>(rate_.half_life_s());
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
  if (kind == "last_k_v2") {
    section->CheckKeys({"kind", "k", "resolution_s"});
    const int64_t k = section->GetPositiveInt("k", 5);
    if (k > 100000) section->Child("k").Fail(fmt::format("expected k <= 100000, got {}", k));
    return std::make_unique<LastKV2RateEstimator>(static_cast<int>(k),
                                                  section->GetPositiveDouble("resolution_s", 1e-3));
  }
  if (kind == "two_scale") {
    section->CheckKeys({"kind", "fast_half_life_s", "slow_half_life_s"});
    const double fast = section->GetPositiveDouble("fast_half_life_s", 1.0);
    const double slow = section->GetPositiveDouble("slow_half_life_s", 30.0);
    if (!(slow >= fast)) {
      section->Fail(fmt::format("expected slow_half_life_s >= fast_half_life_s ({}), got {}", fast, slow));
    }
    return std::make_unique<TwoScaleRateEstimator>(fast, slow);
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
      fmt::format("unknown rate estimator '{}'; valid: last_k, last_k_v2, ewma, two_scale, true", kind));
}

}  // namespace bestserve
