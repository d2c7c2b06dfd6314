#!/usr/bin/env python3
"""Steps per second of bestserve's Python environments, on one core, against a pure-Python env.

    PYTHONPATH=build/python /usr/bin/python3 bench/python/env_bench.py \
        [--env-bench build/bench/env/env_bench] [--quick]

Measures, in one run: RoutingEnv.step from Python with a random policy (floor 100k/s),
VectorRoutingEnv at n = 64 (floor 500k env-steps/s, goal ~1M/s), and PurePythonRoutingEnv
below (the paper-style queue in ~50 lines of Python, the same interface) for the ratio.
Prints the machine, the Python version and the commit. Not a test: nothing is asserted.
"""
import argparse
import heapq
import json
import math
import os
import platform
import subprocess
import time

import numpy as np

import bestserve


class PurePythonRoutingEnv:
    """The paper's routing problem as a plain-Python toy: Poisson arrivals of 4 tasks, 3 models
    whose latency grows with their batch, reward A[task][model] when the deadline is met."""

    quality = [[0.29, 0.41, 0.50], [0.38, 0.53, 0.60], [0.54, 0.73, 0.76], [0.62, 0.69, 0.81]]
    latency_s = [0.4, 1.0, 2.4]  # per request at batch 1
    slowdown = [0.02, 0.05, 0.25]  # added per request already in flight

    def __init__(self, rate_rps=8.0, episode_requests=2000, seed=0):
        self.rate, self.n, self.rng = rate_rps, episode_requests, np.random.default_rng(seed)
        self.scale = 1.0 / math.log1p(64.0)

    def reset(self, seed=None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.times = np.cumsum(self.rng.exponential(1.0 / self.rate, self.n)).tolist()
        self.tasks = self.rng.integers(0, 4, self.n).tolist()
        self.i, self.in_flight, self.finishing, self.gaps = 0, [0, 0, 0], [], [1.0 / self.rate] * 5
        return self._observe(), {}

    def _observe(self):
        obs = np.zeros(8, np.float32)
        obs[self.tasks[self.i]] = 1.0
        for m in range(3):
            obs[4 + m] = math.log1p(self.in_flight[m]) * self.scale
        obs[7] = math.log1p(5.0 / sum(self.gaps)) * self.scale  # last-k rate estimate, k = 5
        return obs

    def step(self, action):
        if not 0 <= action < 3:
            raise ValueError(f"action {action} out of range")
        now, task = self.times[self.i], self.tasks[self.i]
        latency = self.latency_s[action] + self.slowdown[action] * self.in_flight[action]
        met = latency <= 2.0
        heapq.heappush(self.finishing, (now + latency, action, self.quality[task][action] if met else 0.0))
        self.in_flight[action] += 1
        self.i += 1
        terminated = self.i == self.n
        horizon = math.inf if terminated else self.times[self.i]
        reward = 0.0
        while self.finishing and self.finishing[0][0] <= horizon:
            _, model, r = heapq.heappop(self.finishing)
            self.in_flight[model] -= 1
            reward += r
        if terminated:
            return np.zeros(8, np.float32), reward, True, False, {}
        self.gaps = self.gaps[1:] + [horizon - now]
        return self._observe(), reward, False, False, {}


def rate_single(env, steps, actions):
    env.reset(seed=1)
    step = env.step
    start = time.perf_counter()
    for k in range(steps):
        terminated = step(actions[k])[2]
        if terminated:
            env.reset()
    return steps / (time.perf_counter() - start)


def rate_vector(env, steps, actions):
    env.reset(seed=1)
    start = time.perf_counter()
    for k in range(steps):
        env.step(actions[k])
    return steps * env.num_envs / (time.perf_counter() - start)


def machine():
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model}, {os.cpu_count()} CPU(s), Python {platform.python_version()}"


def commit():
    here = os.path.dirname(os.path.abspath(__file__))
    result = subprocess.run(["git", "-C", here, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return result.stdout.strip() or "unknown"


WORKLOADS = [
    ("paper_hard training (unpredictable2, 0.25-48 rps)", None),
    ("unpredictable1 (the paper's evaluation workload)", {"kind": "unpredictable1", "num_requests": 2000}),
]


def cpp_rate(env_bench, steps, workload):
    """Decisions/s of the C++ environment alone (bench/env/env_bench), in this run."""
    command = [env_bench, "--steps", str(steps)] + (["--workload", json.dumps(workload)] if workload else [])
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return float(out.split("decisions_per_second")[1].split()[0])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a few thousand steps (smoke run)")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many timings")
    parser.add_argument("--env-bench", help="bench/env/env_bench executable: adds the C++-alone ceiling")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core (children inherit it)
    single_steps = 5_000 if args.quick else 300_000
    vector_steps = 50 if args.quick else 4_000
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 3, single_steps).tolist()  # the random policy, drawn up front
    vector_actions = rng.integers(0, 3, (vector_steps, 64)).astype(np.int32)
    print(f"machine: {machine()}; commit {commit()}; one core; random policy; episodes of 2000 decisions")
    toy = max(rate_single(PurePythonRoutingEnv(), single_steps, actions) for _ in range(args.repeats))
    print(f"{'environment':<44} {'steps/s':>11} {'x pure Python':>14} {'x C++ alone':>12} {'floor':>9}")
    for title, workload in WORKLOADS:
        overrides = {"training_workload": workload} if workload else {}
        cpp = cpp_rate(args.env_bench, single_steps * 2, workload) if args.env_bench else None
        env = bestserve.RoutingEnv(seed=1, **overrides)
        single = max(rate_single(env, single_steps, actions) for _ in range(args.repeats))
        vec = bestserve.VectorRoutingEnv(64, seed=1, **overrides)
        vector = max(rate_vector(vec, vector_steps, vector_actions) for _ in range(args.repeats))
        print(f"-- {title}")
        rows = [("C++ env alone (bench/env/env_bench)", cpp, None), ("RoutingEnv.step from Python", single, 100e3),
                ("VectorRoutingEnv n=64, env-steps/s", vector, 500e3)]
        for name, rate, floor in rows:
            if rate is None:
                continue
            versus_cpp = f"{rate / cpp:.2f}" if cpp else "-"
            floor_text = f"{floor:,.0f}" if floor else "-"
            print(f"{name:<44} {rate:>11,.0f} {rate / toy:>14.1f} {versus_cpp:>12} {floor_text:>9}")
    print(f"-- {'PurePythonRoutingEnv.step (this file)':<41} {toy:>11,.0f} {1.0:>14.1f}")


if __name__ == "__main__":
    main()
