// An evaluation suite: one candidate router (typically a learned policy) against baselines over
// a list of workloads, each at several settings (rates, trace scalings), on identical arrivals
// (paired), over several seeds, with a per-cell verdict: `bestserve evaluate --suite FILE`.
//
// Suite YAML (experiments/suites/real_workloads.yaml is the default, annotated):
//
//   | key        | meaning                                                            | default |
//   |------------|--------------------------------------------------------------------|---------|
//   | name       | label for outputs                                                  | file stem |
//   | scenario   | the system: cluster, profiles, tasks, deadlines, rate estimator    | built-in paper |
//   | seeds      | a count n (seeds 1..n) or a list                                   | 5       |
//   | baselines  | router specs (evaluate's names, dedicated:<model> included)        | every built-in |
//   | confidence | of the paired intervals                                            | 0.95    |
//   | oracle_window_s | window of the hindsight oracle (below)                        | 60      |
//   | workloads  | list of {name, workload: {...}, variants: [{label, set: {key: value}}]} | required |
//
// A workload's `workload` replaces the scenario's; each variant applies its `set` overrides (the
// `--set` syntax: e.g. workload.target_rate_rps: 8) on top; no variants means one, "native".
// The text "{traces}" in any string is replaced by the trace folder (--trace-dir; default
// $BESTSERVE_SHARED_DIR/traces, else ../shared/traces beside the data folder), so a suite names
// traces wherever users keep them.
//
// Statistics per cell (workload x variant): every router's mean reward fraction over seeds; the
// best baseline is the one with the highest mean; the candidate's paired difference to it per
// seed gives a Student-t interval (sweep/stats.h). Verdict: win when the interval lies above 0,
// loss when below, tie otherwise (and tie with one seed: no interval). Choosing the best
// baseline after seeing the data favours the baselines, so wins are conservative.
//
// Headroom: every cell also reports the hindsight oracle, the best static model per window of
// `oracle_window_s` seconds (by arrival time), chosen after the fact from the static runs of every
// model on the same arrivals (HindsightBestStatic). It is the reward a router that switches
// between whole models once per window could at best have had, assuming a window's outcome
// depends only on its own choice; past choices do carry queues over, so it is an estimate of the
// headroom, not a bound any router must respect.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <span>
#include <vector>

#include "sim/simulator.h"

namespace bestserve::sweep {

struct SuiteVariant {
  std::string label;
  std::vector<std::pair<std::string, std::string>> set_values;  // (key path, YAML value)
};

struct SuiteWorkload {
  std::string name;
  std::string workload_yaml;  // the `workload` section, "{traces}" already substituted
  std::vector<SuiteVariant> variants;
};

struct Suite {
  std::string name;
  std::string source;
  std::string scenario_path;  // empty: built-in
  std::vector<uint64_t> seeds;
  std::vector<std::string> baselines;  // empty: every built-in router
  double confidence = 0.95;
  double oracle_window_s = 60.0;
  std::vector<SuiteWorkload> workloads;
};

// Loads a suite; throws ConfigError naming file, line and key. `trace_dir` empty: the default.
Suite LoadSuite(const std::string& path, const std::string& trace_dir);
// The default trace folder (see the header comment).
std::string DefaultTraceDir();

enum class Verdict { kWin, kTie, kLoss };
const char* ToString(Verdict verdict);
// The verdict of a paired interval: above 0 a win, below 0 a loss, else (or undefined) a tie.
Verdict VerdictOf(double ci_low, double ci_high);

struct SuiteCellResult {
  std::string workload;
  std::string variant;
  int64_t requests = 0;                     // of the first seed's workload
  std::vector<std::string> routers;         // baselines in order, then the candidate
  std::vector<std::vector<double>> reward;  // [router][seed]: mean reward fraction
  std::string best_baseline;
  double candidate_mean = 0.0;
  double best_baseline_mean = 0.0;
  double diff_mean = 0.0;
  double ci_low = 0.0;   // NaN with one seed
  double ci_high = 0.0;  // NaN with one seed
  Verdict verdict = Verdict::kTie;
  std::vector<double> oracle;  // [seed]: hindsight best static model per window (see above)
  double oracle_mean = 0.0;
};

struct SuiteResult {
  std::string name;
  std::string candidate;
  std::vector<uint64_t> seeds;
  double confidence = 0.95;
  double oracle_window_s = 60.0;
  std::vector<SuiteCellResult> cells;
  int wins = 0;
  int ties = 0;
  int losses = 0;
};

// The hindsight oracle's mean reward fraction: `static_runs[m]` holds the records of static:<m>
// over one workload (the same requests in the same id order for every m). Per window of
// `window_s` seconds of arrival time the model with the most reward is taken; the sum over
// windows is divided by the total peak reward. Precondition: at least one run, equal sizes.
double HindsightBestStatic(const std::vector<std::span<const RequestRecord>>& static_runs, double window_s);

// Runs every cell and seed (`workers` threads; results do not depend on it). `progress` (may be
// empty) gets (done, total) jobs.
SuiteResult RunSuite(const Suite& suite, const std::string& candidate, int workers,
                     const std::function<void(int64_t, int64_t)>& progress = {});

// The per-cell table: candidate vs the best baseline, interval, verdict; then win/tie/loss counts.
std::string FormatSuiteMarkdown(const SuiteResult& result);
// Long form: workload,variant,router,seed,mean_reward_fraction.
std::string FormatSuiteRewardsCsv(const SuiteResult& result);
// One row per cell: the comparison columns.
std::string FormatSuiteCellsCsv(const SuiteResult& result);

}  // namespace bestserve::sweep
