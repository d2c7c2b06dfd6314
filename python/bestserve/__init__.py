"""bestserve from Python: the routing simulator as a Gymnasium-style environment, and the toolkit.

    import bestserve
    env = bestserve.RoutingEnv(seed=1)                  # experiments/train/paper_hard.yaml
    obs, info = env.reset()
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    vec = bestserve.VectorRoutingEnv(64, seed=1)        # stepped in C++, GIL released
    result = bestserve.simulate(router="greedy", rate=3)
    table = bestserve.evaluate(routers=["greedy", "threshold"], policies=["policy.bsw"])
    router = bestserve.Router.load("router.bsp")

See README.md, section "Python", for what a step's reward means (rewards arrive late).
"""
from ._bestserve import ConfigError, Error, RouterError, data_dir, trainer_episode_seed
from .env import RoutingEnv, VectorRoutingEnv, save_policy
from .toolkit import (Router, RouterView, SimulationResult, evaluate, generate_workload, read_trace,
                      simulate, trace_formats, workload_kinds)

__all__ = [
    "ConfigError", "Error", "RouterError", "RoutingEnv", "VectorRoutingEnv", "save_policy", "Router",
    "RouterView", "SimulationResult", "simulate", "evaluate", "generate_workload", "read_trace",
    "workload_kinds", "trace_formats", "data_dir", "trainer_episode_seed",
]
