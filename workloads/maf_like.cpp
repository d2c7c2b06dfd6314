#include "workloads/maf_like.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <queue>

#include "common/error.h"
#include "workloads/request_sink.h"
#include "workloads/task_mix.h"
#include "workloads/registry.h"

namespace bestserve {
namespace {

// Sum of (x_min / k)^alpha for k in [a, b] (b may be infinite), exact up to a few thousand terms
// and by the Euler-Maclaurin formula beyond (error far below double rounding at that point).
double ParetoTailSum(double x_min, double alpha, double a, double b) {
  constexpr double kExplicitTerms = 20000.0;
  double sum = 0.0;
  double k = a;
  for (; k <= b && k < a + kExplicitTerms; k += 1.0) sum += std::pow(x_min / k, alpha);
  if (k > b) return sum;
  // f(k) = x_min^alpha k^-alpha; sum_{k=K}^{B} f ~ int_K^B f + (f(K) + f(B))/2 + (f'(B) - f'(K))/12
  const double c = std::pow(x_min, alpha);
  auto f = [&](double x) { return std::isinf(x) ? 0.0 : c * std::pow(x, -alpha); };
  auto df = [&](double x) { return std::isinf(x) ? 0.0 : -alpha * c * std::pow(x, -alpha - 1.0); };
  double integral = 0.0;
  if (std::abs(alpha - 1.0) < 1e-12) {
    integral = c * (std::log(b) - std::log(k));  // only reached with a finite cap
  } else {
    const double upper = std::isinf(b) ? 0.0 : std::pow(b, 1.0 - alpha);
    integral = c * (std::pow(k, 1.0 - alpha) - upper) / (alpha - 1.0);
  }
  return sum + integral + 0.5 * (f(k) + f(b)) + (df(b) - df(k)) / 12.0;
}

[[noreturn]] void Invalid(const std::string& message) { throw ConfigError(message); }

}  // namespace

// Fitted by `bestserve workload fit maf1` (workloads/fits/maf1_like.yaml). The test
// "the compiled MAF defaults equal the recorded fits" keeps the two in step.
ModulatedSettings ModulatedSettings::Maf1Defaults() {
  ModulatedSettings s;
  s.mean_rate_rps = 104.52972222222222;
  s.log_sd = 0.0643691117553494;
  s.ar1 = 0.6320380587120582;
  s.start_time_of_day_s = 28740;  // minute 480 of the day, where the sample starts
  s.dip_starts_per_hour = 0.7894736842105263;
  s.dip_mean_intervals = 4;
  s.dip_depth = 0.5492841445450413;
  s.burst_fraction = 0.0;
  return s;
}

// Fitted by `bestserve workload fit maf2` (workloads/fits/maf2_like.yaml).
ModulatedSettings ModulatedSettings::Maf2Defaults() {
  ModulatedSettings s;
  s.mean_rate_rps = 5.53042198907183;
  s.log_sd = 0.2080526068200061;
  s.ar1 = 0.8498269385444075;
  s.burst_fraction = 0.08643301624869137;
  s.burst_intensity_rps = 0.7257213111716319;
  return s;
}

double StandardNormal(Rng& rng) {
  const double radius = std::sqrt(-2.0 * std::log(rng.UniformOpen0()));
  return radius * std::cos(2.0 * std::numbers::pi * rng.Uniform01());
}

double ExpectedBurstSize(int64_t x_min, double alpha, int64_t cap) {
  BS_CHECK(x_min >= 1 && alpha > 0.0);
  // E[min(floor X, C)] = sum_{k >= 1} P(min(floor X, C) >= k) = sum_{k=1}^{C} P(X >= k)
  //                    = x_min + sum_{k = x_min + 1}^{C} (x_min / k)^alpha.
  const double upper = cap > 0 ? static_cast<double>(cap) : std::numeric_limits<double>::infinity();
  if (cap > 0 && cap <= x_min) return static_cast<double>(cap);
  BS_CHECK(cap > 0 || alpha > 1.0);
  return static_cast<double>(x_min) +
         ParetoTailSum(static_cast<double>(x_min), alpha, static_cast<double>(x_min + 1), upper);
}

void ValidateModulatedSettings(const ModulatedSettings& s) {
  auto finite = [](double v) { return std::isfinite(v); };
  if (!(s.mean_rate_rps > 0.0) || !finite(s.mean_rate_rps)) {
    Invalid(fmt::format("expected mean_rate_rps > 0, got {}", s.mean_rate_rps));
  }
  if (s.num_requests <= 0 && !(s.duration_s > 0.0 && finite(s.duration_s))) {
    Invalid(fmt::format("expected num_requests > 0 or duration_s > 0, got {} and {}",
                        s.num_requests, s.duration_s));
  }
  if (!(s.diurnal_amplitude >= 0.0 && s.diurnal_amplitude < 1.0)) {
    Invalid(
        fmt::format("expected diurnal_amplitude in [0, 1) (the rate must stay positive), "
                    "got {}",
                    s.diurnal_amplitude));
  }
  if (!(s.diurnal_period_s > 0.0) || !(s.interval_s > 0.0) || !finite(s.interval_s)) {
    Invalid(fmt::format("expected diurnal_period_s > 0 and interval_s > 0, got {} and {}",
                        s.diurnal_period_s, s.interval_s));
  }
  if (!(s.log_sd >= 0.0 && s.log_sd <= 5.0)) {
    Invalid(fmt::format("expected log_sd in [0, 5], got {}", s.log_sd));
  }
  if (!(s.ar1 >= 0.0 && s.ar1 < 1.0)) Invalid(fmt::format("expected ar1 in [0, 1), got {}", s.ar1));
  const double q = s.dip_starts_per_hour * s.interval_s / 3600.0;
  if (!(s.dip_starts_per_hour >= 0.0) || !(q <= 1.0)) {
    Invalid(
        fmt::format("expected 0 <= dip_starts_per_hour x interval_s / 3600 <= 1 (a start "
                    "probability per interval), got {} x {} / 3600 = {}",
                    s.dip_starts_per_hour, s.interval_s, q));
  }
  if (!(s.dip_mean_intervals >= 1.0) || !finite(s.dip_mean_intervals)) {
    Invalid(fmt::format("expected dip_mean_intervals >= 1, got {}", s.dip_mean_intervals));
  }
  if (!(s.dip_depth >= 0.0 && s.dip_depth <= 1.0)) {
    Invalid(fmt::format("expected dip_depth in [0, 1], got {}", s.dip_depth));
  }
  if (!(s.burst_fraction >= 0.0 && s.burst_fraction < 1.0)) {
    Invalid(fmt::format("expected burst_fraction in [0, 1), got {}", s.burst_fraction));
  }
  if (s.burst_min_requests < 1) {
    Invalid(fmt::format("expected burst_min_requests >= 1, got {}", s.burst_min_requests));
  }
  if (s.burst_max_requests < 0 ||
      (s.burst_max_requests > 0 && s.burst_max_requests < s.burst_min_requests)) {
    Invalid(
        fmt::format("expected burst_max_requests = 0 (no cap) or >= burst_min_requests = {}, "
                    "got {}",
                    s.burst_min_requests, s.burst_max_requests));
  }
  if (!(s.burst_alpha > 0.0) || (s.burst_max_requests == 0 && !(s.burst_alpha > 1.0))) {
    Invalid(
        fmt::format("expected burst_alpha > 1 (a finite mean burst size), or > 0 with a "
                    "burst_max_requests cap, got {}",
                    s.burst_alpha));
  }
  if (!(s.burst_intensity_rps > 0.0) || !finite(s.burst_intensity_rps)) {
    Invalid(fmt::format("expected burst_intensity_rps > 0, got {}", s.burst_intensity_rps));
  }
}

ModulatedWorkload::ModulatedWorkload(std::string kind, ModulatedSettings settings)
    : kind_(std::move(kind)), settings_(std::move(settings)) {
  ValidateModulatedSettings(settings_);
  expected_burst_size_ = ExpectedBurstSize(settings_.burst_min_requests, settings_.burst_alpha,
                                           settings_.burst_max_requests);
  // Two-state chain per interval: normal -> dip with probability q, dip -> normal with 1/L.
  const double q = settings_.dip_starts_per_hour * settings_.interval_s / 3600.0;
  const double exit = 1.0 / settings_.dip_mean_intervals;
  dip_fraction_ = q > 0.0 ? q / (q + exit) : 0.0;
  dip_mean_ = 1.0 - dip_fraction_ * (1.0 - settings_.dip_depth);
}

std::unique_ptr<WorkloadGenerator> ModulatedWorkload::FromConfig(const ConfigNode& section,
                                                                 const std::string& kind,
                                                                 ModulatedSettings s) {
  section.CheckKeys({"kind",
                     "mean_rate_rps",
                     "duration_s",
                     "num_requests",
                     "start_s",
                     "start_time_of_day_s",
                     "diurnal_amplitude",
                     "diurnal_period_s",
                     "diurnal_peak_s",
                     "interval_s",
                     "log_sd",
                     "ar1",
                     "dip_starts_per_hour",
                     "dip_mean_intervals",
                     "dip_depth",
                     "burst_fraction",
                     "burst_alpha",
                     "burst_min_requests",
                     "burst_max_requests",
                     "burst_intensity_rps",
                     "task_mix"});
  if (section.Has("duration_s") && section.Has("num_requests")) {
    section.Fail("expected either 'duration_s' or 'num_requests', not both");
  }
  s.mean_rate_rps = section.GetPositiveDouble("mean_rate_rps", s.mean_rate_rps);
  if (section.Has("num_requests")) {
    s.num_requests = section.GetPositiveInt("num_requests", 0);
  } else {
    s.duration_s = section.GetPositiveDouble("duration_s", s.duration_s);
  }
  s.start_s = section.GetNonNegativeDouble("start_s", s.start_s);
  s.start_time_of_day_s =
      section.GetNonNegativeDouble("start_time_of_day_s", s.start_time_of_day_s);
  s.diurnal_amplitude = section.GetNonNegativeDouble("diurnal_amplitude", s.diurnal_amplitude);
  s.diurnal_period_s = section.GetPositiveDouble("diurnal_period_s", s.diurnal_period_s);
  s.diurnal_peak_s = section.GetNonNegativeDouble("diurnal_peak_s", s.diurnal_peak_s);
  s.interval_s = section.GetPositiveDouble("interval_s", s.interval_s);
  s.log_sd = section.GetNonNegativeDouble("log_sd", s.log_sd);
  s.ar1 = section.GetNonNegativeDouble("ar1", s.ar1);
  s.dip_starts_per_hour =
      section.GetNonNegativeDouble("dip_starts_per_hour", s.dip_starts_per_hour);
  s.dip_mean_intervals = section.GetPositiveDouble("dip_mean_intervals", s.dip_mean_intervals);
  s.dip_depth = section.GetNonNegativeDouble("dip_depth", s.dip_depth);
  s.burst_fraction = section.GetNonNegativeDouble("burst_fraction", s.burst_fraction);
  s.burst_alpha = section.GetPositiveDouble("burst_alpha", s.burst_alpha);
  s.burst_min_requests = section.GetPositiveInt("burst_min_requests", s.burst_min_requests);
  if (section.Has("burst_max_requests")) {
    const ConfigNode node = section.Child("burst_max_requests");
    s.burst_max_requests = node.AsInt();
    if (s.burst_max_requests < 0) {
      node.Fail(fmt::format("expected 0 (no cap) or a positive cap, got {}", s.burst_max_requests));
    }
  }
  s.burst_intensity_rps = section.GetPositiveDouble("burst_intensity_rps", s.burst_intensity_rps);
  s.task_mix = section.MaybeChild("task_mix");
  try {
    return std::make_unique<ModulatedWorkload>(kind, std::move(s));
  } catch (const ConfigError& e) {
    section.Fail(e.what());
  }
}

template <typename Emit>
void ModulatedWorkload::Run(uint64_t seed, Emit&& emit_request) const {
  const ModulatedSettings& s = settings_;
  Rng modulation(DeriveSeed(seed, "modulation"));
  Rng arrivals(DeriveSeed(seed, "arrivals"));
  Rng bursts(DeriveSeed(seed, "bursts"));
  const bool by_count = s.num_requests > 0;
  const double end_s =
      by_count ? std::numeric_limits<double>::infinity() : s.start_s + s.duration_s;
  int64_t emitted = 0;
  const double dip_start_probability = s.dip_starts_per_hour * s.interval_s / 3600.0;
  const double dip_exit_probability = 1.0 / s.dip_mean_intervals;
  const double innovation_sd = std::sqrt(1.0 - s.ar1 * s.ar1);
  const double level_scale = s.mean_rate_rps / dip_mean_;
  const double burst_start_share = s.burst_fraction / expected_burst_size_;

  // Interval state. The first interval starts in the stationary law of both chains.
  int64_t interval = -1;
  double interval_end = s.start_s;
  double z = 0.0;
  bool in_dip = false;
  double level = 0.0;      // rate(t) of the current interval
  double main_rate = 0.0;  // background + burst-start rate of the current interval
  double background_share = 1.0;
  auto advance_interval = [&] {
    ++interval;
    if (interval == 0) {
      z = StandardNormal(modulation);
      in_dip = modulation.Bernoulli(dip_fraction_);
    } else {
      z = s.ar1 * z + innovation_sd * StandardNormal(modulation);
      in_dip = in_dip ? !modulation.Bernoulli(dip_exit_probability)
                      : modulation.Bernoulli(dip_start_probability);
    }
    const double interval_start = s.start_s + static_cast<double>(interval) * s.interval_s;
    interval_end = interval_start + s.interval_s;
    const double mid_of_day =
        s.start_time_of_day_s + (interval_start - s.start_s) + 0.5 * s.interval_s;
    const double diurnal =
        1.0 + s.diurnal_amplitude * std::cos(2.0 * std::numbers::pi *
                                             (mid_of_day - s.diurnal_peak_s) / s.diurnal_period_s);
    const double m = std::exp(s.log_sd * z - 0.5 * s.log_sd * s.log_sd);
    level = level_scale * diurnal * m * (in_dip ? s.dip_depth : 1.0);
    // Background at level (1 - f), burst starts at level f / E[size]: one superposed stream.
    const double background = level * (1.0 - s.burst_fraction);
    main_rate = background + level * burst_start_share;
    background_share = main_rate > 0.0 ? background / main_rate : 1.0;
  };

  struct ActiveBurst {
    double next_s;
    int64_t remaining;  // requests still to come after next_s's
    double level;
    int64_t sequence;  // tie-break: earlier bursts first
    bool operator>(const ActiveBurst& o) const {
      return next_s != o.next_s ? next_s > o.next_s : sequence > o.sequence;
    }
  };
  std::priority_queue<ActiveBurst, std::vector<ActiveBurst>, std::greater<>> active;
  int64_t burst_sequence = 0;

  // The next event of the main stream (a background arrival or a burst start).
  double main_clock = s.start_s;
  double main_next = 0.0;
  double main_level = 0.0;
  bool main_is_background = true;
  auto draw_main = [&] {
    while (true) {
      if (main_clock >= interval_end) advance_interval();
      if (main_rate > 0.0) {
        const double next = main_clock + arrivals.Exponential(main_rate);
        if (next < interval_end) {
          main_clock = next;
          main_next = next;
          main_level = level;
          main_is_background = s.burst_fraction == 0.0 || arrivals.Bernoulli(background_share);
          return;
        }
      }
      main_clock = interval_end;  // the crossing gap is discarded (memoryless)
      if (main_clock >= end_s) {
        main_next = std::numeric_limits<double>::infinity();
        return;
      }
    }
  };
  draw_main();

  auto emit = [&](double t, double rate) {
    emit_request(t, rate);
    ++emitted;
  };
  auto done = [&] { return by_count && emitted >= s.num_requests; };
  while (!done()) {
    const bool burst_first = !active.empty() && active.top().next_s < main_next;
    const double t = burst_first ? active.top().next_s : main_next;
    if (t >= end_s) break;
    if (burst_first) {
      ActiveBurst b = active.top();
      active.pop();
      emit(b.next_s, b.level);
      if (b.remaining > 0) {
        b.next_s += bursts.Exponential(s.burst_intensity_rps);
        --b.remaining;
        active.push(b);
      }
      continue;
    }
    emit(main_next, main_level);
    if (!main_is_background) {
      // X = x_min U^(-1/alpha); size = min(floor(X), cap). The first request is the start.
      const double x = static_cast<double>(s.burst_min_requests) *
                       std::pow(bursts.UniformOpen0(), -1.0 / s.burst_alpha);
      constexpr double kHuge = 1e15;  // beyond any workload we could hold in memory
      double size = std::floor(std::min(x, kHuge));
      if (s.burst_max_requests > 0)
        size = std::min(size, static_cast<double>(s.burst_max_requests));
      const auto count = static_cast<int64_t>(size);
      if (count > 1) {
        active.push({main_next + bursts.Exponential(s.burst_intensity_rps), count - 2, main_level,
                     burst_sequence++});
      }
    }
    draw_main();
  }
}

void ModulatedWorkload::GenerateArrivals(uint64_t seed, std::vector<double>* arrival_s,
                                         std::vector<double>* nominal_rate_rps) const {
  arrival_s->clear();
  nominal_rate_rps->clear();
  if (settings_.num_requests > 0) {
    arrival_s->reserve(static_cast<size_t>(settings_.num_requests));
    nominal_rate_rps->reserve(static_cast<size_t>(settings_.num_requests));
  }
  Run(seed, [&](double t, double rate) {
    arrival_s->push_back(t);
    nominal_rate_rps->push_back(rate);
  });
}

Workload ModulatedWorkload::Generate(const WorkloadContext& ctx) const {
  BS_CHECK(ctx.tasks != nullptr);
  const TaskMixSchedule mix = TaskMixSchedule::Parse(settings_.task_mix, *ctx.tasks);
  Workload workload;
  if (settings_.num_requests > 0) {
    workload.reserve(static_cast<size_t>(settings_.num_requests));
  } else {
    // The expected count plus five standard deviations of a Poisson count (a modulated process
    // varies more; the vector then grows once).
    const double expected = settings_.mean_rate_rps * settings_.duration_s;
    workload.reserve(
        static_cast<size_t>(std::min(expected + 5.0 * std::sqrt(expected) + 16.0, 1e8)));
  }
  RequestSink sink(ctx, mix, &workload);
  Run(ctx.seed, [&](double t, double rate) { sink.Add(t, rate); });
  return workload;
}

std::string ModulatedWorkload::Describe() const {
  const ModulatedSettings& s = settings_;
  const std::string stop = s.num_requests > 0 ? fmt::format("{} requests", s.num_requests)
                                              : fmt::format("{} s", s.duration_s);
  std::string text = fmt::format("{}(mean {} rps, {}, {} s intervals with log_sd {} ar1 {}", kind_,
                                 s.mean_rate_rps, stop, s.interval_s, s.log_sd, s.ar1);
  if (s.diurnal_amplitude > 0.0) {
    text +=
        fmt::format(", diurnal amplitude {} period {} s", s.diurnal_amplitude, s.diurnal_period_s);
  }
  if (s.dip_starts_per_hour > 0.0) {
    text += fmt::format(", dips {}/h x {} intervals at {}", s.dip_starts_per_hour,
                        s.dip_mean_intervals, s.dip_depth);
  }
  if (s.burst_fraction > 0.0) {
    text +=
        fmt::format(", bursts {} of requests, Pareto(min {}, alpha {}){} at {} rps",
                    s.burst_fraction, s.burst_min_requests, s.burst_alpha,
                    s.burst_max_requests > 0 ? fmt::format(" capped at {}", s.burst_max_requests)
                                             : std::string(),
                    s.burst_intensity_rps);
  }
  return text + ")";
}

// Registered in workloads/registry.cpp.
extern const WorkloadKind kMaf1LikeWorkload{
    "maf1_like", "steady arrivals fitted to Azure Functions 2019",
    [](const ConfigNode& s, const std::string&) {
      return ModulatedWorkload::FromConfig(s, "maf1_like", ModulatedSettings::Maf1Defaults());
    }};
extern const WorkloadKind kMaf2LikeWorkload{
    "maf2_like", "bursty arrivals fitted to Azure LLM inference 2023",
    [](const ConfigNode& s, const std::string&) {
      return ModulatedWorkload::FromConfig(s, "maf2_like", ModulatedSettings::Maf2Defaults());
    }};

}  // namespace bestserve
