// A sweep grid: a base scenario, fixed overrides, and axes whose product is the set of cells.
//
// Grid file (YAML; experiments/sweeps/*.yaml are annotated examples, docs/sweeps.md the manual):
//
//   | key      | meaning                                                          | default |
//   |----------|------------------------------------------------------------------|---------|
//   | name     | label for outputs                                                | file stem |
//   | base     | scenario YAML the cells start from (scenario/scenario.h)          | built-in paper_4gpu |
//   | fixed    | map: scenario key path -> value, applied to every cell           | none    |
//   | axes     | map: axis -> values; cells are the product, in file order        | none (one cell) |
//   | paired   | {reference: <router>, metrics: [..]}: paired comparisons in merge | first router, mean_reward_fraction |
//   | notes    | free text                                                        | -       |
//
// An axis key is a shorthand or any scenario key path ("cluster.gpu_groups[0].count"):
//
//   | shorthand  | sets                         | values                                  |
//   |------------|------------------------------|-----------------------------------------|
//   | rate_rps   | workload.rate_rps            | numbers > 0                             |
//   | duration_s | workload.duration_s          | numbers > 0                             |
//   | seed       | seed                         | integers >= 0; `{count: N}` = 1..N      |
//   | router     | the router of the cell       | router strings (incl. dedicated:<model>, policy:FILE) or maps |
//   | workload   | workload (the whole section) | workload maps                           |
//   | profile    | profile                      | profile set names or paths              |
//   | gpus       | cluster.gpu_groups[0].count  | integers > 0 (base must have one group) |
//   | placement  | cluster.gpu_groups           | gpu_groups lists                        |
//   | reward     | deadline.reward              | hard, soft                              |
//
// Axis values: a list; `{values: [..], labels: [..]}` (labels name values in outputs);
// `{linear: {start, stop, num, digits}}` or `{log: {start, stop, num, digits}}` (num points,
// both ends included, each rounded to `digits` significant digits, default 6, so that ids do
// not hang on the last bit of a libm result); `{count: N, start: S}` (integers S..S+N-1, S = 1).
//
// Cells: the product of the axes, the first axis outermost (nested loops in file order). The
// cell id is the FNV-1a 64-bit hash, as 16 hex digits, of the lines "<key path>=<canonical
// value>\n" of its axes sorted by key path: it names the cell's settings, so it does not depend
// on the order of the axes in the file, on labels, or on the base and fixed settings (those go
// into the grid hash, see sweep/runner.h). Canonical value: YAML as compact JSON with map keys
// sorted; plain scalars that read as integers or numbers in shortest round-trip form
// ("4.0" -> 4, "2.50" -> 2.5), true/false/null bare, other scalars as JSON strings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"
#include "common/hash.h"
#include "scenario/scenario.h"

namespace bestserve::sweep {

// FNV-1a, 64 bits (the same function DeriveSeed uses for stream names).

// 16 lower-case hex digits.
std::string Hex64(uint64_t value);

// The canonical text of a YAML value (see the header comment); valid YAML and JSON.
std::string CanonicalYaml(const YAML::Node& node);

struct AxisValue {
  std::string canonical;  // canonical text, hashed into the id
  std::string applied;    // the YAML text applied to the scenario: canonical, with a policy
                          // file inside a router map resolved to an absolute path
  std::string label;      // the value in outputs: its label, a plain string as is, else canonical
  std::string where;      // "grid.yaml:7:12: at 'axes.router[1]'", for messages
  // Router axis only: the router string with a policy file resolved to an absolute path (what
  // runs); empty when the value is a router map (it then goes to the scenario's `router`).
  std::string router_spec;
  bool is_map = false;    // a map or list value (not a scalar)
};

struct Axis {
  std::string name;      // as written in the grid ("rate_rps", "cluster.interference_factor")
  std::string key_path;  // the scenario key it sets; "router" for the router axis
  std::vector<AxisValue> values;
  bool IsRouter() const { return key_path == "router"; }
};

struct Grid {
  std::string source;    // the grid file
  std::string name;
  std::string base;      // scenario file path as resolved (empty: never; the built-in is a path too)
  std::vector<std::pair<std::string, std::string>> fixed;  // key path, YAML value applied
  std::optional<AxisValue> fixed_router;                   // `fixed: {router: ..}`
  std::vector<Axis> axes;
  std::string paired_reference;                    // empty: the first value of the router axis
  std::vector<std::string> paired_metrics = {"mean_reward_fraction"};
  std::vector<std::string> policy_files;           // resolved policy files, for the grid hash
};

// One cell: a choice of one value per axis.
struct Cell {
  int64_t index = 0;            // position in the product order
  std::string id;               // see the header comment
  std::vector<int32_t> choice;  // value index per axis
};

// Parses and validates a grid file; throws ConfigError naming file:line:col and key path on an
// unknown key or axis, an empty axis, a rate <= 0, a duplicate value, a missing base scenario or
// policy file. Relative paths (base, policy files) are looked up next to the grid file, then in
// the working directory, then in the data folder.
Grid LoadGrid(const std::string& path);
Grid ParseGrid(const ConfigNode& root, const std::string& grid_dir);

// The values of one axis specification (a list, {values, labels}, {linear: ..}, {log: ..} or
// {count: N}), with errors at the spec's location. Also used by `bestserve reproduce` for rates.
std::vector<AxisValue> AxisValues(const ConfigNode& spec);

// The cells in product order (ids checked unique).
std::vector<Cell> ExpandCells(const Grid& grid);

// The id of a cell with these (key path, canonical value) settings.
std::string CellId(std::vector<std::pair<std::string, std::string>> settings);

// What LoadScenario and the runner need for one cell. The overrides are the fixed values and the
// cell's axis values, broader key paths first (fixed before axes at equal depth), so that a
// `rate_rps` axis or a fixed `workload.duration_s` refines a `workload` axis's value. A router
// string runs through CompareRouters as given (dedicated:<model> included) and also becomes the
// scenario's `router` (static:<model> for a dedicated baseline); a router map goes to `router`.
struct CellSettings {
  ScenarioOverrides overrides;
  std::string router_spec;  // passed to CompareRouters; empty: the scenario's own router
};
CellSettings MakeCellSettings(const Grid& grid, const Cell& cell);

// "rate_rps=2, router=greedy, seed=1" (labels), for messages and progress.
std::string CellLabel(const Grid& grid, const Cell& cell);

// The shorthand axis names and the key paths they set.
const std::vector<std::pair<std::string, std::string>>& AxisShorthands();

}  // namespace bestserve::sweep
