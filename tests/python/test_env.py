"""bestserve.RoutingEnv / VectorRoutingEnv against the C++ trainer's environment."""
import os
import subprocess

import numpy as np
import pytest

import bestserve
from conftest import CHILD_ENV, SMALL, TRAJECTORY_DUMP, run_cli


def parse_dump(path):
    """The trajectory_dump file as a list of events."""
    events = []
    with open(path) as f:
        for line in f:
            kind, *rest = line.split()
            if kind == "reset":
                events.append(("reset", int(rest[0]), np.array(rest[1:], dtype=np.float32)))
            elif kind == "step":
                events.append(("step", int(rest[0]), rest[1] == "1", np.array(rest[2:], dtype=np.float32)))
            else:
                events.append(("credit", int(rest[0]), np.float32(rest[1])))
    return events


def python_trajectory(env, actions):
    obs, info = env.reset()
    events = [("reset", info["episode"], obs)]
    for a in actions:
        obs, reward, terminated, truncated, info = env.step(int(a))
        assert truncated is False
        events.append(("step", int(a), terminated, obs))
        credits = list(zip(info["completed_decisions"], info["completed_rewards"]))
        events += [("credit", int(d), np.float32(r)) for d, r in credits]
        # The step's reward is the sum of its credited decisions' rewards, in completion order.
        assert reward == sum(float(r) for _, r in credits)
        if terminated:
            obs, info = env.reset()
            events.append(("reset", info["episode"], obs))
    return events


@pytest.mark.parametrize("encoding", ["paper-v1", "extended-v1"])
def test_trajectory_equals_the_cpp_trainer_environment_for_the_same_seed_and_actions(tmp_path, encoding):
    actions = np.random.default_rng(0).integers(0, 3, size=400)  # about 2.7 episodes of 150
    actions_file = tmp_path / "actions.txt"
    actions_file.write_text("".join(f"{a}\n" for a in actions))
    dump = tmp_path / "trajectory.txt"
    config = os.path.join(bestserve.data_dir(), "experiments/train/paper_hard.yaml")
    subprocess.run([TRAJECTORY_DUMP, config, "5", str(actions_file), str(dump), "episode_requests=150",
                    f"observation={{encoding: {encoding}}}"], check=True, env=CHILD_ENV)
    expected = parse_dump(dump)
    env = bestserve.RoutingEnv(config=config, seed=5, episode_requests=150, observation={"encoding": encoding})
    got = python_trajectory(env, actions)
    assert len(got) == len(expected)
    assert sum(1 for e in got if e[0] == "reset") == 3
    for g, e in zip(got, expected):
        assert g[0] == e[0]
        if g[0] == "reset":
            assert g[1] == e[1]
            np.testing.assert_array_equal(g[2], e[2])
        elif g[0] == "step":
            assert g[1:3] == e[1:3]
            np.testing.assert_array_equal(g[3], e[3])
        else:
            assert g[1:] == e[1:]


def test_observation_follows_the_versioned_encoding():
    env = bestserve.RoutingEnv(seed=2, **SMALL)
    assert env.observation_encoding == "paper-v1"
    assert env.observation_space.shape == (len(env.task_names) + len(env.model_names) + 1,)
    assert env.action_space.n == len(env.model_names) == 3
    obs, _ = env.reset()
    assert obs.dtype == np.float32 and obs in env.observation_space
    tasks = len(env.task_names)
    assert obs[:tasks].sum() == 1.0  # one-hot task
    extended = bestserve.RoutingEnv(seed=2, observation={"encoding": "extended-v1"}, **SMALL)
    assert extended.observation_space.shape == (tasks + 2 * 3 + 1,)
    assert extended.observation_encoding == "extended-v1"


def test_reset_with_a_seed_is_reproducible_and_follows_the_trainer_episode_seeds():
    env = bestserve.RoutingEnv(seed=0, **SMALL)

    def run(seed):
        obs, info = env.reset(seed=seed)
        trace = [np.append(obs, 0.0)]
        for step in range(120):
            obs, reward, *_ = env.step(step % 3)
            trace.append(np.append(obs, reward))
        return np.array(trace), info

    first, info = run(3)
    assert info["episode"] == 0 and info["episode_seed"] == bestserve.trainer_episode_seed(3, 0)
    run(4)
    again, _ = run(3)
    np.testing.assert_array_equal(first, again)
    _, info = env.reset()  # no seed: the stream's next episode
    assert info["episode"] == 1 and info["episode_seed"] == bestserve.trainer_episode_seed(3, 1)
    other, _ = run(4)
    assert not np.array_equal(first, other)


def test_step_rewards_add_up_to_the_episode_reward_and_credit_each_decision_once():
    env = bestserve.RoutingEnv(seed=1, **SMALL)
    env.reset()
    rng = np.random.default_rng(1)
    total, credited, steps = 0.0, [], 0
    while True:
        _, reward, terminated, _, info = env.step(int(rng.integers(3)))
        steps += 1
        assert np.all(info["completed_decisions"] < steps)  # only decisions already taken
        transitions = env.completed_transitions()
        np.testing.assert_array_equal(transitions["decision"], info["completed_decisions"])
        assert transitions["observation"].shape == (len(info["completed_decisions"]), env.observation_size)
        total += reward
        credited += list(info["completed_decisions"])
        if terminated:
            assert transitions["terminal"][transitions["decision"] == steps - 1].all()
            break
    assert steps == 300
    assert sorted(credited) == list(range(300))
    assert total > 0.0


def test_out_of_range_actions_raise_and_change_nothing():
    env = bestserve.RoutingEnv(seed=7, **SMALL)
    twin = bestserve.RoutingEnv(seed=7, **SMALL)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)  # before reset
    env.reset()
    twin.reset()
    for bad in (3, -1, 1000):
        with pytest.raises(ValueError, match="out of range"):
            env.step(bad)
    for step in range(50):
        a, b = env.step(step % 3), twin.step(step % 3)
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1] == b[1]
    vec = bestserve.VectorRoutingEnv(2, seed=7, **SMALL)
    vec.reset()
    with pytest.raises(ValueError, match=r"actions\[1\] = 3"):
        vec.step(np.array([0, 3]))
    with pytest.raises(ValueError, match="shape"):
        vec.step(np.array([0, 1, 2]))


def test_vector_env_equals_n_single_envs_with_same_step_autoreset():
    n = 4
    vec = bestserve.VectorRoutingEnv(n, seed=9, episode_requests=60)
    singles = [bestserve.RoutingEnv(seed=9 + i, episode_requests=60) for i in range(n)]
    obs, _ = vec.reset(seed=9)
    assert obs.shape == (n, vec.observation_size) and obs in vec.observation_space
    for i, env in enumerate(singles):
        o, _ = env.reset()
        np.testing.assert_array_equal(obs[i], o)
    rng = np.random.default_rng(2)
    resets = 0
    for _ in range(150):
        actions = vec.action_space.sample() if rng.random() < 0.5 else rng.integers(0, 3, size=n)
        assert actions in vec.action_space
        obs, rewards, terminated, truncated, info = vec.step(actions)
        assert not truncated.any()
        done = info["completed"]
        for i, env in enumerate(singles):
            o, r, term, _, single_info = env.step(int(actions[i]))
            assert rewards[i] == np.float32(r)
            assert terminated[i] == term
            mine = done["env"] == i
            expected = env.completed_transitions()
            for key in ("decision", "action", "reward", "observation", "next_observation", "terminal"):
                np.testing.assert_array_equal(done[key][mine], expected[key])
            if term:
                o, _ = env.reset()
                resets += 1
            np.testing.assert_array_equal(obs[i], o)
    assert resets == 2 * n


def test_bad_training_config_raises_the_cli_message(tmp_path):
    bad = tmp_path / "bad_train.yaml"
    bad.write_text("name: bad\nepisode_requests: -4\n")
    result = run_cli("train", "--config", str(bad), "--out", str(tmp_path / "run"))
    assert result.returncode == 3
    with pytest.raises(bestserve.ConfigError) as error:
        bestserve.RoutingEnv(config=bad)
    assert result.stderr.strip() == f"error: {error.value}"
    assert str(bad) in str(error.value) and "episode_requests" in str(error.value) and ":2:" in str(error.value)
    assert not (tmp_path / "run").exists()
    with pytest.raises(bestserve.ConfigError, match="observation"):
        bestserve.RoutingEnv(observation={"encoding": "paper-v9"})


def test_bad_scenario_raises_the_cli_message(tmp_path):
    bad = tmp_path / "bad_scenario.yaml"
    bad.write_text("name: bad\ncluster:\n  gpu_groups: []\nworkload: {kind: poisson, rate_rps: -2, duration_s: 10}\n")
    result = run_cli("simulate", "--config", str(bad))
    assert result.returncode == 3
    with pytest.raises(bestserve.ConfigError) as error:
        bestserve.simulate(config=bad)
    assert result.stderr.strip() == f"error: {error.value}"
    assert str(bad) in str(error.value)
    assert isinstance(error.value, bestserve.Error) and isinstance(error.value, RuntimeError)
