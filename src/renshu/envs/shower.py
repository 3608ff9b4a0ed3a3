"""Shower-v0: keep a shower between 37 and 39 degrees for a minute.

The rules live in :class:`ShowerCore`, which advances ``N`` copies at once with array operations.
:class:`ShowerEnv` runs it with ``N = 1`` (the Gymnasium env) and :class:`ShowerVectorEnv` with
``N = num_envs`` (its batched twin, the id's ``vector_entry_point``). :func:`scripted_policy` is
the reference controller.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

from renshu.envs._base import CoreEnv, CoreVectorEnv
from renshu.envs._render import (
    Frame,
    blank,
    check_int,
    check_num_envs,
    check_render_mode,
    draw_text,
    fill_rect,
    text_width,
)

__all__ = ["ShowerCore", "ShowerEnv", "ShowerVectorEnv", "hold_policy", "scripted_policy"]

TARGET = 38
"""The temperature a person wants."""
BAND = (37, 39)
"""Temperatures (inclusive) that earn +1."""
MIN_TEMPERATURE = 0
MAX_TEMPERATURE = 100
EPISODE_STEPS = 60
"""Default episode length in steps (one step a second)."""

_NAME = "Shower"


class ShowerCore:
    """The rules of Shower for ``num_envs`` copies, held in arrays with a leading batch axis.

    Every random number is drawn from the generator passed to :meth:`reset` and :meth:`step`,
    one array of size ``num_envs`` per draw, so one copy driven by ``N = 1`` reproduces the same
    stream as the single env.

    Attributes:
        temperature: ``(N,)`` int64, the current temperature of each copy.
        steps: ``(N,)`` int64, steps taken in the current episode.
        score: ``(N,)`` float64, reward collected in the current episode.
    """

    def __init__(self, num_envs: int, max_episode_steps: int = EPISODE_STEPS) -> None:
        self.num_envs = num_envs
        self.max_episode_steps = max_episode_steps
        self.temperature = np.zeros(num_envs, dtype=np.int64)
        self.steps = np.zeros(num_envs, dtype=np.int64)
        self.score = np.zeros(num_envs, dtype=np.float64)
        self._in_band = np.zeros(num_envs, dtype=np.bool_)

    def reset(self, rng: np.random.Generator, mask: npt.NDArray[np.bool_] | None = None) -> None:
        """Start a new episode in every copy (``mask=None``) or in the copies where ``mask``.

        Draws: one ``integers(-3, 4, size=N)`` for the start temperatures.
        """
        start = TARGET + rng.integers(-3, 4, size=self.num_envs)
        if mask is None:
            self.temperature[:] = start
            self.steps[:] = 0
            self.score[:] = 0.0
        else:
            np.copyto(self.temperature, start, where=mask)
            self.steps[mask] = 0
            self.score[mask] = 0.0

    def step(
        self, actions: npt.NDArray[np.int64], rng: np.random.Generator
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """Advance every copy one step; return ``(reward, terminated, truncated)`` arrays.

        Draws: one ``integers(-1, 2, size=N)`` for the temperature noise.
        """
        temperature = self.temperature
        temperature += actions
        temperature -= 1
        np.greater_equal(temperature, BAND[0], out=self._in_band)
        self._in_band &= temperature <= BAND[1]
        reward = np.where(self._in_band, 1.0, -1.0)
        temperature += rng.integers(-1, 2, size=self.num_envs)
        np.clip(temperature, MIN_TEMPERATURE, MAX_TEMPERATURE, out=temperature)
        self.steps += 1
        self.score += reward
        terminated = np.zeros(self.num_envs, dtype=np.bool_)
        truncated = self.steps >= self.max_episode_steps
        return reward, terminated, truncated

    def observations(self) -> npt.NDArray[np.float32]:
        """A new ``(N, 1)`` float32 array of temperatures."""
        return self.temperature.astype(np.float32).reshape(self.num_envs, 1)

    def info(self) -> dict[str, npt.NDArray[Any]]:
        """The ``info`` of every step: empty."""
        return {}

    # -- pictures of one copy ------------------------------------------------------------------
    def ansi(self, index: int) -> str:
        """A two-line text picture of copy ``index``: numbers, then a gauge from 18 to 58."""
        temperature = int(self.temperature[index])
        low, high = TARGET - 20, TARGET + 20
        cells = []
        for degree in range(low, high + 1):
            if degree == min(max(temperature, low), high):
                cells.append("*")
            elif BAND[0] <= degree <= BAND[1]:
                cells.append("=")
            else:
                cells.append(".")
        header = (
            f"Shower  step {int(self.steps[index])}/{self.max_episode_steps}  "
            f"temp {temperature}C  score {int(self.score[index]):+d}"
        )
        return f"{header}\n{low:>3} [{''.join(cells)}] {high}"

    def rgb(self, index: int) -> Frame:
        """A ``(150, 420, 3)`` picture of copy ``index``: a thermometer scale from 18 to 58."""
        temperature = int(self.temperature[index])
        in_band = BAND[0] <= temperature <= BAND[1]
        width, height = 420, 150
        frame = blank(height, width, (24, 26, 34))
        text = f"TEMP {temperature}C"
        draw_text(frame, text, 10, 10, (240, 240, 240), scale=3)
        score = f"SCORE {int(self.score[index]):+d}"
        draw_text(frame, score, width - 10 - text_width(score, 3), 10, (240, 240, 240), scale=3)
        steps = f"STEP {int(self.steps[index])}/{self.max_episode_steps}"
        draw_text(frame, steps, 10, 36, (150, 150, 160), scale=2)
        # Scale: 10 px per degree from 18 to 58 degrees, at x = 10..410.
        low, per_degree, x_left, top, bottom = TARGET - 20, 10, 10, 62, 104

        def x_of(degree: float) -> int:
            return round(x_left + (degree - low) * per_degree)

        fill_rect(frame, x_left, top, x_left + 400, bottom, (52, 56, 70))
        fill_rect(frame, x_of(BAND[0]), top, x_of(BAND[1] + 1), bottom, (46, 120, 70))
        if temperature < BAND[0]:
            colour: tuple[int, int, int] = (70, 140, 255)
        elif temperature > BAND[1]:
            colour = (255, 90, 60)
        else:
            colour = (120, 255, 140)
        shown = min(max(temperature, low), low + 39)
        fill_rect(frame, x_left, top + 14, x_of(shown + 1), bottom - 14, colour)
        fill_rect(frame, x_of(shown) + 2, top - 4, x_of(shown + 1) - 2, bottom + 4, colour)
        for degree in range(low + 2, low + 40, 10):
            middle = x_of(degree + 0.5)
            fill_rect(frame, middle - 1, bottom, middle + 1, bottom + 6, (150, 150, 160))
            label = str(degree)
            x = middle - text_width(label, 2) // 2
            draw_text(frame, label, x, bottom + 10, (150, 150, 160), scale=2)
        band = "OK" if in_band else ("TOO COLD" if temperature < BAND[0] else "TOO HOT")
        draw_text(frame, band, width - 10 - text_width(band, 2), 36, colour, scale=2)
        return frame


class ShowerEnv(CoreEnv[npt.NDArray[np.float32]]):
    """
    ## Description

    A shower runs for one minute. Each second you may turn it cooler or warmer by one degree, or
    leave it; the water temperature also wanders by up to one degree a second on its own. You are
    rewarded for every second the water is between 37 and 39 degrees. From tutorial 000 (a
    keras-rl first agent), with Gymnasium's API and seeding.

    ## Action Space

    `Discrete(3)`:

    | Num | Action          |
    |-----|-----------------|
    | 0   | cool by 1 degree |
    | 1   | hold            |
    | 2   | warm by 1 degree |

    ## Observation Space

    `Box(0, 100, shape=(1,), dtype=float32)`: the temperature in degrees (always a whole number).
    The time left is not observed.

    ## Rewards

    Each step: the action changes the temperature; then the reward is `+1` if
    `37 <= temperature <= 39`, else `-1`; then noise `U{-1, 0, 1}` is added and the temperature is
    clipped to `[0, 100]`. An episode scores between -60 and +60.

    ## Starting State

    `38 + U{-3, ..., 3}` degrees.

    ## Episode End

    1. Termination: never (`terminated` is always `False`).
    2. Truncation: after `max_episode_steps` steps (60: one minute).

    ## Arguments

    | Parameter           | Type          | Default | Description                                |
    |---------------------|---------------|---------|--------------------------------------------|
    | `render_mode`       | `str \\| None` | `None`  | `"ansi"`, `"rgb_array"` or `"human"`       |
    | `max_episode_steps` | `int`         | `60`    | steps per episode (>= 1)                   |

    `reset(options=...)` ignores `options`. `info` is empty.

    ```python
    >>> import gymnasium, renshu
    >>> env = gymnasium.make("renshu/Shower-v0")
    >>> obs, info = env.reset(seed=0)
    >>> envs = gymnasium.make_vec("renshu/Shower-v0", num_envs=64,
    ...                           vectorization_mode="vector_entry_point")
    >>> type(envs.unwrapped).__name__
    'ShowerVectorEnv'

    ```

    ## Measured Scores

    Episode score, first episode of each of 4096 copies (`benchmarks/env_scores.py`, seed 0):

    | Controller                                      | Score           |
    |-------------------------------------------------|-----------------|
    | random                                          | -34.94 ± 19.34  |
    | always hold (`hold_policy`)                     | -27.84 ± 24.75  |
    | move toward 38 (`scripted_policy`, the optimum) | +59.13 ± 1.66   |

    Moving toward 38 keeps the temperature in the band except after a start at 35 or 41 and
    what the noise then does; it is the practical optimum.

    ## Version History

    * v0: Initial version (tutorial 000's dynamics; clipped to [0, 100]; truncation, not
      termination, at 60 steps).
    """

    metadata: dict[str, Any] = {  # noqa: RUF012 (Gymnasium declares it per instance)
        "render_modes": ["ansi", "rgb_array", "human"],
        "render_fps": 4,
    }

    core: ShowerCore

    def __init__(
        self, render_mode: str | None = None, max_episode_steps: int = EPISODE_STEPS
    ) -> None:
        self.render_mode = check_render_mode(_NAME, render_mode, self.metadata["render_modes"])
        self.max_episode_steps = check_int(_NAME, "max_episode_steps", max_episode_steps, 1)
        super().__init__(
            _NAME,
            ShowerCore(1, self.max_episode_steps),
            spaces.Discrete(3),
            spaces.Box(MIN_TEMPERATURE, MAX_TEMPERATURE, shape=(1,), dtype=np.float32),
        )


class ShowerVectorEnv(CoreVectorEnv[npt.NDArray[np.float32]]):
    """``num_envs`` copies of :class:`ShowerEnv` stepped together with array operations.

    The batched twin of Shower-v0 (its ``vector_entry_point``):
    ``gymnasium.make_vec("renshu/Shower-v0", num_envs=N, vectorization_mode="vector_entry_point")``.
    Same rules and arguments as :class:`ShowerEnv`, plus ``num_envs``. One generator drives all
    copies; with ``num_envs=1`` and the same seed it reproduces the single env step for step.

    Autoreset follows Gymnasium's default, ``AutoresetMode.NEXT_STEP``: the step after a copy's
    episode ended returns its first observation of the next episode, reward 0,
    ``terminated = truncated = False``, and ignores that copy's action. ``info`` is ``{}``;
    ``reset`` ignores ``options``.
    ``render()`` returns a tuple with a picture (``rgb_array``) or text (``ansi``) of each of the
    first ``min(num_envs, render_limit)`` copies (``render_limit = 4``).
    """

    metadata: dict[str, Any] = {  # noqa: RUF012 (Gymnasium declares it per instance)
        "render_modes": ["ansi", "rgb_array"],
        "render_fps": 4,
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }

    core: ShowerCore

    def __init__(
        self,
        num_envs: int = 1,
        render_mode: str | None = None,
        max_episode_steps: int = EPISODE_STEPS,
    ) -> None:
        self.num_envs = check_num_envs(_NAME, num_envs)
        self.render_mode = check_render_mode(_NAME, render_mode, self.metadata["render_modes"])
        self.max_episode_steps = check_int(_NAME, "max_episode_steps", max_episode_steps, 1)
        core = ShowerCore(self.num_envs, self.max_episode_steps)
        super().__init__(
            _NAME,
            core,
            spaces.Discrete(3),
            spaces.Box(MIN_TEMPERATURE, MAX_TEMPERATURE, shape=(1,), dtype=np.float32),
        )


def scripted_policy(
    obs: npt.NDArray[np.floating[Any]], info: dict[str, Any] | None = None
) -> npt.NDArray[np.int64]:
    """Move toward 38 degrees: warm below 38, cool above, hold at 38 (the practical optimum).

    ``obs`` is a batch ``(N, 1)`` (a single observation ``(1,)`` works too and gives a 0-d
    array); ``info`` is not used. Returns int64 actions.
    """
    temperature = np.asarray(obs)[..., 0]
    return (1 + np.sign(TARGET - np.rint(temperature))).astype(np.int64)


def hold_policy(
    obs: npt.NDArray[np.floating[Any]], info: dict[str, Any] | None = None
) -> npt.NDArray[np.int64]:
    """Always hold (action 1): the baseline that leaves the temperature to the noise."""
    return np.ones(np.asarray(obs).shape[:-1], dtype=np.int64)
