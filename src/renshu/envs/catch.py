"""Catch-v0: catch falling balls with a bar on the bottom row of a small grid.

The rules live in :class:`CatchCore`, which advances ``N`` copies at once with array operations.
:class:`CatchEnv` runs it with ``N = 1`` (the Gymnasium env) and :class:`CatchVectorEnv` with
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

__all__ = ["CatchCore", "CatchEnv", "CatchVectorEnv", "scripted_policy"]

BAR_WIDTH = 3
"""Cells covered by the bar."""
EPISODE_STEPS = 200
"""Default truncation length in frames."""
MIN_SIZE = 5
ON = 255
"""Observation value of a ball or a bar cell (everything else is 0)."""

_NAME = "Catch"
_MOVES = np.array([0, -1, 1], dtype=np.int64)  # action -> change of the bar's left column


class CatchCore:
    """The rules of Catch for ``num_envs`` copies, held in arrays with a leading batch axis.

    Every random number is drawn from the generator passed to :meth:`reset` and :meth:`step`,
    one array of size ``num_envs`` per draw, so ``N = 1`` reproduces the single env's stream.

    Attributes:
        bar: ``(N,)`` int64, the left column of the bar (it covers ``bar .. bar + 2``).
        balls: ``(N, size)`` int64, ``balls[n, row]`` is the column of the ball in that row, or
            -1 where the row has none (at most one ball per row: they appear every
            ``ball_interval`` frames and fall one row a frame).
        steps: ``(N,)`` int64, frames since the episode began.
        score: ``(N,)`` float64, reward collected in the current episode.
    """

    def __init__(
        self,
        num_envs: int,
        size: int = 8,
        ball_interval: int = 4,
        max_episode_steps: int = EPISODE_STEPS,
    ) -> None:
        self.num_envs = num_envs
        self.size = size
        self.ball_interval = ball_interval
        self.max_episode_steps = max_episode_steps
        self.bar = np.zeros(num_envs, dtype=np.int64)
        self.balls = np.full((num_envs, size), -1, dtype=np.int64)
        self.steps = np.zeros(num_envs, dtype=np.int64)
        self.score = np.zeros(num_envs, dtype=np.float64)
        self._columns = np.arange(size, dtype=np.int64)
        self._grid = np.zeros((num_envs, size, size), dtype=np.bool_)
        self._offset = np.zeros(num_envs, dtype=np.int64)

    @property
    def start_bar(self) -> int:
        """The bar's left column at the start of an episode: the middle of the bottom row."""
        return (self.size - BAR_WIDTH) // 2

    def reset(self, rng: np.random.Generator, mask: npt.NDArray[np.bool_] | None = None) -> None:
        """Start a new episode in every copy (``mask=None``) or in the copies where ``mask``.

        Draws: one ``integers(0, size, size=N)`` for the first ball's column.
        """
        first = rng.integers(0, self.size, size=self.num_envs)
        if mask is None:
            self.bar[:] = self.start_bar
            self.balls[:] = -1
            self.balls[:, 0] = first
            self.steps[:] = 0
            self.score[:] = 0.0
        else:
            index = np.flatnonzero(mask)
            self.bar[index] = self.start_bar
            self.balls[index] = -1
            self.balls[index, 0] = first[index]
            self.steps[index] = 0
            self.score[index] = 0.0

    def step(
        self, actions: npt.NDArray[np.int64], rng: np.random.Generator
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """Advance every copy one frame; return ``(reward, terminated, truncated)`` arrays.

        Order within a frame: the bar moves; every ball falls one row; a new ball appears in
        the top row when ``steps`` is a multiple of ``ball_interval``; a ball in the bottom row
        scores +1 if under the bar, else -1 and ends the episode.

        Draws: one ``integers(0, size, size=N)`` on frames where some copy spawns a ball.
        """
        size = self.size
        self.bar += _MOVES[actions]
        np.clip(self.bar, 0, size - BAR_WIDTH, out=self.bar)
        self.balls[:, 1:] = self.balls[:, :-1].copy()
        self.steps += 1
        spawn = self.steps % self.ball_interval == 0
        if spawn.any():
            columns = rng.integers(0, size, size=self.num_envs)
            self.balls[:, 0] = np.where(spawn, columns, -1)
        else:
            self.balls[:, 0] = -1
        landed = self.balls[:, size - 1]
        has_ball = landed >= 0
        np.subtract(landed, self.bar, out=self._offset)
        # A ball is caught when 0 <= landed - bar < BAR_WIDTH (-1 for no ball is never caught).
        caught = has_ball & (self._offset.astype(np.uint64) < BAR_WIDTH)
        terminated = has_ball & ~caught
        reward = caught.astype(np.float64)
        reward -= terminated
        truncated = self.steps >= self.max_episode_steps
        truncated &= ~terminated
        self.score += reward
        return reward, terminated, truncated

    def observations(self) -> npt.NDArray[np.uint8]:
        """A new ``(N, size, size)`` uint8 array: 255 where a ball or the bar is, 0 elsewhere."""
        grid = self._grid
        np.equal(self.balls[:, :, None], self._columns, out=grid)
        offset = self._columns - self.bar[:, None]
        grid[:, -1, :] |= offset.astype(np.uint64) < BAR_WIDTH
        return grid.view(np.uint8) * np.uint8(ON)

    def info(self) -> dict[str, npt.NDArray[Any]]:
        """The ``info`` of every step: empty."""
        return {}

    # -- pictures of one copy ------------------------------------------------------------------
    def ansi(self, index: int) -> str:
        """A text picture of copy ``index``: ``o`` ball, ``=`` bar, ``.`` empty."""
        size = self.size
        rows = [["."] * size for _ in range(size)]
        bar = int(self.bar[index])
        for column in range(bar, bar + BAR_WIDTH):
            rows[size - 1][column] = "="
        for row in range(size):
            column = int(self.balls[index, row])
            if column >= 0 and not (row == size - 1 and bar <= column < bar + BAR_WIDTH):
                rows[row][column] = "o"
        header = (
            f"Catch  step {int(self.steps[index])}/{self.max_episode_steps}  "
            f"score {int(self.score[index]):+d}"
        )
        return "\n".join([header, *("".join(row) for row in rows)])

    def rgb(self, index: int) -> Frame:
        """A picture of copy ``index``: about 192 px square plus a score line, uint8 RGB."""
        size = self.size
        cell = max(4, 192 // size)
        header = 28
        side = size * cell
        width = max(side, 160)
        frame = blank(header + side, width, (18, 20, 30))
        x0 = (width - side) // 2
        fill_rect(frame, x0, header, x0 + side, header + side, (30, 34, 50))
        for k in range(size + 1):  # faint grid lines
            fill_rect(frame, x0 + k * cell, header, x0 + k * cell + 1, header + side, (44, 50, 72))
            fill_rect(frame, x0, header + k * cell, x0 + side, header + k * cell + 1, (44, 50, 72))
        bar = int(self.bar[index])
        y_bar = header + (size - 1) * cell
        inset = max(1, cell // 8)
        fill_rect(
            frame,
            x0 + bar * cell + inset,
            y_bar + inset,
            x0 + (bar + BAR_WIDTH) * cell - inset,
            y_bar + cell - inset,
            (80, 200, 240),
        )
        radius = (cell - 2 * inset) / 2
        yy, xx = np.mgrid[0:cell, 0:cell] + 0.5
        disc = (yy - cell / 2) ** 2 + (xx - cell / 2) ** 2 <= radius**2
        for row in range(size):
            column = int(self.balls[index, row])
            if column < 0:
                continue
            missed = row == size - 1 and not bar <= column < bar + BAR_WIDTH
            caught = row == size - 1 and not missed
            colour = (255, 70, 70) if missed else (255, 255, 255) if caught else (255, 200, 60)
            top, left = header + row * cell, x0 + column * cell
            frame[top : top + cell, left : left + cell][disc] = colour
        score = f"SCORE {int(self.score[index]):+d}"
        draw_text(frame, score, 6, 7, (240, 240, 240), scale=3)
        steps = f"{int(self.steps[index])}/{self.max_episode_steps}"
        draw_text(frame, steps, width - 6 - text_width(steps, 2), 10, (150, 150, 160), scale=2)
        return frame


def _check_args(
    size: object, ball_interval: object, max_episode_steps: object
) -> tuple[int, int, int]:
    size = check_int(_NAME, "size", size, MIN_SIZE)
    if ball_interval is None:
        interval = size // 2
    else:
        interval = check_int(_NAME, "ball_interval", ball_interval, 1, or_none=True)
    steps = check_int(_NAME, "max_episode_steps", max_episode_steps, 1)
    return size, interval, steps


class CatchEnv(CoreEnv[npt.NDArray[np.uint8]]):
    """
    ## Description

    Balls fall down a `size` x `size` grid, one row a frame; a new one appears in a random column
    of the top row every `ball_interval` frames. Move the bar (3 cells wide, on the bottom row)
    to catch them. One miss ends the game. From tutorial 001 (catch-ball, 8x8 and 16x16).

    ## Action Space

    `Discrete(3)`: `0` stay, `1` move left, `2` move right (one cell; the bar stops at the walls).

    ## Observation Space

    `Box(0, 255, shape=(size, size), dtype=uint8)`, row 0 at the top: `255` where a ball or a
    bar cell is, `0` elsewhere. A ball that reaches the bottom row is shown there for that one
    frame (over the bar when caught, beside it when missed).

    ## Rewards

    When a ball reaches the bottom row: `+1` if it is under the bar, else `-1`. Otherwise `0`.
    With the defaults a ball lands on frames 7, 11, 15, ... (size 8) or 15, 23, 31, ...
    (size 16), so catching every ball scores 49 (size 8) or 24 (size 16).

    ## Starting State

    The bar in the middle of the bottom row (left column `(size - 3) // 2`), one ball in a random
    column of the top row.

    ## Episode End

    1. Termination: a ball reaches the bottom row outside the bar.
    2. Truncation: after `max_episode_steps` frames (200).

    ## Arguments

    | Parameter           | Type          | Default | Description                              |
    |---------------------|---------------|---------|------------------------------------------|
    | `size`              | `int`         | `8`     | grid side, >= 5 (`catch16`: `size=16`)   |
    | `ball_interval`     | `int \\| None` | `None`  | frames between balls, >= 1; `None`: half |
    |                     |               |         | the size (4 for size 8, 8 for size 16)   |
    | `max_episode_steps` | `int`         | `200`   | truncation length, >= 1                  |
    | `render_mode`       | `str \\| None` | `None`  | `"ansi"`, `"rgb_array"` or `"human"`     |

    `reset(options=...)` ignores `options`. `info` is empty.

    ```python
    >>> import gymnasium, renshu
    >>> env = gymnasium.make("renshu/Catch-v0", size=16)
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, obs.dtype
    ((16, 16), dtype('uint8'))

    ```

    ## Measured Scores

    Episode score, first episode of each of 4096 copies (`benchmarks/env_scores.py`, seed 0):

    | Controller        | size 8          | size 16         |
    |-------------------|-----------------|-----------------|
    | random            | -0.40 ± 0.97    | -0.78 ± 0.52    |
    | `scripted_policy` | +25.80 ± 17.60  | +7.65 ± 7.13    |
    | catch every ball  | 49              | 24              |

    Two balls can land too far apart for the bar to reach both (size 8: columns 7 apart, about
    3% of balls; size 16: 11 or more apart, about 12%), so every controller loses some games
    early; the scripted one catches every ball that it can still reach. It reaches the 200-frame
    cap in 25% (size 8) and 7% (size 16) of the episodes.

    ## Version History

    * v0: Initial version (tutorial 001's rules; one ball at reset; bar starts in the middle).
    """

    metadata: dict[str, Any] = {  # noqa: RUF012 (Gymnasium declares it per instance)
        "render_modes": ["ansi", "rgb_array", "human"],
        "render_fps": 8,
    }

    core: CatchCore

    def __init__(
        self,
        render_mode: str | None = None,
        size: int = 8,
        ball_interval: int | None = None,
        max_episode_steps: int = EPISODE_STEPS,
    ) -> None:
        self.render_mode = check_render_mode(_NAME, render_mode, self.metadata["render_modes"])
        self.size, self.ball_interval, self.max_episode_steps = _check_args(
            size, ball_interval, max_episode_steps
        )
        core = CatchCore(1, self.size, self.ball_interval, self.max_episode_steps)
        super().__init__(
            _NAME,
            core,
            spaces.Discrete(3),
            spaces.Box(0, ON, shape=(self.size, self.size), dtype=np.uint8),
        )


class CatchVectorEnv(CoreVectorEnv[npt.NDArray[np.uint8]]):
    """``num_envs`` copies of :class:`CatchEnv` stepped together with array operations.

    The batched twin of Catch-v0 (its ``vector_entry_point``):
    ``gymnasium.make_vec("renshu/Catch-v0", num_envs=N, vectorization_mode="vector_entry_point",
    size=16)``. Same rules and arguments as :class:`CatchEnv`, plus ``num_envs``. One generator
    drives all copies; with ``num_envs=1`` and the same seed it reproduces the single env.

    Autoreset follows Gymnasium's default, ``AutoresetMode.NEXT_STEP``: the step after a copy's
    episode ended returns its first observation of the next episode, reward 0,
    ``terminated = truncated = False``, and ignores that copy's action. ``info`` is ``{}``;
    ``reset`` ignores ``options``.
    ``render()`` returns a tuple with a picture (``rgb_array``) or text (``ansi``) of each of the
    first ``min(num_envs, render_limit)`` copies (``render_limit = 4``).
    """

    metadata: dict[str, Any] = {  # noqa: RUF012 (Gymnasium declares it per instance)
        "render_modes": ["ansi", "rgb_array"],
        "render_fps": 8,
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }

    core: CatchCore

    def __init__(
        self,
        num_envs: int = 1,
        render_mode: str | None = None,
        size: int = 8,
        ball_interval: int | None = None,
        max_episode_steps: int = EPISODE_STEPS,
    ) -> None:
        self.num_envs = check_num_envs(_NAME, num_envs)
        self.render_mode = check_render_mode(_NAME, render_mode, self.metadata["render_modes"])
        self.size, self.ball_interval, self.max_episode_steps = _check_args(
            size, ball_interval, max_episode_steps
        )
        core = CatchCore(self.num_envs, self.size, self.ball_interval, self.max_episode_steps)
        super().__init__(
            _NAME,
            core,
            spaces.Discrete(3),
            spaces.Box(0, ON, shape=(self.size, self.size), dtype=np.uint8),
        )


def scripted_policy(
    obs: npt.NDArray[np.uint8], info: dict[str, Any] | None = None
) -> npt.NDArray[np.int64]:
    """Catch the lowest ball; while doing so, lean toward the next one.

    Reads only the picture: ``obs`` is a batch ``(N, size, size)`` (a single ``(size, size)``
    observation works too and gives a 0-d array); ``info`` is not used. The bar's left column is
    the leftmost lit cell of the bottom row. Among the bar positions that still catch the lowest
    ball, it heads for the one nearest under the next ball, as long as the lowest ball can still
    be reached in time. Returns int64 actions.
    """
    pictures = np.asarray(obs)
    single = pictures.ndim == 2
    if single:
        pictures = pictures[None]
    count, size = pictures.shape[0], pictures.shape[1]
    lit = pictures > 0
    bar = lit[:, size - 1, :].argmax(axis=1)
    field = lit[:, : size - 1, :]
    has = field.any(axis=2)  # (N, size - 1): a ball in that row
    column = field.argmax(axis=2)  # its column
    rows = np.arange(size - 1)
    lowest = np.where(has, rows, -1).max(axis=1)
    which = np.arange(count)
    first = column[which, np.maximum(lowest, 0)]
    second_row = np.where(has & (rows != lowest[:, None]), rows, -1).max(axis=1)
    second = column[which, np.maximum(second_row, 0)]
    # Bar positions (left column) that catch the lowest ball.
    low = np.clip(first - (BAR_WIDTH - 1), 0, size - BAR_WIDTH)
    high = np.clip(first, 0, size - BAR_WIDTH)
    wanted = np.where(second_row >= 0, second, first) - BAR_WIDTH // 2
    target = np.clip(wanted, low, high)
    moves_left = size - 1 - lowest  # the bar moves once before each fall
    target = np.where(np.abs(target - bar) <= moves_left, target, np.clip(bar, low, high))
    target = np.where(lowest >= 0, target, bar)
    action = np.where(target < bar, 1, np.where(target > bar, 2, 0)).astype(np.int64)
    return action[0, ...] if single else action
