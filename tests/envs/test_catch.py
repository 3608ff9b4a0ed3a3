"""Catch-v0: spaces, every rule, seeding, arguments, controllers."""

from __future__ import annotations

import numpy as np
import pytest

from renshu.envs.catch import CatchCore, CatchEnv, CatchVectorEnv, scripted_policy
from renshu.errors import ConfigError


class FixedColumn:
    """Stands in for a Generator: every ball appears in the same column."""

    def __init__(self, column: int) -> None:
        self.column = column
        self.calls = 0

    def integers(self, low: int, high: int, size: int) -> np.ndarray:
        self.calls += 1
        return np.full(size, self.column, dtype=np.int64)


def core_with_ball(size: int, bar: int, row: int, column: int) -> CatchCore:
    """A core whose only ball is at (row, column), with a fresh episode and the bar at ``bar``."""
    core = CatchCore(1, size=size, ball_interval=1000)
    core.reset(FixedColumn(0))  # type: ignore[arg-type]
    core.balls[:] = -1
    core.balls[0, row] = column
    core.bar[:] = bar
    return core


@pytest.mark.parametrize("size", [8, 16])
def test_spaces_and_dtypes(size: int) -> None:
    env = CatchEnv(size=size)
    assert env.action_space.n == 3
    assert env.observation_space.shape == (size, size)
    assert env.observation_space.dtype == np.uint8
    obs, info = env.reset(seed=0)
    assert obs.shape == (size, size) and obs.dtype == np.uint8 and info == {}
    assert set(np.unique(obs).tolist()) == {0, 255}


@pytest.mark.parametrize("size", [8, 16])
def test_start_bar_in_the_middle_and_one_ball_on_top(size: int) -> None:
    env = CatchEnv(size=size)
    obs, _ = env.reset(seed=4)
    bottom = np.flatnonzero(obs[-1])
    assert bottom.tolist() == [(size - 3) // 2 + k for k in range(3)]
    assert (obs[0] > 0).sum() == 1
    assert obs[1:-1].sum() == 0


@pytest.mark.parametrize("bar", range(6))
@pytest.mark.parametrize("column", range(8))
def test_ball_under_the_bar_is_caught_else_missed(bar: int, column: int) -> None:
    core = core_with_ball(8, bar, row=6, column=column)
    reward, terminated, truncated = core.step(np.array([0]), FixedColumn(0))  # type: ignore[arg-type]
    caught = bar <= column <= bar + 2
    assert reward[0] == (1.0 if caught else -1.0)
    assert terminated[0] == (not caught)
    assert not truncated[0]


def test_the_bar_moves_before_the_ball_lands() -> None:
    core = core_with_ball(8, bar=0, row=6, column=3)
    reward, terminated, _ = core.step(np.array([2]), FixedColumn(0))  # type: ignore[arg-type]
    assert core.bar[0] == 1 and reward[0] == 1.0 and not terminated[0]


def test_bar_is_clipped_at_the_walls() -> None:
    env = CatchEnv()
    env.reset(seed=0)
    for _ in range(6):
        obs, *_ = env.step(1)
    assert np.flatnonzero(obs[-1]).tolist()[:3] == [0, 1, 2]
    assert env.core.bar[0] == 0
    env.reset(seed=0)
    for _ in range(6):
        env.step(2)
    assert env.core.bar[0] == 5


@pytest.mark.parametrize(
    ("size", "interval", "expected"),
    [(8, None, 4), (16, None, 8), (8, 3, 3), (16, 5, 5)],
)
def test_a_ball_appears_every_interval_frames(
    size: int, interval: int | None, expected: int
) -> None:
    env = CatchEnv(size=size, ball_interval=interval)
    assert env.ball_interval == expected
    env.reset(seed=0)
    spawned = []
    for frame in range(1, 3 * expected + 1):
        env.core.balls[:, -2] = -1  # no ball ever lands, so the episode goes on
        env.core.step(np.array([0]), np.random.default_rng(frame))
        if env.core.balls[0, 0] >= 0:
            spawned.append(frame)
    assert spawned == [expected, 2 * expected, 3 * expected]


def test_balls_fall_one_row_a_frame() -> None:
    env = CatchEnv()
    obs, _ = env.reset(seed=2)
    column = int(np.flatnonzero(obs[0])[0])
    for row in range(1, 7):
        obs, reward, *_ = env.step(0)
        assert obs[row, column] == 255 and reward == 0.0


@pytest.mark.parametrize(("size", "first", "interval"), [(8, 7, 4), (16, 15, 8)])
def test_balls_land_on_schedule(size: int, first: int, interval: int) -> None:
    rng = FixedColumn(size // 2)
    core = CatchCore(1, size=size, ball_interval=interval)
    core.reset(rng)  # type: ignore[arg-type]
    landed = []
    for frame in range(1, 60):
        reward, *_ = core.step(np.array([0]), rng)  # type: ignore[arg-type]
        if reward[0]:
            landed.append(frame)
    assert landed == list(range(first, 60, interval))


def test_miss_terminates_with_minus_one() -> None:
    rng = FixedColumn(0)
    core = CatchCore(1, size=8, ball_interval=4)
    core.reset(rng)  # type: ignore[arg-type]
    core.bar[:] = 5  # covers 5..7, the ball falls in column 0
    for _ in range(6):
        reward, terminated, _ = core.step(np.array([0]), rng)  # type: ignore[arg-type]
        assert reward[0] == 0 and not terminated[0]
    reward, terminated, truncated = core.step(np.array([0]), rng)  # type: ignore[arg-type]
    assert reward[0] == -1.0 and terminated[0] and not truncated[0]
    obs = core.observations()[0]
    assert obs[-1, 0] == 255  # the missed ball is shown beside the bar


@pytest.mark.parametrize(("size", "best"), [(8, 49), (16, 24)])
def test_truncated_at_200_frames(size: int, best: int) -> None:
    rng = FixedColumn(size // 2)  # every ball falls onto the bar's middle
    core = CatchCore(1, size=size, ball_interval=size // 2)
    core.reset(rng)  # type: ignore[arg-type]
    for frame in range(1, 201):
        _reward, terminated, truncated = core.step(np.array([0]), rng)  # type: ignore[arg-type]
        assert not terminated[0]
        assert truncated[0] == (frame == 200)
    assert core.score[0] == best


def test_same_seed_same_trajectory_other_seed_differs() -> None:
    def run(seed: int) -> list[np.ndarray]:
        env = CatchEnv(size=16)
        frames = [env.reset(seed=seed)[0]]
        frames += [env.step(step % 3)[0] for step in range(40)]
        return frames

    assert all(np.array_equal(a, b) for a, b in zip(run(5), run(5), strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(run(5), run(6), strict=True))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size": 3}, "Catch size must be an int >= 5, got 3"),
        ({"size": "8"}, "Catch size must be an int >= 5, got '8'"),
        ({"ball_interval": 0}, "Catch ball_interval must be an int >= 1 or None, got 0"),
        ({"max_episode_steps": -1}, "Catch max_episode_steps must be an int >= 1, got -1"),
        (
            {"render_mode": "window"},
            "Catch render_mode must be one of None, 'ansi', 'rgb_array', 'human', got 'window'",
        ),
    ],
)
def test_bad_arguments_name_the_argument_range_and_value(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        CatchEnv(**kwargs)
    assert str(raised.value) == message
    if "render_mode" not in kwargs:  # the vector env renders ansi and rgb_array only
        with pytest.raises(ConfigError) as raised:
            CatchVectorEnv(num_envs=2, **kwargs)
        assert str(raised.value) == message


def test_scripted_policy_reads_the_picture() -> None:
    obs = np.zeros((3, 8, 8), dtype=np.uint8)
    obs[:, 7, 2:5] = 255  # bar at columns 2..4
    obs[0, 3, 0] = 255  # ball far left: move left
    obs[1, 3, 6] = 255  # ball right: move right
    obs[2, 3, 3] = 255  # ball over the bar's middle, nothing else: stay
    assert scripted_policy(obs).tolist() == [1, 2, 0]
    assert scripted_policy(obs[0]).item() == 1
    # Caught ball 1 anywhere in 2..4; the next ball is far right, so lean right.
    lean = np.zeros((8, 8), dtype=np.uint8)
    lean[7, 2:5] = 255
    lean[5, 4] = 255
    lean[1, 7] = 255
    assert scripted_policy(lean).item() == 2


@pytest.mark.parametrize(("size", "floor"), [(8, 15.0), (16, 5.0)])
def test_scripted_beats_random(size: int, floor: float) -> None:
    envs = CatchVectorEnv(num_envs=256, size=size)
    rng = np.random.default_rng(12345)
    means = []
    for policy in (None, scripted_policy):
        obs, info = envs.reset(seed=1)
        score, done = np.zeros(256), np.zeros(256, dtype=bool)
        while not done.all():
            actions = rng.integers(0, 3, 256) if policy is None else policy(obs, info)
            obs, reward, terminated, truncated, info = envs.step(actions)
            score += np.where(done, 0.0, reward)
            done |= terminated | truncated
        means.append(score.mean())
    assert means[0] < 0 < floor < means[1]


def test_step_after_the_end_stays_ended_until_reset() -> None:
    env = CatchEnv()
    env.reset(seed=0)
    terminated = truncated = False
    while not (terminated or truncated):
        obs, _, terminated, truncated, _ = env.step(0)
    again = env.step(1)
    assert np.array_equal(again[0], obs)
    assert again[1:4] == (0.0, terminated, truncated)
    env.reset(seed=0)
    assert env.step(0)[1:4] == (0.0, False, False)
