// The reproduction plan: experiments/paper/reproduce.yaml and the experiment files it lists,
// parsed and validated up front (docs/reproduce.md is the manual; the files are annotated).
//
// Plan file keys:   name, policies (name -> {train, init_from, quick: {iterations, learner}}),
//                   quick: {seeds, banner}, experiments (file names, relative to the plan).
// Experiment keys:  title, kind (rate_sweep | workload), scenario, set (key path -> value),
//                   rates (rate_sweep only: a sweep axis spec), seeds (count, 1..N),
//                   variants ([{label, set}]), runs ([{label, router, set, variants}]),
//                   tables ([{id, title, paper: {column: [5 counts]}}], workload only),
//                   figures ([{id, kind, title, run(s), model}]), claims ([{id, text, check, why_different}]).
//
// A run's router is any router string (router/builtin/registry.h, incl. dedicated:<model>) or
// "trained:<policy>", which names a policy of the plan. Every name a figure, table or claim
// refers to (run and variant labels, policies, models, tasks) is checked when the plan loads,
// so a typo fails in seconds, naming the file, line and key, before any training starts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/config.h"

namespace bestserve::reproduce {

using KeyValues = std::vector<std::pair<std::string, std::string>>;  // key path, YAML value

struct PolicySpec {
  std::string name;
  std::string train_config;  // resolved path
  std::string init_from;     // another policy's name; empty: trained from scratch
  std::optional<int64_t> quick_iterations;
  std::optional<ConfigNode> quick_learner;  // learner keys overridden in quick mode
  std::string where;                        // for messages
};

struct VariantSpec {
  std::string label;  // empty for the single implicit variant
  KeyValues set;
};

struct RunSpec {
  std::string label;
  std::string router;        // a router string, or empty when `policy` is set
  std::string policy;        // "trained:<policy>": the policy's name
  KeyValues set;
  std::vector<int> variants; // indices of the variants it runs in (all when not restricted)
};

struct FigureSpec {
  std::string id;    // the paper's figure ("fig2"); several specs may share one id
  std::string kind;  // performance, utility, selection, task_selection, task_share,
                     // variant_selection, mean_reward, trace, window_utility, utility_measures
  std::string title;
  std::string paper;      // what the paper's figure shows, in words (for REPORT.md)
  std::vector<std::string> runs;  // labels of the runs shown, resolved per variant (empty: all)
  std::string model;      // task_share only
  std::string reference;  // utility_measures only: the run the others are compared with
  std::string file;       // output stem under data/ and figures/, unique in the plan
};

struct TableSpec {
  std::string id;  // "table2"
  std::string title;
  std::vector<std::pair<std::string, std::vector<double>>> paper;  // column -> one value per threshold
};

struct ClaimSpec {
  std::string id;
  std::string text;
  std::string kind;
  ConfigNode check;  // the whole check map (kind-specific keys validated at load)
  std::string why_different;
};

enum class ExperimentKind { kRateSweep, kWorkload };

struct ExperimentSpec {
  std::string name;    // the file stem
  std::string source;  // the file
  std::string title;
  ExperimentKind kind = ExperimentKind::kWorkload;
  std::string scenario;  // resolved path
  KeyValues set;
  std::vector<double> rates;  // rate_sweep only
  int64_t seeds = 1;
  std::vector<VariantSpec> variants;  // at least one
  std::vector<RunSpec> runs;
  std::vector<TableSpec> tables;
  std::vector<FigureSpec> figures;
  std::vector<ClaimSpec> claims;

  int RunIndex(const std::string& label) const;  // -1 when absent
  bool RunsIn(int run, int variant) const;
};

struct Plan {
  std::string name;
  std::string source;
  std::vector<PolicySpec> policies;  // in dependency order (init_from before its users)
  int64_t quick_seeds = 2;
  std::string quick_banner;
  std::vector<ExperimentSpec> experiments;

  const PolicySpec* FindPolicy(const std::string& name) const;
  // The table and figure ids of the plan, in plan order, without repeats ("fig2", "table2", ...).
  std::vector<std::string> OutputIds() const;
};

// Loads and validates a plan; ConfigError naming file:line:col and key on any problem.
Plan LoadPlan(const std::string& path);

// The policies some experiment runs (with the ones they are fine-tuned from), in plan order.
std::vector<PolicySpec> PoliciesNeeded(const Plan& plan);

// Keeps only the experiments that produce one of `ids` (table/figure ids, e.g. "fig2",
// "table2"), and within them only those figures and tables; then only the policies those need.
// ConfigError listing the valid ids on an unknown one.
Plan SelectOutputs(const Plan& plan, const std::vector<std::string>& ids);

}  // namespace bestserve::reproduce
