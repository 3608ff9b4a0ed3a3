"""Shower-v0: spaces, every rule, seeding, arguments, controllers."""

from __future__ import annotations

import numpy as np
import pytest

from renshu.envs.shower import (
    ShowerCore,
    ShowerEnv,
    ShowerVectorEnv,
    hold_policy,
    scripted_policy,
)
from renshu.errors import ConfigError


class FixedNoise:
    """Stands in for a Generator: ``integers`` returns a chosen value for every copy."""

    def __init__(self, value: int) -> None:
        self.value = value

    def integers(self, low: int, high: int, size: int) -> np.ndarray:
        assert low <= self.value < high
        return np.full(size, self.value, dtype=np.int64)


def test_spaces_and_dtypes() -> None:
    env = ShowerEnv()
    assert env.action_space.n == 3
    assert env.observation_space.shape == (1,)
    assert env.observation_space.dtype == np.float32
    assert env.observation_space.low[0] == 0 and env.observation_space.high[0] == 100
    obs, info = env.reset(seed=0)
    assert obs.shape == (1,) and obs.dtype == np.float32 and info == {}
    obs, reward, terminated, truncated, info = env.step(1)
    assert obs.dtype == np.float32 and type(reward) is float
    assert type(terminated) is bool and type(truncated) is bool


def test_start_temperature_is_38_plus_minus_3() -> None:
    env = ShowerEnv()
    starts = {float(env.reset(seed=seed)[0][0]) for seed in range(300)}
    assert starts == {35.0, 36.0, 37.0, 38.0, 39.0, 40.0, 41.0}


@pytest.mark.parametrize("temperature", range(30, 47))
@pytest.mark.parametrize("action", [0, 1, 2])
def test_reward_band_is_judged_after_the_action_and_before_the_noise(
    temperature: int, action: int
) -> None:
    for noise in (-1, 0, 1):
        core = ShowerCore(1)
        core.temperature[:] = temperature
        reward, _, _ = core.step(np.array([action]), FixedNoise(noise))  # type: ignore[arg-type]
        after_action = temperature + action - 1
        assert reward[0] == (1.0 if 37 <= after_action <= 39 else -1.0)
        assert core.temperature[0] == after_action + noise


def test_temperature_is_clipped_to_0_100() -> None:
    core = ShowerCore(2)
    core.temperature[:] = [100, 0]
    core.step(np.array([2, 0]), FixedNoise(1))  # type: ignore[arg-type]
    assert core.temperature.tolist() == [100, 0]  # 101 + 1 -> 100; -1 + 1 -> 0
    core.temperature[:] = [100, 0]
    core.step(np.array([2, 0]), FixedNoise(-1))  # type: ignore[arg-type]
    assert core.temperature.tolist() == [100, 0]  # clipped after the noise: 101 - 1 -> 100
    assert core.observations().tolist() == [[100.0], [0.0]]


def test_observations_stay_in_the_box_under_a_runaway_controller() -> None:
    env = ShowerEnv()
    env.reset(seed=1)
    for _ in range(60):
        obs, *_ = env.step(2)
        assert env.observation_space.contains(obs)
    assert obs[0] > 80


def test_truncated_after_60_steps_never_terminated() -> None:
    env = ShowerEnv()
    env.reset(seed=3)
    for step in range(1, 61):
        _, _, terminated, truncated, _ = env.step(1)
        assert terminated is False
        assert truncated is (step == 60)


def test_max_episode_steps_sets_the_episode_length() -> None:
    env = ShowerEnv(max_episode_steps=5)
    env.reset(seed=0)
    flags = [env.step(1)[3] for _ in range(5)]
    assert flags == [False, False, False, False, True]


def test_same_seed_same_trajectory_other_seed_differs() -> None:
    def run(seed: int) -> list[float]:
        env = ShowerEnv()
        temps = [float(env.reset(seed=seed)[0][0])]
        temps += [float(env.step(1)[0][0]) for _ in range(60)]
        return temps

    assert run(7) == run(7)
    assert run(7) != run(8)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_episode_steps": 0}, "Shower max_episode_steps must be an int >= 1, got 0"),
        ({"max_episode_steps": 2.5}, "Shower max_episode_steps must be an int >= 1, got 2.5"),
        (
            {"render_mode": "rgb"},
            "Shower render_mode must be one of None, 'ansi', 'rgb_array', 'human', got 'rgb'",
        ),
    ],
)
def test_bad_arguments_name_the_argument_range_and_value(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        ShowerEnv(**kwargs)
    assert str(raised.value) == message


def test_bad_num_envs_message() -> None:
    with pytest.raises(ConfigError) as raised:
        ShowerVectorEnv(num_envs=0)
    assert str(raised.value) == "Shower num_envs must be an int >= 1, got 0"


def test_bad_action_message() -> None:
    env = ShowerEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"Shower action must be an int in \[0, 2\], got 3"):
        env.step(3)


def test_scripted_policy_moves_toward_38() -> None:
    obs = np.array([[30.0], [37.0], [38.0], [39.0], [45.0]], dtype=np.float32)
    assert scripted_policy(obs, {}).tolist() == [2, 2, 1, 0, 0]
    assert scripted_policy(obs, {}).dtype == np.int64
    assert scripted_policy(np.array([36.0], dtype=np.float32), {}).item() == 2
    assert hold_policy(obs, {}).tolist() == [1] * 5


def test_scores_of_random_hold_and_scripted() -> None:
    envs = ShowerVectorEnv(num_envs=2000)
    rng = np.random.default_rng(12345)  # not the env's seed: the streams would correlate
    results = {}
    for name, policy in [("random", None), ("hold", hold_policy), ("scripted", scripted_policy)]:
        obs, info = envs.reset(seed=0)
        total = np.zeros(2000)
        for _ in range(60):
            actions = rng.integers(0, 3, 2000) if policy is None else policy(obs, info)
            obs, reward, _, truncated, info = envs.step(actions)
            total += reward
        assert truncated.all()
        results[name] = total.mean()
    assert results["random"] == pytest.approx(-35, abs=2)
    assert results["hold"] == pytest.approx(-28, abs=3)
    assert results["scripted"] == pytest.approx(59.1, abs=0.3)
