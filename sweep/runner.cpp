#include "sweep/runner.h"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "common/files.h"
#include "common/json_writer.h"
#include "sweep/merge.h"

namespace bestserve::sweep {
namespace fs = std::filesystem;
namespace {

std::string Num(double value) { return std::isfinite(value) ? fmt::format("{}", value) : "null"; }
std::string JsonString(std::string_view text) { return fmt::format("\"{}\"", JsonEscape(text)); }

std::string ThresholdKey(double threshold) {
  return threshold >= 1.0 ? fmt::format("windows_eq_{:.2f}", threshold) : fmt::format("windows_ge_{:.2f}", threshold);
}

// The router of a cell as outputs show it: the axis (or fixed) label, else the scenario's own.
std::string RouterLabel(const Grid& grid, const Cell& cell, const Scenario& scenario) {
  for (size_t a = 0; a < grid.axes.size(); ++a) {
    if (grid.axes[a].IsRouter()) return grid.axes[a].values[static_cast<size_t>(cell.choice[a])].label;
  }
  if (grid.fixed_router) return grid.fixed_router->label;
  const YAML::Node router = scenario.resolved["router"];
  return router.IsScalar() ? router.Scalar() : CanonicalYaml(router);
}

// Writes `contents` to `path` through a temporary name unique across hosts sharing the folder
// (several array tasks may write grid.yaml at once); the rename is atomic.
void WriteShared(const std::string& path, const std::string& contents) {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "host");
  const std::string temp = fmt::format("{}.tmp.{}.{}", path, host, ::getpid());
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << contents;
    out.flush();
    if (!out) throw Error(fmt::format("{}: cannot write: {}", temp, std::strerror(errno)));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::remove(temp.c_str());
    throw Error(fmt::format("{}: cannot move into place: {}", path, reason));
  }
}

std::string ReadManifestHash(const std::string& path) {
  try {
    const YAML::Node root = YAML::LoadFile(path);
    if (root.IsMap() && root["grid_hash"] && root["grid_hash"].IsScalar()) return root["grid_hash"].Scalar();
  } catch (const YAML::Exception&) {
  }
  ThrowConfigError("{}: not a sweep manifest (no grid_hash); was this folder written by `bestserve sweep run`?",
                   path);
}

}  // namespace

PreparedSweep PrepareSweep(Grid grid, int32_t workers) {
  BS_CHECK(workers >= 1);
  PreparedSweep sweep;
  sweep.cells = ExpandCells(grid);
  sweep.grid = std::move(grid);
  const size_t n = sweep.cells.size();
  // Each cell's part of the grid hash, computed in parallel and combined in cell order.
  std::vector<uint64_t> cell_hashes(n, 0);
  std::vector<std::exception_ptr> errors(n);
  std::atomic<size_t> next{0};
  std::atomic<size_t> first_error{n};  // cells after the first failing one need not be loaded
  auto work = [&] {
    for (;;) {
      const size_t i = next.fetch_add(1);
      if (i >= n || i > first_error.load()) return;
      const Cell& cell = sweep.cells[i];
      try {
        const CellSettings settings = MakeCellSettings(sweep.grid, cell);
        try {
          const Scenario scenario = LoadScenario(sweep.grid.base, settings.overrides);
          if (settings.router_spec.rfind("dedicated:", 0) == 0) {
            // The comparison mode's own check (the model fits a GPU alone), as a config error.
            const std::string model = settings.router_spec.substr(10);
            try {
              DedicatedSystem(scenario.system, scenario.system.FindModel(model));
            } catch (const InvariantError& e) {
              ThrowConfigError("router {}: {}", settings.router_spec, e.what());
            }
          }
          cell_hashes[i] = Fnv1a64(cell.id + "\n" + settings.router_spec + "\n" + ResolvedConfigYaml(scenario));
        } catch (const ConfigError& e) {
          ThrowConfigError("{}: cell {} of {} ({}): {}", sweep.grid.source, cell.index, n, CellLabel(sweep.grid, cell),
                           e.what());
        }
      } catch (...) {
        errors[i] = std::current_exception();
        size_t seen = first_error.load();
        while (i < seen && !first_error.compare_exchange_weak(seen, i)) {
        }
      }
    }
  };
  std::vector<std::thread> threads;
  for (int32_t t = 1; t < workers && static_cast<size_t>(t) < n; ++t) threads.emplace_back(work);
  work();
  for (auto& thread : threads) thread.join();
  // The first failing cell in cell order, whatever the threads' timing.
  if (first_error.load() < n) std::rethrow_exception(errors[first_error.load()]);

  uint64_t hash = Fnv1a64(kManifestFormat);
  for (uint64_t h : cell_hashes) hash = Fnv1a64(Hex64(h), hash);
  // Axis names and labels are what the cell files and the merged table show.
  for (const Axis& axis : sweep.grid.axes) {
    hash = Fnv1a64("\naxis " + axis.name, hash);
    for (const AxisValue& v : axis.values) hash = Fnv1a64("\n" + v.label, hash);
  }
  for (const std::string& file : sweep.grid.policy_files) hash = Fnv1a64(file + "\n" + ReadFile(file), hash);
  sweep.grid_hash = Hex64(hash);
  return sweep;
}

CellRun RunCell(const PreparedSweep& sweep, const Cell& cell) {
  const CellSettings settings = MakeCellSettings(sweep.grid, cell);
  CellRun run{LoadScenario(sweep.grid.base, settings.overrides), {}, {}};
  // CompareRouters is what `bestserve evaluate` runs: one router here, and dedicated:<model>
  // handled the same way.
  std::vector<RouterResult> results = CompareRouters(run.scenario, {settings.router_spec});
  run.result = std::move(results.front());
  run.router = RouterLabel(sweep.grid, cell, run.scenario);
  return run;
}

std::vector<std::pair<std::string, std::string>> FlattenSummary(const Summary& s) {
  std::vector<std::pair<std::string, std::string>> m;
  auto add = [&m](std::string name, std::string value) { m.emplace_back(std::move(name), std::move(value)); };
  auto fraction = [](int64_t part, int64_t whole) {
    return whole > 0 ? static_cast<double>(part) / static_cast<double>(whole) : 0.0;
  };
  add("num_requests", fmt::format("{}", s.num_requests));
  add("completed", fmt::format("{}", s.completed));
  add("rejected", fmt::format("{}", s.rejected));
  add("mean_reward_fraction", Num(s.mean_reward_fraction));
  add("total_reward", Num(s.total_reward));
  add("total_peak_reward", Num(s.total_peak));
  add("deadline_miss_rate", Num(s.deadline_miss_rate));
  add("latency_mean_s", Num(s.latency_mean_s));
  add("latency_p50_s", Num(s.latency_p50_s));
  add("latency_p90_s", Num(s.latency_p90_s));
  add("latency_p99_s", Num(s.latency_p99_s));
  add("throughput_rps", Num(s.throughput_rps));
  add("offered_rate_rps", Num(s.offered_rate_rps));
  add("num_gpus", fmt::format("{}", s.num_gpus));
  add("hardware_utility", Num(s.hardware_utility));
  add("mean_in_system", Num(s.mean_in_system));
  add("littles_lambda_w", Num(s.little_lambda_w));
  for (size_t m_i = 0; m_i < s.model_names.size(); ++m_i) {
    add("selection_" + s.model_names[m_i], Num(fraction(s.selections[m_i], s.num_requests)));
  }
  for (size_t t = 0; t < s.task_names.size(); ++t) {
    int64_t total = 0;
    for (int64_t c : s.selections_by_task[t]) total += c;
    for (size_t m_i = 0; m_i < s.model_names.size(); ++m_i) {
      add(fmt::format("selection_{}_{}", s.task_names[t], s.model_names[m_i]),
          Num(fraction(s.selections_by_task[t][m_i], total)));
    }
  }
  add("num_windows", fmt::format("{}", s.num_windows));
  for (size_t i = 0; i < s.thresholds.size(); ++i) add(ThresholdKey(s.thresholds[i]), fmt::format("{}", s.threshold_counts[i]));
  add("sim_events", fmt::format("{}", s.counters.events));
  add("sim_prefill_iterations", fmt::format("{}", s.counters.prefill_iterations));
  add("sim_decode_iterations", fmt::format("{}", s.counters.decode_iterations));
  add("sim_max_running_batch", fmt::format("{}", s.counters.max_running_batch));
  add("simulated_s", Num(s.counters.end_s - s.counters.start_s));
  return m;
}

std::string FormatCellJson(const PreparedSweep& sweep, const Cell& cell, const CellRun& run) {
  // Written by hand rather than with JsonWriter so that metric values keep the exact text of
  // FlattenSummary (merge copies it into merged.csv byte for byte). Nothing here depends on
  // when, where or in which shard the cell ran: the file is the same bytes every time.
  std::string out = "{\n";
  out += fmt::format("  \"format\": {},\n", JsonString(kCellFormat));
  out += fmt::format("  \"grid_hash\": {},\n", JsonString(sweep.grid_hash));
  out += fmt::format("  \"cell_id\": {},\n", JsonString(cell.id));
  out += fmt::format("  \"index\": {},\n", cell.index);
  out += "  \"axes\": {";
  for (size_t a = 0; a < sweep.grid.axes.size(); ++a) {
    out += fmt::format("{}\n    {}: {}", a > 0 ? "," : "", JsonString(sweep.grid.axes[a].name),
                       JsonString(sweep.grid.axes[a].values[static_cast<size_t>(cell.choice[a])].label));
  }
  out += sweep.grid.axes.empty() ? "},\n" : "\n  },\n";
  out += fmt::format("  \"router\": {},\n", JsonString(run.router));
  out += fmt::format("  \"router_described\": {},\n", JsonString(run.result.described));
  out += "  \"metrics\": {";
  const auto metrics = FlattenSummary(run.result.summary);
  for (size_t i = 0; i < metrics.size(); ++i) {
    out += fmt::format("{}\n    {}: {}", i > 0 ? "," : "", JsonString(metrics[i].first), metrics[i].second);
  }
  out += "\n  },\n";
  out += "  \"selection_over_time\": [";
  const auto& bins = run.result.summary.selections_over_time;
  for (size_t b = 0; b < bins.size(); ++b) out += fmt::format("{}[{}]", b > 0 ? ", " : "", fmt::join(bins[b], ", "));
  out += "],\n";
  out += fmt::format("  \"resolved_config\": {}\n", JsonString(ResolvedConfigYaml(run.scenario)));
  out += "}\n";
  return out;
}

std::string FormatCellErrorJson(const PreparedSweep& sweep, const Cell& cell, const std::string& error) {
  JsonWriter w;
  w.BeginObject();
  w.FieldString("format", kCellFormat);
  w.FieldString("grid_hash", sweep.grid_hash);
  w.FieldString("cell_id", cell.id);
  w.FieldInt("index", cell.index);
  w.Key("axes").BeginObject();
  for (size_t a = 0; a < sweep.grid.axes.size(); ++a) {
    w.FieldString(sweep.grid.axes[a].name, sweep.grid.axes[a].values[static_cast<size_t>(cell.choice[a])].label);
  }
  w.EndObject();
  w.FieldString("error", error);
  w.EndObject();
  return w.str();
}

std::string CellPath(const std::string& dir, const std::string& id) {
  return (fs::path(dir) / "cells" / (id + ".json")).string();
}
std::string CellErrorPath(const std::string& dir, const std::string& id) {
  return (fs::path(dir) / "cells" / (id + ".error.json")).string();
}
std::string ManifestPath(const std::string& dir) { return (fs::path(dir) / "grid.yaml").string(); }

std::string FormatManifest(const PreparedSweep& sweep) {
  const Grid& g = sweep.grid;
  std::string out =
      "# The grid as resolved by `bestserve sweep run`. It is itself a grid file (running it again\n"
      "# with the same --out resumes the sweep); format, grid_hash, source and cells are read by\n"
      "# `bestserve sweep merge`, which refuses cell files whose grid hash differs.\n";
  out += fmt::format("format: {}\n", kManifestFormat);
  out += fmt::format("grid_hash: {}\n", JsonString(sweep.grid_hash));
  out += fmt::format("source: {}\n", JsonString(g.source));
  out += fmt::format("name: {}\n", JsonString(g.name));
  out += fmt::format("base: {}\n", JsonString(g.base));
  if (!g.fixed.empty() || g.fixed_router) {
    out += "fixed:\n";
    for (const auto& [key, value] : g.fixed) out += fmt::format("  {}: {}\n", JsonString(key), value);
    if (g.fixed_router) out += fmt::format("  \"router\": {}\n", g.fixed_router->canonical);
  }
  if (!g.axes.empty()) {
    out += "axes:\n";
    for (const Axis& axis : g.axes) {
      std::vector<std::string> values;
      std::vector<std::string> labels;
      for (const AxisValue& v : axis.values) {
        values.push_back(v.canonical);
        labels.push_back(JsonString(v.label));
      }
      out += fmt::format("  {}:\n    values: [{}]\n    labels: [{}]\n", JsonString(axis.name), fmt::join(values, ", "),
                         fmt::join(labels, ", "));
    }
  }
  out += "paired:\n";
  if (!g.paired_reference.empty()) out += fmt::format("  reference: {}\n", JsonString(g.paired_reference));
  std::vector<std::string> metrics;
  for (const auto& m : g.paired_metrics) metrics.push_back(JsonString(m));
  out += fmt::format("  metrics: [{}]\n", fmt::join(metrics, ", "));
  out += fmt::format("# cells: [id, value index per axis], in product order ({} cells)\n", sweep.cells.size());
  out += "cells:\n";
  for (const Cell& cell : sweep.cells) {
    out += fmt::format("  - [{}{}{}]\n", JsonString(cell.id), cell.choice.empty() ? "" : ", ",
                       fmt::join(cell.choice, ", "));
  }
  return out;
}

void InitSweepDir(const PreparedSweep& sweep, const std::string& dir) {
  std::error_code ec;
  fs::create_directories(fs::path(dir) / "cells", ec);
  if (ec) throw Error(fmt::format("{}: cannot create the output folder: {}", dir, ec.message()));
  const std::string manifest = ManifestPath(dir);
  const std::string text = FormatManifest(sweep);
  if (fs::exists(manifest)) {
    const std::string existing = ReadManifestHash(manifest);
    if (existing != sweep.grid_hash) {
      ThrowConfigError("{}: this folder holds a sweep of another grid (grid hash {}; this grid '{}' has {}): "
                       "choose another --out, or delete the folder to start over",
                       manifest, existing, sweep.grid.name, sweep.grid_hash);
    }
    // Same cells; settings outside the hash (name, source path, paired comparisons) may have
    // changed: the latest run's manifest is what merge reads.
    if (ReadFile(manifest) == text) return;
  }
  WriteShared(manifest, text);
}

bool IsCellFinished(const PreparedSweep& sweep, const Cell& cell, const std::string& dir) {
  const std::string path = CellPath(dir, cell.id);
  std::error_code ec;
  if (!fs::exists(path, ec)) return false;
  // Read whole and checked, not only its head: a truncated or hand-edited file is recomputed.
  return !CellFileProblem(path, sweep.grid_hash, cell.id).has_value();
}

RunReport RunSweep(const PreparedSweep& sweep, const RunOptions& options, const ProgressCallback& progress) {
  BS_CHECK(options.workers >= 1);
  InitSweepDir(sweep, options.out_dir);
  RunReport report;
  std::vector<const Cell*> pending;
  for (const Cell& cell : sweep.cells) {
    if (!options.shard.Holds(cell.index)) continue;
    ++report.in_shard;
    if (IsCellFinished(sweep, cell, options.out_dir)) {
      ++report.already_done;
    } else {
      pending.push_back(&cell);
    }
  }
  ProgressEvent event;
  event.in_shard = report.in_shard;
  event.already_done = report.already_done;
  event.to_run = static_cast<int64_t>(pending.size());
  if (progress) progress(event);

  std::atomic<size_t> next{0};
  std::mutex mutex;
  auto work = [&] {
    for (;;) {
      const size_t i = next.fetch_add(1);
      if (i >= pending.size()) return;
      const Cell& cell = *pending[i];
      std::string error;
      try {
        if (options.before_cell) options.before_cell(cell);
        const CellRun run = RunCell(sweep, cell);
        if (options.write_requests) {
          WriteRequestLog((fs::path(options.out_dir) / "cells" / (cell.id + ".requests.csv")).string(),
                          run.result.records, run.result.model_names, run.scenario.tasks);
        }
        // The cell file last: its existence means the cell is complete.
        WriteFileAtomically(CellPath(options.out_dir, cell.id), FormatCellJson(sweep, cell, run));
        std::error_code ec;
        fs::remove(CellErrorPath(options.out_dir, cell.id), ec);
      } catch (const std::exception& e) {
        error = e.what();
        if (error.empty()) error = "unknown error";
        try {
          WriteFileAtomically(CellErrorPath(options.out_dir, cell.id), FormatCellErrorJson(sweep, cell, error));
        } catch (const std::exception& write_error) {
          error += fmt::format(" (and its error file could not be written: {})", write_error.what());
        }
      }
      const std::lock_guard<std::mutex> lock(mutex);
      ++event.finished;
      event.cell = &cell;
      event.error = error;
      if (!error.empty()) {
        ++event.failed;
        report.failures.emplace_back(&cell, error);
      }
      if (progress) progress(event);
    }
  };
  const auto num_threads = std::min<size_t>(static_cast<size_t>(options.workers), std::max<size_t>(pending.size(), 1));
  std::vector<std::thread> threads;
  for (size_t t = 1; t < num_threads; ++t) threads.emplace_back(work);
  work();  // the calling thread is worker 0
  for (auto& thread : threads) thread.join();

  std::sort(report.failures.begin(), report.failures.end(),
            [](const auto& a, const auto& b) { return a.first->index < b.first->index; });
  report.ran = event.finished;
  report.failed = event.failed;
  return report;
}

}  // namespace bestserve::sweep
