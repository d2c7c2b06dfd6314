#include "reproduce/reproduce.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "common/files.h"
#include "common/json_writer.h"
#include "reproduce/experiment_run.h"
#include "reproduce/outputs.h"
#include "reproduce/policy_cache.h"
#include "router/export/export.h"
#include "scenario/scenario.h"
#include "sweep/merge.h"
#include "common/format.h"

namespace bestserve::reproduce {
namespace {

namespace fs = std::filesystem;

// Whole-run progress. Work is counted in units: one per training iteration, and per simulation
// cell an estimate of its requests (rate x 40 s for a rate sweep, 10,000 for a workload run)
// times kUnitsPerRequest, a ratio measured on the dev machine (a training iteration, ~340 us,
// costs about as much as simulating 170 requests). The percentage is units done over all units.
// The ETA follows the schedule: trainings run `workers` at a time and a fine-tune starts after
// its parent, so the training time left is max(longest chain left, all iterations left /
// workers) at the pace of one training so far; the simulations then share the workers.
constexpr double kUnitsPerRequest = 0.006;

double CellUnits(const ExperimentSpec& e, const CellKey& key) {
  const double requests = e.kind == ExperimentKind::kRateSweep ? e.rates[static_cast<size_t>(key.rate)] * 40.0 + 20.0 : 10000.0;
  return requests * kUnitsPerRequest;
}

class Progress {
 public:
  struct Training {
    std::string name;
    int parent = -1;  // index of the policy it is fine-tuned from
    int64_t total = 0;
    int64_t done = 0;
  };

  Progress(const ReproduceOptions& options, std::vector<Training> trainings, double sim_units)
      : options_(options), trainings_(std::move(trainings)), sim_total_(sim_units) {
    for (const Training& t : trainings_) train_total_ += static_cast<double>(t.total);
  }

  void TrainingProgress(const std::string& name, int64_t it) {
    std::lock_guard lock(mutex_);
    const double now = Now();
    busy_seconds_ += (now - last_) * static_cast<double>(Running());
    last_ = now;
    std::string text;
    for (Training& t : trainings_) {
      if (t.name == name) t.done = it;
      if (t.done > 0 && t.done < t.total) text += fmt::format("{}{} {}/{}", text.empty() ? "" : ", ", t.name, t.done, t.total);
    }
    phase_ = text.empty() ? std::string("policies: finishing") : "training " + text;
    Show();
  }
  void Simulations(const std::string& phase, double done_units) {
    std::lock_guard lock(mutex_);
    if (sim_start_ < 0) sim_start_ = Now();
    for (Training& t : trainings_) t.done = t.total;
    phase_ = phase;
    sim_done_ = done_units;
    Show();
  }
  double Now() const { return options_.clock ? options_.clock() : 0.0; }

 private:
  int Running() const {
    int n = 0;
    for (const Training& t : trainings_) n += t.done > 0 && t.done < t.total;
    return n;
  }
  double Left(size_t i) const {
    const Training& t = trainings_[i];
    return static_cast<double>(t.total - t.done) + (t.parent >= 0 ? Left(static_cast<size_t>(t.parent)) : 0.0);
  }
  double Eta() const {
    double done = 0.0;
    for (const Training& t : trainings_) done += static_cast<double>(t.done);
    const double workers = std::max(1, options_.workers);
    if (sim_start_ >= 0) {  // simulating: the pace of the simulations so far
      const double elapsed = Now() - sim_start_;
      return sim_done_ > 0 && elapsed > 0 ? (sim_total_ - sim_done_) * elapsed / sim_done_ : NAN;
    }
    if (done <= 0 || busy_seconds_ <= 0) return NAN;
    const double pace = done / busy_seconds_;  // iterations per second of one training
    double longest = 0.0;
    for (size_t i = 0; i < trainings_.size(); ++i) longest = std::max(longest, Left(i));
    const double training = std::max(longest, (train_total_ - done) / workers) / pace;
    return training + sim_total_ / (pace * workers);
  }
  void Show() {
    if (!options_.status) return;
    double done = sim_done_;
    for (const Training& t : trainings_) done += static_cast<double>(t.done);
    const double total = train_total_ + sim_total_;
    const double fraction = total > 0 ? std::min(1.0, done / total) : 0.0;
    options_.status(fmt::format("[{:3.0f}%] {} | elapsed {} | ETA {}", 100.0 * fraction, phase_, FormatDuration(Now()),
                                FormatDuration(Eta())));
  }

  const ReproduceOptions& options_;
  std::vector<Training> trainings_;
  double train_total_ = 0.0;
  double sim_total_ = 0.0;
  double sim_done_ = 0.0;
  double sim_start_ = -1.0;
  double busy_seconds_ = 0.0;
  double last_ = 0.0;
  std::string phase_;
  std::mutex mutex_;
};

std::string FiguresJson(const std::vector<FigureEntry>& figures, const std::string& banner) {
  JsonWriter j;
  j.BeginObject();
  j.FieldString("format", "bestserve-reproduce-figures-1");
  j.FieldString("banner", banner);
  j.Key("figures").BeginArray();
  for (const FigureEntry& f : figures) {
    j.BeginObject();
    j.FieldString("id", f.id).FieldString("kind", f.kind).FieldString("csv", f.csv).FieldString("out", f.out);
    j.FieldString("title", f.title).FieldString("xlabel", f.xlabel).FieldString("ylabel", f.ylabel);
    j.Key("log_x").Bool(f.log_x);
    j.FieldString("caption", f.caption);
    j.EndObject();
  }
  j.EndArray();
  j.EndObject();
  return j.str();
}

std::string OneLine(std::string text) {
  for (char& c : text) {
    if (c == '\n') c = ' ';
  }
  return text;
}

struct ExperimentReport {
  const ExperimentSpec* spec;
  ExperimentOutputs outputs;
  int64_t seeds;
  int64_t cells;
};

std::string FormatReport(const Plan& plan, const ReproduceOptions& options, const std::vector<TrainedPolicy>& policies,
                         const std::vector<ExperimentReport>& experiments) {
  std::string md = "# Reproducing \"Learned Best-Effort LLM Serving\" (Jha et al., 2024) with bestserve\n\n";
  if (options.quick) md += fmt::format("> **{}**\n\n", plan.quick_banner);
  md += fmt::format(
      "Generated by `bestserve reproduce{}` from `{}` ({} mode). The paper's facts are restated in "
      "`../shared/PAPER.md`; every number in the paper columns below comes from there.\n\n",
      options.quick ? " --quick" : "", PortableDataPath(plan.source), options.quick ? "quick" : "full");
  md += "**Read this first.** Our latency profiles are the `paper` profile set: DERIVED from public "
        "figures and calibrated to the paper's stated break points (OPT-6.7B alone saturating near 2 "
        "requests/s), not measured on the paper's TITAN RTX GPUs (see `profiles/paper/`). So the "
        "comparison is of shapes (who wins where, how the policy shifts), not of digits.\n\n";
  // Whether a policy was trained now or reused goes to run.json only: this file must not
  // depend on the state of the cache.
  md += "Policies (trained once per training config and cached by its hash; `run.json` says which were "
        "reused):\n\n| policy | training config | iterations | validation mean reward (fraction of peak) | cache key "
        "|\n|---|---|---:|---:|---|\n";
  for (const TrainedPolicy& p : policies) {
    const PolicySpec* spec = plan.FindPolicy(p.name);
    md += fmt::format("| {} | `{}`{} | {} | {} | `{}` |\n", p.name, PortableDataPath(spec->train_config),
                      spec->init_from.empty() ? "" : fmt::format(", fine-tuned from {}", spec->init_from), p.iterations,
                      std::isnan(p.validation_score) ? std::string("-") : fmt::format("{:.4f}", p.validation_score), p.key);
  }
  md += "\nBeside the paper's routers (the learned policy and the single-model baselines, each GPU "
        "holding one model with all of its memory), every experiment runs the built-in `greedy` and "
        "`threshold` routers, so that the table shows what learning buys over a simple heuristic.\n\n";

  int64_t counts[3] = {0, 0, 0};
  std::string summary = "## Verdicts\n\n| claim | paper | ours | verdict |\n|---|---|---|---|\n";
  for (const ExperimentReport& e : experiments) {
    for (const ClaimResult& c : e.outputs.claims) {
      ++counts[static_cast<int>(c.verdict)];
      summary += fmt::format("| {} | {} | {} | **{}** |\n", OneLine(c.text), OneLine(c.paper), OneLine(c.ours), VerdictName(c.verdict));
    }
  }
  md += summary;
  md += fmt::format("\n{} reproduced, {} partly, {} not reproduced. Verdict rules per check: `docs/reproduce.md`.\n\n",
                    counts[0], counts[1], counts[2]);

  for (const ExperimentReport& e : experiments) {
    const ExperimentSpec& s = *e.spec;
    md += fmt::format("## {}\n\n", s.title);
    md += fmt::format("Experiment `{}`: scenario `{}`", PortableDataPath(s.source), PortableDataPath(s.scenario));
    if (s.kind == ExperimentKind::kRateSweep) {
      md += fmt::format(", {} rates from {} to {} requests/s", s.rates.size(), s.rates.front(), s.rates.back());
    }
    md += fmt::format(", {} seed{}, {} simulations.\n\n", e.seeds, e.seeds == 1 ? "" : "s", e.cells);
    for (size_t i = 0; i < s.figures.size(); ++i) {
      const FigureSpec& f = s.figures[i];
      const FigureEntry& entry = e.outputs.figures[i];
      md += fmt::format("**{}** ([data]({}))\n\n![{}]({}.png)\n\n", f.title, entry.csv, f.id, entry.out);
      if (!f.paper.empty()) md += fmt::format("The paper's figure: {}\n\n", f.paper);
    }
    for (const std::string& table : e.outputs.tables_markdown) md += table + "\n";
    for (const ClaimResult& c : e.outputs.claims) {
      md += fmt::format("**Claim: {}** Verdict: **{}**.\n\n- Paper: {}\n- Ours: {}\n", OneLine(c.text), VerdictName(c.verdict),
                        OneLine(c.paper), OneLine(c.ours));
      // Even a reproduced shape comes with other digits: the reason is given for every claim.
      if (!c.why_different.empty()) md += fmt::format("- Why ours may differ: {}\n", OneLine(c.why_different));
      md += "\n";
      if (!c.detail.empty()) md += c.detail + "\n";
    }
  }
  return md;
}

}  // namespace

ReproduceResult Reproduce(const Plan& plan, const ReproduceOptions& options) {
  const fs::path out(options.out_dir);
  // A run killed mid-write left its temporaries beside the files (never a half-written file).
  RemoveAbandonedTemporaries(options.out_dir);
  auto log = [&](const std::string& line) {
    if (options.log) options.log(line);
  };

  // Only the policies some experiment runs are trained.
  Plan trained = plan;
  trained.policies = PoliciesNeeded(plan);
  // The work ahead, in units (see kUnitsPerRequest).
  const std::vector<int64_t> iterations = PlannedIterations(trained, options.quick);
  std::vector<Progress::Training> trainings;
  for (size_t i = 0; i < trained.policies.size(); ++i) {
    int parent = -1;
    for (size_t k = 0; k < i; ++k) {
      if (trained.policies[k].name == trained.policies[i].init_from) parent = static_cast<int>(k);
    }
    trainings.push_back({trained.policies[i].name, parent, iterations[i], 0});
  }
  std::vector<int64_t> seeds;
  std::vector<double> experiment_units;
  double sim_units = 0.0;
  for (const ExperimentSpec& e : plan.experiments) {
    seeds.push_back(options.quick ? std::min(e.seeds, plan.quick_seeds) : e.seeds);
    double units = 0.0;
    for (const CellKey& key : ListCells(e, seeds.back())) units += CellUnits(e, key);
    experiment_units.push_back(units);
    sim_units += units;
  }
  Progress progress(options, trainings, sim_units);
  const double start = progress.Now();

  PolicyOptions policy_options;
  policy_options.cache_dir = options.cache_dir;
  policy_options.quick = options.quick;
  policy_options.retrain = options.retrain;
  policy_options.workers = options.workers;
  policy_options.clock = options.clock;
  policy_options.log = log;
  policy_options.progress = [&](const std::string& name, int64_t it, int64_t) { progress.TrainingProgress(name, it); };
  const std::vector<TrainedPolicy> policies = ProvidePolicies(trained, policy_options);
  const double training_seconds = progress.Now() - start;
  std::map<std::string, std::string> policy_files;
  for (const TrainedPolicy& p : policies) policy_files[p.name] = p.file;
  // Each policy also exported for the router library, so a reproduced run deploys as it is
  // (`bestserve gateway` with `policy: OUT/policies/hard.bsp`; README "Serving with the learned router").
  fs::create_directories(out / "policies");
  for (const TrainedPolicy& p : policies) {
    const std::string from = fmt::format("bestserve reproduce: policy '{}', {} of cache entry {}", p.name,
                                         fs::path(p.file).filename().string(), p.key);
    ExportPolicy(p.file, (out / "policies" / (p.name + ".bsp")).string(), "", {}, from);
  }

  std::vector<ExperimentReport> reports;
  std::vector<double> experiment_seconds;
  double done = 0.0;
  for (size_t i = 0; i < plan.experiments.size(); ++i) {
    const ExperimentSpec& e = plan.experiments[i];
    const double t0 = progress.Now();
    const std::vector<CellKey> keys = ListCells(e, seeds[i]);
    const double per_cell = keys.empty() ? 0.0 : experiment_units[i] / static_cast<double>(keys.size());
    const std::string phase = fmt::format("experiment {}/{} '{}'", i + 1, plan.experiments.size(), e.name);
    progress.Simulations(phase, done);
    const ExperimentData data = RunExperiment(e, seeds[i], policy_files, options.workers, [&](int64_t k, int64_t n) {
      progress.Simulations(fmt::format("{}: {}/{} simulations", phase, k, n), done + per_cell * static_cast<double>(k));
    });
    done += experiment_units[i];
    reports.push_back({&e, BuildOutputs(data, options.quick ? plan.quick_banner : ""), seeds[i], static_cast<int64_t>(keys.size())});
    experiment_seconds.push_back(progress.Now() - t0);
    log(fmt::format("experiment '{}': {} simulations in {:.1f} s", e.name, keys.size(), experiment_seconds.back()));
  }

  // Everything is written only now, after the last experiment: a failure midway leaves the
  // previous run's outputs as they were. Files of the managed folders that this run does not
  // produce (an earlier --only run, a renamed figure) are removed so that none is mistaken for
  // this run's.
  std::set<std::string> produced;
  for (const ExperimentReport& r : reports) {
    for (const OutputFile& f : r.outputs.files) {
      WriteFileAtomically((out / f.path).string(), f.text);
      produced.insert(fs::path(f.path).lexically_normal().string());
    }
    for (const FigureEntry& f : r.outputs.figures) {
      produced.insert(fs::path(f.out + ".png").lexically_normal().string());
      produced.insert(fs::path(f.out + ".svg").lexically_normal().string());
    }
  }
  for (const char* folder : {"data", "tables", "figures"}) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(out / folder, ec)) {
      const std::string rel = fs::relative(entry.path(), out).lexically_normal().string();
      const std::string ext = entry.path().extension().string();
      const bool ours = ext == ".csv" || ext == ".md" || ext == ".png" || ext == ".svg";
      if (entry.is_regular_file() && ours && produced.count(rel) == 0) fs::remove(entry.path());
    }
  }

  std::vector<FigureEntry> figures;
  std::string claims_csv = "id,experiment,verdict,paper,ours\n";
  ReproduceResult result;
  for (const ExperimentReport& r : reports) {
    figures.insert(figures.end(), r.outputs.figures.begin(), r.outputs.figures.end());
    for (const ClaimResult& c : r.outputs.claims) {
      claims_csv += fmt::format("{},{},{},{},{}\n", sweep::CsvField(c.id), sweep::CsvField(r.spec->name),
                                sweep::CsvField(VerdictName(c.verdict)), sweep::CsvField(OneLine(c.paper)),
                                sweep::CsvField(OneLine(c.ours)));
      (c.verdict == Verdict::kReproduced ? result.reproduced : c.verdict == Verdict::kPartly ? result.partly : result.not_reproduced)++;
    }
  }
  WriteFileAtomically((out / "figures.json").string(), FiguresJson(figures, options.quick ? plan.quick_banner : ""));
  WriteFileAtomically((out / "claims.csv").string(), claims_csv);
  if (options.draw_figures) options.draw_figures(options.out_dir);
  result.report = (out / "REPORT.md").string();
  WriteFileAtomically(result.report, FormatReport(plan, options, policies, reports));
  result.seconds = progress.Now() - start;

  JsonWriter j;
  j.BeginObject();
  j.FieldString("format", "bestserve-reproduce-run-1");
  j.FieldString("plan", PortableDataPath(plan.source));
  j.FieldString("mode", options.quick ? "quick" : "full");
  j.FieldInt("workers", options.workers);
  j.Field("wall_seconds", result.seconds);
  j.Field("training_wall_seconds", training_seconds);
  j.Key("policies").BeginArray();
  for (const TrainedPolicy& p : policies) {
    j.BeginObject().FieldString("name", p.name).FieldString("key", p.key).FieldString("dir", p.dir);
    j.FieldInt("iterations", p.iterations).Field("validation_score", p.validation_score);
    j.Key("reused").Bool(p.reused);
    j.Field("training_wall_seconds", p.wall_seconds).EndObject();
  }
  j.EndArray();
  j.Key("experiments").BeginArray();
  for (size_t i = 0; i < reports.size(); ++i) {
    j.BeginObject().FieldString("name", reports[i].spec->name).FieldInt("seeds", reports[i].seeds);
    j.FieldInt("simulations", reports[i].cells).Field("wall_seconds", experiment_seconds[i]).EndObject();
  }
  j.EndArray();
  j.FieldInt("claims_reproduced", result.reproduced).FieldInt("claims_partly", result.partly);
  j.FieldInt("claims_not_reproduced", result.not_reproduced);
  j.EndObject();
  WriteFileAtomically((out / "run.json").string(), j.str());
  return result;
}

}  // namespace bestserve::reproduce
