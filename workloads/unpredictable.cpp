#include "workloads/unpredictable.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/error.h"
#include "workloads/request_sink.h"
#include "workloads/task_mix.h"
#include "workloads/registry.h"

namespace bestserve {
namespace {

[[noreturn]] void FailAt(const ConfigNode* where, const std::string& message) {
  if (where != nullptr) where->Fail(message);
  throw ConfigError(message);
}

// Parses the stop rule shared by both kinds: num_requests (default 10,000) or duration_s.
void ParseStop(const ConfigNode& section, SegmentedRateSettings* s) {
  if (section.Has("num_requests") && section.Has("duration_s")) {
    section.Fail("expected either 'num_requests' or 'duration_s', not both");
  }
  if (section.Has("duration_s")) {
    s->duration_s = section.GetPositiveDouble("duration_s");
    s->num_requests = 0;
  } else {
    s->num_requests = section.GetPositiveInt("num_requests", s->num_requests);
  }
  s->start_s = section.GetNonNegativeDouble("start_s", 0.0);
  s->task_mix = section.MaybeChild("task_mix");
  if (section.Has("segment_geometric_min")) {
    const ConfigNode node = section.Child("segment_geometric_min");
    const int64_t value = node.AsInt();
    if (value != 0 && value != 1) node.Fail(fmt::format("expected 0 or 1, got {}", value));
    s->segment_geometric_min = static_cast<int>(value);
  }
}

// Reflects x into [lo, hi] (a random walk's boundary rule; the step is < hi - lo, so one
// reflection suffices, but loop to be safe).
double Reflect(double x, double lo, double hi) {
  while (x < lo || x > hi) {
    if (x < lo) x = 2.0 * lo - x;
    if (x > hi) x = 2.0 * hi - x;
  }
  return x;
}

std::string RateChoiceName(RateChoice choice) {
  switch (choice) {
    case RateChoice::kBands:
      return "bands";
    case RateChoice::kUniform:
      return "uniform";
    case RateChoice::kLogUniform:
      return "log_uniform";
    case RateChoice::kRandomWalk:
      return "random_walk";
  }
  return "?";
}

}  // namespace

SegmentedRateSettings SegmentedRateSettings::Unpredictable1() {
  SegmentedRateSettings s;
  s.rate_choice = RateChoice::kBands;
  s.bands = {{0.90, 0.25, 2.0}, {0.08, 2.0, 40.0}, {0.02, 40.0, 48.0}};
  s.segment_mean_requests = 0.0;
  s.segment_requests_per_rps = 20.0;
  s.num_requests = 10000;
  return s;
}

SegmentedRateSettings SegmentedRateSettings::Unpredictable2() {
  SegmentedRateSettings s;
  s.rate_choice = RateChoice::kUniform;
  s.min_rate_rps = 1.0;
  s.max_rate_rps = 48.0;
  s.segment_mean_requests = 500.0;
  s.segment_requests_per_rps = 0.0;
  s.num_requests = 10000;
  return s;
}

int64_t GeometricAtLeastZero(Rng& rng, double mean) {
  BS_CHECK(mean > 0.0);
  // P(X >= k) = (1-p)^k with p = 1/(1+mean), so X = floor(log U / log(1-p)), U on (0, 1].
  const double p = 1.0 / (1.0 + mean);
  const double draw = std::floor(std::log(rng.UniformOpen0()) / std::log1p(-p));
  constexpr double kLimit = static_cast<double>(std::numeric_limits<int64_t>::max() / 2);
  return draw >= kLimit ? std::numeric_limits<int64_t>::max() / 2 : static_cast<int64_t>(draw);
}

void ValidateSegmentedRateSettings(const SegmentedRateSettings& s, const ConfigNode* where) {
  double min_rate = 0.0;
  if (s.rate_choice == RateChoice::kBands) {
    if (s.bands.empty()) FailAt(where, "expected at least one rate band");
    double total = 0.0;
    min_rate = std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < s.bands.size(); ++i) {
      const RateBand& b = s.bands[i];
      if (!(b.weight >= 0.0) || !std::isfinite(b.weight)) {
        FailAt(where, fmt::format("rate band {}: expected a weight >= 0, got {}", i, b.weight));
      }
      if (!(b.min_rps > 0.0) || !(b.max_rps >= b.min_rps) || !std::isfinite(b.max_rps)) {
        FailAt(where, fmt::format("rate band {}: expected 0 < min_rps <= max_rps, got min_rps = "
                                  "{} and max_rps = {}",
                                  i, b.min_rps, b.max_rps));
      }
      total += b.weight;
      if (b.weight > 0.0) min_rate = std::min(min_rate, b.min_rps);
    }
    if (!(total > 0.0)) FailAt(where, "expected at least one rate band with a positive weight");
  } else {
    if (!(s.min_rate_rps > 0.0) || !(s.max_rate_rps >= s.min_rate_rps) ||
        !std::isfinite(s.max_rate_rps)) {
      FailAt(where, fmt::format("expected 0 < min_rate_rps <= max_rate_rps, got {} and {}",
                                s.min_rate_rps, s.max_rate_rps));
    }
    min_rate = s.min_rate_rps;
    if (s.rate_choice == RateChoice::kRandomWalk &&
        !(s.random_walk_step_rps > 0.0 &&
          s.random_walk_step_rps <= s.max_rate_rps - s.min_rate_rps)) {
      FailAt(where, fmt::format("expected 0 < random_walk_step_rps <= max_rate_rps - "
                                "min_rate_rps = {}, got {}",
                                s.max_rate_rps - s.min_rate_rps, s.random_walk_step_rps));
    }
  }
  if (s.segment_mean_requests < 0.0 || s.segment_requests_per_rps < 0.0) {
    FailAt(where, fmt::format("expected segment_mean_requests >= 0 and segment_requests_per_rps "
                              ">= 0, got {} and {}",
                              s.segment_mean_requests, s.segment_requests_per_rps));
  }
  // The smallest segment mean any rate can produce must be a valid geometric mean: >= 1 on
  // {1, 2, ...}, > 0 on {0, 1, ...}. (The paper's #1 gives 20 x 0.25 = 5; a user's bands might
  // not.) We refuse rather than clamp.
  const double smallest_mean = s.segment_mean_requests + s.segment_requests_per_rps * min_rate;
  if (s.segment_geometric_min == 1 && !(smallest_mean >= 1.0)) {
    FailAt(where, fmt::format("the smallest segment mean is {} + {} x {} rps = {} requests, but a "
                              "geometric length on {{1, 2, ...}} needs a mean >= 1; raise the "
                              "rates or the segment mean, or set segment_geometric_min: 0",
                              s.segment_mean_requests, s.segment_requests_per_rps, min_rate,
                              smallest_mean));
  }
  if (s.segment_geometric_min == 0 && !(smallest_mean > 0.0)) {
    FailAt(where,
           fmt::format("the smallest segment mean is {} requests; expected > 0", smallest_mean));
  }
  if (s.num_requests <= 0 && !(s.duration_s > 0.0)) {
    FailAt(where, "expected num_requests > 0 or duration_s > 0");
  }
}

RateSegmentSampler::RateSegmentSampler(const SegmentedRateSettings& settings, uint64_t seed)
    : settings_(&settings), rng_(seed) {
  double total = 0.0;
  for (const RateBand& b : settings.bands) total += b.weight;
  double running = 0.0;
  for (const RateBand& b : settings.bands) {
    running += b.weight;
    cumulative_band_weight_.push_back(running / total);
  }
  if (!cumulative_band_weight_.empty()) cumulative_band_weight_.back() = 1.0;
}

double RateSegmentSampler::NextRate() {
  const SegmentedRateSettings& s = *settings_;
  switch (s.rate_choice) {
    case RateChoice::kBands: {
      // Two draws per rate whatever the band: one picks the band, one the rate within it.
      const double u = rng_.Uniform01();
      size_t band = 0;
      while (band + 1 < cumulative_band_weight_.size() &&
             !(u < cumulative_band_weight_[band] && s.bands[band].weight > 0.0)) {
        ++band;
      }
      // u can pass the last positive band's cumulative weight only by rounding.
      while (band > 0 && s.bands[band].weight <= 0.0) --band;
      return rng_.Uniform(s.bands[band].min_rps, s.bands[band].max_rps);
    }
    case RateChoice::kUniform:
      return rng_.Uniform(s.min_rate_rps, s.max_rate_rps);
    case RateChoice::kLogUniform:
      return std::exp(rng_.Uniform(std::log(s.min_rate_rps), std::log(s.max_rate_rps)));
    case RateChoice::kRandomWalk: {
      if (previous_rate_ < 0.0) return rng_.Uniform(s.min_rate_rps, s.max_rate_rps);
      const double step = rng_.Uniform(-s.random_walk_step_rps, s.random_walk_step_rps);
      return Reflect(previous_rate_ + step, s.min_rate_rps, s.max_rate_rps);
    }
  }
  return s.min_rate_rps;
}

RateSegment RateSegmentSampler::Next() {
  RateSegment segment;
  segment.rate_rps = NextRate();
  // A uniform draw on [lo, hi) never returns hi; a rate of exactly 0 cannot happen (lo > 0).
  previous_rate_ = segment.rate_rps;
  segment.mean_requests =
      settings_->segment_mean_requests + settings_->segment_requests_per_rps * segment.rate_rps;
  segment.requests = settings_->segment_geometric_min == 1
                         ? rng_.GeometricAtLeastOne(segment.mean_requests)
                         : GeometricAtLeastZero(rng_, segment.mean_requests);
  return segment;
}

SegmentedRateWorkload::SegmentedRateWorkload(std::string kind, SegmentedRateSettings settings)
    : kind_(std::move(kind)), settings_(std::move(settings)) {
  ValidateSegmentedRateSettings(settings_, nullptr);
}

std::unique_ptr<WorkloadGenerator> SegmentedRateWorkload::Unpredictable1FromConfig(
    const ConfigNode& section) {
  section.CheckKeys({"kind", "num_requests", "duration_s", "rate_bands", "segment_requests_per_rps",
                     "segment_geometric_min", "start_s", "task_mix"});
  SegmentedRateSettings s = SegmentedRateSettings::Unpredictable1();
  ParseStop(section, &s);
  if (section.Has("rate_bands")) {
    const ConfigNode list = section.Child("rate_bands");
    list.ExpectSequence("rate bands {weight, min_rps, max_rps}");
    s.bands.clear();
    for (size_t i = 0; i < list.size(); ++i) {
      const ConfigNode band = list.Element(i);
      band.ExpectMap("a rate band {weight, min_rps, max_rps}");
      band.CheckKeys({"weight", "min_rps", "max_rps"});
      s.bands.push_back({band.GetDouble("weight"), band.GetPositiveDouble("min_rps"),
                         band.GetPositiveDouble("max_rps")});
    }
  }
  s.segment_requests_per_rps =
      section.GetNonNegativeDouble("segment_requests_per_rps", s.segment_requests_per_rps);
  ValidateSegmentedRateSettings(s, &section);
  return std::make_unique<SegmentedRateWorkload>("unpredictable1", std::move(s));
}

std::unique_ptr<WorkloadGenerator> SegmentedRateWorkload::Unpredictable2FromConfig(
    const ConfigNode& section) {
  section.CheckKeys({"kind", "num_requests", "duration_s", "min_rate_rps", "max_rate_rps",
                     "rate_choice", "random_walk_step_rps", "segment_mean_requests",
                     "segment_geometric_min", "start_s", "task_mix"});
  SegmentedRateSettings s = SegmentedRateSettings::Unpredictable2();
  ParseStop(section, &s);
  s.min_rate_rps = section.GetPositiveDouble("min_rate_rps", s.min_rate_rps);
  s.max_rate_rps = section.GetPositiveDouble("max_rate_rps", s.max_rate_rps);
  if (section.Has("rate_choice")) {
    const ConfigNode node = section.Child("rate_choice");
    const std::string choice = node.AsString();
    if (choice == "uniform") {
      s.rate_choice = RateChoice::kUniform;
    } else if (choice == "log_uniform") {
      s.rate_choice = RateChoice::kLogUniform;
    } else if (choice == "random_walk") {
      s.rate_choice = RateChoice::kRandomWalk;
    } else {
      node.Fail(fmt::format(
          "unknown rate_choice '{}'; valid choices: uniform, log_uniform, random_walk", choice));
    }
  }
  if (section.Has("random_walk_step_rps") && s.rate_choice != RateChoice::kRandomWalk) {
    section.Child("random_walk_step_rps")
        .Fail("'random_walk_step_rps' applies only with rate_choice: random_walk");
  }
  s.random_walk_step_rps =
      section.GetPositiveDouble("random_walk_step_rps", s.random_walk_step_rps);
  s.segment_mean_requests =
      section.GetNonNegativeDouble("segment_mean_requests", s.segment_mean_requests);
  ValidateSegmentedRateSettings(s, &section);
  return std::make_unique<SegmentedRateWorkload>("unpredictable2", std::move(s));
}

Workload SegmentedRateWorkload::Generate(const WorkloadContext& ctx) const {
  BS_CHECK(ctx.tasks != nullptr);
  const TaskMixSchedule mix = TaskMixSchedule::Parse(settings_.task_mix, *ctx.tasks);
  RateSegmentSampler segments(settings_, DeriveSeed(ctx.seed, "segments"));
  Rng arrivals(DeriveSeed(ctx.seed, "arrivals"));
  Workload workload;
  const bool by_count = settings_.num_requests > 0;
  if (by_count) workload.reserve(static_cast<size_t>(settings_.num_requests));
  RequestSink sink(ctx, mix, &workload);
  const double end_s = settings_.start_s + settings_.duration_s;
  double t = settings_.start_s;
  while (true) {
    const RateSegment segment = segments.Next();
    for (int64_t k = 0; k < segment.requests; ++k) {
      if (by_count && sink.size() >= settings_.num_requests) return workload;
      t += arrivals.Exponential(segment.rate_rps);
      if (!by_count && t >= end_s) return workload;
      sink.Add(t, segment.rate_rps);
    }
    if (by_count && sink.size() >= settings_.num_requests) return workload;
  }
}

std::string SegmentedRateWorkload::Describe() const {
  const SegmentedRateSettings& s = settings_;
  std::string rates;
  if (s.rate_choice == RateChoice::kBands) {
    std::vector<std::string> bands;
    for (const RateBand& b : s.bands) {
      bands.push_back(fmt::format("{}:[{}, {}]", b.weight, b.min_rps, b.max_rps));
    }
    rates = fmt::format("rate bands {}", fmt::join(bands, " "));
  } else {
    rates = fmt::format("{} rate in [{}, {}] rps", RateChoiceName(s.rate_choice), s.min_rate_rps,
                        s.max_rate_rps);
    if (s.rate_choice == RateChoice::kRandomWalk) {
      rates += fmt::format(" (step {} rps)", s.random_walk_step_rps);
    }
  }
  std::string mean;
  if (s.segment_requests_per_rps > 0.0 && s.segment_mean_requests > 0.0) {
    mean = fmt::format("{} + {} x rate", s.segment_mean_requests, s.segment_requests_per_rps);
  } else if (s.segment_requests_per_rps > 0.0) {
    mean = fmt::format("{} x rate", s.segment_requests_per_rps);
  } else {
    mean = fmt::format("{}", s.segment_mean_requests);
  }
  const std::string stop = s.num_requests > 0 ? fmt::format("{} requests", s.num_requests)
                                              : fmt::format("{} s", s.duration_s);
  return fmt::format("{}({}, {}, geometric segments from {} with mean {} requests)", kind_, stop,
                     rates, s.segment_geometric_min, mean);
}

// Registered in workloads/registry.cpp.
extern const WorkloadKind kUnpredictable1Workload{
    "unpredictable1", "the paper's unpredictable workload #1 (rate segments)",
    [](const ConfigNode& s, const std::string&) { return SegmentedRateWorkload::Unpredictable1FromConfig(s); }};
extern const WorkloadKind kUnpredictable2Workload{
    "unpredictable2", "the paper's unpredictable workload #2 (rate segments)",
    [](const ConfigNode& s, const std::string&) { return SegmentedRateWorkload::Unpredictable2FromConfig(s); }};

}  // namespace bestserve
