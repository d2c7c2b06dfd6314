#include "workloads/maf_fit.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>

#include "common/config.h"
#include "common/error.h"
#include "common/quantile.h"
#include "common/rng.h"
#include "workloads/trace_reader.h"
#include "workloads/workload_stats.h"

namespace bestserve {
namespace {

constexpr double kMaf2StartIntensities[] = {1.0, 10.0, 100.0, 1000.0};

double Mean(const std::vector<double>& v) {
  double s = 0.0;
  for (double x : v) s += x;
  return v.empty() ? kUnset : s / static_cast<double>(v.size());
}

double PopulationSd(const std::vector<double>& v) {
  const double m = Mean(v);
  double s = 0.0;
  for (double x : v) s += (x - m) * (x - m);
  return v.empty() ? kUnset : std::sqrt(s / static_cast<double>(v.size()));
}

// Log-normal AR(1) moment estimates from counts c_k (positive), using only pairs where both
// minutes are `usable`: log_sd^2 = var(log c) - 1/mean(c); ar1 = cov1 / log_sd^2.
struct LogMoments {
  double log_sd = 0.0;
  double ar1 = 0.0;
  double raw_log_var = 0.0;
  double poisson_var = 0.0;
};

LogMoments EstimateLogMoments(const std::vector<double>& counts, const std::vector<bool>& usable) {
  std::vector<double> logs;
  std::vector<double> kept;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (!usable[i]) continue;
    if (!(counts[i] > 0.0)) ThrowConfigError("fit: a usable minute has no arrivals");
    logs.push_back(std::log(counts[i]));
    kept.push_back(counts[i]);
  }
  if (logs.size() < 3) ThrowConfigError("fit: fewer than 3 usable minutes");
  const double mean_log = Mean(logs);
  double var = 0.0;
  for (double l : logs) var += (l - mean_log) * (l - mean_log);
  var /= static_cast<double>(logs.size());
  double cov = 0.0;
  int64_t pairs = 0;
  for (size_t i = 0; i + 1 < counts.size(); ++i) {
    if (!usable[i] || !usable[i + 1]) continue;
    cov += (std::log(counts[i]) - mean_log) * (std::log(counts[i + 1]) - mean_log);
    ++pairs;
  }
  cov /= static_cast<double>(std::max<int64_t>(pairs, 1));
  LogMoments m;
  m.raw_log_var = var;
  m.poisson_var = 1.0 / Mean(kept);
  const double signal = var - m.poisson_var;
  if (!(signal > 0.0)) {
    ThrowConfigError(
        "fit: per-minute log-count variance {} does not exceed the Poisson part {}; "
        "no modulation to fit",
        var, m.poisson_var);
  }
  m.log_sd = std::sqrt(signal);
  m.ar1 = cov / signal;
  if (!(m.ar1 >= 0.0 && m.ar1 < 1.0)) {
    ThrowConfigError("fit: the lag-1 correlation estimate {} is outside [0, 1)", m.ar1);
  }
  return m;
}

struct ReplicateStats {
  std::vector<double> mean_rate, p2m_1s, p2m_60s, cv_iat, cv_60s, lag1_60s;
};

ReplicateStats RunReplicates(const ModulatedSettings& settings, int replicates, uint64_t seed) {
  const ModulatedWorkload generator("fit", settings);
  ReplicateStats out;
  std::vector<double> times, rates;
  for (int r = 0; r < replicates; ++r) {
    generator.GenerateArrivals(DeriveSeed(seed, fmt::format("fit/replicate{}", r)), &times, &rates);
    ArrivalData data;
    data.arrival_s = std::move(times);
    const WorkloadStats s = ComputeStats(data);
    times = std::move(data.arrival_s);
    out.mean_rate.push_back(s.mean_rate_rps);
    out.p2m_1s.push_back(s.windows_1s.peak_to_mean);
    out.p2m_60s.push_back(s.windows_60s.peak_to_mean);
    out.cv_iat.push_back(s.cv_interarrival);
    out.cv_60s.push_back(s.windows_60s.cv);
    out.lag1_60s.push_back(s.windows_60s.lag1);
  }
  return out;
}

FitStatistic Stat(std::string name, double target, const std::vector<double>& achieved,
                  bool in_objective) {
  return FitStatistic{std::move(name), target, Mean(achieved), PopulationSd(achieved),
                      in_objective};
}

// Nelder-Mead on R^n (standard coefficients 1, 2, 0.5, 0.5).
std::vector<double> NelderMead(const std::function<double(const std::vector<double>&)>& f,
                               std::vector<double> start, double step, int max_evaluations,
                               int* evaluations, double* best_value) {
  const size_t n = start.size();
  std::vector<std::vector<double>> simplex(n + 1, start);
  for (size_t i = 0; i < n; ++i) simplex[i + 1][i] += step;
  std::vector<double> values(n + 1);
  int evals = 0;
  auto eval = [&](const std::vector<double>& x) {
    ++evals;
    return f(x);
  };
  for (size_t i = 0; i <= n; ++i) values[i] = eval(simplex[i]);
  while (evals < max_evaluations) {
    std::vector<size_t> order(n + 1);
    for (size_t i = 0; i <= n; ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return values[a] < values[b]; });
    std::vector<std::vector<double>> s2;
    std::vector<double> v2;
    for (size_t i : order) {
      s2.push_back(simplex[i]);
      v2.push_back(values[i]);
    }
    simplex = s2;
    values = v2;
    double size = 0.0;
    for (size_t i = 1; i <= n; ++i) {
      for (size_t j = 0; j < n; ++j) size = std::max(size, std::abs(simplex[i][j] - simplex[0][j]));
    }
    if (values[n] - values[0] < 1e-7 && size < 1e-3) break;
    std::vector<double> centroid(n, 0.0);
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = 0; j < n; ++j) centroid[j] += simplex[i][j] / static_cast<double>(n);
    }
    auto along = [&](double t) {
      std::vector<double> x(n);
      for (size_t j = 0; j < n; ++j) x[j] = centroid[j] + t * (simplex[n][j] - centroid[j]);
      return x;
    };
    const std::vector<double> reflected = along(-1.0);
    const double fr = eval(reflected);
    if (fr < values[0]) {
      const std::vector<double> expanded = along(-2.0);
      const double fe = eval(expanded);
      if (fe < fr) {
        simplex[n] = expanded;
        values[n] = fe;
      } else {
        simplex[n] = reflected;
        values[n] = fr;
      }
    } else if (fr < values[n - 1]) {
      simplex[n] = reflected;
      values[n] = fr;
    } else {
      const bool outside = fr < values[n];
      const std::vector<double> contracted = along(outside ? -0.5 : 0.5);
      const double fc = eval(contracted);
      if (fc < std::min(fr, values[n])) {
        simplex[n] = contracted;
        values[n] = fc;
      } else {
        for (size_t i = 1; i <= n; ++i) {
          for (size_t j = 0; j < n; ++j)
            simplex[i][j] = simplex[0][j] + 0.5 * (simplex[i][j] - simplex[0][j]);
          values[i] = eval(simplex[i]);
        }
      }
    }
  }
  const size_t best =
      static_cast<size_t>(std::min_element(values.begin(), values.end()) - values.begin());
  *evaluations = evals;
  *best_value = values[best];
  return simplex[best];
}

std::string YamlNumber(double v) {
  if (std::isnan(v)) return ".nan";
  return fmt::format("{}", v);
}

}  // namespace

MafFit FitMaf1(const std::string& path, int replicates, uint64_t seed) {
  BS_CHECK(replicates >= 2);
  std::vector<double> totals;
  std::vector<int> minutes;
  ReadAzureFunctions2019Rows(path, [&](const Azure2019Row& row) {
    if (totals.empty()) {
      totals.assign(row.counts->size(), 0.0);
      minutes = *row.minutes;
    }
    for (size_t i = 0; i < row.counts->size(); ++i)
      totals[i] += static_cast<double>((*row.counts)[i]);
  });
  if (totals.size() < 10) ThrowConfigError("{}: fit needs at least 10 minute columns", path);
  for (size_t i = 1; i < minutes.size(); ++i) {
    if (minutes[i] != minutes[i - 1] + 1) {
      ThrowConfigError("{}: fit needs consecutive minute columns; {} follows {}", path, minutes[i],
                       minutes[i - 1]);
    }
  }
  const auto m = static_cast<double>(totals.size());
  double total = 0.0;
  for (double c : totals) total += c;
  std::vector<double> sorted = totals;
  std::sort(sorted.begin(), sorted.end());
  const double median = Quantile(sorted, 0.5, kUnset);
  std::vector<bool> dip(totals.size());
  int64_t dip_minutes = 0;
  int64_t episodes = 0;
  double dip_sum = 0.0, normal_sum = 0.0;
  for (size_t i = 0; i < totals.size(); ++i) {
    dip[i] = totals[i] < kDipThreshold * median;
    if (dip[i]) {
      ++dip_minutes;
      dip_sum += totals[i];
      if (i == 0 || !dip[i - 1]) ++episodes;
    } else {
      normal_sum += totals[i];
    }
  }
  const auto normal_minutes = static_cast<double>(totals.size()) - static_cast<double>(dip_minutes);
  std::vector<bool> usable(dip.size());
  for (size_t i = 0; i < dip.size(); ++i) usable[i] = !dip[i];
  const LogMoments moments = EstimateLogMoments(totals, usable);

  MafFit fit;
  fit.kind = "maf1_like";
  fit.trace_path = path;
  fit.trace_format = "azure_functions_2019";
  fit.trace_requests = static_cast<int64_t>(total);
  fit.trace_duration_s = m * 60.0;
  fit.replicates = replicates;
  fit.seed = seed;
  ModulatedSettings s = ModulatedSettings::Maf1Defaults();
  s.mean_rate_rps = total / (m * 60.0);
  s.interval_s = 60.0;
  s.log_sd = moments.log_sd;
  s.ar1 = moments.ar1;
  s.diurnal_amplitude = 0.0;
  s.start_time_of_day_s = static_cast<double>(minutes.front() - 1) * 60.0;
  if (episodes > 0) {
    s.dip_depth = (dip_sum / static_cast<double>(dip_minutes)) / (normal_sum / normal_minutes);
    s.dip_mean_intervals = static_cast<double>(dip_minutes) / static_cast<double>(episodes);
    s.dip_starts_per_hour = static_cast<double>(episodes) / (normal_minutes / 60.0);
  } else {
    s.dip_depth = 1.0;
    s.dip_mean_intervals = 1.0;
    s.dip_starts_per_hour = 0.0;
  }
  s.burst_fraction = 0.0;
  s.num_requests = 0;
  s.duration_s = m * 60.0;
  fit.fitted = s;
  fit.estimated_keys = {"mean_rate_rps",
                        "log_sd",
                        "ar1",
                        "dip_starts_per_hour",
                        "dip_mean_intervals",
                        "dip_depth",
                        "start_time_of_day_s"};
  fit.fixed_keys = {"interval_s", "diurnal_amplitude", "burst_fraction"};
  fit.method = {
      fmt::format("Per-minute totals summed over every function row, {} minutes.", totals.size()),
      fmt::format("Dip minutes: total < {} x median ({}); {} dip minutes in {} episodes.",
                  kDipThreshold, median, dip_minutes, episodes),
      fmt::format("Non-dip log totals: variance {} minus Poisson part {} gives log_sd; lag-1 "
                  "autocovariance / log_sd^2 gives ar1.",
                  moments.raw_log_var, moments.poisson_var),
      "diurnal_amplitude stays 0: a 4-hour window cannot identify a 24-hour cycle (the linear "
      "trend over the window is within the per-minute noise).",
      "Trace peak-to-mean over 1 s and the inter-arrival CV are undefined (1-minute data); the "
      "generator's values are reported for reference.",
  };

  // The trace's own statistics from the minute totals (definitions of the traces README).
  double var = 0.0, cov = 0.0;
  const double mean_count = total / m;
  for (size_t i = 0; i < totals.size(); ++i)
    var += (totals[i] - mean_count) * (totals[i] - mean_count);
  for (size_t i = 0; i + 1 < totals.size(); ++i) {
    cov += (totals[i] - mean_count) * (totals[i + 1] - mean_count);
  }
  const double p2m60 = sorted.back() / mean_count;
  const double cv60 = std::sqrt(var / m) / mean_count;
  const double lag1 = cov / var;
  const ReplicateStats r = RunReplicates(s, replicates, seed);
  fit.statistics = {
      Stat("mean_rate_rps", s.mean_rate_rps, r.mean_rate, true),
      Stat("peak_to_mean_60s", p2m60, r.p2m_60s, false),
      Stat("cv_counts_60s", cv60, r.cv_60s, false),
      Stat("lag1_counts_60s", lag1, r.lag1_60s, false),
      Stat("peak_to_mean_1s", kUnset, r.p2m_1s, false),
      Stat("cv_interarrival", kUnset, r.cv_iat, false),
  };
  return fit;
}

MafFit FitMaf2(const std::string& path, int replicates, uint64_t seed) {
  BS_CHECK(replicates >= 2);
  const ArrivalData data = LoadArrivalData(path, "azure_llm");
  const WorkloadStats target = ComputeStats(data);
  if (!(target.duration_s > 120.0))
    ThrowConfigError("{}: fit needs a trace longer than 2 minutes", path);
  // Full minutes only: the last, partial minute would bias the count moments.
  const auto full = static_cast<size_t>(std::floor(target.duration_s / 60.0));
  std::vector<double> counts(full, 0.0);
  for (double t : data.arrival_s) {
    const auto k = static_cast<size_t>((t - target.first_s) / 60.0);
    if (k < full) counts[k] += 1.0;
  }
  const LogMoments moments = EstimateLogMoments(counts, std::vector<bool>(full, true));

  ModulatedSettings base = ModulatedSettings::Maf2Defaults();
  base.mean_rate_rps = target.mean_rate_rps;
  base.ar1 = moments.ar1;
  base.num_requests = 0;
  base.duration_s = target.duration_s;
  base.dip_starts_per_hour = 0.0;
  base.diurnal_amplitude = 0.0;
  base.burst_alpha = 1.5;
  base.burst_min_requests = 2;
  base.burst_max_requests = 0;
  auto settings_at = [&](const std::vector<double>& u) {
    ModulatedSettings s = base;
    s.log_sd = std::min(std::exp(u[0]), 5.0);
    s.burst_fraction = 1.0 / (1.0 + std::exp(-u[1]));
    s.burst_fraction = std::min(s.burst_fraction, 0.95);
    s.burst_intensity_rps = std::exp(u[2]);
    return s;
  };
  const std::array<double, 3> goal = {target.windows_1s.peak_to_mean,
                                      target.windows_60s.peak_to_mean, target.cv_interarrival};
  auto objective = [&](const std::vector<double>& u) {
    const ReplicateStats r = RunReplicates(settings_at(u), replicates, seed);
    const std::array<double, 3> got = {Mean(r.p2m_1s), Mean(r.p2m_60s), Mean(r.cv_iat)};
    double sum = 0.0;
    for (size_t i = 0; i < 3; ++i) sum += std::pow(std::log(got[i] / goal[i]), 2);
    return sum;
  };
  // Starts: the moment estimate of log_sd, 5% of requests in bursts, and burst intensities a
  // decade apart (slow sessions to near-simultaneous pairs: the objective has several local
  // minima along that axis). The best end point wins; ties keep the earlier start.
  MafFit fit;
  std::vector<double> best;
  fit.objective = std::numeric_limits<double>::infinity();
  for (const double intensity : kMaf2StartIntensities) {
    const std::vector<double> start = {std::log(moments.log_sd), std::log(0.05 / 0.95),
                                       std::log(intensity)};
    int evaluations = 0;
    double value = 0.0;
    const std::vector<double> end = NelderMead(objective, start, 0.5, 240, &evaluations, &value);
    fit.evaluations += evaluations;
    if (value < fit.objective) {
      fit.objective = value;
      best = end;
    }
  }
  ModulatedSettings s = settings_at(best);
  fit.kind = "maf2_like";
  fit.trace_path = path;
  fit.trace_format = "azure_llm";
  fit.trace_requests = target.count;
  fit.trace_duration_s = target.duration_s;
  fit.replicates = replicates;
  fit.seed = seed;
  fit.fitted = s;
  fit.estimated_keys = {"mean_rate_rps", "ar1", "log_sd", "burst_fraction", "burst_intensity_rps"};
  fit.fixed_keys = {"interval_s",         "burst_alpha",         "burst_min_requests",
                    "burst_max_requests", "dip_starts_per_hour", "diurnal_amplitude"};
  fit.method = {
      "Trace statistics per shared/traces/README.md (N/T, peak-to-mean over 1 s and 60 s, "
      "population CV of gaps).",
      fmt::format("ar1 from {} full minutes: lag-1 autocovariance of log counts / (log variance "
                  "{} minus Poisson part {}); that moment log_sd ({}) is the search's start.",
                  full, moments.raw_log_var, moments.poisson_var, moments.log_sd),
      fmt::format("log_sd, burst_fraction, burst_intensity_rps: Nelder-Mead on (log, logit, log) "
                  "scale minimizing the sum of squared log-ratios of the replicate-mean "
                  "peak_to_mean_1s, peak_to_mean_60s, cv_interarrival to the trace's; started "
                  "from burst intensities 1, 10, 100 and 1000 rps, {} evaluations in all, {} "
                  "replicates each, common random numbers.",
                  fit.evaluations, replicates),
      "burst_alpha = 1.5 and burst_min_requests = 2 are fixed (heavy-tailed, infinite-variance "
      "burst sizes); four statistics cannot identify them as well.",
      "No MAF2 (Azure Functions 2021) trace is available here; the Azure LLM inference 2023 "
      "conversation trace is the bursty real trace we fit to.",
  };
  const ReplicateStats r = RunReplicates(s, replicates, seed);
  fit.statistics = {
      Stat("mean_rate_rps", target.mean_rate_rps, r.mean_rate, true),
      Stat("peak_to_mean_1s", target.windows_1s.peak_to_mean, r.p2m_1s, true),
      Stat("peak_to_mean_60s", target.windows_60s.peak_to_mean, r.p2m_60s, true),
      Stat("cv_interarrival", target.cv_interarrival, r.cv_iat, true),
      Stat("cv_counts_60s", target.windows_60s.cv, r.cv_60s, false),
      Stat("lag1_counts_60s", target.windows_60s.lag1, r.lag1_60s, false),
  };
  return fit;
}

std::string FormatMafFitYaml(const MafFit& fit, const std::string& command) {
  const ModulatedSettings& s = fit.fitted;
  std::string out;
  out += fmt::format("# Fit of {} (workloads/maf_like.h) to a real trace; written by\n#   {}\n",
                     fit.kind, command);
  out += "# The generator's compiled defaults (ModulatedSettings::";
  out += fit.kind == "maf1_like" ? "Maf1Defaults" : "Maf2Defaults";
  out += ") must equal `fitted`; tests check it.\n";
  out += fmt::format("kind: {}\n", fit.kind);
  out += "trace:\n";
  out += fmt::format("  file: {}\n", std::filesystem::path(fit.trace_path).filename().string());
  out += fmt::format("  format: {}\n", fit.trace_format);
  out += fmt::format("  requests: {}\n", fit.trace_requests);
  out += fmt::format("  duration_s: {}\n", YamlNumber(fit.trace_duration_s));
  out += "fitted:\n";
  const std::vector<std::pair<std::string, double>> values = {
      {"mean_rate_rps", s.mean_rate_rps},
      {"interval_s", s.interval_s},
      {"log_sd", s.log_sd},
      {"ar1", s.ar1},
      {"start_time_of_day_s", s.start_time_of_day_s},
      {"diurnal_amplitude", s.diurnal_amplitude},
      {"dip_starts_per_hour", s.dip_starts_per_hour},
      {"dip_mean_intervals", s.dip_mean_intervals},
      {"dip_depth", s.dip_depth},
      {"burst_fraction", s.burst_fraction},
      {"burst_alpha", s.burst_alpha},
      {"burst_min_requests", static_cast<double>(s.burst_min_requests)},
      {"burst_max_requests", static_cast<double>(s.burst_max_requests)},
      {"burst_intensity_rps", s.burst_intensity_rps},
  };
  for (const auto& [key, value] : values) {
    const bool estimated = std::find(fit.estimated_keys.begin(), fit.estimated_keys.end(), key) !=
                           fit.estimated_keys.end();
    out += fmt::format("  {}: {}{}\n", key, YamlNumber(value), estimated ? "  # estimated" : "");
  }
  out += "statistics:  # target = the trace; achieved = the generator at `fitted`\n";
  out += fmt::format("  replicates: {}\n  seed: {}\n", fit.replicates, fit.seed);
  for (const FitStatistic& st : fit.statistics) {
    out += fmt::format(
        "  {}: {{target: {}, achieved_mean: {}, achieved_sd: {}, "
        "in_objective: {}}}\n",
        st.name, YamlNumber(st.target), YamlNumber(st.achieved_mean), YamlNumber(st.achieved_sd),
        st.in_objective ? "true" : "false");
  }
  if (fit.evaluations > 0) {
    out += fmt::format("search: {{evaluations: {}, objective: {}}}\n", fit.evaluations,
                       YamlNumber(fit.objective));
  }
  out += "method:\n";
  for (const std::string& line : fit.method) {
    std::string escaped;
    for (char c : line) escaped += c == '"' ? std::string("\\\"") : std::string(1, c);
    out += fmt::format("  - \"{}\"\n", escaped);
  }
  return out;
}

ModulatedSettings ReadMafFitSettings(const std::string& yaml_path, ModulatedSettings s) {
  const ConfigNode root = ConfigNode::LoadFile(yaml_path);
  const ConfigNode f = root.Child("fitted");
  s.mean_rate_rps = f.GetDouble("mean_rate_rps");
  s.interval_s = f.GetDouble("interval_s");
  s.log_sd = f.GetDouble("log_sd");
  s.ar1 = f.GetDouble("ar1");
  s.start_time_of_day_s = f.GetDouble("start_time_of_day_s");
  s.diurnal_amplitude = f.GetDouble("diurnal_amplitude");
  s.dip_starts_per_hour = f.GetDouble("dip_starts_per_hour");
  s.dip_mean_intervals = f.GetDouble("dip_mean_intervals");
  s.dip_depth = f.GetDouble("dip_depth");
  s.burst_fraction = f.GetDouble("burst_fraction");
  s.burst_alpha = f.GetDouble("burst_alpha");
  s.burst_min_requests = f.GetInt("burst_min_requests");
  s.burst_max_requests = f.GetInt("burst_max_requests");
  s.burst_intensity_rps = f.GetDouble("burst_intensity_rps");
  return s;
}

}  // namespace bestserve
