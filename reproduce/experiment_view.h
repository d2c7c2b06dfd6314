// A read-only view of an experiment's cells for the figures, tables and claim checks: means,
// bands and pooled shares over seeds, runs resolved by label per variant. Pure functions of the
// data.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "reproduce/experiment_run.h"

namespace bestserve::reproduce {

// Mean, sample sd (NaN with one value), min and max of one value per seed.
struct SeedStats {
  double mean = NAN;
  double sd = NAN;
  double min = NAN;
  double max = NAN;
  size_t n = 0;
};

SeedStats SummarizeSeeds(const std::vector<double>& values);

enum class Metric { kPerformance, kUtility };

inline double MetricOf(const Summary& s, Metric m) {
  return m == Metric::kPerformance ? s.mean_reward_fraction : s.hardware_utility;
}

// The cells of one experiment, indexed by (variant, run, rate index, seed).
class ExperimentView {
 public:
  explicit ExperimentView(const ExperimentData& data) : d_(data), spec_(*data.spec) {}

  const ExperimentSpec& spec() const { return spec_; }
  int NumRates() const {
    return spec_.kind == ExperimentKind::kRateSweep ? static_cast<int>(spec_.rates.size()) : 1;
  }
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

  SeedStats At(int variant, int run, int rate, Metric m) const {
    std::vector<double> values;
    for (const Summary* s : Seeds(variant, run, rate)) values.push_back(MetricOf(*s, m));
    return SummarizeSeeds(values);
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
  double Share(int variant, int run, const std::vector<int>& rates, int task, int model,
               int64_t seed = 0) const {
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

// The variant's label: the panel name of figures that show variants side by side.
inline std::string PanelOf(const ExperimentView& v, int variant) {
  return v.spec().variants[static_cast<size_t>(variant)].label;
}

// The paper's three hardware-utility measures of `run` against `ref`, per seed, over the
// windows of the first variant (docs/reproduce.md has the definitions).
struct UtilityMeasures {
  std::vector<double> share_higher;  // share of windows where the run's utility is higher
  std::vector<double> mean_ratio;    // mean utility of the run / of the reference
  std::vector<double> past90_ratio;  // windows >= 0.90 of peak, run / reference
};

UtilityMeasures MeasureUtility(const ExperimentView& v, int run, int ref);

}  // namespace bestserve::reproduce
