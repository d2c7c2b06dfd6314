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
  return s.kind;
}

std::string LastKRateEstimator::Describe() const {
  return DescribeRateEstimator({.kind = "last_k", .k = rate_.k()});
}
std::unique_ptr<RateEstimator> LastKRateEstimator::Clone() const {
  return std::make_unique<LastKRateEstimator>(rate_.k());
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
