#include "workloads/mmpp.h"

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

constexpr double kRowSumTolerance = 1e-9;
// A chain that visits this many states in a row without one arrival (all-zero-rate states with
// a request-count stop) would loop forever; we stop and say so.
constexpr int64_t kMaxVisitsWithoutArrival = 10'000'000;

std::vector<std::vector<double>> ParseMatrix(const ConfigNode& node, size_t n,
                                             std::string_view what) {
  node.ExpectSequence(what);
  if (node.size() != n) {
    node.Fail(fmt::format("expected {} rows (one per state), got {}", n, node.size()));
  }
  std::vector<std::vector<double>> m(n, std::vector<double>(n, 0.0));
  for (size_t i = 0; i < n; ++i) {
    const ConfigNode row = node.Element(i);
    row.ExpectSequence("a matrix row");
    if (row.size() != n) {
      row.Fail(fmt::format("expected {} entries (one per state), got {}", n, row.size()));
    }
    for (size_t j = 0; j < n; ++j) {
      const double v = row.Element(j).AsDouble();
      if (!std::isfinite(v))
        row.Element(j).Fail(fmt::format("expected a finite number, got {}", v));
      m[i][j] = v;
    }
  }
  return m;
}

// Samples an index from non-negative weights (sum > 0) with one Uniform01 draw.
size_t SampleIndex(Rng& rng, const std::vector<double>& weights, double total) {
  const double u = rng.Uniform01() * total;
  double running = 0.0;
  size_t last_positive = 0;
  for (size_t j = 0; j < weights.size(); ++j) {
    if (weights[j] <= 0.0) continue;
    running += weights[j];
    last_positive = j;
    if (u < running) return j;
  }
  return last_positive;  // u reached the total only by rounding
}

}  // namespace

DwellSpec DwellSpec::Parse(const ConfigNode& node) {
  node.ExpectMap("dwell settings {kind, ...}");
  DwellSpec d;
  const ConfigNode kind_node = node.Child("kind");
  const std::string kind = kind_node.AsString();
  if (kind == "exponential") {
    node.CheckKeys({"kind", "mean_s"});
    d.kind = Kind::kExponential;
    d.a = node.GetPositiveDouble("mean_s");
  } else if (kind == "fixed") {
    node.CheckKeys({"kind", "duration_s"});
    d.kind = Kind::kFixed;
    d.a = node.GetPositiveDouble("duration_s");
  } else if (kind == "uniform") {
    node.CheckKeys({"kind", "min_s", "max_s"});
    d.kind = Kind::kUniform;
    d.a = node.GetNonNegativeDouble("min_s", 0.0);
    d.b = node.GetPositiveDouble("max_s");
    if (!(d.b > d.a)) node.Fail(fmt::format("expected min_s < max_s, got {} and {}", d.a, d.b));
  } else if (kind == "pareto") {
    node.CheckKeys({"kind", "min_s", "alpha"});
    d.kind = Kind::kPareto;
    d.a = node.GetPositiveDouble("min_s");
    d.b = node.GetPositiveDouble("alpha");
  } else if (kind == "geometric_requests") {
    node.CheckKeys({"kind", "mean_requests"});
    d.kind = Kind::kGeometricRequests;
    d.a = node.GetPositiveDouble("mean_requests");
    if (!(d.a >= 1.0)) {
      node.Child("mean_requests").Fail(fmt::format("expected a mean >= 1 request, got {}", d.a));
    }
  } else if (kind == "fixed_requests") {
    node.CheckKeys({"kind", "requests"});
    d.kind = Kind::kFixedRequests;
    const int64_t requests = node.GetInt("requests");
    if (requests < 1) node.Child("requests").Fail(fmt::format("expected >= 1, got {}", requests));
    d.a = static_cast<double>(requests);
  } else {
    kind_node.Fail(
        fmt::format("unknown dwell kind '{}'; valid kinds: exponential, fixed, "
                    "uniform, pareto, geometric_requests, fixed_requests",
                    kind));
  }
  return d;
}

double DwellSpec::MeanSeconds(double rate_rps) const {
  switch (kind) {
    case Kind::kExponential:
      return a;
    case Kind::kFixed:
      return a;
    case Kind::kUniform:
      return 0.5 * (a + b);
    case Kind::kPareto:
      return b > 1.0 ? a * b / (b - 1.0) : std::numeric_limits<double>::infinity();
    case Kind::kGeometricRequests:
    case Kind::kFixedRequests:
      return a / rate_rps;
  }
  return a;
}

double DwellSpec::SampleSeconds(Rng& rng) const {
  switch (kind) {
    case Kind::kExponential:
      return rng.Exponential(1.0 / a);
    case Kind::kFixed:
      return a;
    case Kind::kUniform:
      return rng.Uniform(a, b);
    case Kind::kPareto:
      return a * std::pow(rng.UniformOpen0(), -1.0 / b);
    default:
      BS_CHECK(false);
  }
  return a;
}

int64_t DwellSpec::SampleRequests(Rng& rng) const {
  if (kind == Kind::kFixedRequests) return static_cast<int64_t>(a);
  BS_CHECK(kind == Kind::kGeometricRequests);
  return rng.GeometricAtLeastOne(a);
}

std::string DwellSpec::Describe() const {
  switch (kind) {
    case Kind::kExponential:
      return fmt::format("exponential(mean {} s)", a);
    case Kind::kFixed:
      return fmt::format("fixed({} s)", a);
    case Kind::kUniform:
      return fmt::format("uniform[{}, {}] s", a, b);
    case Kind::kPareto:
      return fmt::format("pareto(min {} s, alpha {})", a, b);
    case Kind::kGeometricRequests:
      return fmt::format("geometric(mean {} requests)", a);
    case Kind::kFixedRequests:
      return fmt::format("{} requests", a);
  }
  return "";
}

std::optional<std::vector<double>> SolveStationary(const std::vector<std::vector<double>>& a) {
  const size_t n = a.size();
  BS_CHECK(n > 0);
  // pi A = 0  <=>  A^T pi^T = 0. Replace the last equation by sum(pi) = 1.
  std::vector<std::vector<double>> m(n, std::vector<double>(n + 1, 0.0));
  double scale = 0.0;
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) {
      m[i][j] = a[j][i];
      scale = std::max(scale, std::abs(a[j][i]));
    }
  }
  for (size_t j = 0; j < n; ++j) m[n - 1][j] = 1.0;
  m[n - 1][n] = 1.0;
  const double tiny = 1e-12 * std::max(scale, 1.0);
  for (size_t col = 0; col < n; ++col) {
    size_t pivot = col;
    for (size_t r = col + 1; r < n; ++r) {
      if (std::abs(m[r][col]) > std::abs(m[pivot][col])) pivot = r;
    }
    if (std::abs(m[pivot][col]) <= tiny) return std::nullopt;
    std::swap(m[pivot], m[col]);
    for (size_t r = 0; r < n; ++r) {
      if (r == col || m[r][col] == 0.0) continue;
      const double f = m[r][col] / m[col][col];
      for (size_t c = col; c <= n; ++c) m[r][c] -= f * m[col][c];
    }
  }
  std::vector<double> pi(n);
  for (size_t i = 0; i < n; ++i) {
    pi[i] = m[i][n] / m[i][i];
    // Rounding can leave -1e-17 where the answer is 0; anything clearly negative means the
    // system was not a chain's (a bug in the caller's validation).
    BS_CHECK_MSG(pi[i] > -1e-9, "stationary solution has a negative entry {}", pi[i]);
    pi[i] = std::max(pi[i], 0.0);
  }
  return pi;
}

MmppWorkload::MmppWorkload(MmppSettings settings) : settings_(std::move(settings)) {
  const MmppSettings& s = settings_;
  const size_t n = s.states.size();
  if (n == 0) ThrowConfigError("mmpp: expected at least one state");
  const bool ctmc = !s.generator.empty();
  if (ctmc == !s.transitions.empty()) {
    ThrowConfigError("mmpp: expected exactly one of 'generator' or 'transitions'");
  }
  bool any_positive_rate = false;
  for (const MmppState& st : s.states) {
    if (!(st.rate_rps >= 0.0) || !std::isfinite(st.rate_rps)) {
      ThrowConfigError("mmpp: state '{}': expected rate_rps >= 0, got {}", st.name, st.rate_rps);
    }
    any_positive_rate = any_positive_rate || st.rate_rps > 0.0;
    if (ctmc && st.dwell) {
      ThrowConfigError(
          "mmpp: state '{}': 'dwell' is implied by the generator (exponential with "
          "rate -Q[i][i]); give dwells only with 'transitions'",
          st.name);
    }
    if (!ctmc && !st.dwell) {
      ThrowConfigError(
          "mmpp: state '{}': expected a 'dwell' (semi-Markov chains need one per "
          "state)",
          st.name);
    }
    if (st.dwell && st.dwell->counts_requests() && !(st.rate_rps > 0.0)) {
      ThrowConfigError("mmpp: state '{}': a request-count dwell needs rate_rps > 0, got {}",
                       st.name, st.rate_rps);
    }
  }
  if (!any_positive_rate) ThrowConfigError("mmpp: expected at least one state with rate_rps > 0");
  const auto& matrix = ctmc ? s.generator : s.transitions;
  if (matrix.size() != n) {
    ThrowConfigError("mmpp: expected a {} x {} matrix (one row per state), got {} rows", n, n,
                     matrix.size());
  }
  std::vector<std::vector<double>> chain(n, std::vector<double>(n, 0.0));
  for (size_t i = 0; i < n; ++i) {
    if (matrix[i].size() != n) {
      ThrowConfigError("mmpp: matrix row {} ('{}'): expected {} entries, got {}", i,
                       s.states[i].name, n, matrix[i].size());
    }
    double off = 0.0;
    for (size_t j = 0; j < n; ++j) {
      const double v = matrix[i][j];
      if ((ctmc ? i != j : true) && !(v >= 0.0)) {
        ThrowConfigError("mmpp: matrix row {} ('{}'), entry {}: expected >= 0, got {}", i,
                         s.states[i].name, j, v);
      }
      if (i != j || !ctmc) off += v;
    }
    if (ctmc) {
      if (std::abs(matrix[i][i] + off) > kRowSumTolerance * std::max(1.0, off)) {
        ThrowConfigError(
            "mmpp: generator row {} ('{}'): the diagonal must equal minus the sum "
            "of the other entries ({}), got {}",
            i, s.states[i].name, -off, matrix[i][i]);
      }
      chain[i] = matrix[i];
    } else {
      if (std::abs(off - 1.0) > kRowSumTolerance) {
        ThrowConfigError(
            "mmpp: transitions row {} ('{}'): expected probabilities summing to 1, "
            "got {}",
            i, s.states[i].name, off);
      }
      for (size_t j = 0; j < n; ++j) chain[i][j] = matrix[i][j] - (i == j ? 1.0 : 0.0);
    }
  }
  if (const auto pi = SolveStationary(chain)) {
    if (ctmc) {
      time_stationary_ = *pi;
    } else {
      // Time fractions of a semi-Markov process: jump-chain frequency x mean dwell.
      std::vector<double> weights(n);
      double total = 0.0;
      bool finite = true;
      for (size_t i = 0; i < n; ++i) {
        const double mean = s.states[i].dwell->MeanSeconds(s.states[i].rate_rps);
        finite = finite && std::isfinite(mean);
        weights[i] = (*pi)[i] * mean;
        total += weights[i];
      }
      if (finite && total > 0.0) {
        for (double& w : weights) w /= total;
        time_stationary_ = weights;
      }
    }
  }
  if (s.initial_state < 0 && time_stationary_.empty()) {
    ThrowConfigError(
        "mmpp: 'initial_state: stationary' needs a unique stationary distribution "
        "with finite mean dwells, and this chain has none (it is reducible, or a "
        "Pareto dwell has alpha <= 1); name an initial_state");
  }
  if (s.initial_state >= static_cast<int>(n)) {
    ThrowConfigError("mmpp: initial_state {} is out of range", s.initial_state);
  }
  if (s.num_requests <= 0 && !(s.duration_s > 0.0)) {
    ThrowConfigError("mmpp: expected num_requests > 0 or duration_s > 0");
  }
}

std::unique_ptr<WorkloadGenerator> MmppWorkload::FromConfig(const ConfigNode& section) {
  section.CheckKeys({"kind", "states", "generator", "transitions", "initial_state", "num_requests",
                     "duration_s", "start_s", "task_mix"});
  MmppSettings s;
  const ConfigNode states = section.Child("states");
  states.ExpectSequence("states {name, rate_rps, dwell}");
  if (states.size() == 0) states.Fail("expected at least one state");
  for (size_t i = 0; i < states.size(); ++i) {
    const ConfigNode node = states.Element(i);
    node.ExpectMap("a state {name, rate_rps, dwell}");
    node.CheckKeys({"name", "rate_rps", "dwell"});
    MmppState st;
    st.name = node.GetString("name", fmt::format("state{}", i));
    for (const MmppState& other : s.states) {
      if (other.name == st.name) node.Fail(fmt::format("state '{}' is defined twice", st.name));
    }
    st.rate_rps = node.GetDouble("rate_rps");
    if (!(st.rate_rps >= 0.0) || !std::isfinite(st.rate_rps)) {
      node.Child("rate_rps").Fail(fmt::format("expected a rate >= 0, got {}", st.rate_rps));
    }
    if (node.Has("dwell")) st.dwell = DwellSpec::Parse(node.Child("dwell"));
    s.states.push_back(std::move(st));
  }
  const bool has_generator = section.Has("generator");
  if (has_generator == section.Has("transitions")) {
    section.Fail(
        "expected exactly one of 'generator' (a continuous-time rate matrix) or "
        "'transitions' (jump probabilities with per-state dwells)");
  }
  if (has_generator) {
    s.generator = ParseMatrix(section.Child("generator"), s.states.size(), "generator rows");
  } else {
    s.transitions = ParseMatrix(section.Child("transitions"), s.states.size(), "transition rows");
  }
  if (section.Has("initial_state")) {
    const ConfigNode node = section.Child("initial_state");
    const std::string name = node.AsString();
    if (name != "stationary") {
      std::vector<std::string> names;
      for (size_t i = 0; i < s.states.size(); ++i) {
        if (s.states[i].name == name) s.initial_state = static_cast<int>(i);
        names.push_back(s.states[i].name);
      }
      if (s.initial_state < 0) {
        node.Fail(fmt::format("unknown state '{}'; expected 'stationary' or one of: {}", name,
                              fmt::join(names, ", ")));
      }
    }
  }
  if (section.Has("num_requests") && section.Has("duration_s")) {
    section.Fail("expected either 'num_requests' or 'duration_s', not both");
  }
  s.num_requests = section.GetPositiveInt("num_requests", 0);
  s.duration_s = section.GetPositiveDouble("duration_s", s.duration_s);
  s.start_s = section.GetNonNegativeDouble("start_s", 0.0);
  s.task_mix = section.MaybeChild("task_mix");
  try {
    return std::make_unique<MmppWorkload>(std::move(s));
  } catch (const ConfigError& e) {
    section.Fail(e.what());
  }
}

Workload MmppWorkload::GenerateWithPath(const WorkloadContext& ctx,
                                        std::vector<StateVisit>* path) const {
  BS_CHECK(ctx.tasks != nullptr);
  const MmppSettings& s = settings_;
  const TaskMixSchedule mix = TaskMixSchedule::Parse(s.task_mix, *ctx.tasks);
  Rng chain(DeriveSeed(ctx.seed, "mmpp_states"));
  Rng arrivals(DeriveSeed(ctx.seed, "arrivals"));
  Workload workload;
  const bool by_count = s.num_requests > 0;
  if (by_count) workload.reserve(static_cast<size_t>(s.num_requests));
  RequestSink sink(ctx, mix, &workload);
  const bool ctmc = !s.generator.empty();
  const size_t n = s.states.size();

  // Jump weights per state: off-diagonal generator rates, or transition probabilities.
  std::vector<std::vector<double>> jump(n);
  std::vector<double> jump_total(n, 0.0);
  for (size_t i = 0; i < n; ++i) {
    jump[i] = ctmc ? s.generator[i] : s.transitions[i];
    if (ctmc) jump[i][i] = 0.0;
    for (double w : jump[i]) jump_total[i] += w;
  }

  size_t state = s.initial_state >= 0 ? static_cast<size_t>(s.initial_state)
                                      : SampleIndex(chain, time_stationary_, 1.0);
  const double end_s = s.start_s + s.duration_s;
  double visit_start = s.start_s;
  int64_t visits_without_arrival = 0;
  if (path) path->clear();
  auto record = [&](double visit_end, int64_t requests) {
    if (path) path->push_back({static_cast<int>(state), visit_start, visit_end, requests});
  };
  while (true) {
    const MmppState& st = s.states[state];
    const double rate = st.rate_rps;
    int64_t served = 0;
    double visit_end = visit_start;
    if (st.dwell && st.dwell->counts_requests()) {
      const int64_t count = st.dwell->SampleRequests(chain);
      double t = visit_start;
      for (; served < count; ++served) {
        if (by_count && sink.size() >= s.num_requests) break;
        const double next = t + arrivals.Exponential(rate);
        if (!by_count && next >= end_s) {
          t = end_s;
          break;
        }
        t = next;
        sink.Add(t, rate);
      }
      visit_end = t;
      const bool stopped = served < count || (by_count && sink.size() >= s.num_requests);
      if (stopped) {
        record(visit_end, served);
        return workload;
      }
    } else {
      const double dwell = ctmc
                               ? (jump_total[state] > 0.0 ? chain.Exponential(jump_total[state])
                                                          : std::numeric_limits<double>::infinity())
                               : st.dwell->SampleSeconds(chain);
      visit_end = visit_start + dwell;
      const double stop_at = by_count ? visit_end : std::min(visit_end, end_s);
      double t = visit_start;
      if (rate > 0.0) {
        while (true) {
          if (by_count && sink.size() >= s.num_requests) {
            record(t, served);
            return workload;
          }
          const double next = t + arrivals.Exponential(rate);
          if (next >= stop_at) break;  // the crossing gap is discarded (memoryless)
          t = next;
          sink.Add(t, rate);
          ++served;
        }
      }
      if (!by_count && visit_end >= end_s) {
        record(end_s, served);
        return workload;
      }
      if (!std::isfinite(visit_end)) {
        throw Error(
            fmt::format("mmpp: absorbed in state '{}', whose rate is 0, before "
                        "num_requests = {} requests arrived",
                        st.name, s.num_requests));
      }
    }
    record(visit_end, served);
    visits_without_arrival = served > 0 ? 0 : visits_without_arrival + 1;
    if (visits_without_arrival >= kMaxVisitsWithoutArrival) {
      throw Error(
          fmt::format("mmpp: {} state visits in a row without an arrival; the chain "
                      "seems stuck in zero-rate states",
                      visits_without_arrival));
    }
    visit_start = visit_end;
    if (jump_total[state] > 0.0) state = SampleIndex(chain, jump[state], jump_total[state]);
  }
}

std::string MmppWorkload::Describe() const {
  std::vector<std::string> states;
  for (const MmppState& st : settings_.states) {
    states.push_back(st.dwell
                         ? fmt::format("{}: {} rps, {}", st.name, st.rate_rps, st.dwell->Describe())
                         : fmt::format("{}: {} rps", st.name, st.rate_rps));
  }
  const std::string stop = settings_.num_requests > 0
                               ? fmt::format("{} requests", settings_.num_requests)
                               : fmt::format("{} s", settings_.duration_s);
  return fmt::format("mmpp({}, {}, [{}])", settings_.generator.empty() ? "semi-Markov" : "CTMC",
                     stop, fmt::join(states, "; "));
}

// Registered in workloads/registry.cpp.
extern const WorkloadKind kMmppWorkload{
    "mmpp", "Markov-modulated Poisson arrivals (CTMC or semi-Markov)",
    [](const ConfigNode& s, const std::string&) { return MmppWorkload::FromConfig(s); }};

}  // namespace bestserve
