"""PPO and A2C reach the DQN learning bars on Shower and Catch with their presets (fixed seeds).

Shower: greedy mean >= 57 over 100 episodes (the practical optimum is +59.1). Catch 8x8: greedy
mean >= 95% of the scripted controller's +25.80 (so >= 24.51) over 200 episodes.
"""

from __future__ import annotations

import numpy as np
import pytest

import renshu
from renshu import presets

SCRIPTED_CATCH = 25.80


def train_with_preset(algo: str, env: str, seed: int = 0) -> float:
    preset = presets.load(env, algo)
    agent = getattr(renshu, algo.upper())(env, seed=seed, **preset.config)
    agent.fit(preset.steps, progress=False)
    rewards = agent.test(preset.test_episodes, seed=12_345).history["episode_reward"]
    return float(np.mean(rewards))


@pytest.mark.parametrize("algo", ["ppo", "a2c"])
def test_shower_reaches_57_with_the_preset(algo: str) -> None:
    assert train_with_preset(algo, "shower") >= 57.0


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["ppo", "a2c"])
def test_catch_reaches_95_percent_of_the_scripted_controller(algo: str) -> None:
    assert train_with_preset(algo, "catch") >= 0.95 * SCRIPTED_CATCH


@pytest.mark.slow
def test_ppo_pendulum_reaches_minus_300_with_the_preset() -> None:
    assert train_with_preset("ppo", "Pendulum-v1") >= -300.0


@pytest.mark.slow
def test_a2c_cartpole_preset_solves_cartpole() -> None:
    assert train_with_preset("a2c", "CartPole-v1") >= 475.0
