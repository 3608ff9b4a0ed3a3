"""The toy envs of renshu.envs.toy: spaces, rewards and episode ends (MemoryEnv shows its cue
once and judges the answer after the delay; DelayedChainEnv pays only after its delay)."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from renshu.envs.toy import DelayedChainEnv, MemoryEnv
from renshu.errors import ConfigError


def play(env: MemoryEnv, answer: int, seed: int | None = None) -> list[tuple]:
    """One episode answering ``answer`` throughout: [(obs, reward, terminated, truncated, info)]."""
    obs, info = env.reset(seed=seed)
    steps = [(obs, 0.0, False, False, info)]
    while not (steps[-1][2] or steps[-1][3]):
        steps.append(env.step(answer))
    return steps


def test_memory_env_shows_the_cue_once_then_blanks_then_the_question() -> None:
    env = MemoryEnv(n_cues=3, delay=8)
    steps = play(env, answer=0, seed=0)
    observations = np.array([step[0] for step in steps])
    cue = steps[-1][4]["cue"]
    assert observations.shape == (8 + 3, 4) and observations.dtype == np.float32
    assert observations[0].tolist() == [float(i == cue) for i in range(4)]
    assert not observations[1:9].any()  # the delay: blank
    assert observations[9].tolist() == [0.0, 0.0, 0.0, 1.0]  # the question
    assert [step[1] for step in steps[:-1]] == [0.0] * 10  # nothing scored before the answer
    assert [step[2] for step in steps] == [False] * 10 + [True]
    assert not any(step[3] for step in steps)


@pytest.mark.parametrize("delay", [0, 1, 10])
def test_memory_env_episode_lasts_delay_plus_two_steps(delay: int) -> None:
    assert len(play(MemoryEnv(delay=delay), answer=1, seed=1)) - 1 == delay + 2


def test_memory_env_rewards_the_answer_that_matches_the_cue() -> None:
    env = MemoryEnv(n_cues=2, delay=3)
    for seed in range(20):
        obs, _ = env.reset(seed=seed)
        cue = int(np.argmax(obs))
        for _ in range(4):  # actions before the question do nothing
            assert env.step(1 - cue)[1:3] == (0.0, False)
        _, reward, terminated, _, info = env.step(cue)
        assert (reward, terminated, info["cue"]) == (1.0, True, cue)
        env.reset(seed=seed)
        for _ in range(4):
            env.step(cue)
        assert env.step(1 - cue)[1] == -1.0


def test_memory_env_draws_every_cue_evenly_and_passes_gymnasium_checks() -> None:
    env = MemoryEnv(n_cues=2)
    check_env(env, skip_render_check=True)  # no render modes
    cues = [play(env, 0, seed=None if i else 0)[-1][4]["cue"] for i in range(400)]
    assert 160 <= sum(cues) <= 240


def test_memory_env_argument_messages() -> None:
    with pytest.raises(ConfigError, match=r"^MemoryEnv n_cues must be an int >= 2, got 1$"):
        MemoryEnv(n_cues=1)
    with pytest.raises(ConfigError, match=r"^MemoryEnv delay must be an int >= 0, got -1$"):
        MemoryEnv(delay=-1)


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
