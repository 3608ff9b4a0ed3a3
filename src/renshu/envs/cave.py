"""Cave-v0: fly through a scrolling cave, dodging its walls and the blocks inside it.

The rules live in :class:`CaveCore`, which advances ``N`` copies at once with array operations.
:class:`CaveEnv` runs it with ``N = 1`` (the Gymnasium env) and :class:`CaveVectorEnv` with
``N = num_envs`` (its batched twin, the id's ``vector_entry_point``). :func:`scripted_policy` (a
look-ahead planner) and :func:`gap_centre_policy` (a baseline that ignores blocks) are the
reference controllers.
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
    scale_up,
    text_width,
)

__all__ = ["CaveCore", "CaveEnv", "CaveVectorEnv", "gap_centre_policy", "scripted_policy"]

# -- the game's constants ----------------------------------------------------------------------
HEIGHT = 48
WIDTH = 48
PLAYER_X = 8
"""Left column of the player (fixed)."""
PLAYER_SIZE = 2
"""The player is a PLAYER_SIZE x PLAYER_SIZE square; ``player_y`` is its top row."""
MAX_SPEED = 2
"""Vertical speed is clipped to [-MAX_SPEED, MAX_SPEED] pixels a frame (negative = up)."""
GAP_START = 34
"""Height of the gap between the walls at the start."""
GAP_MIN = 16
"""The gap narrows by one pixel every NARROW_EVERY frames down to GAP_MIN."""
NARROW_EVERY = 32
WALL_MIN = 2
"""Walls are at least this thick."""
TURN_PROBABILITY = 0.12
"""Chance per frame that the gap's slope (-1, 0 or +1 pixels a column) is drawn anew."""
BLOCK_WIDTH = 4
BLOCK_HEIGHT = 6
BLOCK_SPACING = (14, 30)
"""Columns from the start of one block to the start of the next: uniform in [low, high]."""
BLOCK_SPREAD = 0.6
"""A block's centre lies within +-BLOCK_SPREAD * (gap - BLOCK_HEIGHT) / 2 of the gap's centre."""
EPISODE_STEPS = 2000
"""Default truncation length in frames."""

EMPTY = 0
WALL = 100
BLOCK = 180
PLAYER = 255
"""Observation values: empty 0, wall 100, block 180, player 255."""

NO_CRASH = 0
CRASH_WALL = 1
CRASH_BLOCK = 2
"""Codes of ``CaveCore.crash_cause``; ``info["crash"]`` names them ``"wall"`` and ``"block"``."""
_CRASH_NAMES = np.array([None, "wall", "block"], dtype=object)

_NAME = "Cave"
_PALETTE = np.zeros(256, dtype=np.uint8)
_CODE = {EMPTY: 0, WALL: 1, BLOCK: 2, PLAYER: 3}
for _value, _code in _CODE.items():
    _PALETTE[_value] = _code
_COLOURS = np.array(
    [(14, 18, 36), (128, 96, 62), (214, 64, 64), (255, 222, 70), (255, 255, 255)], dtype=np.uint8
)


class CaveCore:
    """The rules of Cave for ``num_envs`` copies, held in arrays with a leading batch axis.

    The background (walls and blocks) of each copy is a ring of ``2 * WIDTH`` columns: every frame
    one new column is generated and written twice (at ``head`` and ``head + WIDTH``), so the
    visible window is always the contiguous slice ``head + 1 : head + 1 + WIDTH``.

    Every random number is drawn from the generator passed to :meth:`reset` and :meth:`step`:
    one ``random((4, N))`` per frame and one ``random((2, N))`` per reset, so ``N = 1``
    reproduces the single env's stream.

    Attributes:
        y: ``(N,)`` int64, the player's top row.
        speed: ``(N,)`` int64, the player's vertical speed in pixels a frame (negative = up).
        steps: ``(N,)`` int64, frames since the episode began (= distance travelled).
        score: ``(N,)`` float64, reward collected in the current episode.
        crashed: ``(N,)`` bool, whether the last frame ended in a crash.
        crash_cause: ``(N,)`` uint8, what the last frame's crash hit: ``CRASH_WALL`` (a wall,
            or the edge of the screen), ``CRASH_BLOCK`` (a block) or ``NO_CRASH``.
    """

    def __init__(self, num_envs: int, max_episode_steps: int = EPISODE_STEPS) -> None:
        self.num_envs = num_envs
        self.max_episode_steps = max_episode_steps
        n = num_envs
        self.background = np.zeros((n, HEIGHT, 2 * WIDTH), dtype=np.uint8)
        self.head = WIDTH - 1
        self.y = np.zeros(n, dtype=np.int64)
        self.speed = np.zeros(n, dtype=np.int64)
        self.steps = np.zeros(n, dtype=np.int64)
        self.score = np.zeros(n, dtype=np.float64)
        self.crashed = np.zeros(n, dtype=np.bool_)
        self.crash_cause = np.zeros(n, dtype=np.uint8)
        # The cave generator: gap centre and slope, blocks.
        self.centre = np.zeros(n, dtype=np.int64)
        self.slope = np.zeros(n, dtype=np.int64)
        self.block_timer = np.zeros(n, dtype=np.int64)
        self.block_left = np.zeros(n, dtype=np.int64)
        self.block_top = np.zeros(n, dtype=np.int64)
        self._rows = np.arange(HEIGHT, dtype=np.int64)
        self._index = np.arange(n)
        self._offsets = np.arange(PLAYER_SIZE, dtype=np.int64)

    # -- episode start ---------------------------------------------------------------------------
    def reset(self, rng: np.random.Generator, mask: npt.NDArray[np.bool_] | None = None) -> None:
        """Start a new episode in every copy (``mask=None``) or in the copies where ``mask``.

        The first screen is a straight tunnel ``GAP_START`` high around a random centre
        (``24 + U{-4..4}``), without blocks; the player starts at its middle at rest.
        Draws: one ``random((2, N))`` (centre offset, first block distance).
        """
        u = rng.random((2, self.num_envs))
        centre = HEIGHT // 2 + np.floor(u[0] * 9).astype(np.int64) - 4
        first_block = BLOCK_SPACING[0] + np.floor(
            u[1] * (BLOCK_SPACING[1] - BLOCK_SPACING[0] + 1)
        ).astype(np.int64)
        index = self._index if mask is None else np.flatnonzero(mask)
        centre = centre[index]
        top = centre - GAP_START // 2
        column = np.where(
            (self._rows < top[:, None]) | (self._rows >= (top + GAP_START)[:, None]), WALL, EMPTY
        ).astype(np.uint8)
        self.background[index] = column[:, :, None]
        self.centre[index] = centre
        self.slope[index] = 0
        self.block_timer[index] = first_block[index]
        self.block_left[index] = 0
        self.block_top[index] = 0
        self.y[index] = centre - PLAYER_SIZE // 2
        self.speed[index] = 0
        self.steps[index] = 0
        self.score[index] = 0.0
        self.crashed[index] = False
        self.crash_cause[index] = NO_CRASH

    # -- one frame ---------------------------------------------------------------------------------
    def gap(self) -> npt.NDArray[np.int64]:
        """Height of the gap generated at the current distance: narrows with ``steps``."""
        return np.maximum(GAP_START - self.steps // NARROW_EVERY, GAP_MIN)

    def _new_column(self, rng: np.random.Generator) -> npt.NDArray[np.uint8]:
        """Advance the cave generator one column and return it as ``(N, HEIGHT)`` pixels."""
        n = self.num_envs
        u = rng.random((4, n))
        # The gap's centre follows a slope of -1, 0 or +1 that changes now and then.
        turn = u[0] < TURN_PROBABILITY
        new_slope = np.floor(u[1] * 3).astype(np.int64) - 1
        np.copyto(self.slope, new_slope, where=turn)
        self.centre += self.slope
        gap = self.gap()
        half = gap // 2
        low = WALL_MIN + half
        high = HEIGHT - WALL_MIN - (gap - half)
        under, over = self.centre < low, self.centre > high
        np.clip(self.centre, low, high, out=self.centre)
        self.slope[under] = 1
        self.slope[over] = -1
        top = self.centre - half
        bottom = top + gap
        # Blocks: one starts every BLOCK_SPACING columns, near the gap's centre.
        self.block_timer -= 1
        start = self.block_timer <= 0
        if start.any():
            room = (gap - BLOCK_HEIGHT) // 2
            shift = np.rint((2 * u[2] - 1) * BLOCK_SPREAD * room).astype(np.int64)
            block_top = self.centre - BLOCK_HEIGHT // 2 + shift
            spacing = BLOCK_SPACING[0] + np.floor(
                u[3] * (BLOCK_SPACING[1] - BLOCK_SPACING[0] + 1)
            ).astype(np.int64)
            np.copyto(self.block_top, block_top, where=start)
            np.copyto(self.block_left, BLOCK_WIDTH, where=start)
            np.copyto(self.block_timer, spacing, where=start)
        rows = self._rows
        wall = (rows < top[:, None]) | (rows >= bottom[:, None])
        column = wall.view(np.uint8) * np.uint8(WALL)
        has_block = self.block_left > 0
        if has_block.any():
            block = (rows >= self.block_top[:, None]) & (
                rows < (self.block_top + BLOCK_HEIGHT)[:, None]
            )
            block &= has_block[:, None]
            block &= ~wall
            column[block] = BLOCK
            self.block_left -= has_block
        return column

    def step(
        self, actions: npt.NDArray[np.int64], rng: np.random.Generator
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """Advance every copy one frame; return ``(reward, terminated, truncated)`` arrays.

        Order within a frame: the speed changes by -1 (action 1, button held) or +1 (action 0,
        gravity) and is clipped; the player moves by it; the cave scrolls one column (a new one
        appears on the right); the player crashes if it left the screen or any of its pixels
        meets a wall or block. Reward 1 for a frame survived, 0 for the crash. ``crash_cause``
        says what the crash hit: a block if any of the player's pixels meets one, else a wall.

        Draws: one ``random((4, N))`` (slope change, new slope, block place, block spacing).
        """
        self.speed += 1 - 2 * actions
        np.clip(self.speed, -MAX_SPEED, MAX_SPEED, out=self.speed)
        self.y += self.speed
        column = self._new_column(rng)
        self.head = (self.head + 1) % WIDTH
        self.background[:, :, self.head] = column
        self.background[:, :, self.head + WIDTH] = column
        self.steps += 1
        # Collision: the player's pixels in the new window.
        outside = (self.y < 0) | (self.y > HEIGHT - PLAYER_SIZE)
        y = np.clip(self.y, 0, HEIGHT - PLAYER_SIZE)
        rows = (y[:, None] + self._offsets)[:, :, None]
        columns = self.head + 1 + PLAYER_X + self._offsets
        pixels = self.background[self._index[:, None, None], rows, columns]
        pixels = pixels.reshape(self.num_envs, -1)
        crashed = outside | pixels.any(axis=1)
        self.crashed = crashed
        self.crash_cause = np.where(
            (pixels == BLOCK).any(axis=1), CRASH_BLOCK, np.where(crashed, CRASH_WALL, NO_CRASH)
        ).astype(np.uint8)
        reward = (~crashed).astype(np.float64)
        truncated = self.steps >= self.max_episode_steps
        truncated &= ~crashed
        self.score += reward
        return reward, crashed.copy(), truncated

    # -- what the player sees ----------------------------------------------------------------------
    def observations(self) -> npt.NDArray[np.uint8]:
        """A new ``(N, HEIGHT, WIDTH)`` uint8 array: walls, blocks and the player."""
        start = self.head + 1
        frames = self.background[:, :, start : start + WIDTH].copy()
        y = np.clip(self.y, 0, HEIGHT - PLAYER_SIZE)
        rows = (y[:, None] + self._offsets)[:, :, None]
        frames[self._index[:, None, None], rows, PLAYER_X + self._offsets] = PLAYER
        return frames

    def info(self) -> dict[str, npt.NDArray[Any]]:
        """``player_y`` (top row) and ``player_speed`` (pixels a frame, negative = up), ``(N,)``.

        With Gymnasium's masks ``_player_y`` and ``_player_speed`` (all ``True``), the layout
        ``SyncVectorEnv`` gives, so info wrappers such as ``DictInfoToList`` work. On a frame
        where some copy crashed, also ``crash``: an object array holding ``"wall"`` or
        ``"block"`` for those copies (``None`` elsewhere) and its mask ``_crash``, as
        ``SyncVectorEnv`` lays out a key that only some sub-envs return.
        """
        every = np.ones(self.num_envs, dtype=np.bool_)
        info: dict[str, npt.NDArray[Any]] = {
            "player_y": self.y.copy(),
            "player_speed": self.speed.copy(),
            "_player_y": every,
            "_player_speed": every.copy(),
        }
        if self.crashed.any():
            info["crash"] = _CRASH_NAMES[self.crash_cause]
            info["_crash"] = self.crashed.copy()
        return info

    # -- pictures of one copy ------------------------------------------------------------------
    def ansi(self, index: int) -> str:
        """A text picture of copy ``index``: ``#`` wall, ``X`` block, ``@`` player."""
        frame = self._frame(index)
        chars = np.array([" ", "#", "X", "@"])[_PALETTE[frame]]
        header = (
            f"Cave  step {int(self.steps[index])}/{self.max_episode_steps}  "
            f"score {int(self.score[index])}" + ("  CRASH" if self.crashed[index] else "")
        )
        return "\n".join([header, *("".join(row) for row in chars)])

    def rgb(self, index: int) -> Frame:
        """A ``(312, 288, 3)`` picture of copy ``index``: the frame at 6x with the score above."""
        scale, header = 6, 24
        codes = _PALETTE[self._frame(index)]
        if self.crashed[index]:
            codes = np.where(codes == _CODE[PLAYER], 4, codes)
        picture = scale_up(_COLOURS[codes], scale)
        frame = blank(header + HEIGHT * scale, WIDTH * scale, (0, 0, 0))
        frame[header:] = picture
        score = f"SCORE {int(self.score[index])}"
        draw_text(frame, score, 6, 5, (240, 240, 240), scale=3)
        gap = f"GAP {int(self.gap()[index])}"
        draw_text(frame, gap, WIDTH * scale - 6 - text_width(gap, 2), 8, (150, 150, 160), scale=2)
        return frame

    def _frame(self, index: int) -> npt.NDArray[np.uint8]:
        start = self.head + 1
        frame = self.background[index, :, start : start + WIDTH].copy()
        y = int(np.clip(self.y[index], 0, HEIGHT - PLAYER_SIZE))
        frame[y : y + PLAYER_SIZE, PLAYER_X : PLAYER_X + PLAYER_SIZE] = PLAYER
        return frame


class CaveEnv(CoreEnv[npt.NDArray[np.uint8]]):
    """
    ## Description

    A small square flies right through a cave that scrolls one pixel a frame. Hold the button
    to rise, let go to fall. The cave's gap wanders up and down and narrows the further you get,
    and blocks stand inside it: following the middle of the gap is not enough, you have to steer
    around them. From tutorial 001 (the feature-phone game CAVE, 48x48, played by a DQN with a
    small CNN on the last 4 frames).

    ## Action Space

    `Discrete(2)`: `0` let go (gravity: speed += 1), `1` hold the button (speed -= 1). The vertical
    speed is clipped to [-2, 2] pixels a frame (negative is up).

    ## Observation Space

    `Box(0, 255, shape=(48, 48), dtype=uint8)`, row 0 at the top: empty `0`, wall `100`,
    block `180`, player `255`. The player is a 2x2 square in columns 8-9.

    `info` carries what a controller cannot see in one frame: `player_y` (the top row of the
    player, an int) and `player_speed` (its speed, an int in [-2, 2], negative = up). In the
    vector env they are int64 arrays of shape `(num_envs,)`.

    On the frame that terminates the episode, `info["crash"]` says what the player hit:
    `"block"` if any of its pixels meets a block, else `"wall"` (a wall, or the edge of the
    screen). The vector env gives it as an object array with the mask `_crash` (`True` for the
    copies that crashed this frame), present only on frames where some copy crashed.

    ## Rewards

    `+1` for every frame survived, `0` on the frame of the crash: the score is the number of
    frames survived.

    ## Starting State

    A straight tunnel 34 pixels high around row `24 + U{-4..4}`, with no blocks on the first
    screen; the player in its middle, at rest.

    ## Cave

    Each frame a new column appears on the right. The gap's centre follows a slope of -1, 0 or +1
    pixels a column, drawn anew with probability 0.12 a frame (and turned back at the edges;
    walls are at least 2 pixels thick). The gap is 34 pixels high at the start and narrows by one
    pixel every 32 frames down to 16 (from frame 576 on). A block, 4 wide and 6 high, starts
    every 14-30 columns, centred within +-60% of the free room around the gap's centre: there
    is always room to pass on at least one side.

    ## Episode End

    1. Termination: a pixel of the player meets a wall or a block, or the player leaves the
       screen.
    2. Truncation: after `max_episode_steps` frames (2000).

    ## Arguments

    | Parameter           | Type          | Default | Description                          |
    |---------------------|---------------|---------|--------------------------------------|
    | `max_episode_steps` | `int`         | `2000`  | truncation length, >= 1              |
    | `render_mode`       | `str \\| None` | `None`  | `"ansi"`, `"rgb_array"` or `"human"` |

    `reset(options=...)` ignores `options`. Frame stacking is the agent's job (a replay window,
    or `gymnasium.wrappers.FrameStackObservation`).

    ```python
    >>> import gymnasium, renshu
    >>> env = gymnasium.make("renshu/Cave-v0")
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, sorted(info)
    ((48, 48), ['player_speed', 'player_y'])

    ```

    ## Measured Scores

    Frames survived, first episode of each of 4096 copies (`benchmarks/env_scores.py`, seed 0):

    | Controller                              | Mean ± std      | Median | Truncated |
    |-----------------------------------------|-----------------|--------|-----------|
    | random                                  | 28.1 ± 18.5     | 22     | 0%        |
    | `gap_centre_policy` (blind to blocks)   | 76.5 ± 25.0     | 66     | 0%        |
    | `scripted_policy` (look-ahead planner)  | 2000.0 ± 0.0    | 2000   | 100%      |

    The gap-centre controller never touches a wall but dies at the first or second block; the
    planner steers around every block and survives to the cap in every episode (30x the
    gap-centre median): the cave is always passable.

    ## Version History

    * v0: Initial version.
    """

    metadata: dict[str, Any] = {  # noqa: RUF012 (Gymnasium declares it per instance)
        "render_modes": ["ansi", "rgb_array", "human"],
        "render_fps": 20,
    }

    core: CaveCore

    def __init__(
        self, render_mode: str | None = None, max_episode_steps: int = EPISODE_STEPS
    ) -> None:
        self.render_mode = check_render_mode(_NAME, render_mode, self.metadata["render_modes"])
        self.max_episode_steps = check_int(_NAME, "max_episode_steps", max_episode_steps, 1)
        super().__init__(
            _NAME,
            CaveCore(1, self.max_episode_steps),
            spaces.Discrete(2),
            spaces.Box(0, 255, shape=(HEIGHT, WIDTH), dtype=np.uint8),
        )

    def _info(self) -> dict[str, Any]:
        # What ``_first(self.core.info())`` gives, without building the arrays.
        core = self.core
        info: dict[str, Any] = {"player_y": int(core.y[0]), "player_speed": int(core.speed[0])}
        if core.crashed[0]:
            info["crash"] = str(_CRASH_NAMES[core.crash_cause[0]])
        return info


class CaveVectorEnv(CoreVectorEnv[npt.NDArray[np.uint8]]):
    """``num_envs`` copies of :class:`CaveEnv` stepped together with array operations.

    The batched twin of Cave-v0 (its ``vector_entry_point``):
    ``gymnasium.make_vec("renshu/Cave-v0", num_envs=N, vectorization_mode="vector_entry_point")``.
    Same rules and arguments as :class:`CaveEnv`, plus ``num_envs``. One generator drives all
    copies; with ``num_envs=1`` and the same seed it reproduces the single env.

    Autoreset follows Gymnasium's default, ``AutoresetMode.NEXT_STEP``: the step after a copy's
    episode ended returns its first observation of the next episode, reward 0,
    ``terminated = truncated = False``, and ignores that copy's action. ``info`` holds
    ``player_y`` and ``player_speed`` as int64 arrays of shape ``(num_envs,)`` (with Gymnasium's
    all-``True`` masks ``_player_y``, ``_player_speed``) and, on frames where some copy crashed,
    ``crash`` (``"wall"`` or ``"block"``, an object array) with its mask ``_crash``. ``reset``
    ignores ``options``. ``render()`` returns a tuple with a picture (``rgb_array``) or text
    (``ansi``) of each of the first ``min(num_envs, render_limit)`` copies (``render_limit = 4``).
    """

    metadata: dict[str, Any] = {  # noqa: RUF012 (Gymnasium declares it per instance)
        "render_modes": ["ansi", "rgb_array"],
        "render_fps": 20,
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }

    core: CaveCore

    def __init__(
        self,
        num_envs: int = 1,
        render_mode: str | None = None,
        max_episode_steps: int = EPISODE_STEPS,
    ) -> None:
        self.num_envs = check_num_envs(_NAME, num_envs)
        self.render_mode = check_render_mode(_NAME, render_mode, self.metadata["render_modes"])
        self.max_episode_steps = check_int(_NAME, "max_episode_steps", max_episode_steps, 1)
        core = CaveCore(self.num_envs, self.max_episode_steps)
        super().__init__(
            _NAME,
            core,
            spaces.Discrete(2),
            spaces.Box(0, 255, shape=(HEIGHT, WIDTH), dtype=np.uint8),
        )


# -- controllers ---------------------------------------------------------------------------------
def _batch(
    obs: npt.NDArray[np.uint8], info: dict[str, Any]
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64], npt.NDArray[np.int64], bool]:
    pictures = np.asarray(obs)
    single = pictures.ndim == 2
    if single:
        pictures = pictures[None]
    y = np.asarray(info["player_y"], dtype=np.int64).reshape(-1)
    speed = np.asarray(info["player_speed"], dtype=np.int64).reshape(-1)
    return pictures, y, speed, single


def _steer(
    y: npt.NDArray[np.int64], speed: npt.NDArray[np.int64], target: npt.NDArray[np.float64]
) -> npt.NDArray[np.int64]:
    """Hold the button when the player, coasting two frames, would be below ``target``."""
    return ((y + 2 * speed) > target).astype(np.int64)


def gap_centre_policy(obs: npt.NDArray[np.uint8], info: dict[str, Any]) -> npt.NDArray[np.int64]:
    """Baseline: follow the middle of the gap between the walls, blind to blocks.

    Looks at the column 2 pixels ahead of the player, takes the middle of its gap (walls only)
    and steers the player's centre toward it. ``obs`` is a batch ``(N, 48, 48)`` and ``info`` the
    vector env's info (``player_y``, ``player_speed`` arrays); a single observation and a single
    env's info work too and give a 0-d array. Returns int64 actions.
    """
    pictures, y, speed, single = _batch(obs, info)
    wall = pictures[:, :, PLAYER_X + PLAYER_SIZE + 2] == WALL
    top = wall.argmin(axis=1)
    bottom = HEIGHT - wall[:, ::-1].argmin(axis=1)
    target = (top + bottom) / 2 - PLAYER_SIZE / 2
    action = _steer(y, speed, target)
    return action[0, ...] if single else action


# Successors of every (row, speed) state under action 0 and 1, as flat indices into a table
# of (rows * speeds) values plus one last "crashed" entry.
_ROWS = HEIGHT - PLAYER_SIZE + 1
_SPEEDS = 2 * MAX_SPEED + 1


def _successors() -> npt.NDArray[np.int64]:
    table = np.empty((2, _ROWS * _SPEEDS), dtype=np.int64)
    for action in (0, 1):
        for row in range(_ROWS):
            for speed in range(-MAX_SPEED, MAX_SPEED + 1):
                new_speed = min(max(speed + 1 - 2 * action, -MAX_SPEED), MAX_SPEED)
                new_row = row + new_speed
                if 0 <= new_row < _ROWS:
                    target = new_row * _SPEEDS + new_speed + MAX_SPEED
                else:
                    target = _ROWS * _SPEEDS
                table[action, row * _SPEEDS + speed + MAX_SPEED] = target
    return table


_SUCCESSORS = _successors()


def scripted_policy(obs: npt.NDArray[np.uint8], info: dict[str, Any]) -> npt.NDArray[np.int64]:
    """A look-ahead planner: the action that survives longest through the visible cave.

    From the frame it marks, for every future frame ``k`` (the cave shifts ``k`` columns) and
    every row, whether the player would touch a wall or block; then, by dynamic programming over
    (row, speed) backwards from the right edge, it finds how many frames each action can surely
    survive. It takes the better action; when both survive the whole visible cave, it follows
    :func:`gap_centre_policy`. ``obs`` is a batch ``(N, 48, 48)`` and ``info`` the vector env's
    info (``player_y``, ``player_speed`` arrays); a single observation and a single env's info
    work too and give a 0-d array. Returns int64 actions.
    """
    pictures, y, speed, single = _batch(obs, info)
    count = pictures.shape[0]
    # Columns first, batch last: every step of the recursion below works on whole rows.
    solid = np.ascontiguousarray(pictures.transpose(2, 1, 0))
    solid = (solid == WALL) | (solid == BLOCK)
    # ahead[k, r, n]: column PLAYER_X + 1 + k or the one after it is solid in row r, and
    # free[k, row, n]: a player with top row `row` touches nothing at frame k + 1.
    ahead = solid[PLAYER_X + 1 : WIDTH - 1] | solid[PLAYER_X + 2 : WIDTH]
    free = ~(ahead[:, :-1] | ahead[:, 1:])
    horizon = free.shape[0]
    # table[state, n]: frames the player surely survives from `state` (row, speed); the last
    # entry stands for "left the screen". Backwards from the right edge of the picture.
    table = np.zeros((_ROWS * _SPEEDS + 1, count), dtype=np.uint8)
    for k in range(horizon - 1, -1, -1):
        best = np.maximum(table[_SUCCESSORS[0]], table[_SUCCESSORS[1]])
        best += 1
        best.reshape(_ROWS, _SPEEDS, count)[...] *= free[k][:, None, :]
        table[:-1] = best
    state = np.clip(y, 0, _ROWS - 1) * _SPEEDS + speed + MAX_SPEED
    which = np.arange(count)
    value_release = table[_SUCCESSORS[0][state], which]
    value_hold = table[_SUCCESSORS[1][state], which]
    fallback = gap_centre_policy(pictures, {"player_y": y, "player_speed": speed})
    action = np.where(
        value_hold > value_release, 1, np.where(value_release > value_hold, 0, fallback)
    ).astype(np.int64)
    return action[0, ...] if single else action
