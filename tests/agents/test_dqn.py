"""DQN: learning on toy envs per option, correctness, determinism, save/load, config errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from gymnasium import spaces

import renshu
from renshu.agents.dqn import DQN, DQNConfig
from renshu.callbacks import Callback, EpisodeLogger
from renshu.check import EnvCheckError
from renshu.envs.toy import ConstantRewardEnv, IdentityEnv, ScriptedEnv
from renshu.errors import ConfigError, EnvError

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
        "manifest.json",
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


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"n_step": 3},
        # one-step targets: with these episodes fit(300) over 4 envs stops at exactly 300 steps,
        # as the checkpoint names below assume (with 5-step targets it stops at 301)
        {"num_envs": 4, "n_step": 1},
        {"prioritized": True},
        {"prioritized": True, "n_step": 3, "window": 4},
    ],
    ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default",
)
def test_resume_is_byte_identical_to_a_straight_run_for_every_replay_option(
    tmp_path, options: dict[str, object]
) -> None:
    # catch: episodes end at different steps, so a wrongly annealed PER beta shows at once.
    opts = {**FAST, "seed": 7, "per_beta_steps": 600, **options}
    straight = DQN("catch", **opts)  # a checkpoint restarts the envs, in both runs alike
    straight.fit(
        steps=600,
        progress=False,
        callbacks=[renshu.CheckpointEvery(300, tmp_path / "a", replay=True)],
    )
    first = DQN("catch", **opts)
    first.fit(
        steps=300,
        progress=False,
        callbacks=[renshu.CheckpointEvery(300, tmp_path / "b", replay=True)],
    )
    resumed = renshu.load(tmp_path / "b" / "300")
    resumed.fit(steps=300, progress=False)
    assert resumed.num_steps == straight.num_steps
    for x, y in zip(straight.q_network.parameters(), resumed.q_network.parameters(), strict=True):
        assert torch.equal(x, y)


def test_per_beta_follows_the_length_of_each_fit_as_every_schedule(tmp_path) -> None:
    def betas(agent: DQN) -> dict[int, float]:
        """beta of every sample, by the step it was drawn at."""
        seen: dict[int, float] = {}
        for name in ("sample", "sample_arrays"):
            drawn = getattr(agent.buffer, name)

            def spy(*args, _drawn=drawn, **kwargs):  # type: ignore[no-untyped-def]
                seen[agent.num_steps] = kwargs["beta"]
                return _drawn(*args, **kwargs)

            setattr(agent.buffer, name, spy)
        return seen

    agent = DQN(IdentityEnv(), **{**FAST, "prioritized": True})
    first = betas(agent)
    agent.fit(steps=300, progress=False)
    assert agent.config.per_beta_steps is None  # nothing fixed: saved as None
    assert first and all(b == pytest.approx(0.4 + 0.6 * k / 300) for k, b in first.items())
    assert first[300] == pytest.approx(1.0)
    agent.save(tmp_path / "a")
    loaded = renshu.load(tmp_path / "a", env=IdentityEnv())
    second = betas(loaded)
    loaded.fit(steps=300, progress=False)  # the end moves to 600: beta is a 600-step run's
    assert len(second) > 200 and second[600] == pytest.approx(1.0)
    assert all(b == pytest.approx(0.4 + 0.6 * k / 600) for k, b in second.items())
    fixed = DQN(IdentityEnv(), **{**FAST, "prioritized": True, "per_beta_steps": 1000})
    third = betas(fixed)
    fixed.fit(steps=300, progress=False)  # a number given is kept
    assert all(b == pytest.approx(0.4 + 0.6 * k / 1000) for k, b in third.items())


def test_exploration_lasts_a_fraction_of_training_as_every_schedule_does(tmp_path) -> None:
    """A fixed 10,000 steps of exploration is half of a 20,000-step run and a fifth of a
    50,000-step one; eps_anneal_steps=None makes it eps_fraction of training: of the running
    fit(), whose end a second fit() moves as it does for every schedule."""
    options = {k: v for k, v in FAST.items() if k not in ("eps_anneal_steps", "eps_end")}
    agent = DQN(IdentityEnv(), **options, eps_anneal_steps=None, eps_fraction=0.5, eps_end=0.0)
    agent.fit(steps=400, progress=False)
    assert agent.config.eps_anneal_steps is None  # nothing fixed: derived from each fit()
    assert agent.exploration.value(100) == pytest.approx(0.5)
    assert agent.exploration.value(200) == pytest.approx(0.0)
    agent.save(tmp_path / "a")
    loaded = renshu.load(tmp_path / "a", env=IdentityEnv())
    loaded.fit(steps=400, progress=False)  # training now ends at 800: epsilon over 400 steps
    assert loaded.exploration.value(100) == pytest.approx(0.75)
    assert loaded.exploration.value(400) == pytest.approx(0.0)
    explicit = DQN(IdentityEnv(), **options, eps_anneal_steps=300)
    explicit.fit(steps=400, progress=False)
    assert explicit.config.eps_anneal_steps == 300
    assert explicit.exploration.value(150) == pytest.approx(1 - 0.95 / 2)  # eps_end 0.05


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


# ---- broken envs, never-ending envs, bad observations to act() ---------------------------------

BROKEN = f"{Path(__file__).resolve().parents[1] / 'fixtures' / 'broken_envs.py'}"
QUICK = {"seed": 0, "warmup_steps": 50, "batch_size": 8, "buffer_size": 500}

BROKEN_FIT = [
    ("ObsNaN", "obs-not-finite", "contains NaN or inf"),
    ("RewardNaN", "reward-not-finite", "returned reward nan at training step 0"),
    ("RewardInf", "reward-not-finite", "returned reward inf at training step 4 (env 0)"),
    ("RewardNone", "reward-type", "returned reward None (NoneType)"),
    ("ObsWrongDtype", "obs-dtype", "has dtype float64, not float32"),
    ("TerminatedArray", "terminated-type", "returned terminated=[False] (ndarray)"),
    ("ObsWrongShape", "obs-shape", "has shape (2,), not (1,)"),
    ("RewardArray", "reward-type", "returned reward [1.] (ndarray)"),
    ("InfoNone", "info-type", "returned info None (NoneType); expected a dict"),
    ("StepThreeValues", "step-return", "expected (obs, reward, terminated, truncated, info)"),
    ("ObsString", "obs-type", "'0.55' is a str, not a float32 array of shape (1,)"),
    ("ObsHuge", "obs-shape", "has shape (1000, 1000), not (1,)"),
    ("ObsPythonFloat", "obs-type", "is a float, not a float32 array"),
]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(("name", "code", "phrase"), BROKEN_FIT, ids=[c[0] for c in BROKEN_FIT])
def test_fit_on_a_broken_env_raises_renshus_error_naming_the_fault(
    name: str, code: str, phrase: str
) -> None:
    with pytest.raises(EnvCheckError) as caught:
        DQN(f"{BROKEN}:{name}", **QUICK).fit(300, progress=False)
    [problem] = caught.value.problems
    assert problem.code == code and phrase in problem.message, str(caught.value)
    assert problem.fix and name in str(caught.value)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_fit_guards_observations_turning_inf_after_the_checked_first_steps() -> None:
    with pytest.raises(EnvCheckError) as caught:
        DQN(f"{BROKEN}:ObsInfLater", **QUICK).fit(2_000, progress=False)
    [problem] = caught.value.problems
    assert problem.code == "obs-not-finite"
    assert "training step 1," in problem.message  # past the first 1,000 checked steps


@pytest.mark.parametrize(
    ("name", "method", "error", "line"),
    [
        ("StepRaises", "step", "ZeroDivisionError: the shower broke", "the shower broke"),
        ("ResetRaises", "reset", "KeyError: 'temperature'", "KeyError"),
    ],
)
def test_an_exception_in_the_users_env_is_an_env_error_with_their_frames(
    name: str, method: str, error: str, line: str
) -> None:
    with pytest.raises(EnvError) as caught:
        DQN(f"{BROKEN}:{name}", **QUICK).fit(300, progress=False)
    failure = caught.value
    text = str(failure)
    assert f"{name} ('{BROKEN}:{name}'): {method}() raised {error}" in text
    doing = "stepping" if method == "step" else "resetting"
    assert failure.doing == f"{doing} env 0 at training step 0"
    assert f"(renshu was {doing} env 0 at training step 0)." in text
    assert "In your code (most recent call last):" in text and "broken_envs.py" in text
    package = Path(renshu.__file__).resolve().parent  # not a folder name: a clone may be "renshu"
    assert not any(Path(f.filename).resolve().is_relative_to(package) for f in failure.user_frames)
    assert failure.user_frames[-1].filename.endswith("broken_envs.py")
    assert line in failure.user_frames[-1].line
    assert isinstance(failure.__cause__, ZeroDivisionError | KeyError)  # original kept


def test_empty_action_space_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"DQN needs at least one action.*n=0"):
        DQN(f"{BROKEN}:NoActions")


@pytest.mark.parametrize("name", ["MultiDiscreteObs", "BoxActions", "NoActions"])
def test_check_with_algo_and_dqn_give_one_verdict_on_spaces(name: str) -> None:
    """`renshu check --algo dqn` refuses exactly what DQN(env) refuses, with the same words (the
    algorithm's space_problems, the last fix naming the algorithms that can)."""
    from renshu.agents import space_verdict
    from renshu.agents.dqn import space_problems

    with pytest.raises(ConfigError) as refused:
        DQN(f"{BROKEN}:{name}")
    env = renshu.make(f"{BROKEN}:{name}")
    verdict = space_verdict(DQN, env.observation_space, env.action_space)
    assert verdict and DQN.space_problems is space_problems
    assert [m for _, m, _ in verdict] == [
        m for _, m, _ in space_problems(env.observation_space, env.action_space)
    ]
    for _, message, fix in verdict:
        assert message in str(refused.value) and fix in str(refused.value)
    if name != "NoActions":  # check stops earlier there: the space itself is empty
        with pytest.raises(EnvCheckError) as checked:
            renshu.check_env(f"{BROKEN}:{name}", algo="dqn", probe_steps=20)
        found = {(p.code, p.message, p.fix) for p in checked.value.problems}
        assert set(verdict) <= found


@pytest.mark.parametrize("name", ["DiscreteObs", "DictObs"])
def test_check_with_algo_and_dqn_both_accept_discrete_and_dict_observations(name: str) -> None:
    """A Discrete or Dict observation (a user's first grid env) passes both verdicts."""
    from renshu.agents.dqn import space_problems

    env = renshu.make(f"{BROKEN}:{name}")
    assert space_problems(env.observation_space, env.action_space) == []
    problems = renshu.check_env(f"{BROKEN}:{name}", algo="dqn", probe_steps=20)
    assert not [p for p in problems if p.code.startswith("algo-")]
    DQN(f"{BROKEN}:{name}", **QUICK).fit(200, progress=False)


def test_test_on_a_never_ending_env_stops_at_the_cap_with_a_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import renshu.train.evaluate as evaluation

    monkeypatch.setattr(evaluation, "TEST_STEP_CAP", 40)
    agent = DQN(f"{BROKEN}:NeverEnds", **QUICK)
    with pytest.warns(UserWarning, match="Test episode 0 did not end within 40 steps") as caught:
        history = agent.test(episodes=2)
    assert history.history["nb_episode_steps"] == [40, 40]
    capped = [w for w in caught if "did not end" in str(w.message)]
    assert len(capped) == 1  # once per test() call
    message = str(capped[0].message)
    assert "max_episode_steps=N" in message and "--max-steps N" in message
    assert "gymnasium.wrappers.TimeLimit(env, max_episode_steps=N)" in message


def test_test_max_episode_steps_ends_episodes_as_truncated_without_a_warning() -> None:
    agent = DQN(f"{BROKEN}:NeverEnds", **QUICK)
    ends: list[bool] = []

    class LastStep(Callback):
        def on_step_end(self, step: int, logs: dict) -> None:
            ends.append(logs["truncated"])

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = agent.test(episodes=1, max_episode_steps=25, callbacks=[LastStep()])
    assert history.history["nb_episode_steps"] == [25]
    assert ends[-1] is True and not any(ends[:-1])
    with pytest.raises(ConfigError, match="max_episode_steps must be an int >= 1 or None"):
        agent.test(max_episode_steps=0)


def test_evaluation_and_gif_of_a_never_ending_env_end(monkeypatch: pytest.MonkeyPatch) -> None:
    import renshu.train.evaluate as evaluation
    from renshu.callbacks import Evaluate
    from renshu.video import record_episode

    monkeypatch.setattr(evaluation, "TEST_STEP_CAP", 30)
    agent = DQN(f"{BROKEN}:NeverEnds", **QUICK)
    evaluate = Evaluate(every=100, episodes=2)
    with pytest.warns(UserWarning, match="did not end within 30 steps"):
        agent.fit(200, callbacks=[evaluate], progress=False)
    assert len(evaluate.results) == 2
    frames = record_episode(agent, renshu.make(f"{BROKEN}:NeverEnds"), max_frames=12)
    assert frames == []  # renders nothing, and the episode ended at 12 steps


def test_fit_warns_once_when_no_episode_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    import renshu.train.loop as loop

    monkeypatch.setattr(loop, "NEVER_ENDING_STEPS", 1_500)
    agent = DQN(f"{BROKEN}:NeverEnds", **QUICK)
    with pytest.warns(UserWarning) as caught:
        agent.fit(4_000, progress=False)
    never = [str(w.message) for w in caught if "has not ended" in str(w.message)]
    assert len(never) == 1
    assert "The episode of env 0 (NeverEnds" in never[0]
    assert "in 2,000 training steps" in never[0]
    assert "gymnasium.wrappers.TimeLimit(env, max_episode_steps=...)" in never[0]


@pytest.mark.parametrize(
    ("obs", "given"),
    [("foo", "got str 'foo'"), (None, "got NoneType None"), ([["a", "b"]], "which is not numbers")],
)
def test_act_refuses_what_is_not_an_observation(obs: object, given: str) -> None:
    agent = DQN(IdentityEnv(), seed=0)
    with pytest.raises(ConfigError) as caught:
        agent.act(obs)
    text = str(caught.value)
    assert "act() expects an observation: a float32 array of shape" in text
    assert given in text


# ---- a network the user passes: renshu's input layer in front ----------------------------------


def shower_module(seed: int = 0) -> torch.nn.Module:
    """Tutorial 000's Dense(24)-Dense(24)-Dense(3), written for raw temperatures."""
    torch.manual_seed(seed)
    nn = torch.nn
    return nn.Sequential(
        nn.Flatten(), nn.Linear(1, 24), nn.ReLU(), nn.Linear(24, 24), nn.ReLU(), nn.Linear(24, 3)
    )


def test_user_module_gets_running_normalization_saved_and_resumed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    opts = {**FAST, "net": shower_module(), "seed": 3}
    straight = DQN("shower", **opts)
    norm = straight.q_network.preprocess.norm
    assert straight._obs_norm is norm and straight.q_network.module is opts["net"]
    assert "preprocess.norm (RunningNorm)" in straight.summary()
    assert "Total params: 723" in capsys.readouterr().out  # the statistics are no parameters
    straight.fit(
        steps=600,
        progress=False,
        callbacks=[renshu.CheckpointEvery(300, tmp_path / "a", replay=True)],
    )
    assert norm.count > 500 and 30 < float(norm.mean[0]) < 46  # temperatures seen while training
    assert torch.equal(straight._target_norm.mean, norm.mean)  # hard copy at step 600

    first = DQN("shower", **{**opts, "net": shower_module()})
    first.fit(
        steps=300,
        progress=False,
        callbacks=[renshu.CheckpointEvery(300, tmp_path / "b", replay=True)],
    )
    resumed = renshu.load(tmp_path / "b" / "300", net=shower_module(seed=9))
    assert torch.equal(resumed._obs_norm.mean, first._obs_norm.mean)
    resumed.fit(steps=300, progress=False)
    for x, y in zip(
        straight.q_network.state_dict().values(),
        resumed.q_network.state_dict().values(),
        strict=True,
    ):
        assert torch.equal(x, y)
    temps = np.arange(20, 60, dtype=np.float32)[:, None]
    loaded = renshu.load(straight.save(tmp_path / "agent"), net=shower_module(seed=9))
    assert np.array_equal(loaded.act(temps), straight.act(temps))


def test_user_module_with_normalize_obs_false_gets_raw_observations() -> None:
    module = shower_module()
    agent = DQN("shower", **{**FAST, "net": module, "normalize_obs": False})
    assert agent.q_network is module and agent._obs_norm is None
    assert "RunningNorm" not in agent.summary()


class Recorder(torch.nn.Module):
    """Flatten and a Linear layer; remembers the last batch it was given."""

    def __init__(self, size: int, n_actions: int) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(size, n_actions)
        self.seen = torch.zeros(0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen = x
        out: torch.Tensor = self.linear(x.flatten(1).float())
        return out


def test_user_module_on_uint8_frames_gets_them_divided_by_255_once() -> None:
    recorder = Recorder(64, 3)
    agent = DQN("catch", **{**FAST, "net": recorder})
    assert agent.q_network.preprocess.norm is None and agent._obs_norm is None
    agent.fit(steps=50, progress=False)
    frames = np.zeros((2, 8, 8), np.uint8)
    frames[:, 7, 3:6], frames[1, 0, 2] = 255, 51
    agent.act(frames)
    assert recorder.seen.dtype == torch.float32
    assert torch.equal(recorder.seen, torch.as_tensor(frames) / 255.0)  # not normalized again
    raw = Recorder(64, 3)
    DQN("catch", **{**FAST, "net": raw, "normalize_obs": False}).act(frames)
    assert raw.seen.dtype == torch.uint8 and torch.equal(raw.seen, torch.as_tensor(frames))


@pytest.mark.parametrize(
    "space",
    [spaces.Discrete(5), spaces.Dict({"pos": spaces.Box(-1, 1, (2,)), "goal": spaces.Discrete(3)})],
    ids=["discrete", "dict"],
)
def test_user_module_on_a_discrete_or_dict_observation_is_refused_clearly(
    space: spaces.Space,
) -> None:
    env = ScriptedEnv(
        lambda env: (space.sample(), {}),
        lambda env, action: (space.sample(), 0.0, True, False, {}),
        observation_space=space,
        action_space=spaces.Discrete(2),
    )
    with pytest.raises(ConfigError) as info:
        DQN(env, **{**FAST, "net": Recorder(3, 2)})
    assert str(info.value) == (
        "net given as a module (Recorder) needs a Box observation: a Discrete, Dict or Tuple "
        "observation reaches the network in renshu's own flat encoding, which a module cannot "
        "know. Use net='auto' or hidden sizes (each part gets its own input layer), or wrap the "
        "env in gymnasium.wrappers.FlattenObservation so that it returns a Box."
    )


def test_user_module_saved_before_it_got_the_input_layer_loads_with_raw_observations(
    tmp_path: Path,
) -> None:
    # An agent saved by the previous release: its module saw raw observations, and its
    # config.json says normalize_obs=True (which did not reach modules then).
    old = DQN("shower", **{**FAST, "net": shower_module(), "normalize_obs": False})
    old.fit(steps=300, progress=False)
    old.config.normalize_obs = True
    path = old.save(tmp_path / "old")
    loaded = renshu.load(path, net=shower_module(seed=9))
    assert loaded.config.normalize_obs is False and loaded._obs_norm is None
    temps = np.arange(20, 60, dtype=np.float32)[:, None]
    assert np.array_equal(loaded.act(temps), old.act(temps))
