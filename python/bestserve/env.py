"""The simulator as a Gymnasium-style environment, one routing decision per step.

``RoutingEnv`` and ``VectorRoutingEnv`` run bestserve's C++ environment (env/gym_env.h over
env/routing_env.h): the observation versions, the credit assignment and the rewards are the C++
trainer's own, and episode ``e`` of master seed ``s`` is the trainer's episode ``e`` of ``s``.

Configs are ``bestserve train`` configs (default: ``experiments/train/paper_hard.yaml``): they
name the scenario, the training workload, ``episode_requests`` and ``observation``. Keyword
overrides replace top-level keys of that config, values given as Python objects (written as
YAML), e.g. ``RoutingEnv(episode_requests=500, observation={"encoding": "extended-v1"},
set={"deadline.reward": "soft"})``.

Rewards arrive late. A request's reward is known only when it completes, usually several
decisions after it was routed. The ``reward`` a step returns is the sum of the rewards of the
requests that finished during that step (completed, or rejected at dispatch), which were mostly
routed by earlier steps; summed over an episode it is the episode's total reward. Which
decisions it credits is in ``info``: ``completed_decisions`` (each one's index in the episode,
0-based) and ``completed_rewards`` (its own request's reward, in completion order). The C++
trainer learns from exactly those per-decision transitions, (s_t, a_t, r_t, s_{t+1}, terminal),
with the discount applied per decision; ``completed_transitions()`` returns them as arrays (the
vector env puts them in ``info["completed"]``). ``terminated`` is true at the episode's last
decision, whose observation has no meaning (zeros); ``truncated`` is always false.
"""
import json
import os

import numpy as np

from . import _bestserve
from . import spaces

DEFAULT_CONFIG = "experiments/train/paper_hard.yaml"


def config_path(config):
    """The training config's path (None: the paper's hard-deadline config)."""
    if config is None:
        return os.path.join(_bestserve.data_dir(), DEFAULT_CONFIG)
    return os.fspath(config)


def yaml_overrides(overrides):
    """Keyword overrides as (key path, YAML text) pairs; JSON is YAML."""
    return [(key, json.dumps(value)) for key, value in overrides.items()]


def _observation_box(size, seed=None):
    # One-hot task, log-scaled counts and rate: >= 0, unbounded above (nothing is clipped).
    return spaces.make_box(0.0, np.inf, (size,), seed)


class RoutingEnv(_bestserve._RoutingEnvCore):
    """One simulator environment with Gymnasium's API (duck-typed; see the module doc).

    ``reset(seed=None, options=None) -> (obs, info)``: ``seed`` restarts the episode stream of
    that master seed (episode 0 next); without it, the next episode of the current stream.
    ``step(action) -> (obs, reward, terminated, truncated, info)``: ``action`` is a model index
    in ``[0, num_actions)``; anything else raises ``ValueError`` and changes nothing.
    """

    metadata = {"render_modes": []}
    render_mode = None
    spec = None

    def __init__(self, config=None, seed=0, **overrides):
        self._config = config_path(config)
        self._overrides = dict(overrides)
        super().__init__(self._config, int(seed), yaml_overrides(overrides))
        self.observation_space = _observation_box(self.observation_size, seed)
        self.action_space = spaces.make_discrete(self.num_actions, seed)

    def reset(self, *, seed=None, options=None):
        obs = self._reset(None if seed is None else int(seed))
        return obs, {"episode": self.episode, "episode_seed": self.episode_seed}

    # step() is the C++ core's: one call, no Python frame in between.

    def render(self):
        return None

    def close(self):
        pass

    @property
    def unwrapped(self):
        return self

    def save_policy(self, path, layers, name="python"):
        """Writes a policy file ``bestserve evaluate --policy`` reads (see bestserve.save_policy)."""
        hidden, flat = _flatten_layers(layers, self.observation_size, self.num_actions)
        self._save_policy(os.fspath(path), hidden, flat, name)


class VectorRoutingEnv(_bestserve._VectorRoutingEnvCore):
    """``num_envs`` environments stepped in C++ in one call (the GIL released), on numpy arrays.

    Env ``i`` runs master seed ``seed + i`` (Gymnasium's convention). Autoreset is Gymnasium's
    SAME_STEP mode (``gymnasium.vector.AutoresetMode.SAME_STEP``): an env whose episode ends in a
    step is reset within that step, so its returned observation is the first of its next episode
    while its reward and ``terminated`` belong to the old one. ``step(actions)`` returns
    ``(obs[n, d], rewards[n], terminated[n], truncated[n], info)`` with ``info["completed"]``: the
    decisions credited in this step across envs, as arrays ``env``, ``decision``,
    ``observation``, ``action``, ``reward``, ``next_observation``, ``terminal`` (the C++
    trainer's transitions; ready for a replay buffer).
    """

    metadata = {"render_modes": [], "autoreset_mode": "SameStep"}
    autoreset_mode = "same-step"
    render_mode = None

    def __init__(self, num_envs, config=None, seed=0, **overrides):
        self._config = config_path(config)
        self._overrides = dict(overrides)
        super().__init__(self._config, int(num_envs), int(seed), yaml_overrides(overrides))
        self.single_observation_space = _observation_box(self.observation_size, seed)
        self.single_action_space = spaces.make_discrete(self.num_actions, seed)
        self.observation_space = spaces.make_box(0.0, np.inf, (self.num_envs, self.observation_size), seed)
        self.action_space = spaces.make_multi_discrete([self.num_actions] * self.num_envs, seed)
        if spaces._gymnasium is not None:
            try:
                self.metadata = dict(self.metadata,
                                     autoreset_mode=spaces._gymnasium.vector.AutoresetMode.SAME_STEP)
            except AttributeError:  # Gymnasium < 1.0 has no AutoresetMode
                pass

    def reset(self, *, seed=None, options=None):
        obs = self._reset(None if seed is None else int(seed))
        return obs, {}

    def close(self):
        pass

    def save_policy(self, path, layers, name="python"):
        """Writes a policy file for this env's scenario (see bestserve.save_policy)."""
        save_policy(path, layers, config=self._config, name=name, **self._overrides)


def _flatten_layers(layers, input_size, num_actions):
    """(weight [out, in], bias [out]) pairs -> hidden sizes and the canonical flat parameters."""
    layers = [(np.asarray(w, dtype=np.float32), np.asarray(b, dtype=np.float32)) for w, b in layers]
    if not layers:
        raise ValueError("layers: expected at least one (weight, bias) pair")
    expected_in = input_size
    for index, (w, b) in enumerate(layers):
        if w.ndim != 2 or w.shape[1] != expected_in or b.shape != (w.shape[0],):
            raise ValueError(f"layer {index}: expected weight [out, {expected_in}] and bias [out], got "
                             f"{list(w.shape)} and {list(b.shape)}")
        expected_in = w.shape[0]
    if expected_in != num_actions:
        raise ValueError(f"the last layer has {expected_in} outputs; the environment has {num_actions} actions")
    hidden = [int(w.shape[0]) for w, _ in layers[:-1]]
    flat = np.concatenate([np.concatenate([w.reshape(-1), b]) for w, b in layers])
    return hidden, flat


def save_policy(path, layers, config=None, name="python", **overrides):
    """Writes a bestserve policy file (.bsw) from an MLP with ReLU hidden layers.

    ``layers``: ``[(weight, bias), ...]`` in order, weight ``[out, in]`` as torch.nn.Linear
    stores it (``[(l.weight.detach().numpy(), l.bias.detach().numpy()) for l in linears]``).
    The file carries the metadata of ``config`` + ``overrides`` (observation encoding and
    scales, task and model names, rate estimator), so ``bestserve evaluate --policy FILE``,
    ``bestserve export`` and ``Router.load`` use it exactly as the C++ trainer's policies.
    """
    RoutingEnv(config, 0, **overrides).save_policy(path, layers, name)


def _register_with_gymnasium():
    if spaces._gymnasium is None:
        return
    try:
        spaces._gymnasium.register(id="bestserve/Routing-v0", entry_point="bestserve.env:RoutingEnv")
    except Exception:  # already registered (re-import) or an incompatible Gymnasium
        pass


_register_with_gymnasium()
