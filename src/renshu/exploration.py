"""Exploration policies: choose actions from a batch of Q-values, on the NumPy side.

Each policy maps Q-values ``(B, A)`` to actions ``(B,)`` (int64) given the global env step
(summed over vector envs) and a ``np.random.Generator``, and reports the quantity worth logging
(epsilon, temperature, 0 for greedy) with :meth:`Exploration.value`.

Example:
    >>> import numpy as np
    >>> policy = make_exploration("eps_greedy", start=1.0, end=0.1, anneal_steps=100)
    >>> policy.value(0), policy.value(50), policy.value(1_000)
    (1.0, 0.55, 0.1)
    >>> Greedy().select(np.array([[0.0, 2.0, 1.0]]), 0, np.random.default_rng(0)).tolist()
    [1]
"""

from __future__ import annotations

import inspect
from typing import Any, Protocol, runtime_checkable

import numpy as np

from renshu.errors import ConfigError

__all__ = [
    "Boltzmann",
    "EpsilonGreedy",
    "Exploration",
    "Greedy",
    "fraction_of_run",
    "make_exploration",
]


@runtime_checkable
class Exploration(Protocol):
    """What the agent needs from an exploration policy."""

    def select(self, q_values: np.ndarray, step: int, rng: np.random.Generator) -> np.ndarray:
        """Actions ``(B,)`` int64 for Q-values ``(B, A)`` at global env step ``step``."""
        ...

    def value(self, step: int) -> float:
        """The quantity to log at ``step`` (epsilon, temperature, 0 for greedy)."""
        ...


def _check_q(q_values: np.ndarray) -> np.ndarray:
    q = np.asarray(q_values)
    if q.ndim != 2 or q.shape[1] < 1:
        raise ConfigError(f"q_values must have shape (batch, n_actions), got {q.shape}")
    return q


def _check_number(
    name: str, value: Any, low: float, high: float, *, open_low: bool = False
) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = (value > low if open_low else value >= low) and value <= high
    if not ok:
        interval = f"({low}, {high}]" if open_low else f"[{low}, {high}]"
        raise ConfigError(f"{name} must be a number in {interval}, got {value!r}")
    return float(value)


class Greedy:
    """Always the action with the largest Q-value (ties: the first one)."""

    def select(self, q_values: np.ndarray, step: int, rng: np.random.Generator) -> np.ndarray:
        """``argmax`` per row."""
        return _check_q(q_values).argmax(axis=1).astype(np.int64)

    def value(self, step: int) -> float:
        """Always 0."""
        return 0.0

    def __repr__(self) -> str:
        return "Greedy()"


class EpsilonGreedy:
    """A uniformly random action with probability epsilon, else greedy.

    Epsilon goes linearly from ``start`` to ``end`` over the first ``anneal_steps`` env steps
    (summed over vector envs) and stays at ``end`` afterwards; ``anneal_steps=0`` means ``end``
    from the first step.
    """

    def __init__(self, start: float = 1.0, end: float = 0.05, anneal_steps: int = 10_000) -> None:
        self.start = _check_number("start", start, 0.0, 1.0)
        self.end = _check_number("end", end, 0.0, 1.0)
        if isinstance(anneal_steps, bool) or not isinstance(anneal_steps, (int, np.integer)):
            raise ConfigError(f"anneal_steps must be an integer >= 0, got {anneal_steps!r}")
        if anneal_steps < 0:
            raise ConfigError(f"anneal_steps must be an integer >= 0, got {anneal_steps!r}")
        self.anneal_steps = int(anneal_steps)

    def value(self, step: int) -> float:
        """Epsilon at ``step``."""
        if step >= self.anneal_steps:
            return self.end
        return self.start + max(step, 0) / self.anneal_steps * (self.end - self.start)

    def select(self, q_values: np.ndarray, step: int, rng: np.random.Generator) -> np.ndarray:
        """Greedy actions, each replaced by a random one with probability epsilon."""
        q = _check_q(q_values)
        # One draw for both choices (rng.integers costs several times rng.random at this size):
        # row 0 decides whether to explore, row 1 picks the random action uniformly.
        if q.shape[0] == 1:  # one env: the same draws, in plain Python
            explore, pick = rng.random(2)
            if explore < self.value(step):
                return np.array([int(pick * q.shape[1])], dtype=np.int64)
            return np.array([q[0].argmax()], dtype=np.int64)
        u = rng.random((2, q.shape[0]))
        random = (u[1] * q.shape[1]).astype(np.int64)
        return np.where(u[0] < self.value(step), random, q.argmax(axis=1)).astype(np.int64)

    def __repr__(self) -> str:
        return (
            f"EpsilonGreedy(start={self.start}, end={self.end}, anneal_steps={self.anneal_steps})"
        )


class Boltzmann:
    """Sample actions from ``softmax(q / tau)``, keras-rl's ``BoltzmannQPolicy``.

    ``q / tau`` is clipped to ``clip`` before the exponential, as keras-rl does; the max is then
    subtracted (which leaves the probabilities unchanged) so the exponentials never overflow.
    """

    def __init__(self, tau: float = 1.0, clip: tuple[float, float] = (-500.0, 500.0)) -> None:
        self.tau = _check_number("tau", tau, 0.0, float("inf"), open_low=True)
        try:
            low, high = (float(c) for c in clip)
        except (TypeError, ValueError):
            raise ConfigError(
                f"clip must be a pair (low, high) with low < high, got {clip!r}"
            ) from None
        if not low < high:
            raise ConfigError(f"clip must be a pair (low, high) with low < high, got {clip!r}")
        self.clip = (low, high)

    def probabilities(self, q_values: np.ndarray) -> np.ndarray:
        """``(B, A)`` action probabilities."""
        low, high = self.clip
        z = np.clip(_check_q(q_values).astype(np.float64) / self.tau, low, high)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def select(self, q_values: np.ndarray, step: int, rng: np.random.Generator) -> np.ndarray:
        """One draw per row from the softmax (inverse CDF, all rows at once)."""
        p = self.probabilities(q_values)
        cdf = np.cumsum(p, axis=1)
        u = rng.random((p.shape[0], 1)) * cdf[:, -1:]
        return np.minimum((u >= cdf).sum(axis=1), p.shape[1] - 1).astype(np.int64)

    def value(self, step: int) -> float:
        """The temperature ``tau``."""
        return self.tau

    def __repr__(self) -> str:
        return f"Boltzmann(tau={self.tau}, clip={self.clip})"


POLICIES: dict[str, type[Any]] = {
    "eps_greedy": EpsilonGreedy,
    "boltzmann": Boltzmann,
    "greedy": Greedy,
}
"""Exploration policies by name."""


def make_exploration(spec: str | Exploration, **kwargs: Any) -> Exploration:
    """An exploration policy from a name (``"eps_greedy"``, ``"boltzmann"``, ``"greedy"``) and
    its keyword arguments, or an object with ``select``/``value`` returned as is."""
    if not isinstance(spec, str):
        if not isinstance(spec, Exploration):
            raise ConfigError(
                f"policy must be one of {sorted(POLICIES)} or an object with select(q_values, "
                f"step, rng) and value(step) methods, got {spec!r}"
            )
        if kwargs:
            raise ConfigError(
                f"policy options {sorted(kwargs)} cannot be applied to a policy object {spec!r}"
            )
        return spec
    cls = POLICIES.get(spec)
    if cls is None:
        raise ConfigError(f"policy must be one of {sorted(POLICIES)}, got {spec!r}")
    allowed = [p for p in inspect.signature(cls).parameters if p != "self"]
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ConfigError(
            f"unknown option(s) {unknown} for policy {spec!r}; allowed: {allowed or 'none'}"
        )
    policy: Exploration = cls(**kwargs)
    return policy


def is_exploration(value: Any) -> bool:
    """Whether ``value`` is an exploration policy object (``select`` and ``value``)."""
    return isinstance(value, Exploration)


def fraction_of_run(fraction: float, total_steps: int) -> int:
    """Env steps in the first ``fraction`` of a run of ``total_steps`` (at least 1):
    Stable-Baselines3's ``exploration_fraction``, so that exploration lasts as long, relative
    to the run, on a short run as on a long one.

    >>> fraction_of_run(0.25, 20_000), fraction_of_run(0.25, 50_000), fraction_of_run(0.1, 3)
    (5000, 12500, 1)
    """
    _check_number("fraction", fraction, 0.0, 1.0, open_low=True)
    if isinstance(total_steps, bool) or not isinstance(total_steps, (int, np.integer)):
        raise ConfigError(f"total_steps must be an integer >= 1, got {total_steps!r}")
    if total_steps < 1:
        raise ConfigError(f"total_steps must be an integer >= 1, got {total_steps!r}")
    return max(1, round(fraction * int(total_steps)))


def from_options(options: Any, total_steps: int | None = None) -> Exploration:
    """The exploration an agent's options name (a :class:`renshu.DQNConfig` or any object with
    its fields): ``policy`` "eps_greedy" (annealed from ``eps_start`` to ``eps_end`` over
    ``eps_anneal_steps``, or when that is None over the first ``eps_fraction`` of a run of
    ``total_steps``), "boltzmann" (at temperature ``tau``), "greedy", or a policy object as
    it is.

    With ``eps_anneal_steps`` None and no ``total_steps`` (an agent that has not trained yet),
    epsilon is ``eps_end``: only a run's length says how long to explore.
    """
    policy = options.policy
    if policy == "eps_greedy":
        anneal = options.eps_anneal_steps
        if anneal is None:  # a fraction of the run; before any run, eps_end
            fraction = options.eps_fraction
            anneal = 0 if total_steps is None else fraction_of_run(fraction, total_steps)
        return EpsilonGreedy(options.eps_start, options.eps_end, anneal)
    if policy == "boltzmann":
        return Boltzmann(tau=options.tau)
    if policy == "greedy":
        return Greedy()
    return make_exploration(policy)
