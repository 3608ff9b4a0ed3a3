"""Animated pictures of an agent playing: GIFs from ``render_mode="rgb_array"`` frames.

    frames = record_episode(agent, "catch")          # one greedy episode, as RGB frames
    save_gif(frames, "catch.gif", fps=8)

Frames are ``(height, width, 3)`` ``uint8`` arrays, as ``env.render()`` returns them. Small
frames are enlarged with nearest-neighbour scaling (pixels stay sharp). The built-in
environments draw their score into the frame; for other environments :func:`record_episode`
adds a strip under each frame with the step and the score so far.
"""

from __future__ import annotations

import contextlib
import math
import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from renshu.callbacks import Callback
from renshu.envs._render import GLYPH_HEIGHT, GLYPH_WIDTH, draw_text, scale_up, text_width

if TYPE_CHECKING:
    from renshu.train.protocol import AgentLike

__all__ = [
    "FrameRecorder",
    "add_caption",
    "caption_lines",
    "draw_score",
    "record_episode",
    "render_fps",
    "save_gif",
    "supports_rgb_array",
]

MIN_SIDE = 192
"""``scale="auto"`` enlarges frames whose longer side is below this many pixels."""
HOLD_LAST_MS = 1000.0
"""How long a GIF shows its last frame, in milliseconds."""


def supports_rgb_array(env: Any) -> bool:
    """True if ``env`` (an instance) declares ``rgb_array`` in ``metadata["render_modes"]``."""
    modes = getattr(env, "metadata", {}).get("render_modes", []) or []
    return "rgb_array" in modes


def render_fps(env: Any, default: float = 10.0) -> float:
    """The frame rate ``env.metadata["render_fps"]`` asks for (``default`` when absent)."""
    fps = getattr(env, "metadata", {}).get("render_fps")
    return float(fps) if isinstance(fps, int | float) and fps > 0 else default


def draw_score(env: Any) -> bool:
    """False for the built-in environments, whose frames already show the score."""
    return not type(getattr(env, "unwrapped", env)).__module__.startswith("renshu.envs")


def add_caption(frame: np.ndarray, text: str, *, lines: int = 1) -> np.ndarray:
    """``frame`` with a dark strip underneath holding ``text`` in a small pixel font.

    The font shrinks to fit the frame's width; on a frame too narrow for one line at the
    smallest size, the text wraps (between words, else anywhere) onto as many lines as it
    needs. The strip holds at least ``lines`` lines, so frames captioned with texts that wrap
    differently can still be given one height (:func:`caption_lines`)."""
    width = frame.shape[1]
    scale = _caption_scale(width, text)
    rows = _caption_rows(width, text, scale)
    pitch = (GLYPH_HEIGHT + 2) * scale
    strip = np.full((max(lines, len(rows)) * pitch + 2 * scale, width, 3), 24, dtype=np.uint8)
    for number, row in enumerate(rows):
        draw_text(strip, row, 2 * scale, 2 * scale + number * pitch, (235, 235, 235), scale)
    return np.concatenate([frame, strip], axis=0)


def caption_lines(width: int, text: str) -> int:
    """The lines :func:`add_caption` needs for ``text`` under a frame ``width`` pixels wide."""
    return len(_caption_rows(width, text, _caption_scale(width, text)))


def _caption_scale(width: int, text: str) -> int:
    scale = max(1, width // 160)
    while scale > 1 and text_width(text, scale) > width - 4 * scale:
        scale -= 1
    return scale


def _caption_rows(width: int, text: str, scale: int) -> list[str]:
    """``text`` in lines that fit ``width`` pixels (less a margin) at ``scale``."""
    import textwrap

    fit = max(1, (max(width - 4 * scale, 0) // scale + 1) // (GLYPH_WIDTH + 1))  # characters
    return [text] if len(text) <= fit else textwrap.wrap(text, fit) or [text[:fit]]


class FrameRecorder(Callback):
    """Collects ``env.render()`` frames while ``agent.test`` plays (first frame after reset too).

    With ``caption=True`` each frame gets a strip showing the step and the score so far (all
    strips one height, so the frames make one GIF even where a caption wraps on a narrow
    frame). Recording stops after ``max_frames`` frames, or after the first ``episodes``
    episodes (the test itself goes on).
    """

    def __init__(
        self,
        env: Any,
        *,
        max_frames: int | None = None,
        caption: bool = False,
        episodes: int | None = None,
    ) -> None:
        self.env, self.max_frames, self.caption = env, max_frames, caption
        self.episodes = episodes
        self._raw: list[np.ndarray] = []
        self._captions: list[str] = []
        self._captioned: list[np.ndarray] = []
        self._score, self._step, self._seen = 0.0, 0, 0

    @property
    def frames(self) -> list[np.ndarray]:
        """The frames recorded so far, captioned when ``caption`` is set."""
        if not self.caption:
            return self._raw
        if len(self._captioned) != len(self._raw):
            pairs = list(zip(self._raw, self._captions, strict=True))
            lines = max(caption_lines(frame.shape[1], text) for frame, text in pairs)
            self._captioned = [add_caption(frame, text, lines=lines) for frame, text in pairs]
        return self._captioned

    def on_episode_begin(self, episode: int, logs: dict[str, Any]) -> None:
        self._score, self._step = 0.0, 0
        self._seen += 1
        self._grab()

    def on_step_end(self, step: int, logs: dict[str, Any]) -> None:
        self._score += float(logs["reward"])
        self._step += 1
        self._grab()

    def _grab(self) -> None:
        if self.max_frames is not None and len(self._raw) >= self.max_frames:
            return
        if self.episodes is not None and self._seen > self.episodes:
            return
        frame = self.env.render()
        if frame is None:
            return
        self._raw.append(np.asarray(frame, dtype=np.uint8))
        self._captions.append(f"step {self._step}  score {self._score:g}")


def record_episode(
    agent: AgentLike, env: Any, *, seed: int | None = None, max_frames: int | None = 1000
) -> list[np.ndarray]:
    """Play one greedy episode of ``agent`` on ``env`` and return its RGB frames.

    ``env`` is an environment built with ``render_mode="rgb_array"``, or anything
    :func:`renshu.make` accepts (it is then built with that render mode). With ``max_frames``
    the episode itself ends after that many steps, so an env that never ends cannot hang it.
    """
    from renshu.make import make

    if isinstance(env, str | type):
        env = make(env, render_mode="rgb_array")
    recorder = FrameRecorder(env, max_frames=max_frames, caption=draw_score(env))
    agent.test(
        episodes=1,
        env=env,
        callbacks=[recorder],
        seed=seed,
        progress=False,
        max_episode_steps=max_frames,
    )
    return recorder.frames


def save_gif(
    frames: Sequence[np.ndarray],
    path: str | Path,
    fps: float = 10.0,
    *,
    scale: int | str = "auto",
    max_frames: int | None = None,
) -> Path:
    """Write RGB frames as a looping GIF (to a temporary name, then renamed).

    Args:
        frames: ``(height, width, 3)`` ``uint8`` arrays, all the same size.
        path: where to write (parents are created).
        fps: frames per second.
        scale: an integer enlargement factor (nearest neighbour), or ``"auto"``: enlarge
            until the longer side is at least :data:`MIN_SIDE` pixels.
        max_frames: keep only the first this many frames.
    """
    import imageio.v3 as iio

    if not frames:
        raise ValueError("save_gif needs at least one frame.")
    kept = list(frames[:max_frames] if max_frames is not None else frames)
    first = np.asarray(kept[0])
    if first.ndim != 3 or first.shape[2] != 3:
        raise ValueError(
            f"save_gif expects (height, width, 3) RGB frames, got shape {first.shape}."
        )
    factor = max(1, math.ceil(MIN_SIDE / max(first.shape[:2]))) if scale == "auto" else int(scale)
    stack = np.stack([np.asarray(f, dtype=np.uint8) for f in kept])
    if factor > 1:
        stack = np.stack([scale_up(f, factor) for f in stack])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        # Hold the last frame for a second, so the outcome shows before the loop restarts.
        durations = [1000.0 / fps] * len(stack)
        durations[-1] = max(durations[-1], HOLD_LAST_MS)
        duration: float | list[float] = durations if len(durations) > 1 else durations[0]
        iio.imwrite(tmp, stack, extension=".gif", duration=duration, loop=0)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    return path
