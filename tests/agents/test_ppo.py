"""PPO: Box actions, Discrete and Dict observations, options, the CartPole preset."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
import pytest

import renshu
from renshu.agents.a2c import A2C
from renshu.agents.ppo import PPO
from renshu.errors import ConfigError

TINY: dict[str, Any] = {"n_steps": 16, "batch_size": 16, "n_epochs": 2, "seed": 0}


def test_box_actions_are_clipped_for_the_env_and_learn_pendulum_a_little() -> None:
    agent = PPO("Pendulum-v1", **TINY)
    actions = agent.act(np.zeros((50, 3), np.float32))
    assert actions.shape == (50, 1) and actions.dtype == np.float32
    assert np.all(np.abs(actions) <= 2.0)
    agent.fit(64, progress=False)
    assert agent.num_updates == 4 * 2  # 64 steps = 4 rollouts of 16, 2 epochs of one batch


def test_ppo_learns_frozenlake_with_its_discrete_observation() -> None:
    """FrozenLake-v1 (not slippery): a Discrete(16) observation, one-hot inside the net."""
    env = gymnasium.make("FrozenLake-v1", is_slippery=False)
    options = {"n_steps": 256, "batch_size": 64, "n_epochs": 4, "learning_rate": 1e-3}
    agent = PPO(env, seed=0, ent_coef=0.01, **options)
    agent.fit(10_000, progress=False)
    assert agent.test(episodes=3).mean() == 1.0
    assert agent.act(0) in (1, 2)  # from the start: down or right


def test_ppo_learns_a_dict_observation_env_and_tests_on_a_fresh_copy_of_its_class() -> None:
    """A Dict observation (a Box position, a Discrete target) with 4 copies of the env class;
    test() builds a fresh copy of the class (there is no single training instance)."""
    from renshu.envs.toy import DictTargetEnv

    options = {"n_steps": 64, "batch_size": 64, "n_epochs": 4, "learning_rate": 1e-3}
    agent = PPO(DictTargetEnv, seed=0, num_envs=4, ent_coef=0.01, **options)
    agent.fit(10_000, progress=False)
    assert agent.test(episodes=50, seed=1).mean() >= 0.85  # optimal about 0.92
    position = np.array([0.0], np.float32)
    assert agent.act({"position": position, "target": 6}) == 2  # walk right


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("clip_range", 0, "clip_range must be"),
        ("gae_lambda", 1.5, "gae_lambda must be a number in [0, 1]"),
        ("n_steps", 0, "n_steps must be"),
        ("lr_schedule", "cosine", "lr_schedule must be"),
        ("batch_size", "64", "batch_size must be"),
    ],
)
def test_bad_options_name_the_option_and_the_range(option: str, value: Any, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        PPO("CartPole-v1", **{option: value})
    assert words in str(info.value)


def test_registry_lists_ppo_and_a2c_with_their_metrics() -> None:
    from renshu.agents import ALGORITHMS

    assert ALGORITHMS["ppo"].agent_class() is PPO and ALGORITHMS["a2c"].agent_class() is A2C
    agent = PPO("CartPole-v1", **TINY)
    logged: list[dict[str, float]] = []

    class Logs(renshu.Callback):
        def on_log(self, step: int, logs: dict[str, float]) -> None:
            logged.append(logs)

    agent.fit(64, callbacks=[Logs()], progress=False, log_every=32)
    keys = set().union(*logged)
    assert set(ALGORITHMS["ppo"].metrics) <= keys, keys


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 3])
def test_ppo_solves_cartpole_with_its_preset_within_100k_steps(seed: int) -> None:
    """The CartPole-v1 PPO preset (RL Baselines3 Zoo's tuned settings: 8 envs, n_steps 32, batch
    256, gae_lambda 0.8, gamma 0.98, 20 epochs, lr 1e-3 and clip 0.2 annealed): greedy >= 475."""
    from renshu import presets

    preset = presets.load("CartPole-v1", "ppo")
    assert preset.steps == 100_000
    agent = PPO("CartPole-v1", seed=seed, **preset.config)
    agent.fit(preset.steps, progress=False)
    assert np.mean(agent.test(20, seed=1000 + seed).history["episode_reward"]) >= 475
