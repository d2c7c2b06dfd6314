// The one registry of routers: a table of router kinds, each defined in its own file beside this
// one (static_router.cpp, random_router.cpp, threshold_router.cpp, greedy_router.cpp,
// slack_router.cpp, scorer_router.cpp, vqueue_router.cpp, policy_router.cpp). Names, usage and help texts come from the table; so do `--help`, the
// error for an unknown name and the default routers of `evaluate`.
//
// A router is named on the command line as a string ("greedy", "static:opt-6.7b",
// "threshold:2,24", "policy:FILE") or in a config as that string or a map
// {name: threshold, thresholds_rps: [..]}.
//
// Adding a router: copy static_router.cpp (the smallest) to <name>_router.cpp, define its
// `const RouterKind k<Name>Router`, and add one line to the table in registry.cpp. The tests
// (tests/router/conformance_test.cpp) enumerate the table and run every kind through the
// routing invariants.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/tasks.h"
#include "router/core/routing_policy.h"
#include "sim/cluster.h"

namespace bestserve {

struct RouterContext {
  const ServingSystem* system = nullptr;
  const TaskTable* tasks = nullptr;
  std::vector<std::vector<double>> quality;  // [task][model], the system's model order
  uint64_t seed = 0;                         // the run's master seed
  // The scenario's rate estimator (Describe() text); a policy must have been trained with it.
  std::string rate_estimator;
};

// One router as the user wrote it: the string form "name[:argument]" or a map with `name`.
class RouterSpec {
 public:
  // `source` names the string in errors (e.g. "--router").
  static RouterSpec FromString(const std::string& text, const std::string& source);
  static RouterSpec FromNode(const ConfigNode& node);  // a string scalar or a map

  const std::string& name() const { return name_; }
  // The text after ':' in the string form; empty in the map form.
  const std::string& argument() const { return argument_; }
  bool has_argument() const { return has_argument_; }
  bool is_map() const { return map_.has_value(); }

  // Map form: fails on keys other than `name` and `keys`. String form: nothing to check.
  void CheckKeys(std::initializer_list<std::string_view> keys) const;
  // Map form: the setting at `key`, or nullopt when absent. String form: nullopt.
  std::optional<ConfigNode> Setting(std::string_view key) const;
  // The router's one text argument: map form, the string at `key` (required); string form, the
  // text after ':' (may be empty).
  std::string Text(std::string_view key) const;
  // Throws ConfigError naming the spec: "--router 'threshold:x': message" for the string form,
  // "file:line:col: at 'router': message" for a spec written in a config.
  [[noreturn]] void Fail(const std::string& message) const;

 private:
  std::string name_;
  std::string argument_;
  bool has_argument_ = false;
  std::string where_;                // string form: "--router 'spec'"
  std::optional<ConfigNode> node_;   // where the spec was written in a config, if it was
  std::optional<ConfigNode> map_;    // the map form's node
};

struct RouterKind {
  const char* name;   // "greedy": the part of a spec before ':'
  const char* usage;  // "greedy[:slack]": how to write it on the command line
  const char* help;   // one line for --help and docs
  // Builds the router; fails through spec.Fail on bad settings.
  std::unique_ptr<RoutingPolicy> (*make)(const RouterSpec& spec, const RouterContext& ctx);
  // The specs of this kind that `evaluate` runs by default (none for kinds that need a file).
  std::vector<std::string> (*default_specs)(const ServingSystem& system);
};

// Every registered kind, in registry order.
std::span<const RouterKind* const> RouterKinds();

// From a config node (string or map). Throws ConfigError with the node's location.
std::unique_ptr<RoutingPolicy> MakeRouter(const ConfigNode& spec, const RouterContext& ctx);
// From a command-line string; `source` names it in errors (e.g. "--router").
std::unique_ptr<RoutingPolicy> MakeRouter(const std::string& spec, const RouterContext& ctx,
                                          const std::string& source = "--router");

// Every built-in router spec for this system, for comparisons: the paper's baselines
// (dedicated:<model>: static routing on GPUs that hold that model alone, see scenario/compare.h),
// then each kind's default specs in registry order.
std::vector<std::string> BuiltinRouterSpecs(const ServingSystem& system);
// Each kind's usage, in registry order ("static:<model>, random, ...").
std::vector<std::string> RouterNames();
// "  static:<model>   always <model> ..." lines for --help.
std::string RouterHelp();

}  // namespace bestserve
