#include "sweep/merge.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <set>

#include "common/config.h"
#include "common/files.h"
#include "common/json_writer.h"
#include "common/limits.h"
#include "sweep/runner.h"
#include "sweep/stats.h"

namespace bestserve::sweep {
namespace fs = std::filesystem;
namespace {

constexpr size_t kListedInMessages = 10;

struct CellData {
  std::vector<std::pair<std::string, std::string>> metrics;  // name -> number text
  std::string router;
};

std::string KeyPathOfName(const std::string& name) {
  for (const auto& [shorthand, path] : AxisShorthands()) {
    if (name == shorthand) return path;
  }
  return name;
}

std::string Label(const Manifest& m, const Cell& cell) {
  std::vector<std::string> parts;
  for (size_t a = 0; a < m.axes.size(); ++a) {
    parts.push_back(fmt::format("{}={}", m.axes[a].name, m.axes[a].labels[static_cast<size_t>(cell.choice[a])]));
  }
  return parts.empty() ? std::string("(no axes)") : fmt::format("{}", fmt::join(parts, ", "));
}

std::string Scalar(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "null";
  return node.IsScalar() ? node.Scalar() : std::string();
}

std::optional<double> ParseNumber(const std::string& text) {
  double value = 0.0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// Reads a cell file; returns the grid hash and cell id it claims, and its data.
std::pair<std::string, std::string> ReadCell(const std::string& path, CellData* data) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    ThrowConfigError("{}: not a readable cell file: {}", path, e.msg);
  }
  if (!root.IsMap()) ThrowConfigError("{}: not a cell file (expected a JSON object)", path);
  const std::string hash = Scalar(root["grid_hash"]);
  const std::string id = Scalar(root["cell_id"]);
  if (data != nullptr) {
    data->router = Scalar(root["router"]);
    if (data->router.empty() || data->router == "null") ThrowConfigError("{}: no router", path);
    const YAML::Node metrics = root["metrics"];
    if (!metrics.IsMap() || metrics.size() == 0) ThrowConfigError("{}: no metrics object", path);
    for (const auto& entry : metrics) {
      const std::string value = Scalar(entry.second);
      if (value != "null" && !ParseNumber(value)) {
        ThrowConfigError("{}: metric '{}' is '{}', expected a number or null", path, entry.first.Scalar(),
                         MessageExcerpt(value));
      }
      data->metrics.emplace_back(entry.first.Scalar(), value);
    }
  }
  return {hash, id};
}

void WriteNumberOrNull(JsonWriter& w, double value) {
  if (std::isfinite(value)) {
    w.Number(value);
  } else {
    w.Null();
  }
}

}  // namespace

int64_t SweepStatus::NumFailed() const {
  int64_t n = 0;
  for (const auto& m : missing) n += m.error.empty() ? 0 : 1;
  return n;
}

std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::optional<std::string> CellFileProblem(const std::string& path, const std::string& grid_hash,
                                           const std::string& cell_id) {
  try {
    CellData data;
    const auto [hash, id] = ReadCell(path, &data);
    if (hash != grid_hash) return fmt::format("{}: grid hash {}, expected {}", path, hash, grid_hash);
    if (id != cell_id) return fmt::format("{}: cell id {}, expected {}", path, id, cell_id);
  } catch (const ConfigError& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

Manifest ReadManifest(const std::string& dir) {
  const std::string path = ManifestPath(dir);
  if (!fs::exists(path)) {
    ThrowConfigError("{}: not a sweep folder (no grid.yaml); run `bestserve sweep run GRID --out {}` first", dir,
                     dir);
  }
  const ConfigNode root = ConfigNode::LoadFile(path);
  Manifest m;
  m.path = path;
  const std::string format = root.GetString("format");
  if (format != kManifestFormat) {
    root.Child("format").Fail(fmt::format("expected format {}, got {}", kManifestFormat, format));
  }
  m.name = root.GetString("name");
  m.grid_hash = root.GetString("grid_hash");
  if (auto axes = root.MaybeChild("axes")) {
    for (const std::string& name : axes->Keys()) {
      const ConfigNode axis = axes->Child(name);
      ManifestAxis a;
      a.name = name;
      a.key_path = KeyPathOfName(name);
      const ConfigNode labels = axis.Child("labels");
      for (size_t i = 0; i < labels.size(); ++i) a.labels.push_back(labels.Element(i).AsString());
      m.axes.push_back(std::move(a));
    }
  }
  if (auto paired = root.MaybeChild("paired")) {
    m.paired_reference = paired->GetString("reference", "");
    if (auto metrics = paired->MaybeChild("metrics")) {
      for (size_t i = 0; i < metrics->size(); ++i) m.paired_metrics.push_back(metrics->Element(i).AsString());
    }
  }
  if (m.paired_metrics.empty()) m.paired_metrics = {"mean_reward_fraction"};
  const ConfigNode cells = root.Child("cells");
  for (size_t i = 0; i < cells.size(); ++i) {
    const ConfigNode entry = cells.Element(i);
    if (!entry.IsSequence() || entry.size() != m.axes.size() + 1) {
      entry.Fail(fmt::format("expected [id, {} value indices]", m.axes.size()));
    }
    Cell cell;
    cell.index = static_cast<int64_t>(i);
    cell.id = entry.Element(0).AsString();
    for (size_t a = 0; a < m.axes.size(); ++a) {
      const int64_t choice = entry.Element(a + 1).AsInt();
      if (choice < 0 || choice >= static_cast<int64_t>(m.axes[a].labels.size())) {
        entry.Element(a + 1).Fail("value index out of range");
      }
      cell.choice.push_back(static_cast<int32_t>(choice));
    }
    m.cells.push_back(std::move(cell));
  }
  return m;
}

SweepStatus ReadSweepStatus(const std::string& dir) {
  SweepStatus status;
  status.manifest = ReadManifest(dir);
  const Manifest& m = status.manifest;
  status.total = static_cast<int64_t>(m.cells.size());
  std::set<std::string> ids;
  for (const Cell& cell : m.cells) ids.insert(cell.id);

  // Every file in cells/ named like a result must belong to this grid.
  std::set<std::string> finished;
  std::map<std::string, std::string> damaged;  // cell id -> why its file cannot be used
  std::vector<std::string> foreign;
  const fs::path cells_dir = fs::path(dir) / "cells";
  std::error_code ec;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(cells_dir, ec)) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  for (const fs::path& file : files) {
    const std::string name = file.filename().string();
    const bool is_error = name.size() > 11 && name.ends_with(".error.json");
    if (!name.ends_with(".json")) continue;  // temporaries of writes in flight, request logs
    const std::string id = name.substr(0, name.size() - (is_error ? 11 : 5));
    if (is_error) {
      if (!ids.contains(id)) foreign.push_back(name + " (cell id not in this grid)");
      continue;
    }
    std::pair<std::string, std::string> claimed;
    try {
      claimed = ReadCell(file.string(), nullptr);
    } catch (const ConfigError& e) {
      if (ids.contains(id)) damaged[id] = e.what();
      continue;
    }
    const auto& [hash, claimed_id] = claimed;
    if (!ids.contains(id) || claimed_id != id) {
      foreign.push_back(name + " (cell id not in this grid)");
    } else if (hash != m.grid_hash) {
      foreign.push_back(fmt::format("{} (grid hash {})", name, hash));
    } else if (auto problem = CellFileProblem(file.string(), hash, id)) {
      damaged[id] = *problem;
    } else {
      finished.insert(id);
    }
  }
  if (!foreign.empty()) {
    std::vector<std::string> listed(foreign.begin(), foreign.begin() + std::min(foreign.size(), kListedInMessages));
    ThrowConfigError("{}: {} cell file(s) come from another grid than {} (grid hash {}): {}{}; refusing to mix "
                     "grids: move them away or merge each grid's folder on its own",
                     cells_dir.string(), foreign.size(), m.path, m.grid_hash, fmt::join(listed, ", "),
                     foreign.size() > listed.size() ? ", ..." : "");
  }
  for (const Cell& cell : m.cells) {
    if (finished.contains(cell.id)) {
      ++status.done;
      continue;
    }
    MissingCell miss{cell.index, cell.id, Label(m, cell), ""};
    if (const auto it = damaged.find(cell.id); it != damaged.end()) {
      miss.error = fmt::format("damaged cell file, recomputed by the next `sweep run`: {}", it->second);
      status.missing.push_back(std::move(miss));
      continue;
    }
    const std::string error_path = CellErrorPath(dir, cell.id);
    if (fs::exists(error_path)) {
      try {
        const YAML::Node error = YAML::LoadFile(error_path);
        miss.error = Scalar(error["error"]);
      } catch (const YAML::Exception&) {
        miss.error = "(unreadable error file)";
      }
      if (miss.error.empty()) miss.error = "(no message)";
    }
    status.missing.push_back(std::move(miss));
  }
  return status;
}

MergeResult BuildMerge(const std::string& dir, const MergeOptions& options) {
  MergeResult result;
  result.status = ReadSweepStatus(dir);
  const SweepStatus& status = result.status;
  const Manifest& m = status.manifest;
  if (!status.missing.empty() && !options.allow_missing) {
    std::string list;
    for (size_t i = 0; i < status.missing.size() && i < kListedInMessages; ++i) {
      const MissingCell& miss = status.missing[i];
      list += fmt::format("\n  cell {} {}: {}{}", miss.index, miss.id, miss.label,
                          miss.error.empty() ? "" : " -- failed: " + miss.error);
    }
    if (status.missing.size() > kListedInMessages) {
      list += fmt::format("\n  ... and {} more", status.missing.size() - kListedInMessages);
    }
    throw Error(fmt::format("{}: {} of {} cells missing ({} failed, {} not run):{}\nrerun `bestserve sweep run "
                            "GRID --out {}` (finished cells are skipped), or merge what is there with "
                            "--allow-missing",
                            dir, status.missing.size(), status.total, status.NumFailed(),
                            static_cast<int64_t>(status.missing.size()) - status.NumFailed(), list, dir));
  }

  // Rows, in cell order.
  std::set<std::string> missing_ids;
  for (const auto& miss : status.missing) missing_ids.insert(miss.id);
  std::vector<const Cell*> rows;
  std::vector<CellData> data;
  std::vector<std::string> metric_names;
  std::set<std::string> metric_seen;
  for (const Cell& cell : m.cells) {
    if (missing_ids.contains(cell.id)) continue;
    CellData d;
    ReadCell(CellPath(dir, cell.id), &d);
    for (const auto& [name, value] : d.metrics) {
      if (metric_seen.insert(name).second) metric_names.push_back(name);
    }
    rows.push_back(&cell);
    data.push_back(std::move(d));
  }
  int router_axis = -1;
  int seed_axis = -1;
  for (size_t a = 0; a < m.axes.size(); ++a) {
    if (m.axes[a].IsRouter()) router_axis = static_cast<int>(a);
    if (m.axes[a].key_path == "seed") seed_axis = static_cast<int>(a);
  }
  auto metric_of = [&](size_t row, const std::string& name) -> std::string {
    for (const auto& [key, value] : data[row].metrics) {
      if (key == name) return value;
    }
    return "null";
  };

  // merged.csv
  std::vector<std::string> header = {"index", "cell_id"};
  for (const auto& axis : m.axes) header.push_back(CsvField(axis.name));
  if (router_axis < 0) header.emplace_back("router");
  for (const auto& name : metric_names) header.push_back(CsvField(name));
  result.csv = fmt::format("{}\n", fmt::join(header, ","));
  for (size_t r = 0; r < rows.size(); ++r) {
    const Cell& cell = *rows[r];
    std::vector<std::string> fields = {fmt::format("{}", cell.index), cell.id};
    for (size_t a = 0; a < m.axes.size(); ++a) {
      fields.push_back(CsvField(m.axes[a].labels[static_cast<size_t>(cell.choice[a])]));
    }
    if (router_axis < 0) fields.push_back(CsvField(data[r].router));
    for (const auto& name : metric_names) {
      const std::string value = metric_of(r, name);
      fields.push_back(value == "null" ? "" : value);
    }
    result.csv += fmt::format("{}\n", fmt::join(fields, ","));
  }

  // Paired comparisons.
  struct Comparison {
    std::vector<std::pair<std::string, std::string>> group;  // axis name -> label
    std::string router;
    std::string metric;
    std::vector<std::string> seeds;
    PairedDifference diff;
  };
  std::vector<Comparison> comparisons;
  if (router_axis >= 0) {
    const ManifestAxis& routers = m.axes[static_cast<size_t>(router_axis)];
    result.reference = !options.reference.empty() ? options.reference
                       : !m.paired_reference.empty() ? m.paired_reference
                                                     : routers.labels.front();
    const auto ref_it = std::find(routers.labels.begin(), routers.labels.end(), result.reference);
    if (ref_it == routers.labels.end()) {
      ThrowConfigError("reference router '{}' is not a value of the router axis ({})", result.reference,
                       fmt::join(routers.labels, ", "));
    }
    const auto ref_index = static_cast<int32_t>(ref_it - routers.labels.begin());
    for (const auto& metric : m.paired_metrics) {
      if (!rows.empty() && !metric_seen.contains(metric)) {
        ThrowConfigError("{}: paired metric '{}' is not a metric of the cells; metrics: {}", m.path, metric,
                         fmt::join(metric_names, ", "));
      }
    }
    // Row of each finished cell by its choice vector.
    std::map<std::vector<int32_t>, size_t> row_of;
    for (size_t r = 0; r < rows.size(); ++r) row_of.emplace(rows[r]->choice, r);
    // Groups in cell order: the first cell of each group (router = reference, seed = first).
    std::vector<std::vector<int32_t>> groups;
    std::set<std::vector<int32_t>> group_seen;
    for (const Cell& cell : m.cells) {
      std::vector<int32_t> key = cell.choice;
      key[static_cast<size_t>(router_axis)] = 0;
      if (seed_axis >= 0) key[static_cast<size_t>(seed_axis)] = 0;
      if (group_seen.insert(key).second) groups.push_back(key);
    }
    const size_t num_seeds = seed_axis >= 0 ? m.axes[static_cast<size_t>(seed_axis)].labels.size() : 1;
    for (const auto& group : groups) {
      std::vector<std::pair<std::string, std::string>> group_labels;
      for (size_t a = 0; a < m.axes.size(); ++a) {
        if (static_cast<int>(a) == router_axis || static_cast<int>(a) == seed_axis) continue;
        group_labels.emplace_back(m.axes[a].name, m.axes[a].labels[static_cast<size_t>(group[a])]);
      }
      for (int32_t router = 0; router < static_cast<int32_t>(routers.labels.size()); ++router) {
        if (router == ref_index) continue;
        for (const auto& metric : m.paired_metrics) {
          Comparison c;
          c.group = group_labels;
          c.router = routers.labels[static_cast<size_t>(router)];
          c.metric = metric;
          std::vector<double> differences;
          for (size_t s = 0; s < num_seeds; ++s) {
            std::vector<int32_t> mine = group;
            std::vector<int32_t> ref = group;
            mine[static_cast<size_t>(router_axis)] = router;
            ref[static_cast<size_t>(router_axis)] = ref_index;
            if (seed_axis >= 0) {
              mine[static_cast<size_t>(seed_axis)] = static_cast<int32_t>(s);
              ref[static_cast<size_t>(seed_axis)] = static_cast<int32_t>(s);
            }
            const auto a = row_of.find(mine);
            const auto b = row_of.find(ref);
            if (a == row_of.end() || b == row_of.end()) continue;
            const auto x = ParseNumber(metric_of(a->second, metric));
            const auto y = ParseNumber(metric_of(b->second, metric));
            if (!x || !y) continue;
            differences.push_back(*x - *y);
            c.seeds.push_back(seed_axis >= 0 ? m.axes[static_cast<size_t>(seed_axis)].labels[s] : "");
          }
          c.diff = SummarizeDifferences(differences, options.confidence);
          comparisons.push_back(std::move(c));
        }
      }
    }
  }
  result.num_comparisons = static_cast<int64_t>(comparisons.size());

  // paired.csv
  const std::string ci_name = fmt::format("{:g}", 100.0 * options.confidence);
  if (router_axis >= 0) {
    std::vector<std::string> h;
    for (size_t a = 0; a < m.axes.size(); ++a) {
      if (static_cast<int>(a) != router_axis && static_cast<int>(a) != seed_axis) h.push_back(CsvField(m.axes[a].name));
    }
    for (const char* name : {"router", "reference", "metric", "n", "mean_difference", "sd", "t_quantile"}) h.emplace_back(name);
    h.push_back(fmt::format("ci{}_low", ci_name));
    h.push_back(fmt::format("ci{}_high", ci_name));
    result.paired_csv = fmt::format("{}\n", fmt::join(h, ","));
    auto num = [](double v) { return std::isfinite(v) ? fmt::format("{}", v) : std::string(); };
    for (const Comparison& c : comparisons) {
      std::vector<std::string> f;
      for (const auto& [name, label] : c.group) f.push_back(CsvField(label));
      f.push_back(CsvField(c.router));
      f.push_back(CsvField(result.reference));
      f.push_back(CsvField(c.metric));
      f.push_back(fmt::format("{}", c.diff.n));
      for (double v : {c.diff.mean, c.diff.sd, c.diff.t_quantile, c.diff.ci_low, c.diff.ci_high}) f.push_back(num(v));
      result.paired_csv += fmt::format("{}\n", fmt::join(f, ","));
    }
  }

  // merged.json
  JsonWriter w;
  w.BeginObject();
  w.FieldString("format", "bestserve-sweep-merged-1");
  w.FieldString("name", m.name);
  w.FieldString("grid_hash", m.grid_hash);
  w.FieldInt("num_cells", status.total);
  w.FieldInt("num_merged", static_cast<int64_t>(rows.size()));
  w.Key("axes").BeginArray();
  for (const auto& axis : m.axes) {
    w.BeginObject().FieldString("name", axis.name).FieldString("key", axis.key_path);
    w.Key("values").BeginArray();
    for (const auto& label : axis.labels) w.String(label);
    w.EndArray().EndObject();
  }
  w.EndArray();
  w.Key("missing").BeginArray();
  for (const auto& miss : status.missing) {
    w.BeginObject().FieldInt("index", miss.index).FieldString("cell_id", miss.id).FieldString("label", miss.label);
    if (miss.error.empty()) {
      w.Key("error").Null();
    } else {
      w.FieldString("error", miss.error);
    }
    w.EndObject();
  }
  w.EndArray();
  w.Key("rows").BeginArray();
  for (size_t r = 0; r < rows.size(); ++r) {
    const Cell& cell = *rows[r];
    w.BeginObject().FieldInt("index", cell.index).FieldString("cell_id", cell.id);
    w.Key("axes").BeginObject();
    for (size_t a = 0; a < m.axes.size(); ++a) {
      w.FieldString(m.axes[a].name, m.axes[a].labels[static_cast<size_t>(cell.choice[a])]);
    }
    w.EndObject();
    w.FieldString("router", data[r].router);
    w.Key("metrics").BeginObject();
    for (const auto& [name, value] : data[r].metrics) {
      // Shortest round-trip text parses and prints back to itself, so the JSON numbers are the
      // cell files' bytes.
      w.Key(name);
      WriteNumberOrNull(w, ParseNumber(value).value_or(std::numeric_limits<double>::quiet_NaN()));
    }
    w.EndObject().EndObject();
  }
  w.EndArray();
  if (router_axis >= 0) {
    w.Key("paired").BeginObject();
    w.FieldString("reference", result.reference);
    w.Field("confidence", options.confidence);
    w.Key("comparisons").BeginArray();
    for (const Comparison& c : comparisons) {
      w.BeginObject();
      w.Key("group").BeginObject();
      for (const auto& [name, label] : c.group) w.FieldString(name, label);
      w.EndObject();
      w.FieldString("router", c.router).FieldString("metric", c.metric).FieldInt("n", c.diff.n);
      w.Key("seeds").BeginArray();
      for (const auto& s : c.seeds) w.String(s);
      w.EndArray();
      w.Key("mean_difference");
      WriteNumberOrNull(w, c.diff.mean);
      w.Key("sd");
      WriteNumberOrNull(w, c.diff.sd);
      w.Key("t_quantile");
      WriteNumberOrNull(w, c.diff.t_quantile);
      w.Key("ci_low");
      WriteNumberOrNull(w, c.diff.ci_low);
      w.Key("ci_high");
      WriteNumberOrNull(w, c.diff.ci_high);
      w.EndObject();
    }
    w.EndArray().EndObject();
  }
  w.EndObject();
  result.json = w.str();
  return result;
}

MergeResult MergeSweep(const std::string& dir, const MergeOptions& options) {
  MergeResult result = BuildMerge(dir, options);
  const fs::path base(dir);
  WriteFileAtomically((base / "merged.csv").string(), result.csv);
  WriteFileAtomically((base / "merged.json").string(), result.json);
  if (!result.paired_csv.empty()) WriteFileAtomically((base / "paired.csv").string(), result.paired_csv);
  return result;
}

}  // namespace bestserve::sweep
