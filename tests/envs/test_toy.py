"""The toy envs of renshu.envs.toy: spaces, rewards and episode ends."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from renshu.envs.toy import DelayedChainEnv
from renshu.errors import ConfigError

LEFT, STAY, RIGHT = 0, 1, 2


def test_delayed_chain_spaces_and_start() -> None:
    env = DelayedChainEnv(length=5, delay=3)
    check_env(env, skip_render_check=True)
    assert env.action_space.n == 3
    assert env.observation_space.shape == (2,) and env.observation_space.dtype == np.float32
    assert env.observation_space.high.tolist() == [4.0, 3.0]
    obs, _ = env.reset(seed=0)
    assert obs.tolist() == [0.0, 0.0] and obs in env.observation_space


def test_delayed_chain_pays_only_after_the_delay_at_the_far_end() -> None:
    env = DelayedChainEnv(length=5, delay=3)
    env.reset(seed=0)
    rewards, cells = [], []
    for action in [LEFT, RIGHT, STAY, RIGHT, RIGHT, RIGHT]:  # the wall, then to cell 4
        obs, reward, terminated, truncated, _ = env.step(action)
        rewards.append(reward)
        cells.append(obs[0])
        assert not terminated and not truncated
    assert cells == [0, 1, 1, 2, 3, 4] and rewards == [0.0] * 6
    # held at the far end for `delay` steps whatever it does; the last one pays +1 and ends
    waited = []
    for action in [LEFT, LEFT, STAY]:
        obs, reward, terminated, truncated, _ = env.step(action)
        waited.append((obs.tolist(), reward, terminated, truncated))
    assert waited == [
        ([4.0, 1.0], 0.0, False, False),
        ([4.0, 2.0], 0.0, False, False),
        ([4.0, 3.0], 1.0, True, False),
    ]


def test_delayed_chain_truncates_without_reward_when_it_never_gets_there() -> None:
    env = DelayedChainEnv(length=4, delay=2)
    assert env.max_steps == 2 * (3 + 2)
    env.reset(seed=0)
    total = 0.0
    for t in range(1, env.max_steps + 1):
        _, reward, terminated, truncated, _ = env.step(LEFT)
        total += reward
        assert not terminated and truncated == (t == env.max_steps)
    assert total == 0.0


def test_delayed_chain_optimum_fits_the_time_limit_exactly() -> None:
    env = DelayedChainEnv(length=4, delay=2, max_steps=5)  # 3 moves + 2 waits
    env.reset(seed=0)
    outcome = [env.step(RIGHT)[1:4] for _ in range(5)]
    assert outcome[-1] == (1.0, True, False) and sum(r for r, *_ in outcome) == 1.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"length": 1}, "length must be an int >= 2, got 1"),
        ({"delay": 0}, "delay must be an int >= 1, got 0"),
        ({"length": 4, "delay": 2, "max_steps": 4}, r"max_steps must be an int >= .* = 5"),
    ],
)
def test_delayed_chain_refuses_bad_sizes(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DelayedChainEnv(**kwargs)
