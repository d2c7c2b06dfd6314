"""Observation and action spaces: Gymnasium's when it is importable, else minimal stand-ins.

The stand-ins have what learners read from Gymnasium spaces: ``shape``, ``dtype``, ``n`` /
``nvec``, ``low``/``high``, ``seed()``, ``sample()`` and ``contains()`` (and ``x in space``).
"""
import numpy as np

try:  # Gymnasium is optional; never required.
    import gymnasium as _gymnasium
except ImportError:  # pragma: no cover - depends on the machine
    _gymnasium = None


class _Space:
    def __init__(self, shape, dtype, seed=None):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.np_random = np.random.default_rng(seed)

    def seed(self, seed=None):
        self.np_random = np.random.default_rng(seed)
        return [seed]

    def __contains__(self, x):
        return self.contains(x)


class Box(_Space):
    """Values in [low, high] elementwise; unbounded sides sample like Gymnasium's Box."""

    def __init__(self, low, high, shape, dtype=np.float32, seed=None):
        super().__init__(shape, dtype, seed)
        self.low = np.broadcast_to(np.asarray(low, dtype=self.dtype), self.shape).copy()
        self.high = np.broadcast_to(np.asarray(high, dtype=self.dtype), self.shape).copy()

    def sample(self):
        low_bounded = np.isfinite(self.low)
        high_bounded = np.isfinite(self.high)
        out = np.empty(self.shape, dtype=np.float64)
        both = low_bounded & high_bounded
        out[both] = self.np_random.uniform(self.low[both], self.high[both])
        only_low = low_bounded & ~high_bounded
        out[only_low] = self.low[only_low] + self.np_random.exponential(size=int(only_low.sum()))
        only_high = ~low_bounded & high_bounded
        out[only_high] = self.high[only_high] - self.np_random.exponential(size=int(only_high.sum()))
        neither = ~low_bounded & ~high_bounded
        out[neither] = self.np_random.normal(size=int(neither.sum()))
        return out.astype(self.dtype)

    def contains(self, x):
        x = np.asarray(x)
        return bool(x.shape == self.shape and np.all(x >= self.low) and np.all(x <= self.high))

    def __repr__(self):
        return f"Box({self.low.min()}, {self.high.max()}, {self.shape}, {self.dtype})"


class Discrete(_Space):
    """Integers 0 .. n-1."""

    def __init__(self, n, seed=None):
        super().__init__((), np.int64, seed)
        self.n = int(n)
        self.start = 0

    def sample(self):
        return np.int64(self.np_random.integers(self.n))

    def contains(self, x):
        if isinstance(x, (int, np.integer)) or (isinstance(x, np.ndarray) and x.shape == () and
                                                np.issubdtype(x.dtype, np.integer)):
            return 0 <= int(x) < self.n
        return False

    def __repr__(self):
        return f"Discrete({self.n})"


class MultiDiscrete(_Space):
    """One Discrete(nvec[i]) per entry (a vector env's action space)."""

    def __init__(self, nvec, seed=None):
        nvec = np.asarray(nvec, dtype=np.int64)
        super().__init__(nvec.shape, np.int64, seed)
        self.nvec = nvec

    def sample(self):
        return self.np_random.integers(self.nvec).astype(np.int64)

    def contains(self, x):
        x = np.asarray(x)
        return bool(x.shape == self.shape and np.issubdtype(x.dtype, np.integer) and np.all(x >= 0) and
                    np.all(x < self.nvec))

    def __repr__(self):
        return f"MultiDiscrete({self.nvec.tolist()})"


def make_box(low, high, shape, seed=None):
    if _gymnasium is not None:
        return _gymnasium.spaces.Box(low=low, high=high, shape=shape, dtype=np.float32, seed=seed)
    return Box(low, high, shape, np.float32, seed)


def make_discrete(n, seed=None):
    if _gymnasium is not None:
        return _gymnasium.spaces.Discrete(n, seed=seed)
    return Discrete(n, seed)


def make_multi_discrete(nvec, seed=None):
    if _gymnasium is not None:
        return _gymnasium.spaces.MultiDiscrete(nvec, seed=seed)
    return MultiDiscrete(nvec, seed)
