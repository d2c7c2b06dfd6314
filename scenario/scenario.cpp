#include "scenario/scenario.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <variant>

#include "workloads/registry.h"
#include "workloads/workload_config.h"

namespace bestserve {
namespace fs = std::filesystem;
namespace {

constexpr const char* kDefaultScenario = "experiments/scenarios/paper_4gpu.yaml";
constexpr const char* kDefaultTasks = "profiles/tasks/opt_zero_shot.yaml";
// The ranges of --rate and --duration (docs/reliability.md); workload.rate_rps x duration_s is
// further bounded by the request limit of one run (workloads/request_sink.h).
constexpr double kMaxRateRps = 1e6;
constexpr double kMaxDurationS = 1e8;

std::string Num(double value) { return fmt::format("{}", value); }

// A path as written in the resolved config: relative to the data folder when inside it.
std::string PortablePath(const fs::path& resolved) {
  std::error_code ec;
  const fs::path canonical = fs::weakly_canonical(resolved, ec);
  const fs::path data = fs::weakly_canonical(DataDir(), ec);
  const fs::path relative = canonical.lexically_relative(data);
  if (!relative.empty() && *relative.begin() != "..") return relative.generic_string();
  return canonical.generic_string();
}

// The workloads' path rule (workloads/workload_config.h), plus a located error when the file is
// in none of the places the rule looks.
fs::path ResolvePath(const ConfigNode& node, const std::string& config_dir) {
  const fs::path value(node.AsString());
  const fs::path resolved(bestserve::ResolveDataPath(value.string(), config_dir));
  if (fs::exists(resolved)) return resolved;
  if (value.is_absolute()) node.Fail(fmt::format("file '{}' does not exist", value.string()));
  node.Fail(fmt::format("file '{}' not found next to the config ({}) nor in the data folder ({})",
                        value.string(), config_dir.empty() ? "-" : config_dir, DataDir()));
}

fs::path ResolveProfile(const ConfigNode& node, const std::string& config_dir) {
  const std::string value = node.AsString();
  if (value.find('/') == std::string::npos && value.find(".yaml") == std::string::npos) {
    const fs::path named = fs::path(DataDir()) / "profiles" / value / "profile.yaml";
    if (fs::exists(named)) return named;
    std::vector<std::string> sets;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(fs::path(DataDir()) / "profiles", ec)) {
      if (fs::exists(entry.path() / "profile.yaml")) sets.push_back(entry.path().filename().string());
    }
    std::sort(sets.begin(), sets.end());
    node.Fail(fmt::format("unknown profile set '{}'; sets in {}/profiles: {}", value, DataDir(),
                          fmt::join(sets, ", ")));
  }
  return ResolvePath(node, config_dir);
}

void SetDefault(YAML::Node map, const char* key, const std::string& value) {
  if (!map[key] || map[key].IsNull()) map[key] = value;
}

// Writes every default of the sections this library owns into `root`, so that the resolved
// config says everything. Called after the sections parsed cleanly (so types are right).
void FillDefaults(YAML::Node root, const Scenario& s) {
  YAML::Node cluster = root["cluster"];
  SetDefault(cluster, "interference_factor", Num(s.system.interference_factor));
  SetDefault(cluster, "load_balancer", ToString(s.system.load_balancer));
  SetDefault(cluster, "queueing", ToString(s.system.queueing));
  SetDefault(cluster, "max_prefill_tokens", Num(static_cast<double>(s.system.max_prefill_tokens)));
  YAML::Node deadline = root["deadline"];
  SetDefault(deadline, "ms_per_token", Num(s.deadline.ms_per_token));
  // Under a schedule, the ms_per_token in force at time 0 (the schedule replaced any other).
  if (!s.deadline.schedule.empty()) deadline["ms_per_token"] = Num(s.deadline.ms_per_token);
  SetDefault(deadline, "base_ms", Num(s.deadline.base_ms));
  SetDefault(deadline, "reward", ToString(s.deadline.reward));
  YAML::Node soft = deadline["soft"];
  SetDefault(soft, "shape", ToString(s.deadline.soft_shape));
  SetDefault(soft, "penalty_per_ms", Num(s.deadline.penalty_per_ms));
  SetDefault(soft, "cutoff_fraction", Num(s.deadline.cutoff_fraction));
  SetDefault(soft, "half_life_ms", Num(s.deadline.half_life_ms));
  SetDefault(soft, "lateness", ToString(s.deadline.soft_lateness));
  YAML::Node metrics = root["metrics"];
  SetDefault(metrics, "window", Num(s.metrics.window));
  SetDefault(metrics, "selection_bin_requests", Num(s.metrics.selection_bin_requests));
  if (!root["models"] || root["models"].IsNull()) {
    YAML::Node models(YAML::NodeType::Sequence);
    for (const auto& m : s.system.model_names) models.push_back(m);
    root["models"] = models;
  }
  if (!root["rate_estimator"] || root["rate_estimator"].IsNull()) {
    YAML::Node estimator;
    estimator["kind"] = "last_k";
    estimator["k"] = "5";
    root["rate_estimator"] = estimator;
  }
  SetDefault(root, "router", "greedy");
  SetDefault(root, "oracle_view", s.oracle_view ? "true" : "false");
}

}  // namespace

void ApplyOverride(YAML::Node root, const std::string& path, const std::string& value,
                   const std::string& source) {
  YAML::Node parsed;
  try {
    parsed = YAML::Load(value);
  } catch (const YAML::Exception& e) {
    ThrowConfigError("{} {}={}: the value is not valid YAML: {}", source, path, value, e.msg);
  }
  if (!parsed.IsDefined() || parsed.IsNull()) {
    // A null would silently fall back to the key's default: almost surely not what was meant.
    ThrowConfigError("{} {}={}: expected a value; null (or nothing) would silently mean the "
                     "default. Leave the key out to get the default",
                     source, path, value);
  }
  // Walk "a.b[2].c": keys separated by '.', list indices in brackets. Nodes are handles, so
  // assigning through the last one edits the tree.
  std::vector<std::variant<std::string, size_t>> steps;
  size_t pos = 0;
  while (pos < path.size()) {
    if (path[pos] == '.') {
      ++pos;
      continue;
    }
    if (path[pos] == '[') {
      const size_t close = path.find(']', pos);
      size_t index = 0;
      try {
        index = std::stoul(path.substr(pos + 1, close - pos - 1));
      } catch (const std::exception&) {
        ThrowConfigError("{} {}: expected a list index in brackets", source, path);
      }
      if (close == std::string::npos) ThrowConfigError("{} {}: unclosed '['", source, path);
      steps.emplace_back(index);
      pos = close + 1;
      continue;
    }
    const size_t end = path.find_first_of(".[", pos);
    steps.emplace_back(path.substr(pos, end == std::string::npos ? std::string::npos : end - pos));
    pos = end == std::string::npos ? path.size() : end;
  }
  if (steps.empty()) ThrowConfigError("{}: empty key path", source);
  std::vector<YAML::Node> chain{root};
  for (size_t i = 0; i + 1 < steps.size(); ++i) {
    YAML::Node current = chain.back();
    if (const auto* index = std::get_if<size_t>(&steps[i])) {
      if (!current.IsSequence() || *index >= current.size()) {
        ThrowConfigError("{} {}: no list element [{}] there", source, path, *index);
      }
      chain.push_back(current[*index]);
    } else {
      const auto& key = std::get<std::string>(steps[i]);
      if (current.IsDefined() && !current.IsNull() && !current.IsMap()) {
        ThrowConfigError("{} {}: '{}' is not a map", source, path, key);
      }
      chain.push_back(current[key]);
    }
  }
  YAML::Node parent = chain.back();
  if (std::holds_alternative<std::string>(steps.back()) && parent.IsDefined() && !parent.IsNull() &&
      !parent.IsMap()) {
    const std::string parent_path = path.substr(0, path.size() - std::get<std::string>(steps.back()).size());
    ThrowConfigError("{} {}: '{}' holds a {}, not a map of settings; set it directly ({}=...)", source,
                     path, parent_path.substr(0, parent_path.size() - 1),
                     parent.IsSequence() ? "list" : "single value", parent_path.substr(0, parent_path.size() - 1));
  }
  if (const auto* index = std::get_if<size_t>(&steps.back())) {
    if (!parent.IsSequence() || *index >= parent.size()) {
      ThrowConfigError("{} {}: no list element [{}] there", source, path, *index);
    }
    parent[*index] = parsed;
  } else {
    parent[std::get<std::string>(steps.back())] = parsed;
  }
}

std::string ResolveDataPath(const ConfigNode& node, const std::string& config_dir) {
  return ResolvePath(node, config_dir).string();
}

std::string PortableDataPath(const std::string& path) { return PortablePath(fs::path(path)); }

std::string DataDir() { return WorkloadDataDir(); }

Scenario LoadScenario(const std::string& path, const ScenarioOverrides& overrides) {
  const std::string file = path.empty() ? (fs::path(DataDir()) / kDefaultScenario).string() : path;
  const ConfigNode loaded = ConfigNode::LoadFile(file);
  loaded.CheckKeys({"name", "seed", "tasks", "profile", "models", "cluster", "deadline", "workload",
                    "router", "rate_estimator", "metrics", "oracle_view", "notes"});
  const std::string config_dir = fs::path(file).parent_path().string();

  // Overrides edit the loaded tree in place: untouched nodes keep their line:column marks for
  // error messages; an overridden value has no mark, and its messages name the key path.
  YAML::Node tree = loaded.yaml();
  for (const auto& [key_path, value] : overrides.set_values) ApplyOverride(tree, key_path, value, "--set");
  if (overrides.seed) tree["seed"] = fmt::format("{}", *overrides.seed);
  if (overrides.router) tree["router"] = *overrides.router;
  if (overrides.rate_rps || overrides.duration_s) {
    const ConfigNode workload = loaded.Child("workload");
    const std::string kind = workload.GetString("kind");
    if (kind != "poisson") {
      workload.Child("kind").Fail(fmt::format(
          "--rate and --duration apply to poisson workloads; this workload is '{}'", kind));
    }
    if (overrides.rate_rps) {
      if (!(*overrides.rate_rps > 0.0) || !(*overrides.rate_rps <= kMaxRateRps)) {
        ThrowConfigError("--rate: expected a rate > 0 requests/s, got {} (at most {:g})", *overrides.rate_rps,
                         kMaxRateRps);
      }
      tree["workload"]["rate_rps"] = Num(*overrides.rate_rps);
    }
    if (overrides.duration_s) {
      if (!(*overrides.duration_s > 0.0) || !(*overrides.duration_s <= kMaxDurationS)) {
        ThrowConfigError("--duration: expected a duration > 0 s, got {} (at most {:g} s)", *overrides.duration_s,
                         kMaxDurationS);
      }
      tree["workload"]["duration_s"] = Num(*overrides.duration_s);
      tree["workload"].remove("num_requests");
    }
  }
  const ConfigNode& root = loaded;

  Scenario s;
  s.source = path.empty() ? fmt::format("<built-in {}>", kDefaultScenario) : path;
  s.name = root.GetString("name", fs::path(file).stem().string());
  {
    const int64_t seed = root.GetInt("seed", 1);
    if (seed < 0) root.Child("seed").Fail(fmt::format("expected a seed >= 0, got {}", seed));
    s.seed = static_cast<uint64_t>(seed);
  }
  fs::path tasks_path;
  if (root.Has("tasks")) {
    tasks_path = ResolvePath(root.Child("tasks"), config_dir);
  } else {
    tasks_path = fs::path(DataDir()) / kDefaultTasks;
  }
  s.tasks = TaskTable::LoadFile(tasks_path.string());
  fs::path profile_path;
  if (root.Has("profile")) {
    profile_path = ResolveProfile(root.Child("profile"), config_dir);
  } else {
    profile_path = fs::path(DataDir()) / "profiles/paper/profile.yaml";
  }
  s.profiles = ProfileSet::LoadFile(profile_path.string());

  std::vector<std::string> model_order;
  if (auto models = root.MaybeChild("models")) {
    models->ExpectSequence("model names");
    for (size_t i = 0; i < models->size(); ++i) {
      const ConfigNode m = models->Element(i);
      try {
        s.profiles.Find(m.AsString());
      } catch (const ConfigError& e) {
        m.Fail(e.what());
      }
      model_order.push_back(m.AsString());
    }
  }
  s.system = ParseServingSystem(root.Child("cluster"), s.profiles, model_order);
  for (TaskId t = 0; t < s.tasks.num_tasks(); ++t) {
    std::vector<double> row;
    for (const auto& model : s.system.model_names) {
      try {
        row.push_back(s.tasks.QualityFor(t, model));
      } catch (const ConfigError& e) {
        (root.Has("tasks") ? root.Child("tasks") : root).Fail(e.what());
      }
    }
    s.quality.push_back(row);
  }
  if (auto deadline = root.MaybeChild("deadline")) s.deadline = DeadlineSpec::Parse(*deadline);
  if (auto metrics = root.MaybeChild("metrics")) {
    metrics->CheckKeys({"window", "selection_bin_requests"});
    s.metrics.window = static_cast<int32_t>(metrics->GetPositiveInt("window", 20));
    s.metrics.selection_bin_requests =
        static_cast<int32_t>(metrics->GetPositiveInt("selection_bin_requests", 500));
  }
  s.oracle_view = root.GetBool("oracle_view", false);
  s.workload = MakeWorkloadGenerator(root.Child("workload"), config_dir);
  s.rate_estimator = MakeRateEstimator(root.MaybeChild("rate_estimator"));
  s.router = root.MaybeChild("router");
  // Build the router once now, so a bad router fails before anything runs; a router given on the
  // command line is named as such in the error, not as a line of the scenario file.
  if (overrides.router) {
    MakeRouter(*overrides.router, MakeRouterContext(s), "--router");
  } else {
    MakeScenarioRouter(s);
  }

  YAML::Node resolved = YAML::Clone(root.yaml());
  resolved["name"] = s.name;
  resolved["seed"] = fmt::format("{}", s.seed);
  resolved["tasks"] = PortablePath(tasks_path);
  resolved["profile"] = PortablePath(profile_path);
  // File paths inside the workload (csv, trace, and the sources of a merge) are written so that
  // the resolved config, saved elsewhere, still finds them.
  std::function<void(YAML::Node)> fix_paths = [&](YAML::Node node) {
    if (node.IsSequence()) {
      for (size_t i = 0; i < node.size(); ++i) fix_paths(node[i]);
      return;
    }
    if (!node.IsMap()) return;
    if (node["path"] && node["path"].IsScalar() && node["kind"] && node["kind"].IsScalar()) {
      node["path"] = PortablePath(fs::path(ResolveDataPath(node["path"].as<std::string>(), config_dir)));
    }
    if (node["sources"]) fix_paths(node["sources"]);
  };
  fix_paths(resolved["workload"]);
  if (!resolved["deadline"]) resolved["deadline"] = YAML::Node(YAML::NodeType::Map);
  if (!resolved["metrics"]) resolved["metrics"] = YAML::Node(YAML::NodeType::Map);
  FillDefaults(resolved, s);
  s.resolved = resolved;
  return s;
}

std::string ResolvedConfigYaml(const Scenario& scenario) {
  YAML::Emitter out;
  out << scenario.resolved;
  return std::string(out.c_str()) + "\n";
}

Workload MakeScenarioWorkload(const Scenario& scenario) {
  Workload workload = scenario.workload->Generate(WorkloadContext{&scenario.tasks, scenario.seed});
  if (workload.empty()) {
    ThrowConfigError("{}: the workload ({}) produced no requests; raise its rate or duration",
                     scenario.source, scenario.workload->Describe());
  }
  scenario.deadline.ApplyTo(workload, scenario.tasks);
  return workload;
}

namespace {

// Fills in deadlines as the requests pass (DeadlineSpec::ApplyTo, one at a time) and refuses an
// empty workload as MakeScenarioWorkload does.
class DeadlineFillingSource : public RequestSource {
 public:
  DeadlineFillingSource(const Scenario& scenario, std::unique_ptr<RequestSource> inner)
      : scenario_(&scenario), inner_(std::move(inner)) {}
  bool Next(Request* request) override {
    if (!inner_->Next(request)) {
      if (count_ == 0) {
        ThrowConfigError("{}: the workload ({}) produced no requests; raise its rate or duration",
                         scenario_->source, scenario_->workload->Describe());
      }
      return false;
    }
    ++count_;
    if (std::isnan(request->deadline_s)) {
      request->deadline_s = scenario_->deadline.DeadlineSeconds(scenario_->tasks.task(request->task),
                                                                request->output_tokens, request->arrival_s);
    }
    return true;
  }

 private:
  const Scenario* scenario_;
  std::unique_ptr<RequestSource> inner_;
  int64_t count_ = 0;
};

}  // namespace

std::unique_ptr<RequestSource> OpenScenarioWorkload(const Scenario& scenario) {
  return std::make_unique<DeadlineFillingSource>(
      scenario, scenario.workload->Open(WorkloadContext{&scenario.tasks, scenario.seed}));
}

RouterContext MakeRouterContext(const Scenario& scenario) {
  return RouterContext{&scenario.system, &scenario.tasks, scenario.quality, scenario.seed,
                       scenario.rate_estimator->Describe()};
}

std::unique_ptr<RoutingPolicy> MakeScenarioRouter(const Scenario& scenario, const std::string& spec) {
  const RouterContext ctx = MakeRouterContext(scenario);
  if (!spec.empty()) return MakeRouter(spec, ctx);
  if (scenario.router) return MakeRouter(*scenario.router, ctx);
  return MakeRouter(std::string("greedy"), ctx);
}

std::unique_ptr<Simulator> MakeSimulator(const Scenario& scenario) {
  std::vector<double> task_ms_per_token_override;
  for (const TaskSpec& task : scenario.tasks.tasks()) {
    task_ms_per_token_override.push_back(task.deadline_ms_per_token_override);
  }
  return std::make_unique<Simulator>(scenario.system, scenario.quality, scenario.deadline,
                                     scenario.rate_estimator->Clone(), scenario.oracle_view,
                                     scenario.seed, std::move(task_ms_per_token_override));
}

std::unique_ptr<Simulator> RunSimulation(const Scenario& scenario, Workload workload,
                                         RoutingPolicy& router) {
  auto sim = MakeSimulator(scenario);
  sim->Reset(std::move(workload));
  router.Reset(static_cast<int32_t>(scenario.system.model_names.size()));
  while (sim->AdvanceToNextArrival()) sim->Dispatch(router.Route(sim->view()));
  sim->Drain();
  return sim;
}

}  // namespace bestserve
