"""Learning bars on the built-in envs, with the tuned presets and fixed seeds.

Shower, Catch 8x8 and CartPole run in the default suite; the longer ones (Catch 16x16 and Cave,
several minutes each) are marked ``slow``: ``pytest -m slow``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pytest
import torch

import renshu
from renshu import presets
from renshu.agents.dqn import DQN
from renshu.callbacks import Evaluate

torch.set_num_threads(1)


def train(env: str, seed: int = 0, **overrides: object) -> tuple[DQN, float]:
    preset = presets.load(env)
    agent = DQN(env, seed=seed, **{**preset.config, **overrides})
    started = time.perf_counter()
    agent.fit(steps=preset.steps, progress=False)
    return agent, time.perf_counter() - started


def scripted_mean(policy: Callable[..., np.ndarray], env: str, episodes: int, seed: int) -> float:
    """Mean score of a scripted controller on the same episodes ``agent.test(seed=seed)`` plays."""
    game = renshu.make(env)
    scores = []
    for episode in range(episodes):
        obs, _ = game.reset(seed=seed if episode == 0 else None)
        total, done = 0.0, False
        while not done:
            action = int(policy(np.asarray(obs)[None], None)[0])
            obs, reward, terminated, truncated, _info = game.step(action)
            total, done = total + float(reward), bool(terminated or truncated)
        scores.append(total)
    return float(np.mean(scores))


def test_shower_reaches_57_over_100_episodes() -> None:
    agent, seconds = train("shower")
    score = agent.test(episodes=100, seed=1).mean()
    print(f"shower: {agent.num_steps} steps, {seconds:.1f} s, mean {score:.2f}")
    assert score >= 57.0


def test_catch_8x8_reaches_95_percent_of_scripted() -> None:
    from renshu.envs import catch

    agent, seconds = train("catch")
    score = agent.test(episodes=500, seed=1).mean()
    reference = scripted_mean(catch.scripted_policy, "catch", 500, seed=1)
    print(
        f"catch: {agent.num_steps} steps, {seconds:.1f} s, {score:.2f} vs scripted {reference:.2f}"
    )
    assert score >= 0.95 * reference


@pytest.mark.slow
def test_catch_16x16_cnn_4_frames_reaches_90_percent_of_scripted() -> None:
    from renshu.envs import catch

    agent, seconds = train("catch16")
    assert agent.q_network.kind == "cnn" and agent.config.window == 4
    score = agent.test(episodes=500, seed=1).mean()
    reference = scripted_mean(catch.scripted_policy, "catch16", 500, seed=1)
    print(
        f"catch16: {agent.num_steps} steps, {seconds:.1f} s, "
        f"{score:.2f} vs scripted {reference:.2f}"
    )
    assert score >= 0.90 * reference


def test_cartpole_greedy_evaluation_reaches_475() -> None:
    """The preset, stopped at the first greedy evaluation >= 475 (rl-zoo's EvalCallback way),
    then tested on 20 fresh episodes."""
    preset = presets.load("CartPole-v1")
    agent = DQN("CartPole-v1", seed=0, **preset.config)
    started = time.perf_counter()
    agent.fit(steps=preset.steps, progress=False, callbacks=[Evaluate(1_000, 20, stop_at=475)])
    seconds = time.perf_counter() - started
    score = agent.test(episodes=20, seed=1).mean()
    print(f"CartPole-v1: {agent.num_steps} steps, {seconds:.1f} s, mean {score:.1f}")
    assert score >= 475.0


@pytest.mark.slow
def test_cave_cnn_4_frames_survives_5x_random() -> None:
    import gymnasium

    agent, seconds = train("cave")
    assert agent.q_network.kind == "cnn" and agent.config.window == 4
    lengths = agent.test(episodes=50, seed=1).history["nb_episode_steps"]
    env = gymnasium.make_vec(
        "renshu/Cave-v0", num_envs=200, vectorization_mode="vector_entry_point"
    )
    env.reset(seed=3)
    rng = np.random.default_rng(3)
    alive = np.ones(200, dtype=bool)
    survived = np.zeros(200)
    while alive.any():
        _, _, terminated, truncated, _ = env.step(rng.integers(2, size=200))
        survived += alive
        alive &= ~(terminated | truncated)
    agent_median, random_median = float(np.median(lengths)), float(np.median(survived))
    print(
        f"cave: {agent.num_steps} steps, {seconds:.1f} s, "
        f"median {agent_median} vs random {random_median}"
    )
    assert agent_median >= 5 * random_median
