"""DQN: learning on toy envs per option, correctness, determinism, save/load, config errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium import spaces

import renshu
from renshu.agents.dqn import DQN, DQNConfig
from renshu.callbacks import Callback, EpisodeLogger
from renshu.envs.toy import ConstantRewardEnv, IdentityEnv, ScriptedEnv
from renshu.errors import ConfigError

torch.set_num_threads(1)

FAST = dict(
    warmup_steps=200,
    buffer_size=2_000,
    batch_size=32,
    learning_rate=3e-3,
    gamma=0.5,
    target_update=100,
    eps_anneal_steps=500,
    eps_end=0.02,
    net=(32,),
    seed=0,
)


def identity_score(**options: object) -> float:
    agent = DQN(IdentityEnv(n=4, length=10), **{**FAST, **options})
    agent.fit(steps=1_500, progress=False)
    return agent.test(episodes=10, seed=1).mean()


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"double": True},
        {"dueling": True},
        {"prioritized": True},
        {"n_step": 3},
        {"loss": "mse"},
        {"loss": "huber"},
        {"loss": lambda q, t, w: ((q - t) ** 2 * w).mean()},
        {"policy": "boltzmann", "tau": 0.1},
        {"policy": "greedy"},
        {"optimizer": "rmsprop"},
        {"optimizer": "rmsprop_graves", "learning_rate": 2.5e-3},
        {"optimizer": lambda params: torch.optim.SGD(params, lr=0.05)},
        {"target_update": 1e-2},
        {"num_envs": 1, "train_every": 4, "gradient_steps": 4},
    ],
    ids=lambda o: (
        ",".join(f"{k}={v if not callable(v) else 'fn'}" for k, v in o.items()) or "default"
    ),
)
def test_identity_env_learns_to_90_percent(options: dict[str, object]) -> None:
    assert identity_score(**options) >= 9.0


def test_truncation_is_bootstrapped_so_value_approaches_one_over_one_minus_gamma() -> None:
    gamma = 0.9
    agent = DQN(
        ConstantRewardEnv(length=5),
        **{**FAST, "gamma": gamma, "n_step": 1, "learning_rate": 1e-2, "target_update": 50},
    )
    agent.fit(steps=3_000, progress=False)
    q = agent._q_values(np.ones((1, 1), np.float32))
    # Treating the 5-step cutoff as termination would give at most (1 - 0.9**5)/(1 - 0.9) = 4.1.
    assert q.max() == pytest.approx(1 / (1 - gamma), abs=1.0)


def test_same_seed_gives_identical_weights_and_different_seeds_differ() -> None:
    def weights(seed: int) -> list[torch.Tensor]:
        agent = DQN(IdentityEnv(), **{**FAST, "seed": seed})
        agent.fit(steps=400, progress=False)
        return [p.detach().clone() for p in agent.q_network.parameters()]

    a, b, c = weights(3), weights(3), weights(4)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(a, c, strict=True))


def test_save_load_round_trip_gives_identical_actions_and_training_continues(tmp_path) -> None:
    agent = DQN(IdentityEnv(), **FAST)
    agent.fit(steps=400, progress=False)
    path = agent.save(tmp_path / "agent")
    assert sorted(p.name for p in path.iterdir()) == [
        "config.json",
        "optimizer.safetensors",
        "state.json",
        "weights.safetensors",
    ]
    loaded = renshu.load(path, env=IdentityEnv())
    obs = np.eye(4, dtype=np.float32)
    assert np.array_equal(agent.act(obs), loaded.act(obs))
    assert loaded.num_steps == 400
    loaded.fit(steps=100, progress=False)
    assert loaded.num_steps == 500


def test_load_without_env_can_act(tmp_path) -> None:
    agent = DQN(IdentityEnv(), **FAST)
    agent.save(tmp_path / "a")
    loaded = renshu.load(tmp_path / "a")
    assert loaded.act(np.eye(4, dtype=np.float32)[0]) == agent.act(np.eye(4, dtype=np.float32)[0])
    with pytest.raises(ConfigError, match="has no environment"):
        loaded.fit(steps=10, progress=False)


def test_checkpoint_resume_matches_straight_run(tmp_path) -> None:
    opts = {**FAST, "seed": 7}
    straight = DQN(IdentityEnv(), **opts)
    straight.fit(
        steps=600,
        progress=False,
        callbacks=[renshu.CheckpointEvery(300, tmp_path / "a", replay=True)],
    )

    first = DQN(IdentityEnv(), **opts)
    first.fit(
        steps=300,
        progress=False,
        callbacks=[renshu.CheckpointEvery(300, tmp_path / "b", replay=True)],
    )
    resumed = renshu.load(tmp_path / "b" / "300", env=IdentityEnv())
    resumed.fit(steps=300, progress=False)

    for x, y in zip(straight.q_network.parameters(), resumed.q_network.parameters(), strict=True):
        assert torch.equal(x, y)


def test_callbacks_get_keras_rl_logs() -> None:
    class Steps(Callback):
        def __init__(self) -> None:
            self.keys: set[str] = set()

        def on_step_end(self, step: int, logs: dict) -> None:
            self.keys |= set(logs)

    steps, logger = Steps(), EpisodeLogger()
    agent = DQN(IdentityEnv(length=5), **FAST)
    history = agent.fit(steps=50, progress=False, callbacks=[steps])
    assert {
        "episode",
        "observation",
        "action",
        "reward",
        "terminated",
        "truncated",
        "info",
    } <= steps.keys
    assert history.history["episode_reward"] and len(history.history["episode_reward"]) == 10
    scores = agent.test(episodes=3, callbacks=[logger])
    assert len(scores.history["episode_reward"]) == 3
    assert [len(v) for v in logger.observations.values()] == [5, 5, 5]


def test_vector_env_with_next_step_autoreset_trains() -> None:
    agent = DQN("CartPole-v1", num_envs=4, warmup_steps=100, buffer_size=1_000, seed=0)
    history = agent.fit(steps=800, progress=False)
    assert agent.num_steps >= 800
    assert len(history.history["episode_reward"]) > 0
    assert len(agent.buffer) >= 700


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"learning_rate": -1.0}, "learning_rate must be a number > 0, got -1.0."),
        ({"gamma": 2}, "gamma must be a number in [0, 1], got 2."),
        ({"target_update": 0}, "target_update must be an int >= 1 (hard copy every N steps)"),
        (
            {"batch_size": 64, "buffer_size": 32},
            "buffer_size must be an int >= batch_size (64), got 32.",
        ),
        (
            {"lerning_rate": 1e-3},
            "Unknown option 'lerning_rate' for DQNConfig. Did you mean: learning_rate?",
        ),
        ({"n_step": 0}, "n_step must be an int >= 1, got 0."),
        ({"loss": "l1"}, 'loss must be "huber", "mse" or a callable, got \'l1\'.'),
    ],
)
def test_bad_options_name_the_option_and_range(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        DQN(IdentityEnv(), **options)
    assert message in str(info.value)


def test_box_action_space_is_refused() -> None:
    env = ScriptedEnv(
        lambda e: (np.zeros(1, np.float32), {}),
        lambda e, a: (np.zeros(1, np.float32), 0.0, False, False, {}),
        action_space=spaces.Box(-1.0, 1.0, (1,), np.float32),
    )
    with pytest.raises(ConfigError, match="DQN needs a Discrete action space, got Box"):
        DQN(env)


def test_config_has_a_docstring_for_every_field() -> None:
    from renshu.config import field_docs, field_names

    docs = field_docs(DQNConfig)
    assert set(field_names(DQNConfig)) == set(docs)
    assert all(docs.values())
