"""Learning bars on the built-in envs, with the tuned presets and fixed seeds.

Shower, Catch 8x8 and CartPole run in the default suite; the longer ones (Catch 16x16 and Cave,
several minutes each) are marked ``slow``: ``pytest -m slow``.
"""

from __future__ import annotations

import shutil
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


# ------------------------------------------------------------------ observation spaces, statistics
SMALL = {
    "learning_rate": 1e-3,
    "warmup_steps": 200,
    "eps_anneal_steps": 1500,
    "eps_end": 0.05,
    "target_update": 100,
    "gamma": 0.95,
}


def test_frozenlake_discrete_observation_reaches_the_goal() -> None:
    """FrozenLake's Discrete(16) observation, one-hot inside the net: the greedy policy walks
    to the goal (reward 1) after a small budget."""
    import gymnasium

    agent = DQN(gymnasium.make("FrozenLake-v1", is_slippery=False), seed=0, **SMALL)
    assert agent.q_network.kind == "multi"
    agent.fit(steps=2_500, progress=False)
    assert agent.test(episodes=3).mean() == 1.0
    assert agent.act(0) in (1, 2)  # from the start: down or right


def test_dict_observation_env_learns_to_walk_to_the_target() -> None:
    """A Dict observation (a Box position and a Discrete target): one torso per key; the greedy
    policy walks straight to the target (optimal mean about 0.92, a random walk far less)."""
    from renshu.envs.toy import DictTargetEnv

    agent = DQN(DictTargetEnv(), seed=0, **SMALL)
    agent.fit(steps=3_000, progress=False)
    assert agent.test(episodes=50, seed=1).mean() >= 0.85
    position = np.array([0.0], np.float32)
    assert agent.act({"position": position, "target": 6}) == 2  # walk right
    batch = [{"position": np.array([6.0], np.float32), "target": 0}] * 2
    assert list(agent.act(batch)) == [0, 0]  # a batch is a list of observations


def test_dict_and_discrete_agents_save_and_load(tmp_path) -> None:
    import gymnasium

    from renshu.envs.toy import DictTargetEnv

    for env in (DictTargetEnv(), gymnasium.make("FrozenLake-v1", is_slippery=False)):
        agent = DQN(env, seed=0, warmup_steps=50)
        agent.fit(steps=120, progress=False)
        agent.save(tmp_path / "agent", replay=True)
        loaded = renshu.load(tmp_path / "agent")  # without an env: the spaces come from JSON
        assert loaded.observation_space == agent.observation_space
        obs, _ = env.reset(seed=3)
        assert loaded.act(obs) == agent.act(obs)
        for x, y in zip(
            agent.q_network.state_dict().values(),
            loaded.q_network.state_dict().values(),
            strict=True,
        ):
            assert torch.equal(x, y)
        np.testing.assert_array_equal(
            loaded.buffer.state_dict()["frames"], agent.buffer.state_dict()["frames"]
        )
        shutil.rmtree(tmp_path / "agent")


def test_window_with_dict_observation_is_refused() -> None:
    from renshu.envs.toy import DictTargetEnv
    from renshu.errors import ConfigError

    with pytest.raises(ConfigError, match=r"window=4 stacks frames of a Box observation"):
        DQN(DictTargetEnv(), window=4)


def test_observation_statistics_resume_exactly_with_pending_rows(tmp_path) -> None:
    """Split at a step that leaves observations waiting to be folded (301 is not a multiple of
    the chunk): the statistics, the target's copy and the weights equal a straight run's."""
    from renshu.envs.toy import DictTargetEnv

    opts = {**SMALL, "seed": 3, "target_update": 50}
    for make_env in (lambda: gymnasium_cartpole(), DictTargetEnv):
        straight = DQN(make_env(), **opts)  # checkpoints too: the envs restart at the cut
        every = renshu.CheckpointEvery(301, tmp_path / "a", replay=True)
        straight.fit(steps=602, progress=False, callbacks=[every])
        first = DQN(make_env(), **opts)
        every = renshu.CheckpointEvery(301, tmp_path / "ckpt", replay=True)
        first.fit(steps=301, progress=False, callbacks=[every])
        resumed = renshu.load(tmp_path / "ckpt" / "301", env=make_env())
        resumed.fit(steps=301, progress=False)
        for net in ("q_network", "target_network"):
            a = getattr(straight, net).state_dict()
            b = getattr(resumed, net).state_dict()
            assert a.keys() == b.keys() and any("norm.mean" in k for k in a)
            for key in a:
                assert torch.equal(a[key], b[key]), key
        shutil.rmtree(tmp_path / "ckpt")
        shutil.rmtree(tmp_path / "a")


def gymnasium_cartpole() -> object:
    import gymnasium

    return gymnasium.make("CartPole-v1")


def test_target_network_takes_the_statistics_with_the_weights() -> None:
    """The target's normalization is a copy of the online network's from the last target
    update (a snapshot of the online Q-function), never the initial identity."""
    agent = DQN("CartPole-v1", seed=0, warmup_steps=10, target_update=100)
    agent.fit(steps=250, progress=False)
    online, target = agent._obs_norm, agent._target_norm
    assert online is not None and target is not None and online is not target
    assert float(online.count) >= 240
    assert float(target.count) == 192  # as of step 200 (12 chunks of 16 folded by then)
    agent._update_target(1.0)
    assert torch.equal(target.mean, online.mean) and torch.equal(target.scale, online.scale)
    soft = DQN("CartPole-v1", seed=0, warmup_steps=10, target_update=0.5)
    soft.fit(steps=100, progress=False)
    assert 0 < float(soft._target_norm.count) <= float(soft._obs_norm.count)


def test_normalize_obs_false_leaves_float_observations_raw() -> None:
    agent = DQN("CartPole-v1", seed=0, normalize_obs=False)
    assert agent._obs_norm is None and agent.q_network.preprocess.norm is None
    with pytest.raises(renshu.errors.ConfigError, match="normalize_obs"):
        DQN("CartPole-v1", normalize_obs="yes")
