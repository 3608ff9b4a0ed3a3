"""Tiny environments for tests: each learns or fails in seconds, so agent tests stay fast.

- :class:`IdentityEnv`: the observation is a one-hot target; reward 1 for the matching action.
- :class:`BitFlipEnv`: flip bits of a vector until it matches a goal; reward -1 per step.
- :class:`ConstantRewardEnv`: reward 1 every step, never terminates, truncated after ``length``
  steps; the value of every state is ``1 / (1 - gamma)`` when truncation is bootstrapped.
- :class:`DictTargetEnv`: a Dict observation (a Box position, a Discrete target cell); walk to
  the target.
- :class:`MemoryEnv`: a cue shown once, then blank steps, then a question: answer with the cue.
  Only an agent with memory beats chance; a window of frames shorter than the delay does not.
- :class:`DelayedChainEnv`: walk a corridor to its far end; the only reward, +1, comes ``delay``
  steps after arriving (a sparse, delayed reward).
- :class:`ScriptedEnv`: a generic env whose ``reset``/``step`` a test replaces with functions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from renshu.errors import ConfigError


class IdentityEnv(gymnasium.Env[np.ndarray, np.int64]):
    """Observe a one-hot target among ``n`` and act it out: reward +1 if ``action == target``.

    Episodes last ``length`` steps (truncation); the target is redrawn after every step. A learned
    greedy policy scores ``length`` per episode; a random one ``length / n`` on average.
    """

    metadata = {"render_modes": []}  # noqa: RUF012

    def __init__(self, n: int = 4, length: int = 10) -> None:
        if n < 2:
            raise ConfigError(f"IdentityEnv n must be an int >= 2, got {n!r}")
        self.n, self.length = n, length
        self.observation_space = spaces.Box(0.0, 1.0, (n,), np.float32)
        self.action_space = spaces.Discrete(n)
        self._target = 0
        self._t = 0

    def _obs(self) -> np.ndarray:
        obs = np.zeros(self.n, np.float32)
        obs[self._target] = 1.0
        return obs

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._t = 0
        self._target = int(self.np_random.integers(self.n))
        return self._obs(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        reward = 1.0 if int(action) == self._target else 0.0
        self._t += 1
        self._target = int(self.np_random.integers(self.n))
        return self._obs(), reward, False, self._t >= self.length, {}


class BitFlipEnv(gymnasium.Env[np.ndarray, np.int64]):
    """Flip one of ``n_bits`` bits per step until the state equals the goal (reward -1 per step).

    Observation: state and goal concatenated (float32, 2 * n_bits). Terminates on success,
    truncated after ``n_bits * 2`` steps.
    """

    metadata = {"render_modes": []}  # noqa: RUF012

    def __init__(self, n_bits: int = 4) -> None:
        self.n_bits = n_bits
        self.observation_space = spaces.Box(0.0, 1.0, (2 * n_bits,), np.float32)
        self.action_space = spaces.Discrete(n_bits)
        self._state = np.zeros(n_bits, np.float32)
        self._goal = np.zeros(n_bits, np.float32)
        self._t = 0

    def _obs(self) -> np.ndarray:
        return np.concatenate([self._state, self._goal])

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._t = 0
        self._state = self.np_random.integers(0, 2, self.n_bits).astype(np.float32)
        self._goal = self.np_random.integers(0, 2, self.n_bits).astype(np.float32)
        return self._obs(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self._state[int(action)] = 1.0 - self._state[int(action)]
        self._t += 1
        success = bool(np.array_equal(self._state, self._goal))
        return self._obs(), 0.0 if success else -1.0, success, self._t >= 2 * self.n_bits, {}


class ConstantRewardEnv(gymnasium.Env[np.ndarray, np.int64]):
    """Reward 1 on every step; never terminates; truncated after ``length`` steps.

    The observation is the constant vector [1.0]. With truncation bootstrapped, Q -> 1/(1-gamma);
    an agent that wrongly treats truncation as termination learns a smaller value.
    """

    metadata = {"render_modes": []}  # noqa: RUF012

    def __init__(self, length: int = 20, n_actions: int = 2) -> None:
        self.length = length
        self.observation_space = spaces.Box(0.0, 1.0, (1,), np.float32)
        self.action_space = spaces.Discrete(n_actions)
        self._t = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._t = 0
        return np.ones(1, np.float32), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self._t += 1
        return np.ones(1, np.float32), 1.0, False, self._t >= self.length, {}


ResetFn = Callable[["ScriptedEnv"], tuple[Any, dict[str, Any]]]
StepFn = Callable[["ScriptedEnv", Any], tuple[Any, Any, Any, Any, dict[str, Any]]]


class DictTargetEnv(gymnasium.Env[dict[str, Any], np.int64]):
    """Walk along ``n`` cells to a target: a Dict observation, "multiple inputs".

    Observation: ``{"position": Box(0, n - 1, (1,)), "target": Discrete(n)}``, the agent's cell
    (as a float) and the target's. Actions: 0 left, 1 stay, 2 right. Reward +1 and the episode
    ends on reaching the target, -0.05 per other step; truncated after ``2 * n`` steps. Start
    and target are drawn apart. An optimal policy scores about ``1 - 0.05 * (n / 3)``; a
    random walk reaches far targets rarely within the limit.
    """

    metadata = {"render_modes": []}  # noqa: RUF012

    def __init__(self, n: int = 7) -> None:
        self.n = n
        self.observation_space = spaces.Dict(
            {
                "position": spaces.Box(0.0, n - 1.0, (1,), np.float32),
                "target": spaces.Discrete(n),
            }
        )
        self.action_space = spaces.Discrete(3)
        self._pos = self._target = self._t = 0

    def _obs(self) -> dict[str, Any]:
        return {"position": np.array([self._pos], np.float32), "target": self._target}

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        self._pos = int(self.np_random.integers(self.n))
        others = [c for c in range(self.n) if c != self._pos]
        self._target = int(others[self.np_random.integers(len(others))])
        self._t = 0
        return self._obs(), {}

    def step(self, action: np.int64) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        self._pos = int(np.clip(self._pos + int(action) - 1, 0, self.n - 1))
        self._t += 1
        reached = self._pos == self._target
        reward = 1.0 if reached else -0.05
        return self._obs(), reward, reached, self._t >= 2 * self.n, {}


class MemoryEnv(gymnasium.Env[np.ndarray, np.int64]):
    """Recall a cue after a delay: reward +1 for answering with the cue shown at the start, else -1.

    Observation: ``Box(0, 1, (n_cues + 1,), float32)``. The first observation is the one-hot cue
    (one of ``n_cues``, drawn uniformly at reset); the next ``delay`` are blank (all zeros); the
    last has only its final entry set: the question, "which cue was it?". Actions:
    ``Discrete(n_cues)``. Actions before the question do nothing and score 0; the action taken on
    the question scores +1 if it equals the cue, else -1, and terminates the episode (its
    ``info`` holds ``"cue"``). An episode is ``delay + 2`` steps.

    A policy that remembers the cue scores +1 an episode; any policy that cannot see it (random,
    or a frame window shorter than ``delay + 2``) scores ``2 / n_cues - 1`` on average (0 for two
    cues), since the question looks the same whatever the cue was.
    """

    metadata = {"render_modes": []}  # noqa: RUF012

    def __init__(self, n_cues: int = 2, delay: int = 10) -> None:
        if not isinstance(n_cues, int) or n_cues < 2:
            raise ConfigError(f"MemoryEnv n_cues must be an int >= 2, got {n_cues!r}")
        if not isinstance(delay, int) or delay < 0:
            raise ConfigError(f"MemoryEnv delay must be an int >= 0, got {delay!r}")
        self.n_cues, self.delay = n_cues, delay
        self.observation_space = spaces.Box(0.0, 1.0, (n_cues + 1,), np.float32)
        self.action_space = spaces.Discrete(n_cues)
        self._cue = 0
        self._t = 0

    def _obs(self) -> np.ndarray:
        obs = np.zeros(self.n_cues + 1, np.float32)
        if self._t == 0:
            obs[self._cue] = 1.0
        elif self._t == self.delay + 1:
            obs[-1] = 1.0
        return obs

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._t = 0
        self._cue = int(self.np_random.integers(self.n_cues))
        return self._obs(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self._t += 1
        if self._t <= self.delay + 1:  # the blanks, then the question: no answer yet
            return self._obs(), 0.0, False, False, {}
        reward = 1.0 if int(action) == self._cue else -1.0
        return self._obs(), reward, True, False, {"cue": self._cue}


class DelayedChainEnv(gymnasium.Env[np.ndarray, np.int64]):
    """A corridor of ``length`` cells whose only reward comes ``delay`` steps after reaching its
    far end: a sparse, delayed reward.

    - Observation: ``[cell, waited]`` as float32, ``Box([0, 0], [length - 1, delay])``: the
      agent's cell and the steps it has waited at the far end (0 before it gets there).
    - Actions: ``Discrete(3)``: 0 left, 1 stay, 2 right (walls at both ends).
    - Start: cell 0.
    - Reward: 0 on every step except one: on entering the last cell the agent is held there
      (actions do nothing) for ``delay`` steps, and the last of them pays +1 and terminates.
    - Truncation: after ``max_steps`` steps (default ``2 * (length - 1 + delay)``).

    The optimum is +1 in ``length - 1 + delay`` steps; a random walk from cell 0 rarely gets to
    the far end in time (2.8% of 4,000 episodes with the defaults), so an agent that stops
    exploring early sees no reward at all.
    """

    metadata = {"render_modes": []}  # noqa: RUF012

    def __init__(self, length: int = 12, delay: int = 10, max_steps: int | None = None) -> None:
        if isinstance(length, bool) or not isinstance(length, int) or length < 2:
            raise ConfigError(f"DelayedChainEnv length must be an int >= 2, got {length!r}")
        if isinstance(delay, bool) or not isinstance(delay, int) or delay < 1:
            raise ConfigError(f"DelayedChainEnv delay must be an int >= 1, got {delay!r}")
        shortest = length - 1 + delay
        if max_steps is None:
            max_steps = 2 * shortest
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < shortest:
            raise ConfigError(
                f"DelayedChainEnv max_steps must be an int >= length - 1 + delay = {shortest} "
                f"(else the reward cannot be reached), got {max_steps!r}"
            )
        self.length, self.delay, self.max_steps = length, delay, max_steps
        self.observation_space = spaces.Box(
            np.zeros(2, np.float32), np.array([length - 1, delay], np.float32), dtype=np.float32
        )
        self.action_space = spaces.Discrete(3)
        self._cell = self._waited = self._t = 0

    def _obs(self) -> np.ndarray:
        return np.array([self._cell, self._waited], np.float32)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._cell = self._waited = self._t = 0
        return self._obs(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self._t += 1
        if self._cell == self.length - 1:  # held at the far end: count the delay down
            self._waited += 1
        else:
            self._cell = int(np.clip(self._cell + int(action) - 1, 0, self.length - 1))
        arrived = self._waited >= self.delay
        reward = 1.0 if arrived else 0.0
        return self._obs(), reward, arrived, not arrived and self._t >= self.max_steps, {}


class ScriptedEnv(gymnasium.Env[Any, Any]):
    """A generic env whose behaviour a test supplies: ``ScriptedEnv(reset_fn, step_fn, ...)``.

    ``reset_fn(env)`` and ``step_fn(env, action)`` return exactly what ``reset``/``step`` should,
    so a test can build a broken env (wrong dtype, NaN reward, ...) in one line.
    """

    metadata = {"render_modes": []}  # noqa: RUF012

    def __init__(
        self,
        reset_fn: ResetFn,
        step_fn: StepFn,
        observation_space: spaces.Space[Any] | None = None,
        action_space: spaces.Space[Any] | None = None,
    ) -> None:
        self.reset_fn, self.step_fn = reset_fn, step_fn
        self.observation_space = observation_space or spaces.Box(0.0, 1.0, (1,), np.float32)
        self.action_space = action_space or spaces.Discrete(2)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        return self.reset_fn(self)

    def step(self, action: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        return self.step_fn(self, action)
