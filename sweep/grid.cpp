#include "sweep/grid.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>

#include "common/json_writer.h"

namespace bestserve::sweep {
namespace fs = std::filesystem;
namespace {

constexpr const char* kDefaultBase = "experiments/scenarios/paper_4gpu.yaml";
// A guard against a typo that would expand to billions of cells.
constexpr int64_t kMaxCells = 10'000'000;

// Top-level keys of a scenario (scenario/scenario.cpp checks the same list): an axis key path
// must start with one of them.
const std::vector<std::string> kScenarioKeys = {"name",    "seed",     "tasks",          "profile",
                                                "models",  "cluster",  "deadline",       "workload",
                                                "router",  "rate_estimator", "metrics",  "oracle_view"};

std::string JsonString(std::string_view text) { return fmt::format("\"{}\"", JsonEscape(text)); }

bool IsQuoted(const YAML::Node& node) { return node.Tag() == "!"; }

// A plain scalar's canonical number text, or nullopt when it is not a number.
std::optional<std::string> CanonicalNumber(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::string_view digits = text;
  if (digits.front() == '+') digits.remove_prefix(1);
  const char* first = digits.data();
  const char* last = digits.data() + digits.size();
  int64_t as_int = 0;
  if (auto [end, ec] = std::from_chars(first, last, as_int); ec == std::errc() && end == last) {
    return fmt::format("{}", as_int);
  }
  uint64_t as_uint = 0;
  if (auto [end, ec] = std::from_chars(first, last, as_uint); ec == std::errc() && end == last) {
    return fmt::format("{}", as_uint);
  }
  double as_double = 0.0;
  if (auto [end, ec] = std::from_chars(first, last, as_double); ec == std::errc() && end == last &&
                                                                  std::isfinite(as_double)) {
    // from_chars also reads "inf" and "nan"; those stay strings (not finite above).
    return fmt::format("{}", as_double);
  }
  return std::nullopt;
}

std::optional<double> NumberOf(const AxisValue& value) {
  double parsed = 0.0;
  const std::string& text = value.canonical;
  if (auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
      ec == std::errc() && end == text.data() + text.size()) {
    return parsed;
  }
  return std::nullopt;
}

// The first segment of a key path: "cluster" of "cluster.gpu_groups[0].count".
std::string FirstSegment(const std::string& path) { return path.substr(0, path.find_first_of(".[")); }
// The last key of a path: "rate_rps" of "workload.phases[1].rate_rps".
std::string LastKey(const std::string& path) {
  const size_t dot = path.find_last_of('.');
  std::string last = dot == std::string::npos ? path : path.substr(dot + 1);
  return last.substr(0, last.find('['));
}
// Number of segments; broader keys (fewer segments) are applied first.
size_t Depth(const std::string& path) {
  return 1 + static_cast<size_t>(std::count_if(path.begin(), path.end(), [](char c) { return c == '.' || c == '['; }));
}

std::string ShorthandList() {
  std::vector<std::string> names;
  for (const auto& [name, path] : AxisShorthands()) names.push_back(name);
  return fmt::format("{}", fmt::join(names, ", "));
}

// Maps an axis or fixed key to the scenario key path it sets; fails on anything else.
std::string KeyPathOf(const ConfigNode& key_node, const std::string& key) {
  for (const auto& [name, path] : AxisShorthands()) {
    if (key == name) return path;
  }
  const std::string first = FirstSegment(key);
  if (std::find(kScenarioKeys.begin(), kScenarioKeys.end(), first) == kScenarioKeys.end() ||
      key.empty() || key.back() == '.') {
    key_node.Fail(fmt::format("unknown axis '{}'; expected a shorthand ({}) or a scenario key path starting "
                              "with one of: {}",
                              key, ShorthandList(), fmt::join(kScenarioKeys, ", ")));
  }
  return key;
}

// An existing file: absolute; else next to the grid, in the working directory, in the data
// folder (in that order). Empty when it exists nowhere.
std::string ResolveFile(const std::string& value, const std::string& grid_dir) {
  const fs::path p(value);
  std::error_code ec;
  if (p.is_absolute()) return fs::exists(p, ec) ? p.string() : std::string();
  for (const fs::path& dir : {fs::path(grid_dir), fs::current_path(ec), fs::path(DataDir())}) {
    if (dir.empty()) continue;
    const fs::path candidate = dir / p;
    if (fs::exists(candidate, ec)) return fs::absolute(candidate, ec).lexically_normal().string();
  }
  return "";
}

std::string NotFoundMessage(const std::string& what, const std::string& value, const std::string& grid_dir) {
  std::error_code ec;
  return fmt::format("{} '{}' not found next to the grid ({}), in the working directory ({}) nor in the "
                     "data folder ({})",
                     what, value, grid_dir.empty() ? "." : grid_dir, fs::current_path(ec).string(), DataDir());
}

AxisValue MakeValue(const ConfigNode& node) {
  AxisValue v;
  v.canonical = CanonicalYaml(node.yaml());
  v.applied = v.canonical;
  v.is_map = node.IsMap() || node.IsSequence();
  v.label = (node.IsScalar() && !v.canonical.empty() && v.canonical.front() == '"') ? node.AsString()
                                                                                    : v.canonical;
  v.where = node.Where();
  return v;
}

// Router values: strings run as given (policy files resolved); maps go to the scenario.
void ResolveRouter(AxisValue& value, const ConfigNode& node, const std::string& grid_dir,
                   std::vector<std::string>& policy_files) {
  if (node.IsScalar()) {
    const std::string spec = node.AsString();
    value.router_spec = spec;
    if (spec.rfind("policy:", 0) == 0) {
      const std::string file = spec.substr(7);
      const std::string resolved = file.empty() ? "" : ResolveFile(file, grid_dir);
      if (resolved.empty()) node.Fail(NotFoundMessage("policy file", file, grid_dir));
      value.router_spec = "policy:" + resolved;
      policy_files.push_back(resolved);
    } else if (spec.rfind("dedicated:", 0) == 0 && spec.size() == 10) {
      node.Fail("expected dedicated:<model>");
    }
    return;
  }
  if (!node.IsMap()) node.Fail("expected a router string (greedy, static:<model>, policy:FILE, ..) or map");
  if (node.GetString("name", "") == "policy" && node.Has("path")) {
    const ConfigNode path = node.Child("path");
    const std::string resolved = ResolveFile(path.AsString(), grid_dir);
    if (resolved.empty()) path.Fail(NotFoundMessage("policy file", path.AsString(), grid_dir));
    policy_files.push_back(resolved);
    YAML::Node copy = YAML::Clone(node.yaml());
    copy["path"] = resolved;
    value.applied = CanonicalYaml(copy);
  }
}

std::vector<AxisValue> GeneratedRange(const ConfigNode& spec, bool log) {
  const ConfigNode range = spec.Child(log ? "log" : "linear");
  range.ExpectMap("range settings");
  range.CheckKeys({"start", "stop", "num", "digits"});
  const double start = range.GetDouble("start");
  const double stop = range.GetDouble("stop");
  const ConfigNode num_node = range.Child("num");
  const int64_t num = num_node.AsInt();
  if (num < 1) num_node.Fail(fmt::format("empty axis: expected num >= 1 points, got {}", num));
  int64_t digits = 6;
  if (const auto digits_node = range.MaybeChild("digits")) {
    digits = digits_node->AsInt();
    if (digits < 1 || digits > 17) digits_node->Fail(fmt::format("expected 1 to 17 significant digits, got {}", digits));
  }
  if (log && !(start > 0.0 && stop > 0.0)) {
    range.Fail(fmt::format("a log range needs start > 0 and stop > 0, got start {} and stop {}", start, stop));
  }
  std::vector<AxisValue> values;
  for (int64_t i = 0; i < num; ++i) {
    double x = start;
    if (num > 1) {
      const double t = static_cast<double>(i) / static_cast<double>(num - 1);
      x = log ? std::exp(std::log(start) + t * (std::log(stop) - std::log(start))) : start + t * (stop - start);
      if (i == num - 1) x = stop;  // both ends exactly as written
    }
    // Rounded to `digits` significant digits: readable values, and ids that do not depend on
    // the last bit of exp/log on this platform.
    const std::string text = fmt::format("{:.{}g}", x, static_cast<int>(digits));
    AxisValue v;
    v.canonical = *CanonicalNumber(text);
    v.applied = v.canonical;
    v.label = v.canonical;
    v.where = fmt::format("{} (value {})", range.Where(), i);
    values.push_back(std::move(v));
  }
  return values;
}

}  // namespace

std::vector<AxisValue> AxisValues(const ConfigNode& spec) {
  std::vector<AxisValue> values;
  if (spec.IsSequence()) {
    for (size_t i = 0; i < spec.size(); ++i) values.push_back(MakeValue(spec.Element(i)));
    if (values.empty()) spec.Fail("empty axis: expected at least one value");
    return values;
  }
  if (!spec.IsMap()) {
    spec.Fail(fmt::format("expected a list of values, {{values: [..], labels: [..]}}, {{linear: ..}}, "
                          "{{log: ..}} or {{count: N}}, got {}",
                          spec.IsNull() ? "nothing" : "'" + spec.yaml().Scalar() + "'"));
  }
  if (spec.Has("values")) {
    spec.CheckKeys({"values", "labels"});
    const ConfigNode list = spec.Child("values");
    list.ExpectSequence("values");
    values = AxisValues(list);
    if (auto labels = spec.MaybeChild("labels")) {
      labels->ExpectSequence("labels, one per value");
      if (labels->size() != values.size()) {
        labels->Fail(fmt::format("expected {} labels (one per value), got {}", values.size(), labels->size()));
      }
      for (size_t i = 0; i < values.size(); ++i) {
        values[i].label = labels->Element(i).AsString();
        for (size_t j = 0; j < i; ++j) {
          if (values[j].label == values[i].label) {
            labels->Element(i).Fail(fmt::format("duplicate label '{}'", values[i].label));
          }
        }
      }
    }
    return values;
  }
  if (spec.Has("linear") || spec.Has("log")) return GeneratedRange(spec, spec.Has("log"));
  if (spec.Has("count")) {
    spec.CheckKeys({"count", "start"});
    const ConfigNode count_node = spec.Child("count");
    const int64_t count = count_node.AsInt();
    if (count < 1) count_node.Fail(fmt::format("empty axis: expected count >= 1, got {}", count));
    const int64_t start = spec.GetInt("start", 1);
    for (int64_t i = 0; i < count; ++i) {
      AxisValue v;
      v.canonical = fmt::format("{}", start + i);
      v.applied = v.canonical;
      v.label = v.canonical;
      v.where = fmt::format("{} (value {})", count_node.Where(), i);
      values.push_back(std::move(v));
    }
    return values;
  }
  spec.Fail(fmt::format("expected one of the keys values, linear, log, count; got {}",
                        fmt::join(spec.Keys(), ", ")));
}

namespace {

// Checks of values this layer can judge on its own, with the value's location; everything else
// is judged by the scenario loader when the cells are validated.
void CheckValue(const std::string& key_path, const AxisValue& value) {
  const std::string last = LastKey(key_path);
  if (last == "rate_rps" || last == "duration_s") {
    const auto number = NumberOf(value);
    if (!number || !(*number > 0.0)) {
      throw ConfigError(fmt::format("{}: expected {} > 0 {}, got {}", value.where,
                                    last == "rate_rps" ? "an arrival rate" : "a duration",
                                    last == "rate_rps" ? "requests/s" : "s", value.label));
    }
  }
  if (key_path == "seed") {
    int64_t seed = 0;
    const std::string& text = value.canonical;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seed);
    if (ec != std::errc() || end != text.data() + text.size() || seed < 0) {
      throw ConfigError(fmt::format("{}: expected a seed: an integer >= 0, got {}", value.where, value.label));
    }
  }
}

}  // namespace

std::string Hex64(uint64_t value) { return fmt::format("{:016x}", value); }

std::string CanonicalYaml(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "null";
  if (node.IsScalar()) {
    const std::string& text = node.Scalar();
    if (IsQuoted(node)) return JsonString(text);
    if (text == "true" || text == "false") return text;
    if (text == "~" || text == "null") return "null";
    if (auto number = CanonicalNumber(text)) return *number;
    return JsonString(text);
  }
  std::string out;
  if (node.IsSequence()) {
    out += '[';
    for (size_t i = 0; i < node.size(); ++i) {
      if (i > 0) out += ", ";
      out += CanonicalYaml(node[i]);
    }
    return out + ']';
  }
  std::vector<std::pair<std::string, std::string>> entries;
  for (const auto& entry : node) {
    entries.emplace_back(entry.first.Scalar(), CanonicalYaml(entry.second));
  }
  std::sort(entries.begin(), entries.end());
  out += '{';
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i > 0) out += ", ";
    out += fmt::format("{}: {}", JsonString(entries[i].first), entries[i].second);
  }
  return out + '}';
}

const std::vector<std::pair<std::string, std::string>>& AxisShorthands() {
  static const std::vector<std::pair<std::string, std::string>> shorthands = {
      {"rate_rps", "workload.rate_rps"},
      {"duration_s", "workload.duration_s"},
      {"seed", "seed"},
      {"router", "router"},
      {"workload", "workload"},
      {"profile", "profile"},
      {"gpus", "cluster.gpu_groups[0].count"},
      {"placement", "cluster.gpu_groups"},
      {"reward", "deadline.reward"},
  };
  return shorthands;
}

Grid LoadGrid(const std::string& path) {
  const ConfigNode root = ConfigNode::LoadFile(path);
  return ParseGrid(root, fs::path(path).parent_path().string());
}

Grid ParseGrid(const ConfigNode& root, const std::string& grid_dir) {
  if (root.IsMap() && root.Has("format")) {
    // A sweep's manifest (DIR/grid.yaml) is itself a grid file; its own keys are ignored here.
    root.CheckKeys({"name", "base", "fixed", "axes", "paired", "notes", "format", "grid_hash", "source", "cells"});
  } else {
    root.CheckKeys({"name", "base", "fixed", "axes", "paired", "notes"});
  }
  Grid grid;
  grid.source = root.source();
  grid.name = root.GetString("name", fs::path(grid.source).stem().string());

  if (auto base = root.MaybeChild("base")) {
    grid.base = ResolveFile(base->AsString(), grid_dir);
    if (grid.base.empty()) base->Fail(NotFoundMessage("base scenario", base->AsString(), grid_dir));
  } else {
    grid.base = (fs::path(DataDir()) / kDefaultBase).string();
  }
  const ConfigNode base_yaml = ConfigNode::LoadFile(grid.base);

  std::map<std::string, std::string> taken;  // key path -> where, to refuse setting one twice
  auto claim = [&taken](const std::string& key_path, const ConfigNode& at) {
    if (auto it = taken.find(key_path); it != taken.end()) {
      at.Fail(fmt::format("'{}' is set twice (also by {})", key_path, it->second));
    }
    taken.emplace(key_path, at.path());
  };

  if (auto fixed = root.MaybeChild("fixed")) {
    fixed->ExpectMap("scenario key paths and values");
    for (const std::string& key : fixed->Keys()) {
      const ConfigNode value = fixed->Child(key);
      const std::string key_path = KeyPathOf(value, key);
      claim(key_path, value);
      AxisValue v = MakeValue(value);
      if (key_path == "router") {
        ResolveRouter(v, value, grid_dir, grid.policy_files);
        grid.fixed_router = v;
        continue;
      }
      CheckValue(key_path, v);
      grid.fixed.emplace_back(key_path, v.applied);
    }
  }

  if (auto axes = root.MaybeChild("axes")) {
    axes->ExpectMap("axes (axis -> values)");
    for (const std::string& key : axes->Keys()) {
      const ConfigNode spec = axes->Child(key);
      Axis axis;
      axis.name = key;
      axis.key_path = KeyPathOf(spec, key);
      claim(axis.key_path, spec);
      axis.values = AxisValues(spec);
      for (size_t i = 0; i < axis.values.size(); ++i) {
        AxisValue& v = axis.values[i];
        if (axis.IsRouter()) {
          // Re-find the value's node for router resolution (generated values are never routers).
          const ConfigNode list = spec.IsSequence() ? spec : spec.Child("values");
          ResolveRouter(v, list.Element(i), grid_dir, grid.policy_files);
        }
        CheckValue(axis.key_path, v);
        for (size_t j = 0; j < i; ++j) {
          if (axis.values[j].canonical == v.canonical) {
            throw ConfigError(fmt::format("{}: duplicate value {} on axis '{}' (also value {})", v.where,
                                          v.label, key, j));
          }
        }
      }
      if (key == "gpus") {
        const YAML::Node groups = base_yaml.yaml()["cluster"]["gpu_groups"];
        if (!groups.IsSequence() || groups.size() != 1) {
          spec.Fail(fmt::format("the 'gpus' shorthand sets cluster.gpu_groups[0].count, but the base scenario "
                                "{} has {} GPU groups; name the group: cluster.gpu_groups[<i>].count",
                                grid.base, groups.IsSequence() ? groups.size() : 0));
        }
      }
      grid.axes.push_back(std::move(axis));
    }
  }

  if (auto paired = root.MaybeChild("paired")) {
    paired->CheckKeys({"reference", "metrics"});
    grid.paired_reference = paired->GetString("reference", "");
    if (auto metrics = paired->MaybeChild("metrics")) {
      metrics->ExpectSequence("metric names");
      grid.paired_metrics.clear();
      for (size_t i = 0; i < metrics->size(); ++i) grid.paired_metrics.push_back(metrics->Element(i).AsString());
      if (grid.paired_metrics.empty()) metrics->Fail("expected at least one metric name");
    }
    if (!grid.paired_reference.empty()) {
      const Axis* router = nullptr;
      for (const Axis& a : grid.axes) router = a.IsRouter() ? &a : router;
      bool found = false;
      std::vector<std::string> labels;
      for (const AxisValue& v : router ? router->values : std::vector<AxisValue>{}) {
        found = found || v.label == grid.paired_reference;
        labels.push_back(v.label);
      }
      if (!found) {
        paired->Child("reference").Fail(
            router ? fmt::format("'{}' is not a value of the router axis ({})", grid.paired_reference,
                                 fmt::join(labels, ", "))
                   : std::string("paired comparisons need a router axis"));
      }
    }
  }

  int64_t total = 1;
  for (const Axis& a : grid.axes) {
    total *= static_cast<int64_t>(a.values.size());
    if (total > kMaxCells) {
      root.Child("axes").Fail(fmt::format("the axes expand to more than {} cells", kMaxCells));
    }
  }
  return grid;
}

std::string CellId(std::vector<std::pair<std::string, std::string>> settings) {
  std::sort(settings.begin(), settings.end());
  std::string text;
  for (const auto& [key, value] : settings) text += fmt::format("{}={}\n", key, value);
  return Hex64(Fnv1a64(text));
}

std::vector<Cell> ExpandCells(const Grid& grid) {
  int64_t total = 1;
  for (const Axis& a : grid.axes) total *= static_cast<int64_t>(a.values.size());
  std::vector<Cell> cells;
  cells.reserve(static_cast<size_t>(total));
  std::map<std::string, int64_t> seen;
  for (int64_t index = 0; index < total; ++index) {
    Cell cell;
    cell.index = index;
    cell.choice.assign(grid.axes.size(), 0);
    // Mixed radix, the last axis varying fastest: nested loops in file order.
    int64_t rest = index;
    for (size_t a = grid.axes.size(); a-- > 0;) {
      const auto size = static_cast<int64_t>(grid.axes[a].values.size());
      cell.choice[a] = static_cast<int32_t>(rest % size);
      rest /= size;
    }
    std::vector<std::pair<std::string, std::string>> settings;
    for (size_t a = 0; a < grid.axes.size(); ++a) {
      settings.emplace_back(grid.axes[a].key_path,
                            grid.axes[a].values[static_cast<size_t>(cell.choice[a])].canonical);
    }
    cell.id = CellId(std::move(settings));
    auto [it, inserted] = seen.emplace(cell.id, index);
    BS_CHECK_MSG(inserted, "cells {} and {} share the id {}", it->second, index, cell.id);
    cells.push_back(std::move(cell));
  }
  return cells;
}

CellSettings MakeCellSettings(const Grid& grid, const Cell& cell) {
  BS_CHECK(cell.choice.size() == grid.axes.size());
  CellSettings settings;
  // One stable sort by depth over the fixed settings, then the axes: broader keys first, so a
  // `rate_rps` axis or a fixed `workload.duration_s` refines the value of a `workload` axis. (A
  // key path is set at most once, so the order among equal depths never changes the result.)
  std::vector<std::pair<std::string, std::string>> all = grid.fixed;
  const AxisValue* router = grid.fixed_router ? &*grid.fixed_router : nullptr;
  for (size_t a = 0; a < grid.axes.size(); ++a) {
    const AxisValue& value = grid.axes[a].values[static_cast<size_t>(cell.choice[a])];
    if (grid.axes[a].IsRouter()) {
      router = &value;
    } else {
      all.emplace_back(grid.axes[a].key_path, value.applied);
    }
  }
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return Depth(a.first) < Depth(b.first); });
  settings.overrides.set_values = std::move(all);
  if (router != nullptr) {
    if (router->is_map) {
      // A router map goes to the scenario's `router` (its policy path already resolved).
      settings.overrides.set_values.emplace_back("router", router->applied);
    } else if (router->router_spec.rfind("dedicated:", 0) == 0) {
      // dedicated:<model> is not a registry router but a comparison mode (scenario/compare.h);
      // the scenario's router is its static equivalent, so validation checks the model.
      settings.overrides.router = "static:" + router->router_spec.substr(10);
      settings.router_spec = router->router_spec;
    } else {
      settings.overrides.router = router->router_spec;
      settings.router_spec = router->router_spec;
    }
  }
  return settings;
}

std::string CellLabel(const Grid& grid, const Cell& cell) {
  std::vector<std::string> parts;
  for (size_t a = 0; a < grid.axes.size(); ++a) {
    parts.push_back(fmt::format("{}={}", grid.axes[a].name, grid.axes[a].values[static_cast<size_t>(cell.choice[a])].label));
  }
  return parts.empty() ? std::string("(no axes)") : fmt::format("{}", fmt::join(parts, ", "));
}

}  // namespace bestserve::sweep
