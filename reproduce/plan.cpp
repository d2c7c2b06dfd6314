#include "reproduce/plan.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "scenario/scenario.h"
#include "sweep/grid.h"

namespace bestserve::reproduce {
namespace {

namespace fs = std::filesystem;

// A YAML value as the text ScenarioOverrides applies: scalars as written, maps and lists in flow
// style (one line, so that messages quoting it stay readable).
std::string ValueText(const ConfigNode& node) {
  if (node.IsScalar()) return node.yaml().Scalar();
  YAML::Emitter out;
  out << YAML::Flow << node.yaml();
  return out.c_str();
}

KeyValues ParseSet(const std::optional<ConfigNode>& node) {
  KeyValues set;
  if (!node) return set;
  node->ExpectMap("scenario key path -> value overrides");
  for (const std::string& key : node->Keys()) set.emplace_back(key, ValueText(node->Child(key)));
  return set;
}

std::string ResolvePath(const ConfigNode& node, const std::string& dir) { return ResolveDataPath(node, dir); }

const std::set<std::string>& FigureKinds(ExperimentKind kind) {
  static const std::set<std::string> kRate = {"performance", "utility", "selection", "task_selection",
                                              "task_share", "variant_selection", "mean_reward"};
  static const std::set<std::string> kWorkload = {"trace", "window_utility", "utility_measures", "mean_reward"};
  return kind == ExperimentKind::kRateSweep ? kRate : kWorkload;
}

// Keys each claim check accepts besides `kind` (see docs/reproduce.md for their meaning).
const std::map<std::string, std::vector<std::string>>& ClaimKeys() {
  static const std::map<std::string, std::vector<std::string>> kKeys = {
      {"collapse_rate", {"run", "below", "paper_rps", "factor"}},
      {"available_multiple", {"run", "reference", "below", "multiple"}},
      {"matches_at_low_rates", {"run", "reference", "max_rps", "tolerance"}},
      {"not_worse_than_best_static", {"run", "baselines", "tolerance"}},
      {"rate_shift", {"run", "model", "min_drop"}},
      {"largest_share_task", {"run", "task", "model"}},
      {"best_only_above", {"run", "baselines", "min_rps"}},
      {"share_shift", {"run", "reference", "shifts"}},
      {"table_shape", {"table"}},
      {"beats_static_mean", {"run", "baselines"}},
      {"utility_higher", {"run", "reference"}},
      {"hardware_utility", {"run", "reference", "paper"}},
  };
  return kKeys;
}

// Checks that look at the first variant only (the others compare across every variant where
// their runs run).
bool IsFirstVariantClaim(const std::string& kind) {
  return kind != "not_worse_than_best_static" && kind != "beats_static_mean" && kind != "utility_higher";
}

bool IsRateOnlyClaim(const std::string& kind) {
  return kind == "collapse_rate" || kind == "available_multiple" || kind == "matches_at_low_rates" ||
         kind == "not_worse_than_best_static" || kind == "rate_shift" || kind == "best_only_above" ||
         kind == "utility_higher";
}

struct Names {
  std::vector<std::string> models;
  std::vector<std::string> tasks;
};

void CheckName(const ConfigNode& node, const std::vector<std::string>& valid, const std::string& what) {
  const std::string value = node.AsString();
  if (std::find(valid.begin(), valid.end(), value) == valid.end()) {
    node.Fail(fmt::format("unknown {} '{}'; expected one of: {}", what, value, fmt::join(valid, ", ")));
  }
}

std::vector<std::string> RunLabels(const ExperimentSpec& e) {
  std::vector<std::string> labels;
  for (const RunSpec& r : e.runs) {
    if (std::find(labels.begin(), labels.end(), r.label) == labels.end()) labels.push_back(r.label);
  }
  return labels;
}

int CheckRun(const ExperimentSpec& e, const ConfigNode& node) {
  const std::string label = node.AsString();
  const int index = e.RunIndex(label);
  if (index < 0) node.Fail(fmt::format("unknown run '{}'; the runs are: {}", label, fmt::join(RunLabels(e), ", ")));
  return index;
}

void ValidateClaim(const ExperimentSpec& e, const ClaimSpec& claim, const Names& names) {
  const ConfigNode& c = claim.check;
  std::vector<std::string> keys = {"kind"};
  const auto& extra = ClaimKeys().at(claim.kind);
  keys.insert(keys.end(), extra.begin(), extra.end());
  c.CheckKeys(keys);
  if (IsRateOnlyClaim(claim.kind) && e.kind != ExperimentKind::kRateSweep) {
    c.Child("kind").Fail(fmt::format("check '{}' needs a rate_sweep experiment", claim.kind));
  }
  if (claim.kind == "hardware_utility" && e.kind != ExperimentKind::kWorkload) {
    c.Child("kind").Fail("check 'hardware_utility' compares windows: it needs a workload experiment");
  }
  // Every run a check names must exist; for a first-variant check it must run there, and for
  // the others all of them must run together in at least one variant: a check with nothing to
  // compare is a plan error, not a verdict.
  std::vector<ConfigNode> named;
  for (const char* key : {"run", "reference"}) {
    if (std::find(extra.begin(), extra.end(), key) != extra.end()) named.push_back(c.Child(key));
  }
  if (auto baselines = c.MaybeChild("baselines")) {
    baselines->ExpectSequence("run labels");
    if (baselines->size() == 0) baselines->Fail("expected at least one baseline run");
    for (size_t i = 0; i < baselines->size(); ++i) named.push_back(baselines->Element(i));
  }
  for (const ConfigNode& node : named) CheckRun(e, node);
  auto runs_together = [&](int variant) {
    return std::all_of(named.begin(), named.end(), [&](const ConfigNode& node) {
      for (size_t r = 0; r < e.runs.size(); ++r) {
        if (e.runs[r].label == node.AsString() && e.RunsIn(static_cast<int>(r), variant)) return true;
      }
      return false;
    });
  };
  if (IsFirstVariantClaim(claim.kind) && !runs_together(0)) {
    c.Fail(fmt::format("check '{}' compares runs in the first variant ('{}'), but not all of them run there",
                       claim.kind, e.variants[0].label));
  }
  bool any = false;
  for (size_t v = 0; v < e.variants.size(); ++v) any = any || runs_together(static_cast<int>(v));
  if (!any) c.Fail(fmt::format("check '{}': its runs never run together in one variant", claim.kind));
  if (claim.kind == "matches_at_low_rates" && e.rates.front() > c.GetDouble("max_rps")) {
    c.Child("max_rps").Fail(fmt::format("no rate of the experiment is <= {} (the lowest is {})", c.GetDouble("max_rps"), e.rates.front()));
  }
  if (claim.kind == "best_only_above" && e.rates.front() >= c.GetDouble("min_rps")) {
    c.Child("min_rps").Fail(fmt::format("no rate of the experiment is below {} (the lowest is {})", c.GetDouble("min_rps"), e.rates.front()));
  }
  if (auto model = c.MaybeChild("model")) CheckName(*model, names.models, "model");
  if (auto task = c.MaybeChild("task")) CheckName(*task, names.tasks, "task");
  if (claim.kind == "table_shape") {
    const ConfigNode table = c.Child("table");
    const bool found = std::any_of(e.tables.begin(), e.tables.end(),
                                   [&](const TableSpec& t) { return t.id == table.AsString(); });
    if (!found) table.Fail(fmt::format("no table '{}' in this experiment", table.AsString()));
  }
  if (claim.kind == "share_shift") {
    const ConfigNode shifts = c.Child("shifts");
    shifts.ExpectSequence("shifts: [{task, model, direction, paper_change}]");
    if (shifts.size() == 0) shifts.Fail("expected at least one shift");
    for (size_t i = 0; i < shifts.size(); ++i) {
      const ConfigNode s = shifts.Element(i);
      s.ExpectMap("a shift {task, model, direction, paper_change}");
      s.CheckKeys({"task", "model", "direction", "paper_change"});
      CheckName(s.Child("task"), names.tasks, "task");
      CheckName(s.Child("model"), names.models, "model");
      CheckName(s.Child("direction"), {"up", "down"}, "direction");
      if (s.Has("paper_change")) s.GetDouble("paper_change");
    }
  }
  if (claim.kind == "hardware_utility") {
    const ConfigNode paper = c.Child("paper");
    paper.ExpectMap("the paper's numbers {share_higher, mean_ratio, past90_ratio}");
    paper.CheckKeys({"share_higher", "mean_ratio", "past90_ratio"});
    for (const char* key : {"share_higher", "mean_ratio", "past90_ratio"}) paper.GetPositiveDouble(key);
  }
  for (const char* key : {"below", "paper_rps", "factor", "multiple", "max_rps", "tolerance", "min_drop", "min_rps"}) {
    if (c.Has(key)) c.GetNonNegativeDouble(key, 0.0);
  }
}

ExperimentSpec LoadExperiment(const std::string& path, const std::vector<PolicySpec>& policies) {
  const ConfigNode root = ConfigNode::LoadFile(path);
  root.ExpectMap("an experiment");
  root.CheckKeys({"title", "kind", "scenario", "set", "rates", "seeds", "variants", "runs", "tables", "figures",
                  "claims", "notes"});
  const std::string dir = fs::path(path).parent_path().string();
  ExperimentSpec e;
  e.source = path;
  e.name = fs::path(path).stem().string();
  e.title = root.GetString("title");
  const ConfigNode kind = root.Child("kind");
  if (kind.AsString() == "rate_sweep") {
    e.kind = ExperimentKind::kRateSweep;
  } else if (kind.AsString() == "workload") {
    e.kind = ExperimentKind::kWorkload;
  } else {
    kind.Fail(fmt::format("expected rate_sweep or workload, got '{}'", kind.AsString()));
  }
  e.scenario = ResolvePath(root.Child("scenario"), dir);
  e.set = ParseSet(root.MaybeChild("set"));
  if (e.kind == ExperimentKind::kRateSweep) {
    const ConfigNode rates = root.Child("rates");
    for (const sweep::AxisValue& v : sweep::AxisValues(rates)) {
      const ConfigNode value = ConfigNode::LoadString(v.canonical, v.where);
      const double rate = value.AsDouble();
      if (!(rate > 0.0)) rates.Fail(fmt::format("expected rates > 0, got {}", v.canonical));
      e.rates.push_back(rate);
    }
    if (!std::is_sorted(e.rates.begin(), e.rates.end())) rates.Fail("expected rates in increasing order");
  } else if (root.Has("rates")) {
    root.Child("rates").Fail("rates are for rate_sweep experiments; a workload experiment runs its scenario's workload");
  }
  e.seeds = root.GetPositiveInt("seeds", 1);

  if (auto variants = root.MaybeChild("variants")) {
    variants->ExpectSequence("variants: [{label, set}]");
    for (size_t i = 0; i < variants->size(); ++i) {
      const ConfigNode v = variants->Element(i);
      v.ExpectMap("a variant {label, set}");
      v.CheckKeys({"label", "set"});
      VariantSpec spec{v.GetString("label"), ParseSet(v.MaybeChild("set"))};
      for (const VariantSpec& other : e.variants) {
        if (other.label == spec.label) v.Child("label").Fail(fmt::format("duplicate variant '{}'", spec.label));
      }
      e.variants.push_back(std::move(spec));
    }
    if (e.variants.empty()) variants->Fail("expected at least one variant");
  } else {
    e.variants.push_back(VariantSpec{});
  }

  const ConfigNode runs = root.Child("runs");
  runs.ExpectSequence("runs: [{label, router, set, variants}]");
  if (runs.size() == 0) runs.Fail("expected at least one run");
  for (size_t i = 0; i < runs.size(); ++i) {
    const ConfigNode r = runs.Element(i);
    r.ExpectMap("a run {label, router, set, variants}");
    r.CheckKeys({"label", "router", "set", "variants"});
    RunSpec run;
    run.label = r.GetString("label");
    const ConfigNode router = r.Child("router");
    const std::string text = router.AsString();
    if (text.rfind("trained:", 0) == 0) {
      run.policy = text.substr(std::string("trained:").size());
      const bool known = std::any_of(policies.begin(), policies.end(), [&](const PolicySpec& p) { return p.name == run.policy; });
      if (!known) {
        std::vector<std::string> valid;
        for (const PolicySpec& p : policies) valid.push_back(p.name);
        router.Fail(fmt::format("unknown policy '{}'; the plan's policies are: {}", run.policy, fmt::join(valid, ", ")));
      }
    } else {
      run.router = text;
    }
    run.set = ParseSet(r.MaybeChild("set"));
    if (auto only = r.MaybeChild("variants")) {
      only->ExpectSequence("variant labels");
      for (size_t k = 0; k < only->size(); ++k) {
        const ConfigNode label = only->Element(k);
        int found = -1;
        for (size_t v = 0; v < e.variants.size(); ++v) {
          if (e.variants[v].label == label.AsString()) found = static_cast<int>(v);
        }
        if (found < 0) label.Fail(fmt::format("unknown variant '{}'", label.AsString()));
        run.variants.push_back(found);
      }
    }
    // One label may name several runs only when they cover different variants (the policy of
    // each deadline rule in the utility figure).
    for (size_t k = 0; k < e.runs.size(); ++k) {
      if (e.runs[k].label != run.label) continue;
      for (size_t v = 0; v < e.variants.size(); ++v) {
        if (e.RunsIn(static_cast<int>(k), static_cast<int>(v)) &&
            (run.variants.empty() || std::count(run.variants.begin(), run.variants.end(), static_cast<int>(v)) > 0)) {
          r.Child("label").Fail(fmt::format("duplicate run '{}' in variant '{}'", run.label, e.variants[v].label));
        }
      }
    }
    e.runs.push_back(std::move(run));
  }

  // Load the scenario of every (variant, run) now: a bad key or router fails here, with the
  // scenario loader's own message, before any training. Model and task names come from it.
  Names names;
  for (size_t v = 0; v < e.variants.size(); ++v) {
    for (size_t r = 0; r < e.runs.size(); ++r) {
      if (!e.RunsIn(static_cast<int>(r), static_cast<int>(v))) continue;
      ScenarioOverrides overrides;
      for (const KeyValues* set : {&e.set, &e.variants[v].set, &e.runs[r].set}) {
        overrides.set_values.insert(overrides.set_values.end(), set->begin(), set->end());
      }
      if (e.kind == ExperimentKind::kRateSweep) overrides.set_values.emplace_back("workload.rate_rps", fmt::format("{}", e.rates.front()));
      Scenario scenario;
      try {
        scenario = LoadScenario(e.scenario, overrides);
        if (!e.runs[r].router.empty()) {
          const std::string& spec = e.runs[r].router;
          const bool dedicated = spec.rfind("dedicated:", 0) == 0;
          MakeScenarioRouter(scenario, dedicated ? "static:" + spec.substr(std::string("dedicated:").size()) : spec);
        }
      } catch (const ConfigError& error) {
        runs.Element(r).Fail(fmt::format("run '{}'{}: {}", e.runs[r].label,
                                         e.variants[v].label.empty() ? "" : " in variant '" + e.variants[v].label + "'",
                                         error.what()));
      }
      if (names.models.empty()) {
        names.models = scenario.system.model_names;
        for (int32_t t = 0; t < scenario.tasks.num_tasks(); ++t) names.tasks.push_back(scenario.tasks.task(t).name);
      }
    }
  }

  if (auto tables = root.MaybeChild("tables")) {
    if (e.kind != ExperimentKind::kWorkload) tables->Fail("tables are for workload experiments");
    tables->ExpectSequence("tables: [{id, title, paper}]");
    for (size_t i = 0; i < tables->size(); ++i) {
      const ConfigNode t = tables->Element(i);
      t.ExpectMap("a table {id, title, paper}");
      t.CheckKeys({"id", "title", "paper"});
      TableSpec table{t.GetString("id"), t.GetString("title"), {}};
      const ConfigNode paper = t.Child("paper");
      paper.ExpectMap("the paper's columns: run label -> one count per threshold");
      for (const std::string& column : paper.Keys()) {
        const int run = CheckRun(e, ConfigNode::LoadString(column, paper.Child(column).Where()));
        if (!e.RunsIn(run, 0)) paper.Child(column).Fail(fmt::format("run '{}' does not run in the first variant, which tables show", column));
        const ConfigNode values = paper.Child(column);
        values.ExpectSequence("one count per threshold");
        std::vector<double> counts;
        for (size_t k = 0; k < values.size(); ++k) counts.push_back(values.Element(k).AsDouble());
        if (counts.size() != 5) values.Fail(fmt::format("expected 5 counts (= 1.00, >= 0.99, 0.98, 0.96, 0.94), got {}", counts.size()));
        table.paper.emplace_back(column, std::move(counts));
      }
      e.tables.push_back(std::move(table));
    }
  }

  const ConfigNode figures = root.Child("figures");
  figures.ExpectSequence("figures: [{id, kind, title, ..}]");
  std::map<std::string, int> per_id;
  for (size_t i = 0; i < figures.size(); ++i) {
    const ConfigNode f = figures.Element(i);
    f.ExpectMap("a figure {id, kind, title, run, runs, model}");
    f.CheckKeys({"id", "kind", "title", "paper", "run", "runs", "model", "reference"});
    FigureSpec fig;
    fig.id = f.GetString("id");
    fig.kind = f.GetString("kind");
    fig.title = f.GetString("title");
    fig.paper = f.GetString("paper", "");
    const auto& kinds = FigureKinds(e.kind);
    if (kinds.count(fig.kind) == 0) {
      f.Child("kind").Fail(fmt::format("unknown figure kind '{}' for a {} experiment; expected one of: {}", fig.kind,
                                       e.kind == ExperimentKind::kRateSweep ? "rate_sweep" : "workload",
                                       fmt::join(kinds, ", ")));
    }
    if (auto run = f.MaybeChild("run")) {
      CheckRun(e, *run);
      fig.runs.push_back(run->AsString());
    }
    if (auto list = f.MaybeChild("runs")) {
      list->ExpectSequence("run labels");
      for (size_t k = 0; k < list->size(); ++k) {
        CheckRun(e, list->Element(k));
        fig.runs.push_back(list->Element(k).AsString());
      }
    }
    const bool needs_runs = fig.kind == "task_selection" || fig.kind == "variant_selection";
    if (needs_runs && fig.runs.empty()) f.Fail(fmt::format("figure kind '{}' needs `run` or `runs`", fig.kind));
    if (fig.kind == "task_share") {
      if (fig.runs.size() < 2) f.Fail("figure kind 'task_share' needs `runs` (at least two, to compare)");
      CheckName(f.Child("model"), names.models, "model");
      fig.model = f.GetString("model");
    } else if (f.Has("model")) {
      f.Child("model").Fail("`model` is for task_share figures");
    }
    if (fig.kind == "variant_selection" && e.variants.size() < 2) f.Fail("variant_selection needs variants");
    if (fig.kind == "utility_measures") {
      const ConfigNode reference = f.Child("reference");
      if (!e.RunsIn(CheckRun(e, reference), 0)) reference.Fail("the reference must run in the first variant");
      fig.reference = reference.AsString();
    } else if (f.Has("reference")) {
      f.Child("reference").Fail("`reference` is for utility_measures figures");
    }
    const int n = per_id[fig.id + "_" + fig.kind]++;
    fig.file = n == 0 ? fmt::format("{}_{}", fig.id, fig.kind) : fmt::format("{}_{}_{}", fig.id, fig.kind, n + 1);
    e.figures.push_back(std::move(fig));
  }

  if (auto claims = root.MaybeChild("claims")) {
    claims->ExpectSequence("claims: [{id, text, check, why_different}]");
    for (size_t i = 0; i < claims->size(); ++i) {
      const ConfigNode c = claims->Element(i);
      c.ExpectMap("a claim {id, text, check, why_different}");
      c.CheckKeys({"id", "text", "check", "why_different"});
      const ConfigNode check = c.Child("check");
      check.ExpectMap("a check {kind, ..}");
      ClaimSpec claim{c.GetString("id"), c.GetString("text"), check.GetString("kind"), check,
                      c.GetString("why_different", "")};
      if (ClaimKeys().count(claim.kind) == 0) {
        std::vector<std::string> valid;
        for (const auto& [k, _] : ClaimKeys()) valid.push_back(k);
        check.Child("kind").Fail(fmt::format("unknown check '{}'; expected one of: {}", claim.kind, fmt::join(valid, ", ")));
      }
      ValidateClaim(e, claim, names);
      e.claims.push_back(std::move(claim));
    }
  }
  return e;
}

}  // namespace

int ExperimentSpec::RunIndex(const std::string& label) const {
  for (size_t i = 0; i < runs.size(); ++i) {
    if (runs[i].label == label) return static_cast<int>(i);
  }
  return -1;
}

bool ExperimentSpec::RunsIn(int run, int variant) const {
  const auto& only = runs[static_cast<size_t>(run)].variants;
  return only.empty() || std::find(only.begin(), only.end(), variant) != only.end();
}

const PolicySpec* Plan::FindPolicy(const std::string& policy) const {
  for (const PolicySpec& p : policies) {
    if (p.name == policy) return &p;
  }
  return nullptr;
}

std::vector<std::string> Plan::OutputIds() const {
  std::vector<std::string> ids;
  auto add = [&](const std::string& id) {
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  };
  for (const ExperimentSpec& e : experiments) {
    for (const TableSpec& t : e.tables) add(t.id);
    for (const FigureSpec& f : e.figures) add(f.id);
  }
  return ids;
}

Plan LoadPlan(const std::string& path) {
  const ConfigNode root = ConfigNode::LoadFile(path);
  root.ExpectMap("a reproduction plan");
  root.CheckKeys({"name", "policies", "quick", "quick_learner", "experiments", "notes"});
  const std::string dir = fs::path(path).parent_path().string();
  Plan plan;
  plan.source = path;
  plan.name = root.GetString("name", fs::path(path).stem().string());

  const ConfigNode policies = root.Child("policies");
  policies.ExpectMap("policy name -> {train, init_from, quick}");
  std::vector<PolicySpec> pending;
  for (const std::string& name : policies.Keys()) {
    const ConfigNode p = policies.Child(name);
    p.ExpectMap("a policy {train, init_from, quick}");
    p.CheckKeys({"train", "init_from", "quick"});
    PolicySpec spec;
    spec.name = name;
    spec.where = p.Where();
    spec.train_config = ResolvePath(p.Child("train"), dir);
    spec.init_from = p.GetString("init_from", "");
    if (auto quick = p.MaybeChild("quick")) {
      quick->ExpectMap("quick-mode settings {iterations, learner}");
      quick->CheckKeys({"iterations", "learner"});
      if (quick->Has("iterations")) spec.quick_iterations = quick->GetPositiveInt("iterations", 1);
      if (auto learner = quick->MaybeChild("learner")) {
        learner->ExpectMap("learner settings (agent/learn/learner_settings.h)");
        spec.quick_learner = *learner;
      }
    }
    pending.push_back(std::move(spec));
  }
  // Dependency order: a policy after the one it is fine-tuned from; cycles and unknown names fail.
  while (!pending.empty()) {
    bool progressed = false;
    for (auto it = pending.begin(); it != pending.end();) {
      const bool ready = it->init_from.empty() || plan.FindPolicy(it->init_from) != nullptr;
      if (ready) {
        plan.policies.push_back(std::move(*it));
        it = pending.erase(it);
        progressed = true;
      } else {
        ++it;
      }
    }
    if (!progressed) {
      const PolicySpec& p = pending.front();
      const bool exists = std::any_of(pending.begin(), pending.end(), [&](const PolicySpec& q) { return q.name == p.init_from; });
      policies.Child(p.name).Child("init_from").Fail(
          exists ? fmt::format("policies fine-tune from each other in a cycle ('{}' <- '{}')", p.name, p.init_from)
                 : fmt::format("unknown policy '{}' to fine-tune from", p.init_from));
    }
  }

  if (auto quick = root.MaybeChild("quick")) {
    quick->ExpectMap("quick-mode settings {seeds, banner}");
    quick->CheckKeys({"seeds", "banner"});
    plan.quick_seeds = quick->GetPositiveInt("seeds", plan.quick_seeds);
    plan.quick_banner = quick->GetString("banner", "");
  }
  if (plan.quick_banner.empty()) plan.quick_banner = "QUICK RUN: reduced budgets; not the paper-scale result";

  const ConfigNode experiments = root.Child("experiments");
  experiments.ExpectSequence("experiment files");
  std::set<std::string> files;
  for (size_t i = 0; i < experiments.size(); ++i) {
    const ConfigNode node = experiments.Element(i);
    const std::string file = ResolvePath(node, dir);
    ExperimentSpec e = LoadExperiment(file, plan.policies);
    for (const FigureSpec& f : e.figures) {
      if (!files.insert(f.file).second) node.Fail(fmt::format("figure output '{}' appears in two experiments", f.file));
    }
    for (const TableSpec& t : e.tables) {
      if (!files.insert(t.id).second) node.Fail(fmt::format("table '{}' appears twice", t.id));
    }
    plan.experiments.push_back(std::move(e));
  }
  return plan;
}

std::vector<PolicySpec> PoliciesNeeded(const Plan& plan) {
  std::set<std::string> needed;
  for (const ExperimentSpec& e : plan.experiments) {
    for (const RunSpec& r : e.runs) {
      if (!r.policy.empty()) needed.insert(r.policy);
    }
  }
  // A fine-tuned policy needs the one it starts from (which comes earlier in plan order).
  for (auto it = plan.policies.rbegin(); it != plan.policies.rend(); ++it) {
    if (needed.count(it->name) > 0 && !it->init_from.empty()) needed.insert(it->init_from);
  }
  std::vector<PolicySpec> out;
  for (const PolicySpec& p : plan.policies) {
    if (needed.count(p.name) > 0) out.push_back(p);
  }
  return out;
}

Plan SelectOutputs(const Plan& plan, const std::vector<std::string>& ids) {
  const std::vector<std::string> valid = plan.OutputIds();
  for (const std::string& id : ids) {
    if (std::find(valid.begin(), valid.end(), id) == valid.end()) {
      throw ConfigError(fmt::format("--only: unknown table or figure '{}'; expected some of: {}", id, fmt::join(valid, ",")));
    }
  }
  auto wanted = [&](const std::string& id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); };
  Plan out = plan;
  out.experiments.clear();
  for (const ExperimentSpec& e : plan.experiments) {
    ExperimentSpec kept = e;
    kept.figures.clear();
    kept.tables.clear();
    kept.claims.clear();
    for (const FigureSpec& f : e.figures) {
      if (wanted(f.id)) kept.figures.push_back(f);
    }
    for (const TableSpec& t : e.tables) {
      if (wanted(t.id)) kept.tables.push_back(t);
    }
    if (kept.figures.empty() && kept.tables.empty()) continue;
    for (const ClaimSpec& c : e.claims) {
      const bool table_gone = c.kind == "table_shape" && std::none_of(kept.tables.begin(), kept.tables.end(), [&](const TableSpec& t) {
                                return t.id == c.check.GetString("table");
                              });
      if (!table_gone) kept.claims.push_back(c);
    }
    out.experiments.push_back(std::move(kept));
  }
  out.policies = PoliciesNeeded(out);
  return out;
}

}  // namespace bestserve::reproduce
