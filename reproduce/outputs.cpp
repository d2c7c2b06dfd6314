#include "reproduce/outputs.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>

#include "sweep/merge.h"

namespace bestserve::reproduce {
namespace {

using sweep::CsvField;

struct Stats {
  double mean = NAN;
  double sd = NAN;
  double min = NAN;
  double max = NAN;
  size_t n = 0;
};

Stats Summarize(const std::vector<double>& values) {
  Stats s;
  s.n = values.size();
  if (values.empty()) return s;
  s.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  s.min = *std::min_element(values.begin(), values.end());
  s.max = *std::max_element(values.begin(), values.end());
  if (values.size() > 1) {
    double ss = 0.0;
    for (double v : values) ss += (v - s.mean) * (v - s.mean);
    s.sd = std::sqrt(ss / static_cast<double>(values.size() - 1));
  }
  return s;
}

// Numbers in CSV files: shortest round-trip text, empty for NaN.
std::string Num(double value) { return std::isfinite(value) ? fmt::format("{}", value) : std::string(); }

enum class Metric { kPerformance, kUtility };

double MetricOf(const Summary& s, Metric m) {
  return m == Metric::kPerformance ? s.mean_reward_fraction : s.hardware_utility;
}

class View {
 public:
  explicit View(const ExperimentData& data) : d_(data), spec_(*data.spec) {}

  const ExperimentSpec& spec() const { return spec_; }
  int NumRates() const { return spec_.kind == ExperimentKind::kRateSweep ? static_cast<int>(spec_.rates.size()) : 1; }
  int NumVariants() const { return static_cast<int>(spec_.variants.size()); }
  const std::string& RunLabel(int run) const { return spec_.runs[static_cast<size_t>(run)].label; }
  bool Runs(int run, int variant) const { return spec_.RunsIn(run, variant); }
  const std::vector<std::string>& models() const { return d_.models; }
  const std::vector<std::string>& tasks() const { return d_.tasks; }

  // The run with this label that runs in `variant` (labels may repeat across variants).
  int RunFor(const std::string& label, int variant) const {
    for (int r = 0; r < static_cast<int>(spec_.runs.size()); ++r) {
      if (RunLabel(r) == label && Runs(r, variant)) return r;
    }
    return -1;
  }

  std::vector<const Summary*> Seeds(int variant, int run, int rate) const {
    std::vector<const Summary*> out;
    for (int64_t s = 1; s <= d_.seeds; ++s) {
      if (const CellResult* c = d_.Find(variant, run, rate, s)) out.push_back(&c->summary);
    }
    return out;
  }

  Stats At(int variant, int run, int rate, Metric m) const {
    std::vector<double> values;
    for (const Summary* s : Seeds(variant, run, rate)) values.push_back(MetricOf(*s, m));
    return Summarize(values);
  }

  // Mean over rates of the metric, one value per seed.
  std::vector<double> RateMeanPerSeed(int variant, int run, Metric m) const {
    std::vector<double> out;
    for (int64_t s = 1; s <= d_.seeds; ++s) {
      double total = 0.0;
      int count = 0;
      for (int i = 0; i < NumRates(); ++i) {
        if (const CellResult* c = d_.Find(variant, run, i, s)) {
          total += MetricOf(c->summary, m);
          ++count;
        }
      }
      if (count > 0) out.push_back(total / count);
    }
    return out;
  }

  // Pooled share of requests (of `task`, or all when task < 0) sent to `model`, over the given
  // rates and seeds (seed 0: all seeds).
  double Share(int variant, int run, const std::vector<int>& rates, int task, int model, int64_t seed = 0) const {
    int64_t chosen = 0;
    int64_t total = 0;
    for (int i : rates) {
      for (int64_t s = 1; s <= d_.seeds; ++s) {
        if (seed != 0 && s != seed) continue;
        const CellResult* c = d_.Find(variant, run, i, s);
        if (c == nullptr) continue;
        const Summary& sum = c->summary;
        if (task < 0) {
          chosen += sum.selections[static_cast<size_t>(model)];
          total += sum.num_requests;
        } else {
          const auto& row = sum.selections_by_task[static_cast<size_t>(task)];
          chosen += row[static_cast<size_t>(model)];
          total += std::accumulate(row.begin(), row.end(), int64_t{0});
        }
      }
    }
    return total > 0 ? static_cast<double>(chosen) / static_cast<double>(total) : NAN;
  }

  std::vector<int> AllRates() const {
    std::vector<int> r(static_cast<size_t>(NumRates()));
    std::iota(r.begin(), r.end(), 0);
    return r;
  }

  int ModelIndex(const std::string& name) const { return IndexOf(d_.models, name); }
  int TaskIndex(const std::string& name) const { return IndexOf(d_.tasks, name); }

  const CellResult* First(int variant, int run) const { return d_.Find(variant, run, 0, 1); }
  int64_t seeds() const { return d_.seeds; }

 private:
  static int IndexOf(const std::vector<std::string>& names, const std::string& name) {
    const auto it = std::find(names.begin(), names.end(), name);
    return it == names.end() ? -1 : static_cast<int>(it - names.begin());
  }
  const ExperimentData& d_;
  const ExperimentSpec& spec_;
};

std::string PanelOf(const View& v, int variant) { return v.spec().variants[static_cast<size_t>(variant)].label; }

// The runs a figure shows in `variant`, in the figure's order: its labels resolved in that
// variant (a label may name a different run per variant), or every run of the variant.
std::vector<int> ShownRuns(const View& v, const FigureSpec& fig, int variant) {
  std::vector<int> runs;
  if (fig.runs.empty()) {
    for (int r = 0; r < static_cast<int>(v.spec().runs.size()); ++r) {
      if (v.Runs(r, variant)) runs.push_back(r);
    }
  } else {
    for (const std::string& label : fig.runs) {
      const int r = v.RunFor(label, variant);
      if (r >= 0) runs.push_back(r);
    }
  }
  return runs;
}

// ---- figure data ------------------------------------------------------------------------------

std::string LinesVsRate(const View& v, const FigureSpec& fig, Metric m) {
  std::string csv = "panel,series,x,y,lo,hi\n";
  for (int var = 0; var < v.NumVariants(); ++var) {
    for (int run : ShownRuns(v, fig, var)) {
      for (int i = 0; i < v.NumRates(); ++i) {
        const Stats s = v.At(var, run, i, m);
        csv += fmt::format("{},{},{},{},{},{}\n", CsvField(PanelOf(v, var)), CsvField(v.RunLabel(run)),
                           Num(v.spec().rates[static_cast<size_t>(i)]), Num(s.mean), Num(s.min), Num(s.max));
      }
    }
  }
  return csv;
}

void AppendStacked(std::string& csv, const View& v, const std::string& panel, int var, int run, int task) {
  for (int i = 0; i < v.NumRates(); ++i) {
    for (int m = 0; m < static_cast<int>(v.models().size()); ++m) {
      csv += fmt::format("{},{},{},{}\n", CsvField(panel), Num(v.spec().rates[static_cast<size_t>(i)]),
                         CsvField(v.models()[static_cast<size_t>(m)]), Num(v.Share(var, run, {i}, task, m)));
    }
  }
}

// Panel names join the parts that vary: "greedy", "greedy: copa", "greedy (COPA only)".
std::string Panel(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) {
    if (p.empty()) continue;
    out += out.empty() ? p : (p.front() == '(' ? " " + p : ": " + p);
  }
  return out;
}

std::string Selection(const View& v, const FigureSpec& fig) {
  std::string csv = "panel,x,category,fraction\n";
  const bool variants = v.NumVariants() > 1;
  for (int var = 0; var < v.NumVariants(); ++var) {
    for (int r : ShownRuns(v, fig, var)) {
      AppendStacked(csv, v, Panel({v.RunLabel(r), variants ? "(" + PanelOf(v, var) + ")" : ""}), var, r, -1);
    }
  }
  return csv;
}

std::string TaskSelection(const View& v, const FigureSpec& fig) {
  std::string csv = "panel,x,category,fraction\n";
  const bool variants = v.NumVariants() > 1;
  const bool runs = fig.runs.size() > 1;
  for (int var = 0; var < v.NumVariants(); ++var) {
    for (int r : ShownRuns(v, fig, var)) {
      for (int t = 0; t < static_cast<int>(v.tasks().size()); ++t) {
        const std::string panel = Panel({runs ? v.RunLabel(r) : "", v.tasks()[static_cast<size_t>(t)],
                                         variants ? "(" + PanelOf(v, var) + ")" : ""});
        AppendStacked(csv, v, panel, var, r, t);
      }
    }
  }
  return csv;
}

std::string VariantSelection(const View& v, const FigureSpec& fig) {
  std::string csv = "panel,x,category,fraction\n";
  const bool runs = fig.runs.size() > 1;
  for (int var = 0; var < v.NumVariants(); ++var) {
    for (int r : ShownRuns(v, fig, var)) {
      AppendStacked(csv, v, Panel({runs ? v.RunLabel(r) : "", runs ? "(" + PanelOf(v, var) + ")" : PanelOf(v, var)}), var, r, -1);
    }
  }
  return csv;
}

std::string TaskShare(const View& v, const FigureSpec& fig) {
  std::string csv = "panel,series,category,y,lo,hi\n";
  const int model = v.ModelIndex(fig.model);
  const std::string panel = fmt::format("share of each task's requests sent to {}", fig.model);
  for (int r : ShownRuns(v, fig, 0)) {
    for (int t = 0; t < static_cast<int>(v.tasks().size()); ++t) {
      std::vector<double> per_seed;
      for (int64_t s = 1; s <= v.seeds(); ++s) per_seed.push_back(v.Share(0, r, v.AllRates(), t, model, s));
      const Stats st = Summarize(per_seed);
      csv += fmt::format("{},{},{},{},{},{}\n", CsvField(panel), CsvField(v.RunLabel(r)),
                         CsvField(v.tasks()[static_cast<size_t>(t)]), Num(v.Share(0, r, v.AllRates(), t, model)),
                         Num(st.min), Num(st.max));
    }
  }
  return csv;
}

std::string MeanReward(const View& v, const FigureSpec& fig) {
  std::string csv = "panel,series,category,y,lo,hi\n";
  for (int var = 0; var < v.NumVariants(); ++var) {
    for (int r : ShownRuns(v, fig, var)) {
      const Stats s = Summarize(v.RateMeanPerSeed(var, r, Metric::kPerformance));
      const std::string category = PanelOf(v, var).empty() ? "all requests" : PanelOf(v, var);
      csv += fmt::format(",{},{},{},{},{}\n", CsvField(v.RunLabel(r)), CsvField(category), Num(s.mean), Num(s.min),
                         Num(s.max));
    }
  }
  return csv;
}

// Requests per window of a workload cell: n requests give n - W + 1 windows (window j covers
// requests j .. j+W-1), so W = n + 1 - windows; with n < W there are no windows and W = n + 1
// (no request ends one).
size_t WindowLength(const CellResult& c) { return c.trace.size() + 1 - c.summary.window_averages.size(); }

std::string Trace(const View& v, const FigureSpec& fig) {
  std::string csv = "series,request,arrival_s,rate_rps,running_total,window_average\n";
  for (int r : ShownRuns(v, fig, 0)) {
    const CellResult* c = v.First(0, r);
    if (c == nullptr) continue;
    const auto& w = c->summary.window_averages;
    const size_t window = WindowLength(*c);
    double total = 0.0;
    for (size_t i = 0; i < c->trace.size(); ++i) {
      const TracePoint& p = c->trace[i];
      total += p.reward;
      // A window is drawn at its last request.
      const std::string avg = i + 1 >= window ? Num(w[i + 1 - window]) : std::string();
      csv += fmt::format("{},{},{},{},{},{}\n", CsvField(v.RunLabel(r)), i, Num(p.arrival_s), Num(p.rate_rps), Num(total), avg);
    }
  }
  return csv;
}

std::string WindowUtility(const View& v, const FigureSpec& fig) {
  std::string csv = "panel,series,x,y,lo,hi\n";
  for (int r : ShownRuns(v, fig, 0)) {
    const CellResult* c = v.First(0, r);
    if (c == nullptr) continue;
    const auto& w = c->summary.window_averages;
    const size_t window = WindowLength(*c);
    const double gpus = std::max(1, c->summary.num_gpus);
    for (size_t j = 0; j < w.size(); ++j) {
      csv += fmt::format(",{},{},{},,\n", CsvField(fmt::format("{}", v.RunLabel(r))), j + window - 1, Num(w[j] / gpus));
    }
  }
  return csv;
}

// The paper's three hardware-utility measures of `run` against `ref`, per seed, over the
// windows of the first variant (docs/reproduce.md has the definitions).
struct UtilityMeasures {
  std::vector<double> share_higher;  // share of windows where the run's utility is higher
  std::vector<double> mean_ratio;    // mean utility of the run / of the reference
  std::vector<double> past90_ratio;  // windows >= 0.90 of peak, run / reference
};

UtilityMeasures MeasureUtility(const View& v, int run, int ref) {
  UtilityMeasures m;
  const std::vector<const Summary*> runs = v.Seeds(0, run, 0);
  const std::vector<const Summary*> refs = v.Seeds(0, ref, 0);
  for (size_t s = 0; s < std::min(runs.size(), refs.size()); ++s) {
    const Summary& a = *runs[s];
    const Summary& b = *refs[s];
    const double ga = std::max(1, a.num_gpus);
    const double gb = std::max(1, b.num_gpus);
    const size_t n = std::min(a.window_averages.size(), b.window_averages.size());
    int64_t higher = 0, pa = 0, pb = 0;
    double ua = 0, ub = 0;
    for (size_t j = 0; j < n; ++j) {
      const double x = a.window_averages[j] / ga;
      const double y = b.window_averages[j] / gb;
      if (x > y) ++higher;
      ua += x;
      ub += y;
      if (a.window_averages[j] >= 0.9 - 1e-9) ++pa;
      if (b.window_averages[j] >= 0.9 - 1e-9) ++pb;
    }
    m.share_higher.push_back(n > 0 ? static_cast<double>(higher) / static_cast<double>(n) : NAN);
    m.mean_ratio.push_back(ub > 0 ? ua / ub : NAN);
    m.past90_ratio.push_back(pb > 0 ? static_cast<double>(pa) / static_cast<double>(pb) : NAN);
  }
  return m;
}

std::string UtilityMeasuresCsv(const View& v, const FigureSpec& fig) {
  std::string csv = "panel,series,category,y,lo,hi\n";
  const int ref = v.RunFor(fig.reference, 0);
  const char* names[] = {"share of windows with higher utility", "mean utility ratio",
                         "ratio of windows >= 0.90 of peak"};
  std::vector<int> runs;
  for (int r : ShownRuns(v, fig, 0)) {
    if (r != ref) runs.push_back(r);
  }
  for (int k = 0; k < 3; ++k) {
    for (int r : runs) {
      const UtilityMeasures m = MeasureUtility(v, r, ref);
      const Stats s = Summarize(k == 0 ? m.share_higher : k == 1 ? m.mean_ratio : m.past90_ratio);
      csv += fmt::format("{},{},{},{},{},{}\n", CsvField(names[k]), CsvField(fmt::format("vs {}", fig.reference)),
                         CsvField(v.RunLabel(r)), Num(s.mean), Num(s.min), Num(s.max));
    }
  }
  return csv;
}

// ---- tables -----------------------------------------------------------------------------------

std::string CountText(const Stats& s) {
  if (s.n <= 1 || !std::isfinite(s.sd)) return fmt::format("{:.0f}", s.mean);
  return fmt::format("{:.0f} ± {:.0f}", s.mean, s.sd);
}

void BuildTable(const View& v, const TableSpec& table, const std::string& banner, ExperimentOutputs& out) {
  const CellResult* first = v.First(0, 0);
  const std::vector<double>& thresholds = first->summary.thresholds;
  std::vector<int> runs;
  for (int r = 0; r < static_cast<int>(v.spec().runs.size()); ++r) {
    if (v.Runs(r, 0)) runs.push_back(r);
  }
  auto counts = [&](int run, size_t k) {
    std::vector<double> values;
    for (const Summary* s : v.Seeds(0, run, 0)) values.push_back(static_cast<double>(s->threshold_counts[k]));
    return Summarize(values);
  };
  std::string md = fmt::format("**{}** ({} windows of {} requests per run; ours: mean over {} seed{})\n\n", table.title,
                               first->summary.window_averages.size(), WindowLength(*first),
                               v.seeds(), v.seeds() == 1 ? "" : "s, ± sample sd");
  md += "| threshold |";
  for (int r : runs) md += fmt::format(" ours: {} |", v.RunLabel(r));
  for (const auto& [column, _] : table.paper) md += fmt::format(" paper: {} |", column);
  md += "\n|---|";
  for (size_t i = 0; i < runs.size() + table.paper.size(); ++i) md += "---:|";
  md += "\n";
  std::string csv = "threshold,source,column,mean,sd,min,max\n";
  for (size_t k = 0; k < thresholds.size(); ++k) {
    md += fmt::format("| {} |", ThresholdLabel(thresholds[k]));
    for (int r : runs) {
      const Stats s = counts(r, k);
      md += fmt::format(" {} |", CountText(s));
      csv += fmt::format("{},ours,{},{},{},{},{}\n", CsvField(ThresholdLabel(thresholds[k])), CsvField(v.RunLabel(r)),
                         Num(s.mean), Num(s.sd), Num(s.min), Num(s.max));
    }
    for (const auto& [column, values] : table.paper) {
      const double value = k < values.size() ? values[k] : NAN;
      md += fmt::format(" {} |", Num(value));
      csv += fmt::format("{},paper,{},{},,,\n", CsvField(ThresholdLabel(thresholds[k])), CsvField(column), Num(value));
    }
    md += "\n";
  }
  md += "| mean reward (fraction of peak) |";
  for (int r : runs) {
    std::vector<double> values;
    for (const Summary* s : v.Seeds(0, r, 0)) values.push_back(s->mean_reward_fraction);
    const Stats s = Summarize(values);
    md += fmt::format(" {:.4f} |", s.mean);
    csv += fmt::format("mean_reward_fraction,ours,{},{},{},{},{}\n", CsvField(v.RunLabel(r)), Num(s.mean), Num(s.sd),
                       Num(s.min), Num(s.max));
  }
  for (size_t i = 0; i < table.paper.size(); ++i) md += " - |";
  md += "\n";
  out.files.push_back({fmt::format("tables/{}.md", table.id), banner.empty() ? md : fmt::format("> **{}**\n\n{}", banner, md)});
  out.files.push_back({fmt::format("tables/{}.csv", table.id), csv});
  out.tables_markdown.push_back(md);
}

// ---- claims -----------------------------------------------------------------------------------

Verdict Grade(bool full, bool partial) { return full ? Verdict::kReproduced : partial ? Verdict::kPartly : Verdict::kNot; }

std::string Rate(double rps) { return fmt::format("{:.3g} rps", rps); }

// The lowest rate at which the run's mean performance falls below `below` (NaN: never).
double CollapseRate(const View& v, int variant, int run, double below) {
  for (int i = 0; i < v.NumRates(); ++i) {
    if (v.At(variant, run, i, Metric::kPerformance).mean < below) return v.spec().rates[static_cast<size_t>(i)];
  }
  return NAN;
}

int Run(const View& v, const ConfigNode& check, const char* key, int variant = 0) {
  return v.RunFor(check.GetString(key), variant);
}

std::vector<int> Runs(const View& v, const ConfigNode& check, const char* key, int variant = 0) {
  std::vector<int> out;
  const ConfigNode list = check.Child(key);
  for (size_t i = 0; i < list.size(); ++i) out.push_back(v.RunFor(list.Element(i).AsString(), variant));
  return out;
}

std::string Pct(double x) { return fmt::format("{:.1f}%", 100.0 * x); }

ClaimResult Evaluate(const View& v, const ClaimSpec& claim, const std::vector<TableSpec>& tables) {
  ClaimResult res;
  res.id = claim.id;
  res.text = claim.text;
  res.why_different = claim.why_different;
  const ConfigNode& c = claim.check;
  const std::string& kind = claim.kind;
  const auto& rates = v.spec().rates;

  if (kind == "collapse_rate") {
    const double below = c.GetDouble("below", 0.9);
    const double paper = c.GetDouble("paper_rps");
    const double factor = c.GetDouble("factor", 2.0);
    const double ours = CollapseRate(v, 0, Run(v, c, "run"), below);
    res.paper = fmt::format("collapses past about {}", Rate(paper));
    res.ours = std::isnan(ours) ? fmt::format("stays above {:.2f} of peak up to {}", below, Rate(rates.back()))
                                : fmt::format("first below {:.2f} of peak at {}", below, Rate(ours));
    res.verdict = Grade(!std::isnan(ours) && ours >= paper / factor && ours <= paper * factor, !std::isnan(ours));
  } else if (kind == "available_multiple") {
    const double below = c.GetDouble("below", 0.9);
    const double multiple = c.GetDouble("multiple", 10.0);
    const double run = CollapseRate(v, 0, Run(v, c, "run"), below);
    const double ref = CollapseRate(v, 0, Run(v, c, "reference"), below);
    res.paper = fmt::format("available at over {:.0f}x the rate where {} collapses", multiple, c.GetString("reference"));
    if (std::isnan(ref)) {
      res.ours = fmt::format("{} never falls below {:.2f} of peak: nothing to compare", c.GetString("reference"), below);
      res.verdict = Verdict::kNot;
    } else {
      const bool never = std::isnan(run);
      const double ratio = (never ? rates.back() : run) / ref;
      res.ours = fmt::format("{} below {:.2f} of peak from {}; {} {} ({}{:.1f}x)", c.GetString("reference"), below,
                             Rate(ref), c.GetString("run"),
                             never ? fmt::format("stays above it up to {}", Rate(rates.back()))
                                   : fmt::format("from {}", Rate(run)),
                             never ? ">= " : "", ratio);
      res.verdict = Grade(ratio >= multiple, ratio >= 2.0);
    }
  } else if (kind == "matches_at_low_rates") {
    const double max_rps = c.GetDouble("max_rps");
    const double tol = c.GetDouble("tolerance", 0.02);
    const int run = Run(v, c, "run");
    const int ref = Run(v, c, "reference");
    double worst = 0.0;
    double at = NAN;
    for (int i = 0; i < v.NumRates() && rates[static_cast<size_t>(i)] <= max_rps; ++i) {
      const double gap = std::abs(v.At(0, run, i, Metric::kPerformance).mean - v.At(0, ref, i, Metric::kPerformance).mean);
      if (gap >= worst) {
        worst = gap;
        at = rates[static_cast<size_t>(i)];
      }
    }
    res.paper = fmt::format("matches {} at low rates", c.GetString("reference"));
    res.ours = fmt::format("largest gap up to {}: {:.4f} of peak (at {})", Rate(max_rps), worst, Rate(at));
    res.verdict = Grade(worst <= tol, worst <= 3 * tol);
  } else if (kind == "not_worse_than_best_static") {
    const double tol = c.GetDouble("tolerance", 0.02);
    double worst = -std::numeric_limits<double>::infinity();
    double at = NAN;
    int at_least = 0;
    int points = 0;
    std::string where;
    for (int var = 0; var < v.NumVariants(); ++var) {
      const int run = Run(v, c, "run", var);
      const std::vector<int> baselines = Runs(v, c, "baselines", var);
      if (run < 0 || std::count(baselines.begin(), baselines.end(), -1) > 0) continue;
      for (int i = 0; i < v.NumRates(); ++i) {
        double best = -std::numeric_limits<double>::infinity();
        for (int b : baselines) {
          if (b >= 0) best = std::max(best, v.At(var, b, i, Metric::kPerformance).mean);
        }
        const double shortfall = best - v.At(var, run, i, Metric::kPerformance).mean;
        ++points;
        if (shortfall <= 1e-12) ++at_least;
        if (shortfall > worst) {
          worst = shortfall;
          at = rates[static_cast<size_t>(i)];
          where = PanelOf(v, var);
        }
      }
    }
    res.paper = "the policy tracks the best static model at every rate (Figure 2)";
    res.ours = fmt::format("at or above the best static model at {} of {} rates; worst shortfall {:.4f} of peak at {}{}",
                           at_least, points, std::max(0.0, worst), Rate(at), where.empty() ? "" : " (" + where + ")");
    res.verdict = points > 0 ? Grade(worst <= tol, worst <= 3 * tol) : Verdict::kNot;
  } else if (kind == "rate_shift") {
    const int run = Run(v, c, "run");
    const int model = v.ModelIndex(c.GetString("model"));
    const int third = std::max(1, v.NumRates() / 3);
    std::vector<int> low, high;
    for (int i = 0; i < third; ++i) low.push_back(i);
    for (int i = v.NumRates() - third; i < v.NumRates(); ++i) high.push_back(i);
    const double a = v.Share(0, run, low, -1, model);
    const double b = v.Share(0, run, high, -1, model);
    const double min_drop = c.GetDouble("min_drop", 0.3);
    res.paper = fmt::format("smaller models take over from {} as the rate grows", c.GetString("model"));
    res.ours = fmt::format("{} share {} over the lowest {} rates ({} to {}), {} over the highest {} ({} to {})",
                           c.GetString("model"), Pct(a), third, Rate(rates[0]), Rate(rates[static_cast<size_t>(third - 1)]),
                           Pct(b), third, Rate(rates[static_cast<size_t>(v.NumRates() - third)]), Rate(rates.back()));
    res.verdict = Grade(a - b >= min_drop, a - b > 0.0);
  } else if (kind == "largest_share_task") {
    const int run = Run(v, c, "run");
    const int model = v.ModelIndex(c.GetString("model"));
    const int task = v.TaskIndex(c.GetString("task"));
    std::vector<std::string> parts;
    double others = 0.0;
    bool largest = true;
    const double mine = v.Share(0, run, v.AllRates(), task, model);
    for (int t = 0; t < static_cast<int>(v.tasks().size()); ++t) {
      const double share = v.Share(0, run, v.AllRates(), t, model);
      parts.push_back(fmt::format("{} {}", v.tasks()[static_cast<size_t>(t)], Pct(share)));
      if (t == task) continue;
      others += share / static_cast<double>(v.tasks().size() - 1);
      if (share >= mine) largest = false;
    }
    res.paper = fmt::format("{} goes to {} more than any other task", c.GetString("task"), c.GetString("model"));
    res.ours = fmt::format("{} share by task over all rates: {}", c.GetString("model"), fmt::join(parts, ", "));
    res.verdict = std::isfinite(mine) ? Grade(largest, mine > others) : Verdict::kNot;
  } else if (kind == "best_only_above") {
    const int run = Run(v, c, "run");
    const std::vector<int> baselines = Runs(v, c, "baselines");
    const double min_rps = c.GetDouble("min_rps");
    int below_total = 0;
    int wins_below = 0;
    std::vector<std::string> wins;
    for (int i = 0; i < v.NumRates(); ++i) {
      double best = -std::numeric_limits<double>::infinity();
      for (int b : baselines) best = std::max(best, v.At(0, b, i, Metric::kPerformance).mean);
      const bool wins_here = v.At(0, run, i, Metric::kPerformance).mean > best + 0.005;
      if (wins_here) wins.push_back(fmt::format("{:.3g}", rates[static_cast<size_t>(i)]));
      if (rates[static_cast<size_t>(i)] < min_rps) {
        ++below_total;
        if (wins_here) ++wins_below;
      }
    }
    res.paper = fmt::format("{} alone is poor except at extreme rates", c.GetString("run"));
    res.ours = wins.empty() ? fmt::format("{} alone never beats the other static models", c.GetString("run"))
                            : fmt::format("{} alone beats the other static models only at {} rps", c.GetString("run"),
                                          fmt::join(wins, ", "));
    res.verdict = Grade(wins_below == 0, wins_below * 5 <= below_total);
  } else if (kind == "share_shift") {
    const int run = Run(v, c, "run");
    const int ref = Run(v, c, "reference");
    const ConfigNode shifts = c.Child("shifts");
    int agree = 0;
    std::string detail = fmt::format("| task | model | {} | {} | change | paper's change |\n|---|---|---:|---:|---:|---:|\n",
                                     c.GetString("reference"), c.GetString("run"));
    std::vector<std::string> ours_parts, paper_parts;
    for (size_t k = 0; k < shifts.size(); ++k) {
      const ConfigNode s = shifts.Element(k);
      const int task = v.TaskIndex(s.GetString("task"));
      const int model = v.ModelIndex(s.GetString("model"));
      const double before = v.Share(0, ref, v.AllRates(), task, model);
      const double after = v.Share(0, run, v.AllRates(), task, model);
      const double change = before > 0 ? (after - before) / before : NAN;
      const bool up = s.GetString("direction") == "up";
      // A shift counts when it moves at least half a percentage point the paper's way.
      if (up ? after - before >= 0.005 : before - after >= 0.005) ++agree;
      const std::string paper_change =
          s.Has("paper_change") ? fmt::format("{:+.0f}%", 100.0 * s.GetDouble("paper_change")) : std::string(up ? "up" : "down");
      detail += fmt::format("| {} | {} | {} | {} | {} | {} |\n", s.GetString("task"), s.GetString("model"), Pct(before),
                            Pct(after), std::isnan(change) ? std::string("-") : fmt::format("{:+.0f}%", 100.0 * change),
                            paper_change);
      ours_parts.push_back(fmt::format("{} {}: {} -> {}", s.GetString("task"), s.GetString("model"), Pct(before), Pct(after)));
      paper_parts.push_back(fmt::format("{} {} {}", s.GetString("task"), s.GetString("model"), paper_change));
    }
    res.paper = fmt::format("{}", fmt::join(paper_parts, "; "));
    res.ours = fmt::format("{} ({} of {} in the paper's direction)", fmt::join(ours_parts, "; "), agree, shifts.size());
    res.detail = detail;
    res.verdict = Grade(agree == static_cast<int>(shifts.size()), agree > 0);
  } else if (kind == "table_shape") {
    const std::string id = c.GetString("table");
    const TableSpec& table = *std::find_if(tables.begin(), tables.end(), [&](const TableSpec& t) { return t.id == id; });
    const CellResult* first = v.First(0, 0);
    const std::vector<double>& thresholds = first->summary.thresholds;
    int agree = 0;
    std::string detail = "| threshold | paper's leader | our leader (same columns) |\n|---|---|---|\n";
    auto leaders = [](const std::vector<std::pair<std::string, double>>& values) {
      double best = -1;
      for (const auto& [_, x] : values) best = std::max(best, x);
      std::vector<std::string> names;
      for (const auto& [name, x] : values) {
        if (x == best) names.push_back(name);
      }
      return names;
    };
    for (size_t k = 0; k < thresholds.size(); ++k) {
      std::vector<std::pair<std::string, double>> paper, ours;
      for (const auto& [column, values] : table.paper) {
        paper.emplace_back(column, values[k]);
        std::vector<double> counts;
        for (const Summary* s : v.Seeds(0, v.RunFor(column, 0), 0)) counts.push_back(static_cast<double>(s->threshold_counts[k]));
        ours.emplace_back(column, std::round(Summarize(counts).mean));
      }
      const auto p = leaders(paper);
      const auto o = leaders(ours);
      const bool ok = std::any_of(o.begin(), o.end(), [&](const std::string& name) { return std::count(p.begin(), p.end(), name) > 0; });
      if (ok) ++agree;
      detail += fmt::format("| {} | {} | {}{} |\n", ThresholdLabel(thresholds[k]), fmt::join(p, " = "), fmt::join(o, " = "),
                            ok ? "" : " (differs)");
    }
    res.paper = "see the paper column of the table";
    res.ours = fmt::format("the same leading column at {} of {} thresholds", agree, thresholds.size());
    res.detail = detail;
    res.verdict = Grade(agree == static_cast<int>(thresholds.size()), 2 * agree >= static_cast<int>(thresholds.size()));
  } else if (kind == "beats_static_mean") {
    int wins = 0;
    int variants = 0;
    std::vector<std::string> parts;
    for (int var = 0; var < v.NumVariants(); ++var) {
      const int run = Run(v, c, "run", var);
      const std::vector<int> baselines = Runs(v, c, "baselines", var);
      if (run < 0 || std::count(baselines.begin(), baselines.end(), -1) > 0) continue;
      ++variants;
      const double mine = Summarize(v.RateMeanPerSeed(var, run, Metric::kPerformance)).mean;
      double best = -1;
      std::string best_name;
      for (int b : baselines) {
        const double x = Summarize(v.RateMeanPerSeed(var, b, Metric::kPerformance)).mean;
        if (x > best) {
          best = x;
          best_name = v.RunLabel(b);
        }
      }
      if (mine > best) ++wins;
      parts.push_back(fmt::format("{}{:.4f} vs best static {:.4f} ({})", PanelOf(v, var).empty() ? "" : PanelOf(v, var) + ": ",
                                  mine, best, best_name));
    }
    res.paper = "beats every static baseline";
    res.ours = fmt::format("mean performance {}", fmt::join(parts, "; "));
    res.verdict = variants > 0 ? Grade(wins == variants, 2 * wins >= variants && wins > 0) : Verdict::kNot;
  } else if (kind == "utility_higher") {
    int higher = 0;
    int points = 0;
    for (int var = 0; var < v.NumVariants(); ++var) {
      const int run = Run(v, c, "run", var);
      const int ref = Run(v, c, "reference", var);
      if (run < 0 || ref < 0) continue;
      for (int i = 0; i < v.NumRates(); ++i) {
        ++points;
        if (v.At(var, run, i, Metric::kUtility).mean > v.At(var, ref, i, Metric::kUtility).mean) ++higher;
      }
    }
    const double share = points > 0 ? static_cast<double>(higher) / points : 0.0;
    res.paper = "higher utility than OPT-6.7B on 8 GPUs across the rates";
    res.ours = fmt::format("higher utility at {} of {} (variant, rate) points ({})", higher, points, Pct(share));
    res.verdict = Grade(share >= 0.9, share >= 0.5);
  } else if (kind == "hardware_utility") {
    const int run = Run(v, c, "run");
    const int ref = Run(v, c, "reference");
    const UtilityMeasures m = MeasureUtility(v, run, ref);
    const std::vector<double>& share = m.share_higher;
    const std::vector<double>& ratio = m.mean_ratio;
    const std::vector<double>& past90 = m.past90_ratio;
    const ConfigNode paper = c.Child("paper");
    const Stats sh = Summarize(share), ra = Summarize(ratio), p9 = Summarize(past90);
    res.paper = fmt::format("higher utility {} of the time, {:.2f}x on average, past 90% of peak {:.2f}x as often",
                            Pct(paper.GetDouble("share_higher")), paper.GetDouble("mean_ratio"), paper.GetDouble("past90_ratio"));
    res.ours = fmt::format("higher utility {} of the time, {:.2f}x on average, past 90% of peak {:.2f}x as often", Pct(sh.mean),
                           ra.mean, p9.mean);
    int agree = 0;
    agree += (sh.mean > 0.5) == (paper.GetDouble("share_higher") > 0.5);
    agree += (ra.mean > 1.0) == (paper.GetDouble("mean_ratio") > 1.0);
    agree += (p9.mean > 1.0) == (paper.GetDouble("past90_ratio") > 1.0);
    res.detail = fmt::format(
        "| measure | paper | ours (mean over {} seed{}) |\n|---|---:|---:|\n| windows with higher utility | {} | {} |\n"
        "| mean utility ratio | {:.2f} | {:.2f} |\n| ratio of windows >= 0.90 of peak | {:.2f} | {:.2f} |\n",
        v.seeds(), v.seeds() == 1 ? "" : "s", Pct(paper.GetDouble("share_higher")), Pct(sh.mean), paper.GetDouble("mean_ratio"),
        ra.mean, paper.GetDouble("past90_ratio"), p9.mean);
    res.verdict = std::isfinite(sh.mean) && std::isfinite(ra.mean) && std::isfinite(p9.mean) ? Grade(agree == 3, agree > 0)
                                                                                           : Verdict::kNot;
  }
  return res;
}

}  // namespace

const char* VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kReproduced: return "reproduced";
    case Verdict::kPartly: return "partly";
    case Verdict::kNot: return "not reproduced";
  }
  return "?";
}

std::string ThresholdLabel(double threshold) {
  return threshold >= 1.0 ? fmt::format("= {:.2f}", threshold) : fmt::format(">= {:.2f}", threshold);
}

ExperimentOutputs BuildOutputs(const ExperimentData& data, const std::string& banner) {
  const View v(data);
  const ExperimentSpec& spec = *data.spec;
  ExperimentOutputs out;
  constexpr const char* kRate = "arrival rate (requests/s)";
  constexpr const char* kShare = "share of requests";
  for (const FigureSpec& fig : spec.figures) {
    FigureEntry e;
    e.id = fig.file;  // unique in the plan (a paper figure may have several parts)
    e.title = fig.title;
    e.csv = fmt::format("data/{}.csv", fig.file);
    e.out = fmt::format("figures/{}", fig.file);
    std::string csv;
    if (fig.kind == "performance" || fig.kind == "utility") {
      const bool utility = fig.kind == "utility";
      csv = LinesVsRate(v, fig, utility ? Metric::kUtility : Metric::kPerformance);
      e.kind = "lines";
      e.xlabel = kRate;
      e.ylabel = utility ? "hardware utility (fraction of peak per GPU)" : "performance (mean reward, fraction of peak)";
      e.log_x = true;
      e.caption = fmt::format("Poisson arrivals; lines: mean over {} seed{}, bands: min to max over seeds.", data.seeds,
                              data.seeds == 1 ? "" : "s");
    } else if (fig.kind == "selection" || fig.kind == "task_selection" || fig.kind == "variant_selection") {
      csv = fig.kind == "selection" ? Selection(v, fig) : fig.kind == "task_selection" ? TaskSelection(v, fig) : VariantSelection(v, fig);
      e.kind = "stacked";
      e.xlabel = kRate;
      e.ylabel = kShare;
      e.log_x = true;
      e.caption = "Share of requests routed to each model, pooled over seeds.";
    } else if (fig.kind == "task_share" || fig.kind == "mean_reward") {
      csv = fig.kind == "task_share" ? TaskShare(v, fig) : MeanReward(v, fig);
      e.kind = "bars";
      e.xlabel = fig.kind == "task_share" ? "task" : "workload";
      e.ylabel = fig.kind == "task_share" ? kShare : "mean performance over the rates (fraction of peak)";
      e.caption = "Error bars: min to max over seeds.";
    } else if (fig.kind == "trace") {
      csv = Trace(v, fig);
      e.kind = "trace";
      e.xlabel = "request";
      e.caption = "Running total of rewards, windowed average (last 20 requests), and the generator's arrival rate.";
    } else if (fig.kind == "utility_measures") {
      csv = UtilityMeasuresCsv(v, fig);
      e.kind = "bars";
      e.xlabel = "router";
      e.ylabel = "against the reference";
      e.caption = fmt::format("Against {}, window by window (windows of 20 requests, first variant); bars: mean over seeds, "
                              "error bars: min to max.", fig.reference);
    } else if (fig.kind == "window_utility") {
      csv = WindowUtility(v, fig);
      e.kind = "lines";
      e.xlabel = "request (end of the window)";
      e.ylabel = "hardware utility (window average / GPUs)";
      e.caption = "Utility of each window of 20 requests: its average reward (fraction of peak) divided by the GPUs used.";
    }
    out.files.push_back({e.csv, csv});
    out.figures.push_back(std::move(e));
  }
  for (const TableSpec& table : spec.tables) BuildTable(v, table, banner, out);
  for (const ClaimSpec& claim : spec.claims) out.claims.push_back(Evaluate(v, claim, spec.tables));
  return out;
}

}  // namespace bestserve::reproduce
