"""GIFs: frames to a looping GIF, nearest-neighbour enlargement, captions, recording episodes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium import spaces
from PIL import Image

import renshu
from renshu.video import (
    HOLD_LAST_MS,
    FrameRecorder,
    add_caption,
    draw_score,
    record_episode,
    render_fps,
    save_gif,
    supports_rgb_array,
)

torch.set_num_threads(1)


def gif_info(path: Path) -> tuple[int, tuple[int, int], list[int], int]:
    with Image.open(path) as image:
        durations = []
        for i in range(image.n_frames):
            image.seek(i)
            durations.append(image.info["duration"])
        return image.n_frames, image.size, durations, image.info.get("loop", -1)


def test_save_gif_writes_a_looping_gif_and_holds_the_last_frame(tmp_path: Path) -> None:
    frames = [np.full((200, 300, 3), i * 40, dtype=np.uint8) for i in range(5)]
    path = save_gif(frames, tmp_path / "videos" / "a.gif", fps=10)
    count, size, durations, loop = gif_info(path)
    assert (count, size, loop) == (5, (300, 200), 0)
    assert durations == [100, 100, 100, 100, int(HOLD_LAST_MS)]
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.gif"]


def test_small_frames_are_enlarged_pixel_sharp(tmp_path: Path) -> None:
    frame = np.zeros((8, 8, 3), dtype=np.uint8)
    frame[0, 0] = (255, 0, 0)
    path = save_gif([frame, frame], tmp_path / "small.gif", fps=5)
    _, size, _, _ = gif_info(path)
    assert size == (192, 192)
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB"))
    assert (pixels[:24, :24] == (255, 0, 0)).all() and (pixels[24:, 24:] == 0).all()
    _, size, _, _ = gif_info(save_gif([frame], tmp_path / "one.gif", scale=1))
    assert size == (8, 8)


def test_save_gif_refuses_bad_frames(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one frame"):
        save_gif([], tmp_path / "x.gif")
    with pytest.raises(ValueError, match=r"\(height, width, 3\) RGB frames, got shape \(4, 4\)"):
        save_gif([np.zeros((4, 4), dtype=np.uint8)], tmp_path / "x.gif")
    assert not (tmp_path / "x.gif").exists()


def test_caption_strip_goes_under_the_frame() -> None:
    frame = np.zeros((100, 320, 3), dtype=np.uint8)
    out = add_caption(frame, "step 3  score 2")
    assert out.shape[0] > 100 and out.shape[1:] == (320, 3)
    assert (out[:100] == 0).all() and out[100:].max() > 200  # text drawn in the strip


@pytest.mark.parametrize("name", ["catch", "catch16", "cave", "shower"])
def test_record_episode_of_a_builtin_env_keeps_its_own_score(name: str) -> None:
    agent = renshu.DQN(
        name, seed=0, buffer_size=100, batch_size=8, window=4 if name == "cave" else 1
    )
    env = renshu.make(name, render_mode="rgb_array")
    assert supports_rgb_array(env) and not draw_score(env)
    frames = record_episode(agent, env, max_frames=50)
    env.reset(seed=0)
    shape = env.render().shape
    assert 2 <= len(frames) <= 50
    assert all(f.shape == shape and f.dtype == np.uint8 for f in frames)


class Blinker(gymnasium.Env[np.ndarray, int]):
    """A 3-step env whose rgb_array frame has no score in it."""

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 2}  # noqa: RUF012

    def __init__(self, render_mode: str | None = None) -> None:
        self.render_mode = render_mode
        self.observation_space = spaces.Box(0, 1, (1,), np.float32)
        self.action_space = spaces.Discrete(2)
        self.t = 0

    def reset(self, *, seed: int | None = None, options: Any = None) -> Any:
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action: int) -> Any:
        self.t += 1
        return np.zeros(1, np.float32), 1.0, self.t >= 3, False, {}

    def render(self) -> np.ndarray:
        return np.full((40, 200, 3), 60 * self.t, dtype=np.uint8)


def test_frames_of_other_envs_get_a_score_caption() -> None:
    env = Blinker(render_mode="rgb_array")
    assert draw_score(env) and render_fps(env) == 2.0
    agent = renshu.DQN(Blinker(), seed=0, buffer_size=100, batch_size=8)
    frames = record_episode(agent, env)
    assert len(frames) == 4  # the reset frame and one per step
    assert all(f.shape[0] > 40 and f.shape[1] == 200 for f in frames)


def test_frame_recorder_can_stop_after_the_first_episode() -> None:
    env = Blinker(render_mode="rgb_array")
    agent = renshu.DQN(Blinker(), seed=0, buffer_size=100, batch_size=8)
    recorder = FrameRecorder(env, episodes=1)
    agent.test(episodes=3, env=env, callbacks=[recorder], progress=False)
    assert len(recorder.frames) == 4


def _lit(strip: np.ndarray) -> int:
    return int((strip.max(axis=2) > 200).sum())


@pytest.mark.parametrize("width", [24, 40, 60, 100, 320])
def test_caption_is_whole_on_narrow_frames(width: int) -> None:
    """The caption was cut on narrow frames ("STEP 10C", "SCORE -[")."""
    from renshu.envs._render import _FONT

    text = "step 10  score -3"
    out = add_caption(np.zeros((30, width, 3), dtype=np.uint8), text)
    wide = add_caption(np.zeros((30, 400, 3), dtype=np.uint8), text)  # scale 2: 4 px a pixel
    assert out.shape[1] == width
    whole = sum(int(_FONT[c.upper()].sum()) for c in text if c != " ")
    assert _lit(wide[30:]) == whole * 4
    scale = max(1, width // 160)
    assert _lit(out[30:]) == whole * scale * scale  # every pixel of every glyph drawn


class Narrow(Blinker):
    """Blinker with 30-pixel frames and a reward that makes the score caption grow."""

    def step(self, action: int) -> Any:
        self.t += 1
        return np.zeros(1, np.float32), -123.25, self.t >= 3, False, {}

    def render(self) -> np.ndarray:
        return np.full((20, 30, 3), 60 * self.t, dtype=np.uint8)


def test_captions_of_one_gif_share_a_height_on_narrow_frames(tmp_path: Path) -> None:
    env = Narrow(render_mode="rgb_array")
    agent = renshu.DQN(Narrow(), seed=0, buffer_size=100, batch_size=8)
    frames = record_episode(agent, env)
    assert len(frames) == 4 and len({f.shape for f in frames}) == 1
    assert frames[0].shape[0] > 20 + 2 * 9  # "step 3  score -369.75" wraps onto lines
    save_gif(frames, tmp_path / "narrow.gif")
