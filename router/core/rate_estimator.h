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
//   | last_k_v2 | k (default 5), | as last_k while the last k gaps span >= resolution_s; when |
//   |         | resolution_s   |   they span less (simultaneous arrivals, a coarse time     |
//   |         |  (default      |   grid), m / resolution_s with m the arrivals in the last  |
//   |         |  0.001)        |   resolution_s: at most (arrivals in one grid cell) / cell. |
//   |         |                |   Set resolution_s to the trace's time grid (1 for a        |
//   |         |                |   per-second trace). Start-up as last_k.                   |
//   | two_scale | fast_half_life_s (1), | the larger of two decayed counts of earlier     |
//   |         | slow_half_life_s (30) |   arrivals, ln2/h x sum 2^(-age/h): no floor, each    |
//   |         |                |   simultaneous arrival counts 1; ramps up from 0 over a few |
//   |         |                |   half-lives after start-up (mean L (1 - 2^(-t/h)) on a     |
//   |         |                |   Poisson stream of rate L). Bursts show within the fast    |
//   |         |                |   scale; lulls are trusted only on the slow one.            |
//   | ewma    | half_life_s    | 1 / (exponentially weighted mean gap), each gap weighted by  |
//   |         |  (default 1)   |   2^(-age/half_life); first arrival gives 0.                 |
//   | true    | -              | the generator's nominal rate (Request::nominal_rate_rps); the |
//   |         |                |   paper gives the stable-workload agent the true rate. Fails  |
//   |         |                |   on workloads that do not carry it (traces).                |
//
// Gaps of zero (simultaneous arrivals) are legal; the span used by last_k is floored at one
// microsecond so that the estimate stays finite, a documented rule rather than a silent one. That
// floor gives 5e6 req/s when k+1 arrivals share a timestamp (coarse traces): last_k is kept bit
// for bit because the paper's configs and policies use it (their Poisson arrivals never share a
// timestamp); new configs on real traces should use last_k_v2 or two_scale.
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

class LastKV2RateEstimator : public RateEstimator {
 public:
  LastKV2RateEstimator(int k, double resolution_s);
  void Reset() override;
  double Observe(const Request& request) override;
  std::string Describe() const override;
  std::unique_ptr<RateEstimator> Clone() const override;

 private:
  LastKRateV2 rate_;
};

class TwoScaleRateEstimator : public RateEstimator {
 public:
  TwoScaleRateEstimator(double fast_half_life_s, double slow_half_life_s);
  void Reset() override;
  double Observe(const Request& request) override;
  std::string Describe() const override;
  std::unique_ptr<RateEstimator> Clone() const override;

 private:
  TwoScaleRate rate_;
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
