#include "reproduce/experiment_run.h"

#include <fmt/format.h>

#include <atomic>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>

#include "scenario/compare.h"
#include "scenario/scenario.h"

namespace bestserve::reproduce {
namespace {

std::string CellLabel(const ExperimentSpec& spec, const CellKey& key) {
  std::string label = fmt::format("run '{}'", spec.runs[static_cast<size_t>(key.run)].label);
  const std::string& variant = spec.variants[static_cast<size_t>(key.variant)].label;
  if (!variant.empty()) label += fmt::format(", variant '{}'", variant);
  if (spec.kind == ExperimentKind::kRateSweep) label += fmt::format(", rate {} rps", spec.rates[static_cast<size_t>(key.rate)]);
  return label + fmt::format(", seed {}", key.seed);
}

CellResult RunCell(const ExperimentSpec& spec, const CellKey& key, const std::map<std::string, std::string>& policy_files) {
  const RunSpec& run = spec.runs[static_cast<size_t>(key.run)];
  ScenarioOverrides overrides;
  for (const KeyValues* set : {&spec.set, &spec.variants[static_cast<size_t>(key.variant)].set, &run.set}) {
    overrides.set_values.insert(overrides.set_values.end(), set->begin(), set->end());
  }
  if (spec.kind == ExperimentKind::kRateSweep) {
    overrides.set_values.emplace_back("workload.rate_rps", fmt::format("{}", spec.rates[static_cast<size_t>(key.rate)]));
  }
  overrides.seed = static_cast<uint64_t>(key.seed);
  const Scenario scenario = LoadScenario(spec.scenario, overrides);
  const std::string router = run.policy.empty() ? run.router : "policy:" + policy_files.at(run.policy);
  const Workload workload = MakeScenarioWorkload(scenario);
  const RouterRun result = RunRouterSpec(scenario, router, workload);
  CellResult cell;
  cell.key = key;
  cell.summary = Summarize(*result.sim, scenario.tasks, scenario.metrics);
  if (spec.kind == ExperimentKind::kWorkload && key.seed == 1) {
    for (const RequestRecord& rec : result.sim->records()) {
      cell.trace.push_back({rec.request.arrival_s, rec.request.nominal_rate_rps, rec.reward, rec.peak_reward});
    }
  }
  if (spec.kind == ExperimentKind::kRateSweep) cell.summary.window_averages.clear();  // not used; saves memory
  return cell;
}

}  // namespace

std::vector<CellKey> ListCells(const ExperimentSpec& spec, int64_t seeds) {
  std::vector<CellKey> cells;
  const int rates = spec.kind == ExperimentKind::kRateSweep ? static_cast<int>(spec.rates.size()) : 1;
  for (int v = 0; v < static_cast<int>(spec.variants.size()); ++v) {
    for (int r = 0; r < static_cast<int>(spec.runs.size()); ++r) {
      if (!spec.RunsIn(r, v)) continue;
      for (int i = 0; i < rates; ++i) {
        for (int64_t s = 1; s <= seeds; ++s) cells.push_back({v, r, i, s});
      }
    }
  }
  return cells;
}

void ExperimentData::Add(CellResult cell) {
  if (models.empty()) models = cell.summary.model_names;
  if (tasks.empty()) tasks = cell.summary.task_names;
  const CellKey& k = cell.key;
  index_[{k.variant, k.run, k.rate, k.seed}] = cells.size();
  cells.push_back(std::move(cell));
}

const CellResult* ExperimentData::Find(int variant, int run, int rate, int64_t seed) const {
  const auto it = index_.find({variant, run, rate, seed});
  return it == index_.end() ? nullptr : &cells[it->second];
}

ExperimentData RunExperiment(const ExperimentSpec& spec, int64_t seeds,
                             const std::map<std::string, std::string>& policy_files, int32_t workers,
                             const std::function<void(int64_t, int64_t)>& progress) {
  const std::vector<CellKey> keys = ListCells(spec, seeds);
  std::vector<std::optional<CellResult>> results(keys.size());
  std::atomic<size_t> next{0};
  std::mutex mutex;
  int64_t done = 0;
  std::string first_error;
  size_t first_error_cell = keys.size();
  auto worker = [&] {
    while (true) {
      const size_t i = next.fetch_add(1);
      if (i >= keys.size()) return;
      {
        std::lock_guard lock(mutex);
        if (!first_error.empty()) return;
      }
      try {
        results[i] = RunCell(spec, keys[i], policy_files);
      } catch (const std::exception& e) {
        std::lock_guard lock(mutex);
        if (i < first_error_cell) {
          first_error_cell = i;
          first_error = fmt::format("{}: {}: {}", spec.source, CellLabel(spec, keys[i]), e.what());
        }
        return;
      }
      std::lock_guard lock(mutex);
      ++done;
      if (progress) progress(done, static_cast<int64_t>(keys.size()));
    }
  };
  const int32_t n = std::max<int32_t>(1, std::min<int32_t>(workers, static_cast<int32_t>(keys.size())));
  std::vector<std::thread> threads;
  for (int32_t t = 0; t < n; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  if (!first_error.empty()) throw Error(first_error);

  ExperimentData data;
  data.spec = &spec;
  data.seeds = seeds;
  for (auto& result : results) data.Add(std::move(*result));
  return data;
}

}  // namespace bestserve::reproduce
