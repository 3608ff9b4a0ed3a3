"""DRQN: every observation space DQN takes, acting with memory (in and outside the agent, both
autoreset modes), save/load, exact resume, learning on a small env, config errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
import torch

import renshu
from renshu.agents import ALGORITHMS
from renshu.agents.drqn import DRQN, DRQNConfig, rescale, rescale_inverse
from renshu.callbacks import Callback
from renshu.envs.toy import IdentityEnv
from renshu.errors import ConfigError

torch.set_num_threads(1)

BROKEN = f"{Path(__file__).resolve().parents[1] / 'fixtures' / 'broken_envs.py'}"
FAST: dict[str, Any] = dict(
    warmup_steps=100,
    buffer_size=2_000,
    batch_size=8,
    seq_len=6,
    burn_in=2,
    lstm_size=16,
    net=(16,),
    learning_rate=3e-3,
    target_update=100,
    eps_anneal_steps=300,
    seed=0,
)


@pytest.mark.parametrize(
    ("env", "options"),
    [
        ("shower", {}),
        ("catch", {}),  # uint8 frames: the CNN torso
        ("catch", {"window": 2, "dueling": True, "double": True}),
        (f"{BROKEN}:DiscreteObs", {}),
        (f"{BROKEN}:DictObs", {}),
    ],
    ids=["box", "image", "image-window2-dueling-double", "discrete", "dict"],
)
def test_drqn_trains_tests_and_acts_on_every_observation_space_dqn_takes(
    env: str, options: dict[str, Any]
) -> None:
    agent = DRQN(env, **{**FAST, "net": "auto", **options})
    agent.fit(steps=250, progress=False)
    assert agent.num_updates > 0
    assert len(agent.test(episodes=1, max_episode_steps=30).history["episode_reward"]) == 1
    obs, _ = renshu.make(env).reset(seed=0)
    if agent.config.window > 1:
        obs = np.stack([obs] * agent.config.window)
    action, state = agent.act(obs)
    assert agent.action_space.contains(action)
    assert [tuple(x.shape) for x in state] == [(1, 1, agent.config.lstm_size)] * 2


def test_drqn_is_in_the_one_list_of_algorithms_and_exported() -> None:
    assert ALGORITHMS["drqn"].agent_class() is DRQN is renshu.DRQN
    assert ALGORITHMS["drqn"].config_class() is DRQNConfig
    assert DRQN.recurrent and not renshu.DQN.recurrent


class Actions(Callback):
    def __init__(self) -> None:
        self.actions: list[int] = []

    def on_step_end(self, step: int, logs: dict[str, Any]) -> None:
        self.actions.append(int(logs["action"]))


def test_act_with_state_and_episode_start_plays_exactly_as_test() -> None:
    agent = DRQN("catch", **FAST)
    agent.fit(steps=300, progress=False)
    played = Actions()
    scores = agent.test(episodes=3, seed=5, callbacks=[played])
    env = renshu.make("catch")
    rewards, actions = [], []
    for episode in range(3):
        obs, _ = env.reset(seed=5 if episode == 0 else None)
        state, start, done, total = None, True, False, 0.0
        while not done:
            action, state = agent.act(obs, state, episode_start=start)
            actions.append(action)
            obs, reward, terminated, truncated, _ = env.step(action)
            done, start, total = terminated or truncated, False, total + float(reward)
        rewards.append(total)
    assert rewards == scores.history["episode_reward"]
    assert actions == played.actions


def test_act_episode_start_resets_the_state_of_those_observations_only() -> None:
    agent = DRQN("shower", **FAST)
    obs = np.array([[37.0], [40.0]], np.float32)
    _, state = agent.act(obs)
    _, state = agent.act(obs, state)
    fresh, _ = agent._q_step(obs, agent._initial_state(2), None)[::2]
    carried, _ = agent._q_step(obs, state, None)[::2]
    mixed = agent._q_step(obs, state, np.array([True, False]))[0]
    assert np.array_equal(mixed[0], fresh[0]) and np.array_equal(mixed[1], carried[1])
    assert not np.array_equal(fresh[1], carried[1])
    with pytest.raises(ConfigError, match=r"episode_start must be a bool or one bool per"):
        agent.act(obs, state, episode_start=[True, False, True])
    with pytest.raises(ConfigError, match=r"state must be the \(h, c\) pair act\(\) returned"):
        agent.act(obs[0], state)


def test_an_agent_without_memory_refuses_a_state_in_act() -> None:
    agent = renshu.DQN(IdentityEnv(), seed=0)
    with pytest.raises(ConfigError, match="acts without memory"):
        agent.act(np.eye(4, dtype=np.float32)[0], state=None, episode_start=True)


def zero_rows(agent: DRQN) -> list[np.ndarray]:
    """Spy on the states DRQN acts from in training: per act, which envs start from zero."""
    seen: list[np.ndarray] = []
    inner = agent._q_step

    def spy(window: np.ndarray, state: Any, starts: np.ndarray | None) -> Any:
        q, used, nxt = inner(window, state, starts)
        seen.append((used[0][0] == 0).all(dim=1).numpy().copy())
        return q, used, nxt

    agent._q_step = spy  # type: ignore[method-assign]
    return seen


def test_training_resets_the_state_where_episodes_start_same_step_autoreset() -> None:
    agent = DRQN(IdentityEnv(length=5), **FAST)
    seen = zero_rows(agent)
    agent.fit(steps=30, progress=False)
    zero = np.array(seen)[:, 0]
    assert zero.tolist() == [t % 5 == 0 for t in range(30)]


def test_training_resets_the_state_where_episodes_start_next_step_autoreset() -> None:
    env = gymnasium.vector.SyncVectorEnv([lambda: IdentityEnv(length=5)] * 2)
    agent = DRQN(env, **{**FAST, "num_envs": 2})
    seen = zero_rows(agent)
    agent.fit(steps=36, progress=False)
    # each env: 5 steps of an episode, one reset step (its action ignored), then the next one
    zero = np.array(seen)
    expected = [t % 6 == 0 for t in range(len(zero))]
    assert zero[:, 0].tolist() == expected and zero[:, 1].tolist() == expected


def test_drqn_save_load_round_trip_acts_identically_with_state(tmp_path: Path) -> None:
    agent = DRQN("shower", **FAST)
    agent.fit(steps=300, progress=False)
    loaded = renshu.load(agent.save(tmp_path / "agent"))
    assert isinstance(loaded, DRQN) and loaded.config.lstm_size == 16
    obs = np.array([[30.0], [38.0], [45.0]], np.float32)
    s1 = s2 = None
    for _ in range(4):
        a1, s1 = agent.act(obs, s1)
        a2, s2 = loaded.act(obs, s2)
        assert np.array_equal(a1, a2)


@pytest.mark.parametrize(
    "options",
    [{}, {"prioritized": True, "n_step": 3, "num_envs": 2}],
    ids=["default", "prioritized-nstep-2envs"],
)
def test_drqn_resume_is_byte_identical_to_a_straight_run(
    tmp_path: Path, options: dict[str, Any]
) -> None:
    opts = {**FAST, "seed": 7, "per_beta_steps": 600, **options}
    straight = DRQN("catch", **opts)
    straight.fit(
        steps=600, progress=False,
        callbacks=[renshu.CheckpointEvery(300, tmp_path / "a", replay=True)],
    )  # fmt: skip
    first = DRQN("catch", **opts)
    first.fit(
        steps=300, progress=False,
        callbacks=[renshu.CheckpointEvery(300, tmp_path / "b", replay=True)],
    )  # fmt: skip
    (saved,) = (tmp_path / "b").iterdir()  # 300, or 301 where two envs step past it together
    resumed = renshu.load(saved)
    assert isinstance(resumed, DRQN)
    resumed.fit(steps=600 - resumed.num_steps, progress=False)  # on to the straight run's end
    assert resumed.num_steps == straight.num_steps
    for x, y in zip(straight.q_network.parameters(), resumed.q_network.parameters(), strict=True):
        assert torch.equal(x, y)


@pytest.mark.parametrize("value_rescale", [True, False], ids=["rescaled", "plain"])
def test_drqn_learns_identity_with_memory_core(value_rescale: bool) -> None:
    options = {**FAST, "gamma": 0.5, "seq_len": 4, "value_rescale": value_rescale}
    agent = DRQN(IdentityEnv(n=4, length=10), **options)
    agent.fit(steps=1_500, progress=False)
    assert agent.test(episodes=10, seed=1).mean() >= 9.0


def test_value_rescaling_is_r2d2s_h_and_its_inverse() -> None:
    x = torch.tensor([-1e4, -500.0, -3.0, -0.5, 0.0, 0.25, 1.0, 8.0, 99.0, 1e3, 1e5])
    y = rescale(x)
    assert torch.allclose(y[[4, 6, 7]], torch.tensor([0.0, 2**0.5 - 1 + 1e-3, 2.0 + 8e-3]))
    assert bool((y.diff() > 0).all())  # increasing: greedy actions are the same in both scales
    assert torch.allclose(rescale_inverse(y), x, rtol=1e-5, atol=1e-4)


def test_logged_q_values_are_returns_when_learning_in_the_rescaled_scale() -> None:
    agent = DRQN(IdentityEnv(n=4, length=10), **{**FAST, "gamma": 0.5, "seq_len": 4})
    history = agent.fit(steps=1_500, progress=False)
    batch = agent.buffer.sample(64)
    with torch.no_grad():
        q, _ = agent.q_network.unroll(batch.obs, batch.state, batch.starts)
    best = rescale_inverse(q.max(dim=2).values).mean().item()
    # reward 1 a step at gamma 0.5: a greedy return near 2, which is h^-1 of the head's output
    assert 1.0 < best < 2.5
    logged = [m["losses/q_values"] for m in history.metrics.values() if "losses/q_values" in m]
    assert 1.0 < logged[-1] < 2.5


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"lstm_size": 0}, "lstm_size must be an int in [1, 65536], got 0."),
        ({"seq_len": 0}, "seq_len must be an int in [1, 10000], got 0."),
        ({"burn_in": -1}, "burn_in must be an int in [0, 10000], got -1."),
        ({"buffer_size": 8}, "capacity (buffer_size) must give each env room for a whole"),
    ],
)
def test_drqn_bad_options_name_the_option_and_range(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        DRQN("shower", **{**FAST, **options})
    assert message in str(error.value)


def test_drqn_refuses_a_network_module_clearly() -> None:
    with pytest.raises(ConfigError, match="DRQN builds its own network around the LSTM"):
        DRQN("shower", net=torch.nn.Linear(1, 3))


def test_summary_shows_the_torso_the_lstm_core_and_the_head(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = DRQN("catch", **{**FAST, "net": "cnn"}).summary()
    assert "Conv2d" in text and "core.lstm (LSTM)" in text and "head (Linear)" in text


def test_cli_trains_resumes_and_tests_drqn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from renshu.cli.main import main

    monkeypatch.setenv("COLUMNS", "200")
    runs = tmp_path / "runs"
    tiny = ["--set", "warmup_steps=50", "--set", "buffer_size=500", "--set", "net=[16]"]
    tiny += ["--set", "lstm_size=8", "--set", "seq_len=4", "--set", "burn_in=2", "--no-gif"]
    args = ["shower", "--algo", "drqn", "--steps", "120", "--runs-dir", str(runs), *tiny]
    assert main(["train", *args, "--checkpoint-every", "60"]) == 0
    run = runs / "shower-drqn-0"
    assert (run / "checkpoints" / "120" / "replay.npz").exists()
    assert main(["train", "--resume", str(run), "--steps", "180"]) == 0
    assert renshu.load(run / "agent").num_steps == 180
    assert main(["test", str(run), "--episodes", "2"]) == 0


def test_drqn_replay_with_a_stored_state_per_step_saves_and_loads(tmp_path: Path) -> None:
    """seq_stride=1 stores an LSTM state with every step: more bytes per step than a small
    observation, which the size check of replay.npz must allow."""
    options = {**FAST, "buffer_size": 20_000, "seq_stride": 1, "lstm_size": 128}
    agent = DRQN("shower", **options)
    agent.fit(steps=150, progress=False)
    loaded = renshu.load(agent.save(tmp_path / "agent", replay=True))
    assert isinstance(loaded, DRQN)
    assert loaded.buffer.num_sampleable == agent.buffer.num_sampleable > 0


def test_drqn_refuses_continuous_actions_in_its_own_name_as_check_does() -> None:
    from renshu.agents import space_verdict

    with pytest.raises(ConfigError) as refused:
        DRQN(f"{BROKEN}:BoxActions")
    assert str(refused.value).startswith("DRQN needs a Discrete action space")
    env = renshu.make(f"{BROKEN}:BoxActions")
    verdict = space_verdict(DRQN, env.observation_space, env.action_space)
    assert all(message in str(refused.value) for _, message, _ in verdict)


@pytest.mark.parametrize("env", ["catch", IdentityEnv(4)])
def test_drqn_update_turns_observations_to_float_once(env: Any) -> None:
    """Images (no running statistics): one conversion per update, which the target network
    takes as it is; running statistics (IdentityEnv's floats): each network converts its own."""
    agent = DRQN(env, seed=0, warmup_steps=40, seq_len=4, burn_in=2, batch_size=4, train_every=4)
    agent.fit(steps=60, progress=False)
    calls = {"online": 0, "target": 0}
    hooks = [
        net.preprocess.register_forward_hook(
            lambda *_, name=name: calls.__setitem__(name, calls[name] + 1)
        )
        for name, net in (("online", agent.q_network), ("target", agent.target_network))
    ]
    agent._train_step()
    for hook in hooks:
        hook.remove()
    stateless = agent.q_network.stateless_inputs
    assert stateless == (env == "catch")
    assert calls == {"online": 1, "target": 0 if stateless else 1}
