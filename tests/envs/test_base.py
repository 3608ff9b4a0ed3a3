"""The shared plumbing of the built-in envs, driven by a small countdown core."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
import numpy.typing as npt
import pytest
from gymnasium import spaces
from gymnasium.error import ResetNeeded
from gymnasium.vector import AutoresetMode

from renshu.envs._base import CoreEnv, CoreVectorEnv
from renshu.envs._render import blank


class CountdownCore:
    """Each copy counts down from ``3 + U{0, 1}``; action 1 earns +1; ends at 0 or after a cap."""

    def __init__(self, num_envs: int, max_episode_steps: int = 100) -> None:
        self.num_envs = num_envs
        self.max_episode_steps = max_episode_steps
        self.left = np.zeros(num_envs, dtype=np.int64)
        self.steps = np.zeros(num_envs, dtype=np.int64)
        self.step_calls = 0

    def reset(self, rng: np.random.Generator, mask: npt.NDArray[np.bool_] | None = None) -> None:
        start = 3 + rng.integers(0, 2, size=self.num_envs)
        where = np.ones(self.num_envs, dtype=np.bool_) if mask is None else mask
        self.left[where] = start[where]
        self.steps[where] = 0

    def step(
        self, actions: npt.NDArray[np.int64], rng: np.random.Generator
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        self.step_calls += 1
        self.left -= 1
        self.steps += 1
        terminated = self.left <= 0
        truncated = (self.steps >= self.max_episode_steps) & ~terminated
        return actions.astype(np.float64), terminated, truncated

    def observations(self) -> npt.NDArray[np.int64]:
        return self.left[:, None].copy()

    def info(self) -> dict[str, npt.NDArray[Any]]:
        return {"left": self.left.copy(), "_left": np.ones(self.num_envs, dtype=np.bool_)}

    def ansi(self, index: int) -> str:
        return f"left {int(self.left[index])}"

    def rgb(self, index: int) -> npt.NDArray[np.uint8]:
        return blank(4, 4, (int(self.left[index]), 0, 0))


OBS_SPACE = spaces.Box(0, 10, shape=(1,), dtype=np.int64)


class CountdownEnv(CoreEnv[npt.NDArray[np.int64]]):
    metadata: dict[str, Any] = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}  # noqa: RUF012
    core: CountdownCore

    def __init__(self, render_mode: str | None = None, max_episode_steps: int = 100) -> None:
        self.render_mode = render_mode
        core = CountdownCore(1, max_episode_steps)
        super().__init__("Count", core, spaces.Discrete(2), OBS_SPACE)


class CountdownVectorEnv(CoreVectorEnv[npt.NDArray[np.int64]]):
    metadata: dict[str, Any] = {  # noqa: RUF012
        "render_modes": ["ansi", "rgb_array"],
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }
    core: CountdownCore

    def __init__(self, num_envs: int, render_mode: str | None = None) -> None:
        self.num_envs = num_envs
        self.render_mode = render_mode
        super().__init__("Count", CountdownCore(num_envs), spaces.Discrete(2), OBS_SPACE)


# -- CoreEnv -----------------------------------------------------------------------------------
def test_core_env_runs_one_copy_with_python_scalars_and_the_info_without_masks() -> None:
    env = CountdownEnv()
    assert env.action_space == spaces.Discrete(2) and env.observation_space == OBS_SPACE
    obs, info = env.reset(seed=0)
    assert obs.shape == (1,) and info == {"left": int(obs[0])}
    assert type(info["left"]) is int
    obs, reward, terminated, truncated, info = env.step(1)
    assert (type(reward), type(terminated), type(truncated)) == (float, bool, bool)
    assert reward == 1.0 and info == {"left": int(obs[0])}


def test_core_env_step_before_reset_and_bad_action_messages() -> None:
    env = CountdownEnv()
    with pytest.raises(ResetNeeded, match=r"^Count: call reset\(\) before step\(\)$"):
        env.step(0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"^Count action must be an int in \[0, 1\], got 2$"):
        env.step(2)


@pytest.mark.parametrize("max_episode_steps", [100, 2])  # ends by termination, by truncation
def test_core_env_stays_ended_until_reset_without_stepping_the_core(max_episode_steps: int) -> None:
    env = CountdownEnv(max_episode_steps=max_episode_steps)
    env.reset(seed=0)
    terminated = truncated = False
    while not (terminated or truncated):
        obs, _, terminated, truncated, info = env.step(1)
    calls, state = env.core.step_calls, env.np_random.bit_generator.state
    for action in (0, 1):
        again = env.step(action)
        assert np.array_equal(again[0], obs)
        assert again[1:] == (0.0, terminated, truncated, info)
    assert env.core.step_calls == calls and env.np_random.bit_generator.state == state
    env.reset()
    assert env.step(1)[1:4] == (1.0, False, False)


def test_core_env_render() -> None:
    assert CountdownEnv(render_mode="ansi").render() is None  # before reset
    env = CountdownEnv(render_mode="ansi")
    obs, _ = env.reset(seed=0)
    assert env.render() == f"left {int(obs[0])}"
    pictures = CountdownEnv(render_mode="rgb_array")
    pictures.reset(seed=0)
    frame = pictures.render()
    assert isinstance(frame, np.ndarray) and frame.shape == (4, 4, 3)
    with pytest.warns(UserWarning, match=r'gymnasium.make\("renshu/Count-v0", render_mode='):
        assert CountdownEnv().render() is None
    CountdownEnv().close()


# -- CoreVectorEnv -----------------------------------------------------------------------------
def test_core_vector_env_batches_the_spaces_and_passes_the_info_through() -> None:
    envs = CountdownVectorEnv(num_envs=3)
    assert envs.single_action_space == spaces.Discrete(2)
    assert envs.action_space == gymnasium.vector.utils.batch_space(spaces.Discrete(2), 3)
    assert envs.observation_space.shape == (3, 1)
    obs, info = envs.reset(seed=0)
    assert obs.shape == (3, 1) and set(info) == {"left", "_left"}
    with pytest.raises(ValueError, match=r"^Count actions must lie in \[0, 1\], got values"):
        envs.step(np.array([0, 1, 2]))


def test_core_vector_env_next_step_autoreset() -> None:
    envs = CountdownVectorEnv(num_envs=4)
    with pytest.raises(ResetNeeded, match=r"^Count: call reset\(\) before step\(\)$"):
        envs.step(np.zeros(4, dtype=np.int64))
    envs.reset(seed=1)
    envs.core.left[:] = [1, 1, 5, 5]
    _, reward, terminated, truncated, _ = envs.step(np.ones(4, dtype=np.int64))
    assert terminated.tolist() == [True, True, False, False] and not truncated.any()
    assert reward.tolist() == [1.0] * 4
    obs, reward, terminated, truncated, info = envs.step(np.ones(4, dtype=np.int64))
    assert reward.tolist() == [0.0, 0.0, 1.0, 1.0]  # the first two start over
    assert not terminated.any() and not truncated.any()
    assert (obs[:2, 0] >= 3).all() and obs[2:, 0].tolist() == [3, 3]
    assert np.array_equal(info["left"], obs[:, 0])
    # Every copy starting over: no step of the core at all.
    envs.core.left[:] = 1
    envs.step(np.zeros(4, dtype=np.int64))
    calls = envs.core.step_calls
    _, reward, terminated, truncated, _ = envs.step(np.ones(4, dtype=np.int64))
    assert envs.core.step_calls == calls
    assert not reward.any() and not terminated.any() and not truncated.any()


def test_core_vector_env_renders_the_first_render_limit_copies() -> None:
    assert CountdownVectorEnv(num_envs=6).render() is None
    envs = CountdownVectorEnv(num_envs=6, render_mode="ansi")
    assert envs.render() is None  # before reset
    obs, _ = envs.reset(seed=0)
    assert envs.render() == tuple(f"left {int(v)}" for v in obs[: envs.render_limit, 0])
    pictures = CountdownVectorEnv(num_envs=2, render_mode="rgb_array")
    pictures.reset(seed=0)
    frames = pictures.render()
    assert frames is not None and [f.shape for f in frames] == [(4, 4, 3)] * 2
