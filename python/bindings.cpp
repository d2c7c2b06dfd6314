// pybind11 bindings of bestserve (module bestserve._bestserve). A thin layer: every behaviour is
// a library call (env/gym_env.h, training/train_run.h, scenario/, workloads/, router/); this
// file only converts between numpy/Python values and those calls. The public Python API, with
// its documentation, is the pure-Python package python/bestserve/.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "agent/env/gym_env.h"
#include "agent/train/train_run.h"
#include "common/error.h"
#include "router/lib/router.h"
#include "router/policy/policy_io.h"
#include "scenario/compare.h"
#include "sim/metrics.h"
#include "workloads/registry.h"
#include "workloads/trace_reader.h"

namespace py = pybind11;

namespace bestserve::python {
namespace {

using Overrides = std::vector<std::pair<std::string, std::string>>;
using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;
using IntArray = py::array_t<int32_t, py::array::c_style | py::array::forcecast>;

template <typename T>
py::array_t<T> ToArray(const std::vector<T>& values) {
  py::array_t<T> out(static_cast<py::ssize_t>(values.size()));
  std::copy(values.begin(), values.end(), out.mutable_data());
  return out;
}

py::array_t<float> ToMatrix(const std::vector<float>& values, int32_t columns) {
  const auto rows =
      static_cast<py::ssize_t>(columns == 0 ? 0 : values.size() / static_cast<size_t>(columns));
  py::array_t<float> out({rows, static_cast<py::ssize_t>(columns)});
  std::copy(values.begin(), values.end(), out.mutable_data());
  return out;
}

TrainEnvironmentParts LoadEnvParts(const std::string& config, std::optional<uint64_t> seed,
                                   const Overrides& overrides) {
  TrainOverrides o;
  o.seed = seed;
  o.set_values = overrides;
  return MakeTrainEnvironmentParts(LoadTrainConfig(config, o));
}

// The decisions credited by one step, as numpy arrays.
py::dict TransitionsDict(const CompletedBatch& batch) {
  py::dict d;
  d["env"] = ToArray(batch.env);
  d["decision"] = ToArray(batch.decision);
  d["observation"] = ToMatrix(batch.observation, batch.observation_size);
  d["action"] = ToArray(batch.action);
  d["reward"] = ToArray(batch.reward);
  d["next_observation"] = ToMatrix(batch.next_observation, batch.observation_size);
  std::vector<bool> terminal(batch.terminal.begin(), batch.terminal.end());
  py::array_t<bool> t(static_cast<py::ssize_t>(terminal.size()));
  for (size_t i = 0; i < terminal.size(); ++i) t.mutable_data()[i] = terminal[i];
  d["terminal"] = t;
  return d;
}

// One environment (GymRoutingEnv) plus what it was built from.
class EnvCore {
 public:
  EnvCore(const std::string& config, uint64_t seed, const Overrides& overrides)
      : parts_(LoadEnvParts(config, seed, overrides)),
        env_(parts_.scenario, parts_.training_workload, parts_.settings, seed) {}

  const GymRoutingEnv& env() const { return env_; }
  const TrainEnvironmentParts& parts() const { return parts_; }

  py::array_t<float> Reset(std::optional<uint64_t> seed) {
    if (seed) env_.Seed(*seed);
    py::array_t<float> obs(env_.spec().observation_size);
    env_.Reset(obs.mutable_data());
    return obs;
  }

  // Gymnasium's 5-tuple, built here so a Python step is one call.
  py::tuple Step(int32_t action) {
    py::array_t<float> obs(env_.spec().observation_size);
    const GymRoutingEnv::Outcome outcome = env_.Step(action, obs.mutable_data());
    const auto& completed = env_.completed();
    py::array_t<int64_t> decisions(static_cast<py::ssize_t>(completed.size()));
    py::array_t<float> rewards(static_cast<py::ssize_t>(completed.size()));
    for (size_t k = 0; k < completed.size(); ++k) {
      decisions.mutable_data()[k] = completed[k].decision;
      rewards.mutable_data()[k] = completed[k].reward;
    }
    py::dict info;
    info["completed_decisions"] = std::move(decisions);
    info["completed_rewards"] = std::move(rewards);
    return py::make_tuple(std::move(obs), outcome.reward, outcome.terminated, false,
                          std::move(info));
  }

  py::dict Completed() const {
    CompletedBatch batch;
    batch.observation_size = env_.spec().observation_size;
    for (const Transition& t : env_.completed()) batch.Append(0, t);
    return TransitionsDict(batch);
  }

 private:
  TrainEnvironmentParts parts_;
  GymRoutingEnv env_;
};

class VectorEnvCore {
 public:
  VectorEnvCore(const std::string& config, int32_t num_envs, uint64_t seed,
                const Overrides& overrides)
      : parts_(LoadEnvParts(config, seed, overrides)),
        envs_(parts_.scenario, parts_.training_workload, parts_.settings, num_envs, seed) {}

  int32_t num_envs() const { return envs_.num_envs(); }
  const EnvSpec& spec() const { return envs_.spec(); }

  py::array_t<float> Reset(std::optional<uint64_t> seed) {
    py::array_t<float> obs(
        {static_cast<py::ssize_t>(num_envs()), static_cast<py::ssize_t>(spec().observation_size)});
    float* out = obs.mutable_data();
    {
      py::gil_scoped_release release;
      if (seed) {
        envs_.Reset(*seed, out);
      } else {
        envs_.Reset(out);
      }
    }
    return obs;
  }

  py::tuple Step(const py::array_t<int32_t, py::array::c_style | py::array::forcecast>& actions) {
    if (actions.ndim() != 1 || actions.shape(0) != num_envs()) {
      throw std::invalid_argument(
          fmt::format("actions: expected shape ({},), got {} dimension(s) of {} value(s)",
                      num_envs(), actions.ndim(), actions.size()));
    }
    const auto n = static_cast<py::ssize_t>(num_envs());
    py::array_t<float> obs({n, static_cast<py::ssize_t>(spec().observation_size)});
    py::array_t<float> rewards(n);
    py::array_t<bool> terminated(n);
    py::array_t<bool> truncated(n);
    std::fill_n(truncated.mutable_data(), n, false);
    std::vector<uint8_t> done(static_cast<size_t>(n));
    const int32_t* a = actions.data();
    float* o = obs.mutable_data();
    float* r = rewards.mutable_data();
    {
      py::gil_scoped_release release;
      envs_.Step(a, o, r, done.data(), &batch_);
    }
    for (py::ssize_t i = 0; i < n; ++i)
      terminated.mutable_data()[i] = done[static_cast<size_t>(i)] != 0;
    py::dict info;
    info["completed"] = TransitionsDict(batch_);
    return py::make_tuple(std::move(obs), std::move(rewards), std::move(terminated),
                          std::move(truncated), std::move(info));
  }

  GymRoutingEnv& env(int32_t i) {
    if (i < 0 || i >= num_envs())
      throw std::out_of_range(fmt::format("env index {} of {}", i, num_envs()));
    return envs_.env(i);
  }

 private:
  TrainEnvironmentParts parts_;
  VectorGymRoutingEnv envs_;
  CompletedBatch batch_;
};

// The scenario of a simulation, shared with the results that refer to it.
struct ScenarioHandle {
  std::shared_ptr<const Scenario> scenario;
};

ScenarioHandle LoadScenarioHandle(const std::string& config, std::optional<uint64_t> seed,
                                  std::optional<std::string> router, std::optional<double> rate_rps,
                                  std::optional<double> duration_s, const Overrides& set_values) {
  ScenarioOverrides o;
  o.seed = seed;
  o.router = std::move(router);
  o.rate_rps = rate_rps;
  o.duration_s = duration_s;
  o.set_values = set_values;
  return {std::make_shared<const Scenario>(LoadScenario(config, o))};
}

py::dict SummaryDict(const Summary& s) {
  py::dict d;
  d["num_requests"] = s.num_requests;
  d["completed"] = s.completed;
  d["rejected"] = s.rejected;
  d["total_reward"] = s.total_reward;
  d["total_peak"] = s.total_peak;
  d["mean_reward_fraction"] = s.mean_reward_fraction;
  d["deadline_miss_rate"] = s.deadline_miss_rate;
  d["latency_p50_s"] = s.latency_p50_s;
  d["latency_p90_s"] = s.latency_p90_s;
  d["latency_p99_s"] = s.latency_p99_s;
  d["latency_mean_s"] = s.latency_mean_s;
  d["throughput_rps"] = s.throughput_rps;
  d["offered_rate_rps"] = s.offered_rate_rps;
  d["hardware_utility"] = s.hardware_utility;
  d["mean_in_system"] = s.mean_in_system;
  d["model_names"] = s.model_names;
  d["task_names"] = s.task_names;
  d["selections"] = ToArray(s.selections);
  d["window_averages"] = ToArray(s.window_averages);
  d["thresholds"] = ToArray(s.thresholds);
  d["threshold_counts"] = ToArray(s.threshold_counts);
  d["events"] = s.counters.events;
  return d;
}

// Per-request records as columns, in request id (arrival) order.
py::dict RecordsDict(const Simulator& sim) {
  const auto& records = sim.records();
  const auto n = static_cast<py::ssize_t>(records.size());
  py::array_t<int64_t> id(n);
  py::array_t<double> arrival(n), deadline(n), admitted(n), first_token(n), completion(n),
      reward(n), peak(n);
  py::array_t<int32_t> task(n), prompt(n), output(n), model(n), replica(n);
  py::array_t<bool> met(n), rejected(n);
  for (py::ssize_t i = 0; i < n; ++i) {
    const RequestRecord& r = records[static_cast<size_t>(i)];
    id.mutable_data()[i] = r.request.id;
    arrival.mutable_data()[i] = r.request.arrival_s;
    task.mutable_data()[i] = r.request.task;
    prompt.mutable_data()[i] = r.request.prompt_tokens;
    output.mutable_data()[i] = r.request.output_tokens;
    deadline.mutable_data()[i] = r.request.deadline_s;
    model.mutable_data()[i] = r.model;
    replica.mutable_data()[i] = r.replica;
    admitted.mutable_data()[i] = r.admitted_s;
    first_token.mutable_data()[i] = r.first_token_s;
    completion.mutable_data()[i] = r.completion_s;
    reward.mutable_data()[i] = r.reward;
    peak.mutable_data()[i] = r.peak_reward;
    met.mutable_data()[i] = r.deadline_met;
    rejected.mutable_data()[i] = r.reject != RejectReason::kNone;
  }
  py::dict d;
  d["id"] = id;
  d["arrival_s"] = arrival;
  d["task"] = task;
  d["prompt_tokens"] = prompt;
  d["output_tokens"] = output;
  d["deadline_s"] = deadline;
  d["model"] = model;
  d["replica"] = replica;
  d["admitted_s"] = admitted;
  d["first_token_s"] = first_token;
  d["completion_s"] = completion;
  d["reward"] = reward;
  d["peak_reward"] = peak;
  d["deadline_met"] = met;
  d["rejected"] = rejected;
  return d;
}

py::dict WorkloadDict(const Workload& workload) {
  const auto n = static_cast<py::ssize_t>(workload.size());
  py::array_t<int64_t> id(n);
  py::array_t<double> arrival(n), deadline(n), nominal(n);
  py::array_t<int32_t> task(n), prompt(n), output(n);
  for (py::ssize_t i = 0; i < n; ++i) {
    const Request& r = workload[static_cast<size_t>(i)];
    id.mutable_data()[i] = r.id;
    arrival.mutable_data()[i] = r.arrival_s;
    task.mutable_data()[i] = r.task;
    prompt.mutable_data()[i] = r.prompt_tokens;
    output.mutable_data()[i] = r.output_tokens;
    deadline.mutable_data()[i] = r.deadline_s;
    nominal.mutable_data()[i] = r.nominal_rate_rps;
  }
  py::dict d;
  d["id"] = id;
  d["arrival_s"] = arrival;
  d["task"] = task;
  d["prompt_tokens"] = prompt;
  d["output_tokens"] = output;
  d["deadline_s"] = deadline;
  d["nominal_rate_rps"] = nominal;
  return d;
}

// What a Python routing callable sees: a copy of the gateway's view (no references into the
// simulator survive the call), and the policy encoding of it.
struct PyRouterView {
  double now_s = 0.0;
  int64_t request_id = 0;
  int32_t task = 0;
  int32_t prompt_tokens = 0;
  double deadline_base_s = 0.0;
  double deadline_per_token_s = 0.0;
  double arrival_rate_rps = 0.0;
  double slow_arrival_rate_rps = 0.0;
  int32_t max_tokens = 0;
  std::vector<int32_t> in_flight, running, queued;
  std::vector<int64_t> in_flight_prompt_tokens;
  std::vector<float> observation;
};

// The slow path: a RoutingPolicy that calls back into Python for every decision.
class CallableRouter : public RoutingPolicy {
 public:
  CallableRouter(py::function fn, ObservationSpec spec) : fn_(std::move(fn)), encoder_(spec) {}
  std::string Describe() const override { return "python callable"; }

 protected:
  ModelId DoRoute(const RouterView& view) override {
    PyRouterView v;
    v.now_s = view.now_s;
    v.request_id = view.request_id;
    v.task = view.task;
    v.prompt_tokens = view.prompt_tokens;
    v.deadline_base_s = view.deadline_base_s;
    v.deadline_per_token_s = view.deadline_per_token_s;
    v.arrival_rate_rps = view.arrival_rate_rps;
    v.slow_arrival_rate_rps = view.slow_arrival_rate_rps;
    v.max_tokens = view.max_tokens;
    for (const ModelLoad& m : view.models) {
      v.in_flight_prompt_tokens.push_back(m.in_flight_prompt_tokens);
      v.in_flight.push_back(m.in_flight);
      v.running.push_back(m.running);
      v.queued.push_back(m.waiting);
    }
    v.observation.resize(static_cast<size_t>(encoder_.spec().size()));
    encoder_.Encode(view, v.observation.data());
    const py::object answer = fn_(v);
    const auto model = answer.cast<int64_t>();
    if (model < 0 || model >= view.num_models()) {
      throw std::invalid_argument(
          fmt::format("router callable returned {} for request {}: expected a model index "
                      "in [0, {})",
                      model, view.request_id, view.num_models()));
    }
    return static_cast<ModelId>(model);
  }

 private:
  py::function fn_;
  ViewEncoder encoder_;
};

std::vector<int32_t> CountsOf(const IntArray& counts, int expected, const char* what) {
  if (counts.ndim() != 1 || counts.shape(0) != expected) {
    throw std::invalid_argument(
        fmt::format("{}: expected {} per-model counts, got {}", what, expected, counts.size()));
  }
  return std::vector<int32_t>(counts.data(), counts.data() + expected);
}

}  // namespace

PYBIND11_MODULE(_bestserve, m) {
  m.doc() = "bestserve's C++ core (use the `bestserve` package, not this module)";
  static py::exception<Error> error(m, "Error", PyExc_RuntimeError);
  static py::exception<ConfigError> config_error(m, "ConfigError", error.ptr());
  static py::exception<RouterError> router_error(m, "RouterError", error.ptr());
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ConfigError& e) {
      config_error(e.what());
    } catch (const Error& e) {
      error(e.what());
    } catch (const RouterError& e) {
      router_error(e.what());
    } catch (const InvariantError& e) {
      PyErr_SetString(PyExc_RuntimeError,
                      (std::string("internal error (a bestserve bug): ") + e.what()).c_str());
    }
  });
  m.def("data_dir", &DataDir,
        "The folder that holds profiles/ and experiments/ (BESTSERVE_DATA_DIR)");
  m.def("trainer_episode_seed", &TrainerEpisodeSeed, py::arg("master_seed"), py::arg("episode"));

  py::class_<EnvCore>(m, "_RoutingEnvCore", py::dynamic_attr())
      .def(py::init<const std::string&, uint64_t, const Overrides&>(), py::arg("config"),
           py::arg("seed"), py::arg("overrides"))
      .def("_reset", &EnvCore::Reset, py::arg("seed") = py::none())
      .def("step", &EnvCore::Step, py::arg("action"),
           "Applies `action`; returns (obs, reward, terminated, truncated, info). See "
           "bestserve.RoutingEnv.")
      .def("completed_transitions", &EnvCore::Completed,
           "The decisions credited by the last step as (s, a, r, s', terminal) arrays")
      .def_property_readonly("observation_size",
                             [](const EnvCore& e) { return e.env().spec().observation_size; })
      .def_property_readonly("num_actions",
                             [](const EnvCore& e) { return e.env().spec().num_actions; })
      .def_property_readonly("observation_encoding",
                             [](const EnvCore& e) { return e.env().spec().observation_encoding; })
      .def_property_readonly("model_names",
                             [](const EnvCore& e) { return e.env().spec().action_names; })
      .def_property_readonly("task_names",
                             [](const EnvCore& e) {
                               std::vector<std::string> names;
                               for (const auto& t : e.parts().scenario->tasks.tasks())
                                 names.push_back(t.name);
                               return names;
                             })
      .def_property_readonly("master_seed", [](const EnvCore& e) { return e.env().master_seed(); })
      .def_property_readonly("episode", [](const EnvCore& e) { return e.env().episode(); })
      .def_property_readonly("episode_seed",
                             [](const EnvCore& e) { return e.env().episode_seed(); })
      .def_property_readonly("decision", [](const EnvCore& e) { return e.env().decision(); })
      .def("_save_policy", [](const EnvCore& e, const std::string& path,
                              const std::vector<int>& hidden_sizes, const FloatArray& parameters,
                              const std::string& name) {
        PolicyWeights weights;
        weights.shape.input_size = e.env().spec().observation_size;
        weights.shape.hidden_sizes = hidden_sizes;
        weights.shape.num_actions = e.env().spec().num_actions;
        if (const std::string problem = weights.shape.Problem(); !problem.empty()) {
          throw std::invalid_argument("policy shape: " + problem);
        }
        if (static_cast<size_t>(parameters.size()) != weights.shape.NumParameters()) {
          throw std::invalid_argument(fmt::format("parameters: expected {} values for {}, got {}",
                                                  weights.shape.NumParameters(),
                                                  weights.shape.ToString(), parameters.size()));
        }
        weights.parameters.assign(parameters.data(), parameters.data() + parameters.size());
        weights.observation_encoding = e.env().spec().observation_encoding;
        weights.action_names = e.env().spec().action_names;
        SavePolicyWeights(path, WithRoutingMetadata(std::move(weights), *e.parts().scenario,
                                                    e.env().observation_spec(), name));
      });

  py::class_<VectorEnvCore>(m, "_VectorRoutingEnvCore", py::dynamic_attr())
      .def(py::init<const std::string&, int32_t, uint64_t, const Overrides&>(), py::arg("config"),
           py::arg("num_envs"), py::arg("seed"), py::arg("overrides"))
      .def("_reset", &VectorEnvCore::Reset, py::arg("seed") = py::none())
      .def("step", &VectorEnvCore::Step, py::arg("actions"),
           "Steps every env; returns (obs, rewards, terminated, truncated, info). See "
           "bestserve.VectorRoutingEnv.")
      .def_property_readonly("num_envs", &VectorEnvCore::num_envs)
      .def_property_readonly("observation_size",
                             [](const VectorEnvCore& e) { return e.spec().observation_size; })
      .def_property_readonly("num_actions",
                             [](const VectorEnvCore& e) { return e.spec().num_actions; })
      .def_property_readonly("observation_encoding",
                             [](const VectorEnvCore& e) { return e.spec().observation_encoding; })
      .def_property_readonly("model_names",
                             [](const VectorEnvCore& e) { return e.spec().action_names; })
      .def("episode_seed", [](VectorEnvCore& e, int32_t i) { return e.env(i).episode_seed(); })
      .def("episode", [](VectorEnvCore& e, int32_t i) { return e.env(i).episode(); });

  py::class_<ScenarioHandle>(m, "_Scenario")
      .def_property_readonly("name", [](const ScenarioHandle& s) { return s.scenario->name; })
      .def_property_readonly("model_names",
                             [](const ScenarioHandle& s) { return s.scenario->system.model_names; })
      .def_property_readonly("task_names",
                             [](const ScenarioHandle& s) {
                               std::vector<std::string> names;
                               for (const auto& t : s.scenario->tasks.tasks())
                                 names.push_back(t.name);
                               return names;
                             })
      .def_property_readonly(
          "resolved_yaml", [](const ScenarioHandle& s) { return ResolvedConfigYaml(*s.scenario); });
  m.def("_load_scenario", &LoadScenarioHandle, py::arg("config"), py::arg("seed"),
        py::arg("router"), py::arg("rate_rps"), py::arg("duration_s"), py::arg("set_values"));
  m.def("_simulate", [](const ScenarioHandle& s, const std::string& spec) {
    RouterRun run;
    {
      py::gil_scoped_release release;
      run = RunRouterSpec(*s.scenario, spec, MakeScenarioWorkload(*s.scenario));
    }
    return py::make_tuple(RecordsDict(*run.sim),
                          SummaryDict(Summarize(*run.sim, s.scenario->tasks, s.scenario->metrics)),
                          run.described);
  });
  m.def("_simulate_callable", [](const ScenarioHandle& s, py::function fn,
                                 const std::string& encoding) {
    ObservationSpec spec;
    const auto known = ObservationEncodingFromName(encoding);
    if (!known) throw std::invalid_argument("observation: expected paper-v1, extended-v1, request-v1 or gateway-v1, got '" + encoding + "'");
    spec.encoding = *known;
    spec.num_tasks = s.scenario->tasks.num_tasks();
    spec.num_models = static_cast<int32_t>(s.scenario->system.model_names.size());
    CallableRouter router(std::move(fn), spec);
    auto sim = RunSimulation(*s.scenario, MakeScenarioWorkload(*s.scenario), router);
    return py::make_tuple(RecordsDict(*sim),
                          SummaryDict(Summarize(*sim, s.scenario->tasks, s.scenario->metrics)),
                          router.Describe());
  });
  m.def("_evaluate", [](const ScenarioHandle& s, const std::vector<std::string>& specs) {
    std::vector<RouterResult> results;
    {
      py::gil_scoped_release release;
      results = CompareRouters(*s.scenario, specs);
    }
    py::list out;
    for (const auto& r : results)
      out.append(py::make_tuple(r.spec, r.described, SummaryDict(r.summary)));
    return py::make_tuple(out, FormatComparisonMarkdown(*s.scenario, results));
  });
  m.def("builtin_router_specs",
        [](const ScenarioHandle& s) { return BuiltinRouterSpecs(s.scenario->system); });

  py::class_<PyRouterView>(m, "RouterView", "What a Python routing callable sees at one decision")
      .def_readonly("now_s", &PyRouterView::now_s)
      .def_readonly("request_id", &PyRouterView::request_id)
      .def_readonly("task", &PyRouterView::task)
      .def_readonly("prompt_tokens", &PyRouterView::prompt_tokens)
      .def_readonly("deadline_base_s", &PyRouterView::deadline_base_s)
      .def_readonly("deadline_per_token_s", &PyRouterView::deadline_per_token_s)
      .def_readonly("arrival_rate_rps", &PyRouterView::arrival_rate_rps)
      .def_readonly("slow_arrival_rate_rps", &PyRouterView::slow_arrival_rate_rps)
      .def_readonly("max_tokens", &PyRouterView::max_tokens)
      .def_readonly("in_flight_prompt_tokens", &PyRouterView::in_flight_prompt_tokens)
      .def_readonly("in_flight", &PyRouterView::in_flight)
      .def_readonly("running", &PyRouterView::running)
      .def_readonly("queued", &PyRouterView::queued)
      .def_property_readonly("observation",
                             [](const PyRouterView& v) { return ToArray(v.observation); });

  m.def("workload_kinds", &WorkloadKinds);
  m.def("_generate_workload", [](const std::string& section_yaml, const ScenarioHandle& s,
                                 uint64_t seed, bool apply_deadlines) {
    const ConfigNode section = ConfigNode::LoadString(section_yaml, "workload");
    const auto generator = MakeWorkloadGenerator(section, "");
    Workload w = generator->Generate(WorkloadContext{&s.scenario->tasks, seed});
    if (apply_deadlines) s.scenario->deadline.ApplyTo(w, s.scenario->tasks);
    return WorkloadDict(w);
  });
  m.def("trace_formats", &TraceFormatNames);
  m.def("_read_trace", [](const std::string& path, const std::string& format_name) {
    TraceFormat format;
    if (format_name.empty()) {
      format = DetectTraceFormat(path);
    } else if (auto f = TraceFormatFromName(format_name)) {
      format = *f;
    } else {
      ThrowConfigError("trace format '{}': expected one of {}", format_name,
                       fmt::join(TraceFormatNames(), ", "));
    }
    std::vector<double> time;
    std::vector<int64_t> prompt, output, line;
    ReadTrace(path, format, TraceReadOptions{}, [&](const TraceRecord& r) {
      time.push_back(r.time_s);
      prompt.push_back(r.prompt_tokens);
      output.push_back(r.output_tokens);
      line.push_back(r.line);
    });
    py::dict d;
    d["time_s"] = ToArray(time);
    d["prompt_tokens"] = ToArray(prompt);
    d["output_tokens"] = ToArray(output);
    d["line"] = ToArray(line);
    d["format"] = std::string(TraceFormatName(format));
    return d;
  });

  py::class_<Router>(m, "Router",
                     "The deployable router (router/router.h): thread-safe, ~1 us a decision")
      .def_static("load", &Router::Load, py::arg("path"),
                  "Loads a policy file (.bsp from `bestserve export`, or .bsw)")
      .def_property_readonly("model_names", &Router::model_names)
      .def_property_readonly("task_names", &Router::task_names)
      .def_property_readonly("observation_encoding", &Router::observation_encoding)
      .def_property_readonly("rate_estimator", &Router::rate_estimator)
      .def_property_readonly("arrival_rate_rps", &Router::arrival_rate_rps)
      .def_property_readonly("slow_arrival_rate_rps", &Router::slow_arrival_rate_rps)
      .def_property_readonly("needs_gateway_facts", &Router::needs_gateway_facts)
      .def("task_index", [](const Router& r, const std::string& name) { return r.TaskIndex(name); })
      .def("observe_arrival", &Router::ObserveArrival, py::arg("now_s"))
      .def("set_arrival_rate", &Router::SetArrivalRate, py::arg("rate_rps"))
      .def(
          "route",
          [](Router& r, py::object task, double now_s, const IntArray& in_flight,
             std::optional<IntArray> queued, int32_t prompt_tokens,
             std::optional<py::array_t<int64_t, py::array::c_style | py::array::forcecast>> in_flight_prompt_tokens,
             int32_t max_tokens, double deadline_base_s, double deadline_per_token_s) {
            const int t = py::isinstance<py::str>(task) ? r.TaskIndex(task.cast<std::string>())
                                                        : task.cast<int>();
            if (t < 0 || t >= r.num_tasks())
              throw std::invalid_argument("route: unknown task " +
                                          py::str(task).cast<std::string>());
            const auto counts = CountsOf(in_flight, r.num_models(), "in_flight");
            std::vector<int32_t> q;
            if (queued) q = CountsOf(*queued, r.num_models(), "queued");
            if (r.needs_queued() && !queued)
              throw std::invalid_argument("route: this " + r.observation_encoding() + " policy needs queued");
            if (r.needs_prompt_tokens() && prompt_tokens < 0)
              throw std::invalid_argument("route: this " + r.observation_encoding() + " policy needs prompt_tokens >= 0");
            std::vector<int64_t> tokens;
            if (in_flight_prompt_tokens) {
              if (in_flight_prompt_tokens->size() != r.num_models())
                throw std::invalid_argument(fmt::format("route: in_flight_prompt_tokens needs {} entries, got {}",
                                                        r.num_models(), in_flight_prompt_tokens->size()));
              tokens.assign(in_flight_prompt_tokens->data(), in_flight_prompt_tokens->data() + r.num_models());
            }
            if (r.needs_gateway_facts()) {
              if (!in_flight_prompt_tokens)
                throw std::invalid_argument("route: this gateway-v1 policy needs in_flight_prompt_tokens");
              if (max_tokens < 0) throw std::invalid_argument("route: max_tokens must be >= 0 (0: not sent)");
              if (!(deadline_base_s >= 0.0) || !(deadline_per_token_s >= 0.0))
                throw std::invalid_argument(
                    "route: this gateway-v1 policy needs deadline_base_s >= 0 and deadline_per_token_s >= 0");
            }
            RouteRequest request;
            request.task = t;
            request.in_flight = counts.data();
            request.queued = queued ? q.data() : nullptr;
            request.prompt_tokens = prompt_tokens;
            request.in_flight_prompt_tokens = in_flight_prompt_tokens ? tokens.data() : nullptr;
            request.max_tokens = max_tokens;
            request.deadline_base_s = deadline_base_s;
            request.deadline_per_token_s = deadline_per_token_s;
            return r.Route(request, now_s);
          },
          py::arg("task"), py::arg("now_s"), py::arg("in_flight"), py::arg("queued") = py::none(),
          py::arg("prompt_tokens") = -1, py::arg("in_flight_prompt_tokens") = py::none(),
          py::arg("max_tokens") = 0, py::arg("deadline_base_s") = -1.0, py::arg("deadline_per_token_s") = -1.0,
          "Records an arrival at now_s and returns the model index for a request of `task` (index "
          "or name); extended-v1, request-v1 and gateway-v1 policies need `queued`, request-v1 and "
          "gateway-v1 `prompt_tokens`, gateway-v1 also `in_flight_prompt_tokens` (per model), the "
          "deadline (`deadline_base_s`, `deadline_per_token_s`) and `max_tokens` where the client sent it")
      .def(
          "decide_batch",
          [](const Router& r, const IntArray& tasks, const IntArray& in_flight,
             const py::array_t<double>& rates) {
            const auto count = static_cast<int>(tasks.size());
            if (in_flight.size() != static_cast<py::ssize_t>(count) * r.num_models() ||
                rates.size() != count) {
              throw std::invalid_argument(fmt::format(
                  "decide_batch: expected tasks[n], in_flight[n, {}], rates[n]", r.num_models()));
            }
            py::array_t<int32_t> models(count);
            r.DecideBatch(count, tasks.data(), in_flight.data(), nullptr, rates.data(),
                          models.mutable_data());
            return models;
          },
          py::arg("tasks"), py::arg("in_flight"), py::arg("rates"));
}

}  // namespace bestserve::python
