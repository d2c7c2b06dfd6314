// Arrival-rate estimates for the router's state.
//
// Config section `rate_estimator`:
//
//   | kind    | keys           | estimate after each arrival                                 |
//   |---------|----------------|-------------------------------------------------------------|
//   | last_k  | k (default 5)  | k / (t_now - t_k-th previous arrival): the rate over the     |
//   |         |                |   last k inter-arrival gaps (the paper: last 5 arrivals).    |
//   |         |                |   With fewer than k gaps seen, uses the gaps there are; the   |
//   |         |                |   very first arrival gives 0 (nothing known yet).           |
//   | ewma    | half_life_s    | 1 / (exponentially weighted mean gap), each gap weighted by  |
//   |         |  (default 1)   |   2^(-age/half_life); first arrival gives 0.                 |
//   | true    | -              | the generator's nominal rate (Request::nominal_rate_rps); the |
//   |         |                |   paper gives the stable-workload agent the true rate. Fails  |
//   |         |                |   on workloads that do not carry it (traces).                |
//
// Gaps of zero (simultaneous arrivals) are legal; the span used by last_k is floored at one
// microsecond so that the estimate stays finite, a documented rule rather than a silent one.
// The arithmetic lives in router/core/rate_tracker.h, shared with the deployable router library.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/request.h"
#include "router/core/rate_tracker.h"

namespace bestserve {

class RateEstimator {
 public:
  virtual ~RateEstimator() = default;
  // Forgets every arrival (a new episode).
  virtual void Reset() = 0;
  // Records `request`'s arrival and returns the estimate that includes it, in requests/s.
  // Arrivals come in time order.
  virtual double Observe(const Request& request) = 0;
  virtual std::string Describe() const = 0;
  virtual std::unique_ptr<RateEstimator> Clone() const = 0;
};

class LastKRateEstimator : public RateEstimator {
 public:
  explicit LastKRateEstimator(int k);
  void Reset() override;
  double Observe(const Request& request) override;
  std::string Describe() const override;
  std::unique_ptr<RateEstimator> Clone() const override;

 private:
  LastKRate rate_;
};

class EwmaRateEstimator : public RateEstimator {
 public:
  explicit EwmaRateEstimator(double half_life_s);
  void Reset() override;
  double Observe(const Request& request) override;
  std::string Describe() const override;
  std::unique_ptr<RateEstimator> Clone() const override;

 private:
  EwmaRate rate_;
};

class TrueRateEstimator : public RateEstimator {
 public:
  void Reset() override {}
  double Observe(const Request& request) override;
  std::string Describe() const override { return "true"; }
  std::unique_ptr<RateEstimator> Clone() const override;
};

// "last_k(k=5)", "ewma(half_life_s=1)", "true": the text of RateEstimator::Describe(), by which
// a scenario's estimator is compared with the one a policy was trained with.
std::string DescribeRateEstimator(const RateEstimatorSettings& settings);

// Parses a `rate_estimator` section (absent: last_k with k = 5).
std::unique_ptr<RateEstimator> MakeRateEstimator(const std::optional<ConfigNode>& section);

}  // namespace bestserve
