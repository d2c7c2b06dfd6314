#include "reproduce/experiment_view.h"

#include <algorithm>
#include <numeric>

namespace bestserve::reproduce {

SeedStats SummarizeSeeds(const std::vector<double>& values) {
  SeedStats s;
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

UtilityMeasures MeasureUtility(const ExperimentView& v, int run, int ref) {
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

}  // namespace bestserve::reproduce
