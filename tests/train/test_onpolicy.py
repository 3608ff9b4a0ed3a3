"""What PPO and A2C share (train/onpolicy.py): every discrete kind of action space, saving and
exact resume, the space verdict, reward scaling, vector envs, values filled at a rollout's end."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium import spaces

import renshu
from renshu.agents.a2c import A2C
from renshu.agents.ppo import PPO
from renshu.errors import CheckpointError, ConfigError

TINY: dict[str, Any] = {"n_steps": 16, "batch_size": 16, "n_epochs": 2, "seed": 0}


class TargetEnv(gymnasium.Env[np.ndarray, Any]):
    """Reward 1 for each action component that equals the observed target; 8-step episodes.

    Works with MultiDiscrete, MultiBinary and Discrete action spaces (a learnable bandit)."""

    def __init__(self, action_space: gymnasium.Space[Any]) -> None:
        self.action_space = action_space
        self.size = int(np.prod(action_space.shape)) if action_space.shape else 1
        self.observation_space = spaces.Box(0.0, 1.0, (self.size * 2,), np.float32)
        self._t = 0

    def _obs(self) -> np.ndarray:
        self._target = self.np_random.integers(0, 2, self.size)
        return np.eye(2, dtype=np.float32)[self._target].reshape(-1)

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._t = 0
        return self._obs(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        chosen = np.asarray(action).reshape(-1)
        reward = float(np.mean(chosen == self._target))
        self._t += 1
        return self._obs(), reward, False, self._t >= 8, {}


@pytest.mark.parametrize("cls", [PPO, A2C])
@pytest.mark.parametrize(
    "space",
    [spaces.Discrete(2), spaces.MultiDiscrete([2, 2, 2]), spaces.MultiBinary(3)],
    ids=["discrete", "multidiscrete", "multibinary"],
)
def test_learns_a_target_with_each_discrete_kind_of_action_space(
    cls: type, space: gymnasium.Space[Any]
) -> None:
    options = {"seed": 0, "learning_rate": 3e-3}
    if cls is PPO:
        options.update(n_steps=64, batch_size=64, n_epochs=4)
    agent = cls(TargetEnv(space), **options)
    random = np.mean(agent.test(20, seed=1, epsilon=1.0).history["episode_reward"])
    agent.fit(4_000, progress=False)
    score = np.mean(agent.test(20, seed=1).history["episode_reward"])
    assert score >= 7.5 > random + 2, (score, random)


@pytest.mark.parametrize("cls", [PPO, A2C])
def test_save_and_load_act_alike_and_resume_exactly(cls: type, tmp_path: Path) -> None:
    options = TINY if cls is PPO else {"n_steps": 16, "seed": 0}
    first = cls("CartPole-v1", **options)
    first.fit(56, progress=False)  # mid-rollout: the rollout is saved with the checkpoint
    path = first.save_checkpoint(tmp_path)
    resumed = renshu.load(path)
    assert type(resumed) is cls and resumed.num_steps == 56
    second = cls("CartPole-v1", **options)
    second.fit(56, progress=False)
    second.save_checkpoint(tmp_path / "again")  # the cut the resumed run saw
    for agent in (resumed, second):
        agent.fit(64, progress=False)
    obs = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
    assert np.array_equal(resumed.act(obs), second.act(obs))
    for a, b in zip(
        resumed.policy.state_dict().values(), second.policy.state_dict().values(), strict=True
    ):
        assert np.array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("cls", [PPO, A2C])
def test_multidiscrete_checkpoint_mid_rollout_loads_and_resumes_exactly(
    cls: type, tmp_path: Path
) -> None:
    space = spaces.MultiDiscrete([[2, 3], [2, 2]], start=[[0, -1], [0, 0]])
    options = {**TINY, "n_steps": 16} if cls is PPO else {"n_steps": 16, "seed": 0}
    first = cls(TargetEnv(space), **options)
    first.fit(40, progress=False)  # mid-rollout: the rollout is saved with the checkpoint
    path = first.save_checkpoint(tmp_path)
    resumed = renshu.load(path, env=TargetEnv(space))
    assert resumed.action_space == space and resumed.rollout.pos == first.rollout.pos == 8
    obs = np.eye(2, dtype=np.float32)[np.random.default_rng(0).integers(0, 2, (20, 4))]
    assert np.array_equal(resumed.act(obs.reshape(20, 8)), first.act(obs.reshape(20, 8)))
    for agent in (resumed, first):
        agent.fit(48, progress=False)
    assert resumed.num_updates == first.num_updates > 0
    for a, b in zip(
        resumed.policy.state_dict().values(), first.policy.state_dict().values(), strict=True
    ):
        assert np.array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("cls", [PPO, A2C])
def test_linear_schedules_end_with_each_fit_as_a_training_of_that_length(cls: type) -> None:
    def schedule(agent: Any) -> list[tuple[int, float, float]]:
        """(step, learning rate, progress) at every update."""
        seen: list[tuple[int, float, float]] = []
        update = agent._update

        def spy(progress: float) -> None:
            lr = agent.optimizer.param_groups[0]["lr"]
            seen.append((agent.num_steps, lr, progress))
            update(progress)

        agent._update = spy
        return seen

    options = {**(TINY if cls is PPO else {"seed": 0}), "n_steps": 8, "lr_schedule": "linear"}
    if cls is PPO:
        options["clip_range_schedule"] = "linear"
    twice, straight = cls("CartPole-v1", **options), cls("CartPole-v1", **options)
    seen_twice, seen_straight = schedule(twice), schedule(straight)
    twice.fit(64, progress=False)
    lr = twice.config.learning_rate
    assert [(s, x) for s, x, _ in seen_twice] == [(s, lr * (1 - s / 64)) for s in range(8, 65, 8)]
    twice.fit(64, progress=False)  # the end moves to 128: the rate rises to a 128-step run's
    straight.fit(128, progress=False)
    assert seen_twice[8:] == seen_straight[8:]
    assert seen_twice[8][:2] == (72, lr * (1 - 72 / 128))


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("actions", 7, r"actions must be actions within MultiDiscrete\(\[3 2\]\)"),
        ("rewards", np.inf, "rewards must be finite values"),
        ("values", -np.inf, r"values must be finite or NaN \(not computed\)"),
    ],
)
def test_rollout_outside_its_ranges_is_refused_on_load(
    field: str, value: float, words: str, tmp_path: Path
) -> None:
    space = spaces.MultiDiscrete([3, 2])
    agent = PPO(TargetEnv(space), **TINY)
    agent.fit(40, progress=False)
    path = agent.save_checkpoint(tmp_path)
    with np.load(path / "replay.npz") as data:
        arrays = {k: data[k] for k in data.files}
    arrays[field].flat[3] = value
    np.savez(path / "replay.npz", **arrays)
    digests = {  # an edit that also fixes the manifest: the range checks must refuse it
        f.name: hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(path.iterdir())
        if f.is_file() and f.name != "manifest.json"
    }
    (path / "manifest.json").write_text(json.dumps({"format": "renshu-agent", "sha256": digests}))
    with pytest.raises(CheckpointError, match=rf"replay\.npz' is damaged or was edited: {words}"):
        renshu.load(path, env=TargetEnv(space))


def test_unsupported_action_space_names_it_and_the_algorithms_that_can() -> None:
    env = TargetEnv(spaces.Discrete(2))
    env.action_space = spaces.Dict({"a": spaces.Discrete(2)})  # type: ignore[assignment]
    with pytest.raises(
        ConfigError, match=r"PPO needs a Discrete, Box, MultiDiscrete or MultiBinary"
    ):
        PPO(env)


def test_reward_scaling_divides_by_the_return_std_and_is_saved(tmp_path: Path) -> None:
    agent = PPO("Pendulum-v1", seed=0, n_steps=64, batch_size=64, normalize_reward=True)
    agent.fit(672, progress=False)  # 10 rollouts and half of the next
    scale = agent.reward_scale
    assert scale is not None and float(scale.norm.count) > 0
    stored = agent.rollout.rewards[: agent.rollout.pos]
    assert np.abs(stored).max() <= 10.0
    # Pendulum's rewards are in [-16.3, 0]; the returns' std is far above 1, so rewards shrink
    assert float(scale.norm.scale) < 0.1
    loaded = renshu.load(agent.save(tmp_path / "agent"))
    assert float(loaded.reward_scale.norm.count) == float(scale.norm.count)
    assert np.array_equal(loaded.reward_scale.returns.numpy(), scale.returns.numpy())
    assert PPO("Pendulum-v1", seed=0).reward_scale is None  # off by default


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_trains_on_gymnasium_vector_envs(mode: str) -> None:
    env = gymnasium.make_vec("CartPole-v1", num_envs=2, vectorization_mode=mode)
    try:
        agent = PPO(env, **TINY)
        agent.fit(96, progress=False)
        assert agent.num_steps >= 96 and agent.num_updates > 0
    finally:
        env.close()


def test_values_left_out_by_numpy_acting_are_filled_when_the_rollout_ends() -> None:
    agent = renshu.PPO("CartPole-v1", seed=0, num_envs=2, n_steps=16, batch_size=32, n_epochs=1)
    assert agent._fast is not None
    agent.fit(10, progress=False)  # mid-rollout
    pos = agent.rollout.pos
    assert pos == 5 and np.isnan(agent.rollout.values[:pos]).all()
    seen: list[bool] = []
    update = agent._update

    def checked(progress: float) -> None:
        r = agent.rollout
        seen.append(bool(np.isfinite(r.values[: r.pos]).all()))
        seen.append(bool(np.isfinite(r.advantages[: r.pos]).all()))
        update(progress)

    agent._update = checked  # type: ignore[method-assign]
    agent._fast = None  # the rest of the rollout on the torch path (as on a GPU after a resume)
    agent.fit(22, progress=False)
    assert seen == [True, True]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 1e309, 5.0])
def test_log_std_init_nan_or_infinite_is_refused_naming_the_range(value: float) -> None:
    """log_std_init accepted NaN and infinities; training then blamed the learning rate."""
    with pytest.raises(ConfigError, match=r"log_std_init must be a number in \[-20, 2\]"):
        PPO("Pendulum-v1", log_std_init=value)


# ---- memory: recurrent=True -------------------------------------------------------------------

MEMORY: dict[str, Any] = {"recurrent": True, "lstm_size": 16, "n_steps": 16, "seq_len": 8}


def memory_options(cls: type) -> dict[str, Any]:
    return {**MEMORY, "seed": 0, **({"batch_size": 32, "n_epochs": 2} if cls is PPO else {})}


@pytest.mark.parametrize("cls", [PPO, A2C])
@pytest.mark.parametrize(
    ("env", "obs"),
    [
        ("CartPole-v1", np.zeros(4, np.float32)),
        (gymnasium.make("FrozenLake-v1"), 0),
        ("catch16", np.zeros((16, 16), np.uint8)),
    ],
    ids=["box", "discrete", "image"],
)
def test_recurrent_policy_builds_trains_and_acts_on_box_discrete_and_image_observations(
    cls: type, env: Any, obs: Any
) -> None:
    agent = cls(env, **memory_options(cls))
    assert agent.recurrent and agent._fast is None
    agent.fit(48, progress=False)
    assert agent.num_updates > 0
    action, state = agent.act(obs)
    assert agent.action_space.contains(action)
    assert [tuple(x.shape) for x in state] == [(1, 1, 16), (1, 1, 16)]
    actions, state = agent.act(
        [obs] * 3 if not isinstance(obs, np.ndarray) else np.stack([obs] * 3)
    )
    assert len(actions) == 3 and state[0].shape == (1, 3, 16)


def test_ppo_without_memory_keeps_the_numpy_path_and_refuses_a_state() -> None:
    agent = PPO("CartPole-v1", **TINY)
    assert not agent.recurrent and agent._fast is not None
    with pytest.raises(ConfigError, match="acts without memory"):
        agent.act(np.zeros(4, np.float32), state=None, episode_start=True)


@pytest.mark.parametrize("cls", [PPO, A2C])
def test_recurrent_act_loop_with_state_plays_as_test_does(cls: type) -> None:
    """act(obs, state, episode_start) in a user's loop takes the actions test() takes (trained
    long enough that its greedy policy uses more than one action)."""
    agent = cls("shower", **memory_options(cls))
    agent.fit(800, progress=False)
    taken: list[int] = []

    class Actions(renshu.Callback):
        def on_step_end(self, step: int, logs: dict[str, Any]) -> None:
            taken.append(int(logs["action"]))

    agent.test(episodes=3, seed=7, env=renshu.make("shower"), callbacks=[Actions()])
    env, mine = renshu.make("shower"), []
    for episode in range(3):
        obs, _ = env.reset(seed=7 if episode == 0 else None)
        state, start, done = None, True, False
        while not done:
            action, state = agent.act(obs, state, episode_start=start)
            mine.append(int(action))
            obs, _, terminated, truncated, _ = env.step(action)
            done, start = terminated or truncated, False
    assert mine == taken and len(set(taken)) >= 2


def test_recurrent_act_resets_the_state_where_an_episode_starts() -> None:
    agent = PPO("CartPole-v1", **memory_options(PPO))
    obs = np.random.default_rng(0).normal(size=(2, 4)).astype(np.float32)
    _, fresh = agent.act(obs)
    _, carried = agent.act(obs, fresh)
    _, restarted = agent.act(obs, carried, episode_start=[True, False])
    assert torch.equal(restarted[0][:, 0], fresh[0][:, 0])  # env 0 starts over
    assert not torch.equal(restarted[0][:, 1], fresh[0][:, 1])  # env 1 goes on
    with pytest.raises(ConfigError, match=r"state must be the \(h, c\) pair act\(\) returned"):
        agent.act(obs, (fresh[0][:, :1], fresh[1][:, :1]))


@pytest.mark.parametrize("mode", ["same_step", "next_step"])
def test_recurrent_update_unrolls_the_states_and_starts_the_policy_acted_with(mode: str) -> None:
    """Unrolling the core over each stored sequence from its stored state, zeroed where an
    episode starts, gives back the log-probabilities and values the policy acted with (in both
    autoreset modes): acting and training see the same memory."""
    from gymnasium.vector import AutoresetMode

    autoreset = AutoresetMode.SAME_STEP if mode == "same_step" else AutoresetMode.NEXT_STEP
    env = gymnasium.make_vec(
        "CartPole-v1",
        num_envs=3,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": autoreset},
    )
    # (without running normalization, whose statistics move between acting and the update)
    options = {**memory_options(PPO), "n_steps": 64, "seq_len": 16, "normalize_obs": False}
    agent = PPO(env, **options)
    checked: list[int] = []
    update = agent._update

    def check(progress: float) -> None:
        r = agent.rollout
        starts = r.episode_starts[1:][r.valid[1:]]
        assert starts.any()  # episodes start inside the rollout
        minibatch = next(r.sequence_minibatches(10**6, np.random.default_rng(0)))
        with torch.no_grad():
            log_prob, _, value, mb = agent._evaluate(r.as_tensors(), minibatch)
        assert torch.allclose(log_prob, mb.log_probs, atol=1e-5)
        assert torch.allclose(value, mb.values, atol=1e-5)
        checked.append(len(log_prob))
        update(progress)

    agent._update = check  # type: ignore[method-assign]
    agent.fit(64 * 3 * 2, progress=False)
    env.close()
    assert len(checked) == 2  # every step of every sequence, less the NEXT_STEP reset steps
    assert all(n == 192 for n in checked) if mode == "same_step" else all(n < 192 for n in checked)


def into_second_sequence(agent: Any) -> None:
    """Train until the rollout (16 steps, sequences of 8) is inside its second sequence."""
    agent.fit(50, progress=False)
    while not 8 < agent.rollout.pos < 16:
        agent.fit(2, progress=False)


@pytest.mark.parametrize("cls", [PPO, A2C])
def test_recurrent_save_load_and_resume_exactly(cls: type, tmp_path: Path) -> None:
    options = {**memory_options(cls), "num_envs": 2}
    first = cls("CartPole-v1", **options)
    into_second_sequence(first)  # mid-rollout: the rollout and its states go with it
    path = first.save_checkpoint(tmp_path)
    resumed = renshu.load(path)
    assert resumed.recurrent and 8 < resumed.rollout.pos == first.rollout.pos < 16
    assert np.array_equal(resumed.rollout.state_h[:2], first.rollout.state_h[:2])
    second = cls("CartPole-v1", **options)
    into_second_sequence(second)
    second.save_checkpoint(tmp_path / "again")  # the cut the resumed run saw
    for agent in (resumed, second):
        agent.fit(100, progress=False)
    obs = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
    (a, state_a), (b, state_b) = resumed.act(obs), second.act(obs)
    assert np.array_equal(a, b) and all(map(torch.equal, state_a, state_b))
    for x, y in zip(
        resumed.policy.state_dict().values(), second.policy.state_dict().values(), strict=True
    ):
        assert torch.equal(x, y)
    assert renshu.load(second.save(tmp_path / "plain")).act(obs)[0].tolist() == b.tolist()


def test_recurrent_rollout_with_a_state_not_finite_is_refused_on_load(tmp_path: Path) -> None:
    agent = PPO("CartPole-v1", **memory_options(PPO))
    agent.fit(40, progress=False)
    path = agent.save_checkpoint(tmp_path)
    with np.load(path / "replay.npz") as data:
        arrays = {k: data[k] for k in data.files}
    arrays["state_c"].flat[3] = np.nan
    np.savez(path / "replay.npz", **arrays)
    digests = {
        f.name: hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(path.iterdir())
        if f.is_file() and f.name != "manifest.json"
    }
    (path / "manifest.json").write_text(json.dumps({"format": "renshu-agent", "sha256": digests}))
    with pytest.raises(CheckpointError, match=r"damaged or was edited: state_c must be finite"):
        renshu.load(path)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"recurrent": True, "n_steps": 16, "seq_len": 5}, "seq_len must divide n_steps"),
        ({"seq_len": 8}, "Set recurrent=True too"),
        ({"recurrent": True, "lstm_size": 0}, "lstm_size must be"),
    ],
)
def test_recurrent_options_out_of_range_say_what_to_change(
    options: dict[str, Any], words: str
) -> None:
    with pytest.raises(ConfigError, match=words):
        PPO("CartPole-v1", **options)


@pytest.mark.parametrize(("n_steps", "expected"), [(2048, 32), (5, 5), (48, 24), (37, 1)])
def test_recurrent_sequences_default_to_the_largest_divisor_of_n_steps_up_to_32(
    n_steps: int, expected: int
) -> None:
    agent = A2C("CartPole-v1", recurrent=True, n_steps=n_steps, lstm_size=4)
    assert agent.rollout.seq_len == expected


def test_cli_trains_resumes_and_tests_recurrent_ppo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from renshu.cli.main import main

    monkeypatch.setenv("COLUMNS", "200")
    runs = tmp_path / "runs"
    tiny = ["--set", "recurrent=true", "--set", "lstm_size=8", "--set", "n_steps=16"]
    tiny += ["--set", "batch_size=16", "--set", "n_epochs=1", "--no-gif"]
    args = ["shower", "--algo", "ppo", "--steps", "120", "--runs-dir", str(runs), *tiny]
    assert main(["train", *args, "--checkpoint-every", "60"]) == 0
    run = runs / "shower-ppo-0"
    assert (run / "checkpoints" / "120" / "replay.npz").exists()
    assert main(["train", "--resume", str(run), "--steps", "180"]) == 0
    loaded = renshu.load(run / "agent")
    assert loaded.num_steps >= 180 and loaded.recurrent
    assert main(["test", str(run), "--episodes", "2", "--gif"]) == 0
