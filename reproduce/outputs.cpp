#include "reproduce/outputs.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "reproduce/claims/claim_kind.h"
#include "reproduce/experiment_view.h"
#include "sweep/merge.h"

namespace bestserve::reproduce {
namespace {

using sweep::CsvField;

// Numbers in CSV files: shortest round-trip text, empty for NaN.
std::string Num(double value) { return std::isfinite(value) ? fmt::format("{}", value) : std::string(); }

// The runs a figure shows in `variant`, in the figure's order: its labels resolved in that
// variant (a label may name a different run per variant), or every run of the variant.
std::vector<int> ShownRuns(const ExperimentView& v, const FigureSpec& fig, int variant) {
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

std::string LinesVsRate(const ExperimentView& v, const FigureSpec& fig, Metric m) {
  std::string csv = "panel,series,x,y,lo,hi\n";
  for (int var = 0; var < v.NumVariants(); ++var) {
    for (int run : ShownRuns(v, fig, var)) {
      for (int i = 0; i < v.NumRates(); ++i) {
        const SeedStats s = v.At(var, run, i, m);
        csv += fmt::format("{},{},{},{},{},{}\n", CsvField(PanelOf(v, var)), CsvField(v.RunLabel(run)),
                           Num(v.spec().rates[static_cast<size_t>(i)]), Num(s.mean), Num(s.min), Num(s.max));
      }
    }
  }
  return csv;
}

void AppendStacked(std::string& csv, const ExperimentView& v, const std::string& panel, int var, int run, int task) {
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

std::string Selection(const ExperimentView& v, const FigureSpec& fig) {
  std::string csv = "panel,x,category,fraction\n";
  const bool variants = v.NumVariants() > 1;
  for (int var = 0; var < v.NumVariants(); ++var) {
    for (int r : ShownRuns(v, fig, var)) {
      AppendStacked(csv, v, Panel({v.RunLabel(r), variants ? "(" + PanelOf(v, var) + ")" : ""}), var, r, -1);
    }
  }
  return csv;
}

std::string TaskSelection(const ExperimentView& v, const FigureSpec& fig) {
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

std::string VariantSelection(const ExperimentView& v, const FigureSpec& fig) {
  std::string csv = "panel,x,category,fraction\n";
  const bool runs = fig.runs.size() > 1;
  for (int var = 0; var < v.NumVariants(); ++var) {
    for (int r : ShownRuns(v, fig, var)) {
      AppendStacked(csv, v, Panel({runs ? v.RunLabel(r) : "", runs ? "(" + PanelOf(v, var) + ")" : PanelOf(v, var)}), var, r, -1);
    }
  }
  return csv;
}

std::string TaskShare(const ExperimentView& v, const FigureSpec& fig) {
  std::string csv = "panel,series,category,y,lo,hi\n";
  const int model = v.ModelIndex(fig.model);
  const std::string panel = fmt::format("share of each task's requests sent to {}", fig.model);
  for (int r : ShownRuns(v, fig, 0)) {
    for (int t = 0; t < static_cast<int>(v.tasks().size()); ++t) {
      std::vector<double> per_seed;
      for (int64_t s = 1; s <= v.seeds(); ++s) per_seed.push_back(v.Share(0, r, v.AllRates(), t, model, s));
      const SeedStats st = SummarizeSeeds(per_seed);
      csv += fmt::format("{},{},{},{},{},{}\n", CsvField(panel), CsvField(v.RunLabel(r)),
                         CsvField(v.tasks()[static_cast<size_t>(t)]), Num(v.Share(0, r, v.AllRates(), t, model)),
                         Num(st.min), Num(st.max));
    }
  }
  return csv;
}

std::string MeanReward(const ExperimentView& v, const FigureSpec& fig) {
  std::string csv = "panel,series,category,y,lo,hi\n";
  for (int var = 0; var < v.NumVariants(); ++var) {
    for (int r : ShownRuns(v, fig, var)) {
      const SeedStats s = SummarizeSeeds(v.RateMeanPerSeed(var, r, Metric::kPerformance));
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

std::string Trace(const ExperimentView& v, const FigureSpec& fig) {
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

std::string WindowUtility(const ExperimentView& v, const FigureSpec& fig) {
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

std::string UtilityMeasuresCsv(const ExperimentView& v, const FigureSpec& fig) {
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
      const SeedStats s = SummarizeSeeds(k == 0 ? m.share_higher : k == 1 ? m.mean_ratio : m.past90_ratio);
      csv += fmt::format("{},{},{},{},{},{}\n", CsvField(names[k]), CsvField(fmt::format("vs {}", fig.reference)),
                         CsvField(v.RunLabel(r)), Num(s.mean), Num(s.min), Num(s.max));
    }
  }
  return csv;
}

// ---- tables -----------------------------------------------------------------------------------

std::string CountText(const SeedStats& s) {
  if (s.n <= 1 || !std::isfinite(s.sd)) return fmt::format("{:.0f}", s.mean);
  return fmt::format("{:.0f} ± {:.0f}", s.mean, s.sd);
}

void BuildTable(const ExperimentView& v, const TableSpec& table, const std::string& banner, ExperimentOutputs& out) {
  const CellResult* first = v.First(0, 0);
  const std::vector<double>& thresholds = first->summary.thresholds;
  std::vector<int> runs;
  for (int r = 0; r < static_cast<int>(v.spec().runs.size()); ++r) {
    if (v.Runs(r, 0)) runs.push_back(r);
  }
  auto counts = [&](int run, size_t k) {
    std::vector<double> values;
    for (const Summary* s : v.Seeds(0, run, 0)) values.push_back(static_cast<double>(s->threshold_counts[k]));
    return SummarizeSeeds(values);
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
      const SeedStats s = counts(r, k);
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
    const SeedStats s = SummarizeSeeds(values);
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

}  // namespace

std::string ThresholdLabel(double threshold) {
  return threshold >= 1.0 ? fmt::format("= {:.2f}", threshold) : fmt::format(">= {:.2f}", threshold);
}

ExperimentOutputs BuildOutputs(const ExperimentData& data, const std::string& banner) {
  const ExperimentView v(data);
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
  for (const ClaimSpec& claim : spec.claims) out.claims.push_back(EvaluateClaim(v, claim));
  return out;
}

}  // namespace bestserve::reproduce
