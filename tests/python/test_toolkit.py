"""The toolkit from Python: simulate, evaluate, workloads, traces, policies and the router."""
import json

import numpy as np
import pytest

import bestserve
from conftest import run_cli


def columns(table):
    """A DataFrame or a dict of arrays, as a dict of arrays."""
    if hasattr(table, "to_dict"):
        return {k: table[k].to_numpy() for k in table.columns}
    return table


def test_simulate_matches_the_cli_summary(tmp_path):
    result = bestserve.simulate(router="greedy", rate=4, duration=60, seed=3)
    cli = run_cli("simulate", "--router", "greedy", "--rate", "4", "--duration", "60", "--seed", "3", "--out",
                  str(tmp_path / "run"))
    assert cli.returncode == 0, cli.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    for key in ("num_requests", "completed", "rejected"):
        assert result.summary[key] == summary[key]
    assert result.summary["mean_reward_fraction"] == pytest.approx(summary["mean_reward_fraction"], rel=1e-12)
    requests = columns(result.requests)
    n = result.summary["num_requests"]
    assert len(requests["arrival_s"]) == n and np.all(np.diff(requests["arrival_s"]) >= 0)
    assert requests["reward"].sum() == pytest.approx(result.summary["total_reward"], rel=1e-12)
    finished = ~requests["rejected"]
    assert np.all(requests["completion_s"][finished] >= requests["arrival_s"][finished])
    assert result.summary["selections"].sum() == n


def test_a_python_callable_router_routes_as_the_same_rule_in_cpp():
    static = bestserve.simulate(router="static:opt-1.3b", rate=3, duration=40)
    seen = []

    def always_second(view):
        seen.append((view.task, list(view.in_flight), view.observation.copy()))
        return 1

    python = bestserve.simulate(router=always_second, rate=3, duration=40)
    a, b = columns(static.requests), columns(python.requests)
    for key in ("model", "completion_s", "reward"):
        np.testing.assert_array_equal(a[key], b[key])
    assert len(seen) == static.summary["num_requests"]
    task, in_flight, obs = seen[-1]
    assert obs[task] == 1.0 and obs.shape == (4 + 3 + 1,)
    np.testing.assert_allclose(obs[4:7], np.log1p(in_flight) / np.log1p(64.0), rtol=1e-6)
    with pytest.raises(ValueError, match="returned 7"):
        bestserve.simulate(router=lambda view: 7, rate=3, duration=5)


def test_evaluate_compares_routers_on_the_same_requests():
    result = bestserve.evaluate(routers=["greedy", "static:opt-125m"], rate=5, duration=40, seed=2)
    markdown = result.attrs["markdown"] if hasattr(result, "attrs") else result["markdown"]
    table = columns(result)
    assert list(table["spec"]) == ["greedy", "static:opt-125m"]
    single = bestserve.simulate(router="greedy", rate=5, duration=40, seed=2)
    assert table["mean_reward_fraction"][0] == pytest.approx(single.summary["mean_reward_fraction"], rel=1e-12)
    assert table["share:opt-125m"][1] == 1.0
    assert "| greedy" in markdown and "static:opt-125m" in markdown


def test_tables_are_dataframes_with_pandas_and_the_same_numbers_without(monkeypatch):
    pandas = pytest.importorskip("pandas", reason="python3-pandas is not installed (scripts/setup.sh installs it)")
    frame = bestserve.evaluate(routers=["greedy", "static:opt-1.3b"], rate=5, duration=30, seed=4)
    assert isinstance(frame, pandas.DataFrame)
    assert "| greedy" in frame.attrs["markdown"]
    monkeypatch.setattr(bestserve.toolkit, "_pandas", None)
    plain = bestserve.evaluate(routers=["greedy", "static:opt-1.3b"], rate=5, duration=30, seed=4)
    assert isinstance(plain, dict) and plain["markdown"] == frame.attrs["markdown"]
    for key in ("mean_reward_fraction", "share:opt-1.3b"):
        np.testing.assert_array_equal(frame[key].to_numpy(), plain[key])
    workload = bestserve.generate_workload({"kind": "poisson", "rate_rps": 2.0, "duration_s": 20}, seed=1)
    assert isinstance(workload, dict)


def test_generated_poisson_workload_has_the_configured_rate_and_is_reproducible():
    w = columns(bestserve.generate_workload({"kind": "poisson", "rate_rps": 5.0, "duration_s": 400}, seed=4))
    n = len(w["arrival_s"])
    # Poisson count: mean 2000, sd ~45; 5 sd either side.
    assert abs(n - 2000) < 5 * np.sqrt(2000)
    assert np.all(np.diff(w["arrival_s"]) >= 0) and list(w["id"]) == list(range(n))
    assert np.all(np.isfinite(w["deadline_s"]))
    again = columns(bestserve.generate_workload({"kind": "poisson", "rate_rps": 5.0, "duration_s": 400}, seed=4))
    np.testing.assert_array_equal(w["arrival_s"], again["arrival_s"])
    other = columns(bestserve.generate_workload({"kind": "poisson", "rate_rps": 5.0, "duration_s": 400}, seed=5))
    assert not np.array_equal(w["arrival_s"][:10], other["arrival_s"][:10])
    assert "poisson" in bestserve.workload_kinds()
    with pytest.raises(bestserve.ConfigError, match="rate_rps"):
        bestserve.generate_workload({"kind": "poisson", "rate_rps": -1, "duration_s": 10})


def test_read_trace_returns_the_rows_of_an_azure_llm_trace(tmp_path):
    trace = tmp_path / "llm.csv"
    trace.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n"
                     "2023-11-16 23:59:58.5000000,374,44\n"
                     "2023-11-16 23:59:59.7500000,396,109\n"
                     "2023-11-17 00:00:01.2500000,10,1\n")
    t = columns(bestserve.read_trace(trace))
    np.testing.assert_allclose(np.diff(t["time_s"]), [1.25, 1.5])
    assert list(t["prompt_tokens"]) == [374, 396, 10] and list(t["output_tokens"]) == [44, 109, 1]
    assert list(t["line"]) == [2, 3, 4]
    with pytest.raises(bestserve.ConfigError):
        bestserve.read_trace(trace, format="no-such-format")


def forward(layers, obs):
    x = obs.astype(np.float64)
    for i, (w, b) in enumerate(layers):
        x = w.astype(np.float64) @ x + b
        if i + 1 < len(layers):
            x = np.maximum(x, 0.0)
    return x


def test_a_saved_policy_is_what_router_load_and_simulate_use(tmp_path):
    rng = np.random.default_rng(11)
    layers = [(rng.normal(size=(16, 8)).astype(np.float32), rng.normal(size=16).astype(np.float32)),
              (rng.normal(size=(3, 16)).astype(np.float32), rng.normal(size=3).astype(np.float32))]
    path = tmp_path / "policy.bsw"
    bestserve.save_policy(path, layers)
    router = bestserve.Router.load(str(path))
    assert router.model_names == ["opt-125m", "opt-1.3b", "opt-6.7b"]
    assert router.observation_encoding == "paper-v1"
    # Decisions equal the network's argmax on the paper-v1 encoding (README: the observation).
    env = bestserve.RoutingEnv(seed=1, episode_requests=200)
    obs, _ = env.reset()
    for step in range(200):
        task = int(np.argmax(obs[:4]))
        in_flight = np.rint(np.expm1(obs[4:7] * np.log1p(64.0))).astype(np.int32)
        rate = float(np.expm1(obs[7] * np.log1p(64.0)))
        router.set_arrival_rate(rate)
        batch = router.decide_batch(np.array([task], dtype=np.int32), in_flight.reshape(1, 3), np.array([rate]))
        q = forward(layers, obs)
        if np.sort(q)[-1] - np.sort(q)[-2] > 1e-4:  # clear of float-rounding ties
            assert batch[0] == int(np.argmax(q))
        obs, _, terminated, _, _ = env.step(int(batch[0]))
        if terminated:
            break
    # simulate() with the file equals a Python callable running the same network.
    file_run = bestserve.simulate(router=str(path), rate=6, duration=30)
    python_run = bestserve.simulate(router=lambda v: int(np.argmax(forward(layers, v.observation))), rate=6,
                                    duration=30)
    agree = np.mean(columns(file_run.requests)["model"] == columns(python_run.requests)["model"])
    assert agree == 1.0
    with pytest.raises(bestserve.RouterError, match="missing.bsp"):
        bestserve.Router.load(str(tmp_path / "missing.bsp"))
    with pytest.raises(ValueError, match="outputs"):
        bestserve.save_policy(tmp_path / "x.bsw", layers[:1])


def test_a_gateway_v1_policy_routes_from_python_as_the_simulator_does(tmp_path):
    env = bestserve.RoutingEnv(seed=2, episode_requests=50, observation={"encoding": "gateway-v1"})
    assert env.observation_size == 4 + 3 * 3 + 6
    rng = np.random.default_rng(5)
    layers = [(rng.normal(size=(16, env.observation_size)).astype(np.float32), rng.normal(size=16).astype(np.float32)),
              (rng.normal(size=(3, 16)).astype(np.float32), rng.normal(size=3).astype(np.float32))]
    path = tmp_path / "gateway.bsw"
    env.save_policy(path, layers)
    router = bestserve.Router.load(str(path))
    assert router.observation_encoding == "gateway-v1"
    assert router.needs_gateway_facts
    facts = dict(queued=[0, 1, 2], prompt_tokens=300, in_flight_prompt_tokens=[100, 2000, 40000],
                 deadline_base_s=0.0, deadline_per_token_s=0.04)
    model = router.route("piqa", 1.0, [1, 2, 3], **facts)
    assert model in (0, 1, 2)
    assert router.slow_arrival_rate_rps == 0.0  # one arrival: nothing earlier to count
    router.route("piqa", 2.0, [1, 2, 3], **facts)
    assert router.slow_arrival_rate_rps == pytest.approx(np.log(2) / 30 * 2 ** (-1 / 30))
    with pytest.raises(ValueError, match="in_flight_prompt_tokens"):
        router.route("piqa", 3.0, [1, 2, 3], queued=[0, 0, 0], prompt_tokens=10, deadline_base_s=0.0,
                     deadline_per_token_s=0.04)
    with pytest.raises(ValueError, match="deadline"):
        router.route("piqa", 3.0, [1, 2, 3], queued=[0, 0, 0], prompt_tokens=10, in_flight_prompt_tokens=[0, 0, 0])
    with pytest.raises(ValueError, match="3 entries"):
        router.route("piqa", 3.0, [1, 2, 3], **{**facts, "in_flight_prompt_tokens": [1, 2]})
    # The file in the simulator equals a Python callable running the same network on the
    # gateway-v1 observation the simulator hands it.
    file_run = bestserve.simulate(router=str(path), rate=6, duration=30)
    python_run = bestserve.simulate(router=lambda v: int(np.argmax(forward(layers, v.observation))), rate=6,
                                    duration=30, observation="gateway-v1")
    agree = np.mean(columns(file_run.requests)["model"] == columns(python_run.requests)["model"])
    assert agree == 1.0
