"""Cave-v0: spaces, every rule, seeding, arguments, controllers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from renshu.envs import cave
from renshu.envs.cave import (
    BLOCK,
    PLAYER,
    PLAYER_SIZE,
    PLAYER_X,
    WALL,
    CaveEnv,
    CaveVectorEnv,
    gap_centre_policy,
    scripted_policy,
)
from renshu.errors import ConfigError


def visible_background(env: CaveEnv) -> np.ndarray:
    """Walls and blocks of the single env's current window, without the player."""
    start = env.core.head + 1
    return env.core.background[0, :, start : start + cave.WIDTH]


def test_spaces_dtypes_and_info() -> None:
    env = CaveEnv()
    assert env.action_space.n == 2
    assert env.observation_space.shape == (48, 48)
    assert env.observation_space.dtype == np.uint8
    obs, info = env.reset(seed=0)
    assert obs.shape == (48, 48) and obs.dtype == np.uint8
    assert set(info) == {"player_y", "player_speed"}
    assert type(info["player_y"]) is int and info["player_speed"] == 0
    assert set(np.unique(obs).tolist()) == {0, WALL, PLAYER}
    rows, columns = np.nonzero(obs == PLAYER)
    assert sorted(set(columns.tolist())) == [PLAYER_X, PLAYER_X + 1]
    assert sorted(set(rows.tolist())) == [info["player_y"], info["player_y"] + 1]


def test_start_is_a_straight_wide_tunnel_without_blocks() -> None:
    env = CaveEnv()
    obs, _info = env.reset(seed=3)
    walls = obs == WALL
    assert (walls == walls[:, :1]).all()  # every column alike
    assert (~walls[:, 0]).sum() == cave.GAP_START
    assert not (obs == BLOCK).any()


def test_button_accelerates_up_gravity_pulls_down_speed_is_clipped() -> None:
    env = CaveEnv()
    _, info = env.reset(seed=0)
    y = info["player_y"]
    speeds, rows = [], []
    for action in [1, 1, 1, 0, 0, 0, 0]:
        _, _, terminated, _, info = env.step(action)
        assert not terminated
        speeds.append(info["player_speed"])
        rows.append(info["player_y"])
    assert speeds == [-1, -2, -2, -1, 0, 1, 2]
    assert np.diff([y, *rows]).tolist() == speeds


def test_crash_on_the_wall_scores_the_frames_survived() -> None:
    env = CaveEnv()
    env.reset(seed=1)
    total, frames = 0.0, 0
    while True:
        _, reward, terminated, truncated, info = env.step(1)  # always up: into the ceiling
        frames += 1
        total += reward
        if terminated:
            break
    assert reward == 0.0 and not truncated
    assert total == frames - 1
    y = min(max(info["player_y"], 0), 46)
    hit = visible_background(env)[y : y + 2, PLAYER_X : PLAYER_X + 2]
    assert (hit == WALL).any() or info["player_y"] < 0
    assert info["crash"] == "wall"


def test_crash_on_a_block() -> None:
    env = CaveEnv()
    _, info = env.reset(seed=2)
    y = info["player_y"]
    # Put a block right in front of the player, in the ring column that scrolls in next.
    core = env.core
    for x in (PLAYER_X + 1, PLAYER_X + 2):
        ring = core.head + 1 + x
        twin = ring - cave.WIDTH if ring >= cave.WIDTH else ring + cave.WIDTH
        core.background[0, y - 3 : y + 5, [ring, twin]] = BLOCK
    _, reward, terminated, truncated, info = env.step(0)
    assert terminated and reward == 0.0 and not truncated
    assert info["crash"] == "block"
    y = min(max(env.core.y[0], 0), 46)
    assert (visible_background(env)[y : y + 2, PLAYER_X : PLAYER_X + 2] == BLOCK).any()


def test_leaving_the_screen_crashes() -> None:
    core = cave.CaveCore(1)
    core.reset(np.random.default_rng(0))
    core.background[:] = 0  # no walls at all
    core.y[:] = 0
    core.speed[:] = -2
    _, terminated, _ = core.step(np.array([1]), np.random.default_rng(1))
    assert terminated[0]
    assert core.info()["crash"].tolist() == ["wall"]


def test_truncated_at_max_episode_steps_with_score_equal_to_frames() -> None:
    env = CaveEnv(max_episode_steps=120)
    obs, info = env.reset(seed=4)
    total = 0.0
    for frame in range(1, 121):
        obs, reward, terminated, truncated, info = env.step(scripted_policy(obs, info))
        total += reward
        assert not terminated
        assert truncated == (frame == 120)
    assert total == 120


def test_the_gap_narrows_to_its_minimum_and_blocks_appear_inside_it() -> None:
    core = cave.CaveCore(3)
    core.reset(np.random.default_rng(0))
    assert core.gap().tolist() == [cave.GAP_START] * 3
    core.steps[:] = [cave.NARROW_EVERY, 10 * cave.NARROW_EVERY, 10_000]
    assert core.gap().tolist() == [cave.GAP_START - 1, cave.GAP_START - 10, cave.GAP_MIN]
    envs = CaveVectorEnv(num_envs=64)
    obs, info = envs.reset(seed=0)
    for _ in range(100):
        obs, *_, info = envs.step(scripted_policy(obs, info))
    blocks = obs == BLOCK
    assert blocks.any(axis=(1, 2)).mean() > 0.9
    # Every block stands inside the gap and leaves room to pass on at least one side.
    for n, x in zip(*np.nonzero(blocks.any(axis=1)), strict=True):
        column = obs[n, :, x]
        rows = np.flatnonzero(column == BLOCK)
        open_rows = np.flatnonzero(column != WALL)
        above = rows[0] - open_rows[0]
        below = open_rows[-1] - rows[-1]
        assert max(above, below) >= PLAYER_SIZE + 2


def test_same_seed_same_trajectory_other_seed_differs() -> None:
    def run(seed: int) -> list[np.ndarray]:
        env = CaveEnv()
        frames = [env.reset(seed=seed)[0]]
        frames += [env.step(step % 2)[0] for step in range(60)]
        return frames

    assert all(np.array_equal(a, b) for a, b in zip(run(5), run(5), strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(run(5), run(6), strict=True))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_episode_steps": 0}, "Cave max_episode_steps must be an int >= 1, got 0"),
        ({"max_episode_steps": None}, "Cave max_episode_steps must be an int >= 1, got None"),
        (
            {"render_mode": "human!"},
            "Cave render_mode must be one of None, 'ansi', 'rgb_array', 'human', got 'human!'",
        ),
    ],
)
def test_bad_arguments_name_the_argument_range_and_value(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        CaveEnv(**kwargs)
    assert str(raised.value) == message


def test_bad_action_messages() -> None:
    env = CaveEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"Cave action must be an int in \[0, 1\], got 2"):
        env.step(2)
    envs = CaveVectorEnv(num_envs=2)
    envs.reset(seed=0)
    with pytest.raises(ValueError, match=r"Cave actions must lie in \[0, 1\], got values"):
        envs.step(np.array([0, 2]))
    with pytest.raises(ValueError, match=r"shape \(2,\), got int64 array of shape \(3,\)"):
        envs.step(np.array([0, 1, 1]))


def survival(
    policy: Callable[[np.ndarray, dict[str, Any]], np.ndarray] | None,
    seed: int,
    num_envs: int = 64,
    cap: int = 400,
) -> np.ndarray:
    """Frames survived in the first episode of each of ``num_envs`` copies."""
    envs = CaveVectorEnv(num_envs=num_envs, max_episode_steps=cap)
    rng = np.random.default_rng(seed + 1000)
    obs, info = envs.reset(seed=seed)
    score, done = np.zeros(num_envs), np.zeros(num_envs, dtype=bool)
    while not done.all():
        actions = rng.integers(0, 2, num_envs) if policy is None else policy(obs, info)
        obs, reward, terminated, truncated, info = envs.step(actions)
        score += np.where(done, 0.0, reward)
        done |= terminated | truncated
    return score


def test_random_survives_some_tens_of_frames() -> None:
    median = np.median(survival(None, seed=0, num_envs=256))
    assert 10 <= median <= 60


def test_gap_centre_crashes_into_blocks_and_scripted_steers_around_them() -> None:
    gap = survival(gap_centre_policy, seed=0)
    scripted = survival(scripted_policy, seed=0)
    assert np.median(gap) < 150
    assert np.median(scripted) >= 3 * np.median(gap)
    assert (scripted == 400).mean() > 0.9


def test_controllers_take_one_observation_too() -> None:
    env = CaveEnv()
    obs, info = env.reset(seed=0)
    for policy in (scripted_policy, gap_centre_policy):
        action = policy(obs, info)
        assert action.shape == () and action.dtype == np.int64
        env.step(action)


def test_info_says_crash_only_on_the_frame_that_terminates() -> None:
    env = CaveEnv()
    obs, info = env.reset(seed=5)
    assert "crash" not in info
    terminated = truncated = False
    while not (terminated or truncated):
        assert "crash" not in info
        obs, _, terminated, truncated, info = env.step(gap_centre_policy(obs, info))
    assert terminated and info["crash"] in ("wall", "block")
    _, info = env.reset()
    assert "crash" not in info


def crash_causes(
    policy: Callable[[np.ndarray, dict[str, Any]], np.ndarray] | None,
    seed: int,
    num_envs: int = 128,
) -> np.ndarray:
    """``info["crash"]`` of the first crash of each copy ("" for copies truncated first)."""
    envs = CaveVectorEnv(num_envs=num_envs, max_episode_steps=400)
    rng = np.random.default_rng(seed + 1000)
    obs, info = envs.reset(seed=seed)
    causes, done = np.full(num_envs, "", dtype=object), np.zeros(num_envs, dtype=bool)
    while not done.all():
        actions = rng.integers(0, 2, num_envs) if policy is None else policy(obs, info)
        obs, _, terminated, truncated, info = envs.step(actions)
        if terminated.any():
            assert np.array_equal(info["_crash"], terminated)
            assert set(info["crash"][terminated]) <= {"wall", "block"}
            assert (info["crash"][~terminated] == None).all()  # noqa: E711 (elementwise)
        else:
            assert "crash" not in info and "_crash" not in info
        first = terminated & ~done
        causes[first] = info["crash"][first] if first.any() else causes[first]
        done |= terminated | truncated
    return causes


def test_twin_info_says_which_copies_crashed_into_walls_and_which_into_blocks() -> None:
    """The gap-centre controller never touches a wall; always holding the button only does."""
    assert set(crash_causes(gap_centre_policy, seed=0)) == {"block"}
    assert set(crash_causes(lambda obs, info: np.ones(len(obs), np.int64), seed=0)) == {"wall"}
    random = crash_causes(None, seed=0)
    assert set(random) == {"wall", "block"} and (random == "wall").mean() > 0.5
