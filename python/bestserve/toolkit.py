"""bestserve's toolkit from Python: simulate, evaluate, workloads, traces, the deployable router.

Results are numpy arrays and dicts; tables become pandas DataFrames when pandas is importable.
Scenario configs are the CLI's (``--config``; default: the built-in paper 4-GPU scenario) and
the keyword arguments are its flags: ``seed``, ``rate`` (--rate), ``duration`` (--duration),
``set`` (--set, a dict of key path -> value). Errors in configs raise ``bestserve.ConfigError``
with the message the CLI prints (file, line:column, key path, what was expected).
"""
import json
import os

import numpy as np

from . import _bestserve

try:  # optional
    import pandas as _pandas
except ImportError:  # pragma: no cover - depends on the machine
    _pandas = None

Router = _bestserve.Router
RouterView = _bestserve.RouterView


def _table(columns):
    return _pandas.DataFrame(columns) if _pandas is not None else columns


def _scenario(config, seed, rate, duration, set_values, router=None):
    pairs = [(key, json.dumps(value)) for key, value in (set_values or {}).items()]
    return _bestserve._load_scenario(os.fspath(config) if config is not None else "",
                                     None if seed is None else int(seed), router,
                                     None if rate is None else float(rate),
                                     None if duration is None else float(duration), pairs)


class SimulationResult:
    """One simulation: ``requests`` (one row per request, in arrival order: arrival_s, task,
    prompt/output tokens, deadline_s, model, replica, admitted_s, first_token_s, completion_s,
    reward, peak_reward, deadline_met, rejected), ``summary`` (the metrics of docs/metrics.md),
    ``router`` (its description) and ``scenario`` (its name)."""

    def __init__(self, records, summary, router, scenario):
        self.requests = _table(records)
        self.summary = summary
        self.router = router
        self.scenario = scenario

    def __repr__(self):
        return (f"SimulationResult(scenario={self.scenario!r}, router={self.router!r}, "
                f"requests={self.summary['num_requests']}, "
                f"mean_reward_fraction={self.summary['mean_reward_fraction']:.4f})")


def _router_spec(router):
    if router is None:
        return ""
    if isinstance(router, os.PathLike):
        return "policy:" + os.fspath(router)
    if router.endswith((".bsw", ".bsp")) and not router.startswith("policy:"):
        return "policy:" + router
    return router


def simulate(config=None, router=None, *, seed=None, rate=None, duration=None, set=None,
             observation="paper-v1"):
    """Runs one simulation, as ``bestserve simulate``.

    ``router``: a router spec (``"greedy"``, ``"static:opt-1.3b"``, ``"threshold:2,24"``,
    ``"policy:FILE"`` or just a ``.bsw``/``.bsp`` path; None: the scenario's router), or a Python
    callable ``f(view) -> model index``. The callable is the slow path (one Python call per
    request, a few microseconds each instead of well under one): it receives a
    ``bestserve.RouterView`` with ``task``, ``now_s``, ``prompt_tokens``, ``arrival_rate_rps``
    (the scenario's estimator), per-model ``in_flight``/``running``/``queued`` lists, and
    ``observation``: the policy encoding ``observation`` ("paper-v1", "extended-v1", "request-v1" or
    "gateway-v1") of the
    view, exactly what RoutingEnv observes, so a network trained on RoutingEnv can route here.
    """
    if callable(router) and not isinstance(router, str):
        if observation not in ("paper-v1", "extended-v1", "request-v1", "gateway-v1"):
            raise ValueError("observation: expected paper-v1, extended-v1, request-v1 or gateway-v1, "
                             f"got {observation!r}")
        scenario = _scenario(config, seed, rate, duration, set)
        records, summary, described = _bestserve._simulate_callable(scenario, router, observation)
    else:
        spec = _router_spec(router)
        scenario = _scenario(config, seed, rate, duration, set, router=spec or None)
        records, summary, described = _bestserve._simulate(scenario, "")
    return SimulationResult(records, summary, described, scenario.name)


def evaluate(config=None, routers=None, policies=None, *, seed=None, rate=None, duration=None, set=None):
    """Every router on the identical workload, as ``bestserve evaluate``: one row per router.

    ``routers``: router specs (default: every built-in router); ``policies``: policy files
    added as ``policy:FILE``. Columns: spec, router, mean_reward_fraction, deadline_miss_rate,
    latency_p50_s/p90_s/p99_s, throughput_rps, hardware_utility, one ``windows>=T`` column per
    threshold and one ``share:<model>`` column per model. The Table-2-style Markdown the CLI
    prints is in the result's ``attrs["markdown"]`` (DataFrame) or under key ``"markdown"``.
    """
    scenario = _scenario(config, seed, rate, duration, set)
    specs = list(routers) if routers else []
    if policies:
        if not specs:
            specs = _bestserve.builtin_router_specs(scenario)
        specs += ["policy:" + os.fspath(p) for p in policies]
    results, markdown = _bestserve._evaluate(scenario, specs)
    columns = {"spec": [], "router": []}
    for spec, described, s in results:
        columns["spec"].append(spec)
        columns["router"].append(described)
        for key in ("mean_reward_fraction", "deadline_miss_rate", "latency_p50_s", "latency_p90_s",
                    "latency_p99_s", "throughput_rps", "hardware_utility"):
            columns.setdefault(key, []).append(s[key])
        for threshold, count in zip(s["thresholds"], s["threshold_counts"]):
            name = f"windows={threshold:.2f}" if threshold >= 1.0 else f"windows>={threshold:.2f}"
            columns.setdefault(name, []).append(int(count))
        total = max(int(s["num_requests"]), 1)
        for model, count in zip(s["model_names"], s["selections"]):
            columns.setdefault(f"share:{model}", []).append(int(count) / total)
    columns = {k: (np.asarray(v) if k not in ("spec", "router") else v) for k, v in columns.items()}
    if _pandas is not None:
        frame = _pandas.DataFrame(columns)
        frame.attrs["markdown"] = markdown
        return frame
    columns["markdown"] = markdown
    return columns


def generate_workload(workload, *, seed=1, config=None, deadlines=True):
    """Requests of a workload section (``{"kind": "poisson", "rate_rps": 3, "duration_s": 60}``,
    or its YAML text; kinds in ``workload_kinds()``, settings in docs/workloads.md) drawn with
    ``seed``, for the task table of scenario ``config``; ``deadlines``: fill deadline_s by the
    scenario's rule. Columns: id, arrival_s, task, prompt_tokens, output_tokens, deadline_s,
    nominal_rate_rps."""
    text = workload if isinstance(workload, str) else json.dumps(workload)
    scenario = _scenario(config, None, None, None, None)
    return _table(_bestserve._generate_workload(text, scenario, int(seed), bool(deadlines)))


def read_trace(path, format=None):
    """Arrivals of a production trace (formats in ``trace_formats()``; None: detected from the
    header): time_s on the trace's clock, prompt_tokens and output_tokens (-1 where the format
    has none) and the source line. The detected format is in ``attrs["format"]`` (DataFrame) or
    under key ``"format"``."""
    columns = _bestserve._read_trace(os.fspath(path), format or "")
    trace_format = columns.pop("format")
    if _pandas is not None:
        frame = _pandas.DataFrame(columns)
        frame.attrs["format"] = trace_format
        return frame
    columns["format"] = trace_format
    return columns


workload_kinds = _bestserve.workload_kinds
trace_formats = _bestserve.trace_formats
