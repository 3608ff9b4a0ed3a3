"""The plumbing shared by the built-in environments, driven by a batched rules core.

Each env module holds its rules in a core (:class:`Core`: ``N`` copies in arrays) and two thin
classes on top of the ones here: a :class:`CoreEnv` that runs the core with ``N = 1`` (the
Gymnasium env) and a :class:`CoreVectorEnv` that runs it with ``N = num_envs`` (the batched
twin, with Gymnasium's ``NEXT_STEP`` autoreset). A subclass checks its arguments, sets
``render_mode`` (and ``num_envs`` for the twin), and hands its name, core and single-copy spaces
to ``super().__init__``.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

import gymnasium
import numpy as np
import numpy.typing as npt
from gymnasium import spaces
from gymnasium.error import ResetNeeded
from gymnasium.vector import VectorEnv
from gymnasium.vector.utils import batch_space

from renshu.envs._render import (
    Frame,
    HumanWindow,
    check_action,
    check_actions,
    import_pygame,
)

__all__ = ["Core", "CoreEnv", "CoreVectorEnv"]

ObsT = TypeVar("ObsT", bound="npt.NDArray[Any]")
ObsT_co = TypeVar("ObsT_co", bound="npt.NDArray[Any]", covariant=True)


class Core(Protocol[ObsT_co]):
    """The rules of an env for ``N`` copies, held in arrays with a leading batch axis.

    Every random number comes from the generator passed to :meth:`reset` and :meth:`step`, so a
    core with ``N = 1`` reproduces the single env's stream.
    """

    def reset(self, rng: np.random.Generator, mask: npt.NDArray[np.bool_] | None = None) -> None:
        """Start a new episode in every copy (``mask=None``) or in the copies where ``mask``."""
        ...

    def step(
        self, actions: npt.NDArray[np.int64], rng: np.random.Generator
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """Advance every copy one step; return ``(reward, terminated, truncated)`` arrays."""
        ...

    def observations(self) -> ObsT_co:
        """A new array of observations with a leading ``(N,)`` axis."""
        ...

    def info(self) -> dict[str, npt.NDArray[Any]]:
        """The vector env's ``info``: ``(N,)`` arrays (with Gymnasium's ``_key`` masks)."""
        ...

    def ansi(self, index: int) -> str:
        """A text picture of copy ``index``."""
        ...

    def rgb(self, index: int) -> Frame:
        """An RGB picture of copy ``index``, ``(height, width, 3)`` uint8."""
        ...


def _first(info: dict[str, npt.NDArray[Any]]) -> dict[str, Any]:
    """The single env's ``info`` from the core's: copy 0 of each array as a Python scalar."""
    if not info:
        return {}
    return {key: value[0].item() for key, value in info.items() if not key.startswith("_")}


class CoreEnv(gymnasium.Env[ObsT, np.int64]):
    """A Gymnasium env that runs one copy of a :class:`Core`.

    ``name`` (like ``"Shower"``) starts every message; the env's id is ``renshu/<name>-v0``.
    After an episode ends, :meth:`step` stays ended until :meth:`reset`: it returns the last
    observation, reward 0 and the same ``terminated``/``truncated`` flags (like Gymnasium's own
    envs, whose ``step`` past the end does not start a new episode).
    """

    core: Core[ObsT]

    def __init__(
        self,
        name: str,
        core: Core[ObsT],
        action_space: spaces.Discrete,
        observation_space: spaces.Space[Any],
    ) -> None:
        self.action_space = action_space
        self.observation_space = observation_space
        self.core = core
        self._name = name
        self._n_actions = int(action_space.n)
        self._action = np.zeros(1, dtype=np.int64)
        self._started = False
        self._ended: tuple[bool, bool] | None = None
        self._window: HumanWindow | None = None
        if self.render_mode == "human":
            import_pygame()
            self._window = HumanWindow(f"renshu {name}-v0", self.metadata["render_fps"])

    def _info(self) -> dict[str, Any]:
        """The ``info`` of copy 0 (a subclass may override this with a faster equivalent)."""
        return _first(self.core.info())

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[ObsT, dict[str, Any]]:
        """Start an episode; ``seed`` reseeds ``self.np_random``, ``options`` is ignored."""
        super().reset(seed=seed)
        self.core.reset(self.np_random)
        self._started = True
        self._ended = None
        if self.render_mode == "human":
            self.render()
        return self.core.observations()[0], self._info()

    def step(self, action: Any) -> tuple[ObsT, float, bool, bool, dict[str, Any]]:
        """Take ``action`` for one step (the class docstring's Action Space says what it does)."""
        if not self._started:
            raise ResetNeeded(f"{self._name}: call reset() before step()")
        self._action[0] = check_action(self._name, action, self._n_actions)
        if self._ended is not None:  # past the end: stay ended, like Gymnasium's own envs
            return self.core.observations()[0], 0.0, *self._ended, self._info()
        reward, terminated, truncated = self.core.step(self._action, self.np_random)
        ended = (bool(terminated[0]), bool(truncated[0]))
        if ended[0] or ended[1]:
            self._ended = ended
        if self.render_mode == "human":
            self.render()
        return self.core.observations()[0], float(reward[0]), *ended, self._info()

    def render(self) -> str | Frame | None:
        """``ansi``: text; ``rgb_array``: the core's RGB picture; ``human``: a window."""
        if self.render_mode is None or not self._started:
            if self.render_mode is None:
                gymnasium.logger.warn(
                    f"{self._name}: render() needs a render_mode, e.g. "
                    f'gymnasium.make("renshu/{self._name}-v0", render_mode="rgb_array")'
                )
            return None
        if self.render_mode == "ansi":
            return self.core.ansi(0)
        frame = self.core.rgb(0)
        if self.render_mode == "human":
            assert self._window is not None
            self._window.show(frame)
            return None
        return frame

    def close(self) -> None:
        """Close the window of ``render_mode="human"`` if one is open."""
        if self._window is not None:
            self._window.close()


class CoreVectorEnv(VectorEnv[ObsT, npt.NDArray[np.int64], npt.NDArray[Any]]):
    """``num_envs`` copies of a :class:`Core` stepped together, with ``NEXT_STEP`` autoreset.

    The step after a copy's episode ended returns its first observation of the next episode,
    reward 0, ``terminated = truncated = False``, and ignores that copy's action. ``render()``
    returns a tuple with a picture or text of each of the first ``min(num_envs, render_limit)``
    copies. The subclass sets ``num_envs`` and ``render_mode`` before ``super().__init__``.
    """

    core: Core[ObsT]
    render_limit = 4

    def __init__(
        self,
        name: str,
        core: Core[ObsT],
        single_action_space: spaces.Discrete,
        single_observation_space: spaces.Space[Any],
    ) -> None:
        self.single_action_space = single_action_space
        self.single_observation_space = single_observation_space
        self.action_space = batch_space(single_action_space, self.num_envs)
        self.observation_space = batch_space(single_observation_space, self.num_envs)
        self.core = core
        self._name = name
        self._n_actions = int(single_action_space.n)
        self._autoreset = np.zeros(self.num_envs, dtype=np.bool_)
        self._started = False

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[ObsT, dict[str, Any]]:
        """Start an episode in every copy; ``seed`` (an int) reseeds the one generator."""
        super().reset(seed=seed)
        self.core.reset(self.np_random)
        self._autoreset[:] = False
        self._started = True
        return self.core.observations(), self.core.info()

    def step(
        self, actions: Any
    ) -> tuple[
        ObsT,
        npt.NDArray[np.float64],
        npt.NDArray[np.bool_],
        npt.NDArray[np.bool_],
        dict[str, Any],
    ]:
        """Step every copy; copies whose episode ended last step start a new one instead."""
        if not self._started:
            raise ResetNeeded(f"{self._name}: call reset() before step()")
        actions = check_actions(self._name, actions, self.num_envs, self._n_actions)
        done = self._autoreset
        if not done.any():
            reward, terminated, truncated = self.core.step(actions, self.np_random)
        else:
            if done.all():  # every copy starts over: no step, nothing drawn for one
                reward = np.zeros(self.num_envs, dtype=np.float64)
                terminated = np.zeros(self.num_envs, dtype=np.bool_)
                truncated = np.zeros(self.num_envs, dtype=np.bool_)
            else:  # step all copies, then overwrite the ones that start over
                reward, terminated, truncated = self.core.step(actions, self.np_random)
                reward[done] = 0.0
                terminated[done] = False
                truncated[done] = False
            self.core.reset(self.np_random, done)
        self._autoreset = terminated | truncated
        return self.core.observations(), reward, terminated, truncated, self.core.info()

    def render(self) -> tuple[Any, ...] | None:
        """Pictures (or text) of the first ``min(num_envs, render_limit)`` copies."""
        if self.render_mode is None or not self._started:
            return None
        count = min(self.num_envs, self.render_limit)
        if self.render_mode == "ansi":
            return tuple(self.core.ansi(i) for i in range(count))
        return tuple(self.core.rgb(i) for i in range(count))
