"""EnvLoop: both autoreset modes, final observations, valid masks, episode bookkeeping, windows,
segments and their seeds, and the env's faults (exceptions, NaN, episodes that never end)."""

from __future__ import annotations

import signal
import threading
import warnings
from typing import Any

import gymnasium
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, SyncVectorEnv, VectorEnv

from renshu.callbacks import Callback, CallbackList
from renshu.check import EnvCheckError, StepTypes
from renshu.errors import ConfigError, EnvError
from renshu.fastpath import SingleEnv
from renshu.train import loop as loop_module
from renshu.train.loop import (
    Counters,
    EnvLoop,
    Step,
    env_class_name,
    env_info,
    env_name,
    segment_seed,
    signals,
    vectorize,
)


class Ticker(gymnasium.Env[np.ndarray, np.int64]):
    """Observation ``[episode number, step in the episode, a draw made at reset]``; the reward
    of step ``t`` is ``t`` (an episode of length L earns L(L+1)/2); it ends after ``length``
    steps, as terminated (or truncated with ``truncate``). ``info`` holds ``{"t": t}``."""

    def __init__(
        self,
        length: int = 2,
        *,
        truncate: bool = False,
        nan_reward_at: int | None = None,
        inf_obs_at: int | None = None,
        raise_at: int | None = None,
        raise_on_reset: bool = False,
    ) -> None:
        self.observation_space = spaces.Box(0.0, 1e9, (3,), np.float32)
        self.action_space = spaces.Discrete(2)
        self.length, self.truncate = length, truncate
        self.nan_reward_at, self.inf_obs_at = nan_reward_at, inf_obs_at
        self.raise_at, self.raise_on_reset = raise_at, raise_on_reset
        self.episode, self.t, self.start = -1, 0, 0.0
        self.reset_seeds: list[int | None] = []

    def _obs(self) -> np.ndarray:
        return np.array([self.episode, self.t, self.start], dtype=np.float32)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        if self.raise_on_reset:
            raise RuntimeError("no reset today")
        self.reset_seeds.append(seed)
        self.episode, self.t = self.episode + 1, 0
        self.start = float(self.np_random.random())
        return self._obs(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self.t += 1
        if self.t == self.raise_at:
            raise ValueError(f"boom at {self.t}")
        obs = self._obs()
        if self.t == self.inf_obs_at:
            obs[1] = np.inf
        reward = float("nan") if self.t == self.nan_reward_at else float(self.t)
        ended = self.t >= self.length
        return obs, reward, ended and not self.truncate, ended and self.truncate, {"t": self.t}


class Recorder(Callback):
    """Everything the loop reports, in order."""

    def __init__(self) -> None:
        self.begins: list[tuple[int, int]] = []
        self.ends: list[tuple[int, int, float, int, int]] = []
        self.steps: list[tuple[int, int, int, float, dict[str, Any]]] = []
        self.step_begins: list[tuple[int, int]] = []

    def on_episode_begin(self, episode: int, logs: dict[str, Any]) -> None:
        self.begins.append((episode, logs["env"]))

    def on_episode_end(self, episode: int, logs: dict[str, Any]) -> None:
        self.ends.append(
            (
                episode,
                logs["env"],
                logs["episode_reward"],
                logs["nb_episode_steps"],
                logs["nb_steps"],
            )
        )

    def on_step_begin(self, step: int, logs: dict[str, Any]) -> None:
        self.step_begins.append((logs["episode"], logs["env"]))

    def on_step_end(self, step: int, logs: dict[str, Any]) -> None:
        self.steps.append((step, logs["episode"], logs["env"], logs["reward"], logs["info"]))


Cut = tuple[np.ndarray, np.ndarray]


def make_loop(
    env: VectorEnv, *, window: int = 1, seed: int | None = 0, counters: Counters | None = None
) -> tuple[EnvLoop, list[Cut], Recorder]:
    cuts: list[Cut] = []
    space = env.single_observation_space
    assert isinstance(space, spaces.Box)
    loop = EnvLoop(
        env,
        counters=counters or Counters(),
        seed=seed,
        window=window,
        frame_space=space,
        observation_space=space,
        obs_norm=None,
        on_cut=lambda frames, mask: cuts.append((frames.copy(), mask.copy())),
        label="Ticker",
    )
    recorder = Recorder()
    loop.callbacks = CallbackList([recorder])
    return loop, cuts, recorder


def two_tickers(mode: AutoresetMode) -> SyncVectorEnv:
    """env 0 terminates after 2 steps, env 1 is truncated after 3."""
    return SyncVectorEnv([lambda: Ticker(2), lambda: Ticker(3, truncate=True)], autoreset_mode=mode)


def run(loop: EnvLoop, iterations: int) -> list[Step]:
    loop.begin_segment()
    return [loop.step(np.zeros(loop.num_envs, dtype=np.int64)) for _ in range(iterations)]


def episode_and_t(obs: np.ndarray) -> list[list[int]]:
    return obs[..., :2].astype(int).tolist()


# ---- NEXT_STEP: the step after an episode's end is a reset, not a transition ----------------
#
# iteration | env 0 (length 2)        | env 1 (length 3, truncated)
#     1     | t=1                     | t=1
#     2     | t=2 terminated          | t=2
#     3     | reset (not a transition)| t=3 truncated
#     4     | t=1                     | reset (not a transition)
#     5     | t=2 terminated          | t=1
#     6     | reset                   | t=2
#     7     | t=1                     | t=3 truncated


def test_next_step_valid_mask_marks_exactly_the_reset_steps() -> None:
    loop, _, _ = make_loop(two_tickers(AutoresetMode.NEXT_STEP))
    steps = run(loop, 7)
    valid = [None if s.valid is None else s.valid.tolist() for s in steps]
    assert valid == [None, None, [False, True], [True, False], None, [False, True], None]
    assert [s.terminated.tolist() for s in steps][1] == [True, False]
    assert [s.truncated.tolist() for s in steps][2] == [False, True]


def test_next_step_next_obs_at_an_episode_end_is_the_final_observation() -> None:
    loop, _, _ = make_loop(two_tickers(AutoresetMode.NEXT_STEP))
    steps = run(loop, 4)
    assert episode_and_t(steps[1].next_obs) == [[0, 2], [0, 2]]  # env 0 ended: its last frame
    assert episode_and_t(steps[2].next_obs) == [[1, 0], [0, 3]]  # env 0 reset; env 1 ended
    # env 0 acts on its reset frame; env 1's reset step (masked out) starts from its last one
    assert episode_and_t(steps[3].obs) == [[1, 0], [0, 3]]
    assert steps[3].valid is not None and steps[3].valid.tolist() == [True, False]


def test_next_step_counts_transitions_only() -> None:
    counters = Counters()
    loop, _, _ = make_loop(two_tickers(AutoresetMode.NEXT_STEP), counters=counters)
    run(loop, 7)
    assert counters.num_steps == 14 - 3  # three reset steps
    assert counters.iteration == 7
    assert counters.num_episodes == 6  # two at the start, four after the four ends


def test_next_step_episode_logs_match_a_hand_count() -> None:
    loop, _, recorder = make_loop(two_tickers(AutoresetMode.NEXT_STEP))
    run(loop, 7)
    # (episode, env, reward 1+..+L, length, transitions counted up to and including it)
    assert recorder.ends == [
        (0, 0, 3.0, 2, 3),
        (1, 1, 6.0, 3, 5),
        (2, 0, 3.0, 2, 7),
        (3, 1, 6.0, 3, 11),
    ]
    assert recorder.begins == [(0, 0), (1, 1), (2, 0), (3, 1), (4, 0), (5, 1)]


def test_step_logs_number_the_transitions_and_skip_reset_steps() -> None:
    loop, _, recorder = make_loop(two_tickers(AutoresetMode.NEXT_STEP))
    run(loop, 7)
    assert [s[0] for s in recorder.steps] == list(range(11))
    assert len(recorder.step_begins) == 11
    # iteration 3: only env 1 steps (its t=3, truncated); env 0's reset step is not logged
    assert recorder.steps[4] == (4, 1, 1, 3.0, {"t": 3})
    assert recorder.steps[5][1:3] == (2, 0)  # iteration 4: env 0's second episode (id 2)


def test_next_step_window_restarts_at_the_reset_step() -> None:
    loop, _, _ = make_loop(two_tickers(AutoresetMode.NEXT_STEP), window=3)
    first = loop.begin_segment()
    assert first.shape == (2, 3, 3)
    assert episode_and_t(first[0]) == [[0, 0], [0, 0], [0, 0]]  # zeros, zeros, first frame
    steps = [loop.step(np.zeros(2, dtype=np.int64)) for _ in range(4)]
    assert episode_and_t(steps[1].window[0]) == [[0, 0], [0, 1], [0, 2]]
    # iteration 3: env 0 reset: its window starts again; env 1 goes on
    assert steps[2].window[0, :2].tolist() == np.zeros((2, 3)).tolist()
    assert episode_and_t(steps[2].window[0, 2]) == [1, 0]
    assert episode_and_t(steps[2].window[1]) == [[0, 1], [0, 2], [0, 3]]
    assert episode_and_t(steps[3].window[0, 1:]) == [[1, 0], [1, 1]]
    assert steps[3].window[0, 0].tolist() == [0.0, 0.0, 0.0]


# ---- SAME_STEP: the step that ends an episode returns the reset frame ------------------------


def test_same_step_next_obs_is_the_final_observation_and_window_the_reset_one() -> None:
    loop, _, _ = make_loop(two_tickers(AutoresetMode.SAME_STEP))
    steps = run(loop, 3)
    assert all(s.valid is None for s in steps)
    assert episode_and_t(steps[1].next_obs) == [[0, 2], [0, 2]]  # env 0's final frame
    assert episode_and_t(steps[1].window) == [[1, 0], [0, 2]]  # what it acts on next: reset
    assert episode_and_t(steps[2].next_obs) == [[1, 1], [0, 3]]
    assert episode_and_t(steps[2].window) == [[1, 1], [1, 0]]


def test_same_step_counts_every_step_and_reports_episodes_by_hand() -> None:
    counters = Counters()
    loop, _, recorder = make_loop(two_tickers(AutoresetMode.SAME_STEP), counters=counters)
    run(loop, 6)
    assert counters.num_steps == 12
    assert recorder.ends == [
        (0, 0, 3.0, 2, 3),
        (1, 1, 6.0, 3, 6),
        (2, 0, 3.0, 2, 7),
        (4, 0, 3.0, 2, 11),
        (3, 1, 6.0, 3, 12),
    ]
    assert [s[0] for s in recorder.steps] == list(range(12))


def test_same_step_window_restarts_at_the_episode_end() -> None:
    loop, _, _ = make_loop(two_tickers(AutoresetMode.SAME_STEP), window=3)
    steps = run(loop, 2)
    assert steps[1].window[0, :2].tolist() == np.zeros((2, 3)).tolist()
    assert episode_and_t(steps[1].window[0, 2]) == [1, 0]
    assert episode_and_t(steps[1].window[1]) == [[0, 0], [0, 1], [0, 2]]


def test_single_env_final_observation_counts_and_episodes() -> None:
    counters = Counters()
    loop, _, recorder = make_loop(SingleEnv(Ticker(2)), window=3, counters=counters)
    steps = run(loop, 5)
    assert all(s.valid is None for s in steps)
    assert episode_and_t(steps[1].next_obs) == [[0, 2]]
    assert episode_and_t(steps[1].window[0]) == [[0, 0], [0, 0], [1, 0]]
    assert counters.num_steps == 5
    assert recorder.ends == [(0, 0, 3.0, 2, 2), (1, 0, 3.0, 2, 4)]
    assert recorder.begins == [(0, 0), (1, 0), (2, 0)]


# ---- segments ------------------------------------------------------------------------------


def test_close_episodes_calls_on_cut_with_the_open_mask() -> None:
    loop, cuts, _ = make_loop(two_tickers(AutoresetMode.NEXT_STEP))
    steps = run(loop, 2)  # env 0 ended: its next step is a reset, not an open episode
    assert loop.episodes_in_progress() == [2]
    loop.close_episodes()
    assert len(cuts) == 1
    frames, mask = cuts[0]
    assert mask.tolist() == [False, True]
    assert np.array_equal(frames, steps[1].next_obs)
    assert loop.frames is None and loop.episodes_in_progress() == []
    loop.close_episodes()  # nothing open: no second cut
    assert len(cuts) == 1


def test_episodes_in_progress_lists_open_episode_lengths() -> None:
    loop, _, _ = make_loop(two_tickers(AutoresetMode.NEXT_STEP))
    assert loop.episodes_in_progress() == []
    loop.begin_segment()
    assert loop.episodes_in_progress() == []  # nothing taken yet
    loop.step(np.zeros(2, dtype=np.int64))
    assert loop.episodes_in_progress() == [1, 1]


def test_begin_segment_cuts_open_episodes_and_reseeds() -> None:
    env = SingleEnv(Ticker(10))
    loop, cuts, recorder = make_loop(env, seed=5)
    run(loop, 3)
    loop.begin_segment()  # a new segment at num_steps 3
    assert [m.tolist() for _, m in cuts] == [[True]]
    assert episode_and_t(cuts[0][0]) == [[0, 3]]
    ticker = env.env
    assert isinstance(ticker, Ticker)
    assert ticker.reset_seeds == [5, segment_seed(5, 3)]
    assert recorder.begins == [(0, 0), (1, 0)]


def test_same_segment_seed_gives_the_same_first_obs() -> None:
    def first(seed: int, num_steps: int) -> np.ndarray:
        env = SyncVectorEnv([lambda: Ticker(5)] * 2, autoreset_mode=AutoresetMode.NEXT_STEP)
        loop, _, _ = make_loop(env, seed=seed, counters=Counters(num_steps=num_steps))
        return loop.begin_segment()

    assert np.array_equal(first(7, 0), first(7, 0))
    assert np.array_equal(first(7, 120), first(7, 120))
    assert not np.array_equal(first(7, 0)[:, 2], first(7, 120)[:, 2])
    direct = Ticker(5)
    obs, _ = direct.reset(seed=segment_seed(7, 120))
    assert np.array_equal(first(7, 120)[0], obs)


def test_segment_seed_is_the_seed_at_step_zero_and_a_derived_one_after() -> None:
    assert segment_seed(None, 50) is None
    assert segment_seed(3, 0) == 3
    later = segment_seed(3, 50)
    assert later is not None and 0 <= later < 2**31
    assert later == segment_seed(3, 50) != segment_seed(3, 51)
    assert segment_seed(3, 50) != segment_seed(4, 50)


# ---- the env's faults ----------------------------------------------------------------------


def test_step_that_raises_becomes_env_error_naming_the_env() -> None:
    env = SingleEnv(Ticker(10, raise_at=2))
    loop, _, _ = make_loop(env)
    loop.label = env_class_name(env.env)
    loop.begin_segment()
    loop.step(np.zeros(1, dtype=np.int64))
    with pytest.raises(EnvError) as caught:
        loop.step(np.zeros(1, dtype=np.int64))
    text = str(caught.value)
    assert "Ticker: step() raised ValueError: boom at 2" in text
    assert "stepping env 0 at training step 1" in text
    assert "In your code" in text and "test_loop.py" in text
    assert isinstance(caught.value.__cause__, ValueError)


def test_reset_that_raises_becomes_env_error() -> None:
    loop, _, _ = make_loop(SingleEnv(Ticker(raise_on_reset=True)))
    with pytest.raises(EnvError, match=r"reset\(\) raised RuntimeError: no reset today") as caught:
        loop.begin_segment()
    assert "resetting env 0 at training step 0" in str(caught.value)


def test_vector_env_failure_names_every_env() -> None:
    env = SyncVectorEnv([lambda: Ticker(10, raise_at=1)] * 2)
    loop, _, _ = make_loop(env)
    loop.begin_segment()
    with pytest.raises(EnvError, match="stepping the 2 envs at training step 0"):
        loop.step(np.zeros(2, dtype=np.int64))


def test_nan_reward_raises_env_check_error() -> None:
    loop, _, _ = make_loop(SingleEnv(Ticker(10, nan_reward_at=2)))
    loop.begin_segment()
    loop.step(np.zeros(1, dtype=np.int64))
    with pytest.raises(EnvCheckError) as caught:
        loop.step(np.zeros(1, dtype=np.int64))
    text = str(caught.value)
    assert "Ticker failed the environment check" in text
    assert "reward-not-finite" in text and "training step 1 (env 0)" in text


def test_nan_reward_of_the_second_env_is_named() -> None:
    env = SyncVectorEnv([lambda: Ticker(10), lambda: Ticker(10, nan_reward_at=1)])
    loop, _, _ = make_loop(env)
    loop.begin_segment()
    with pytest.raises(EnvCheckError, match=r"training step 0 \(env 1\)"):
        loop.step(np.zeros(2, dtype=np.int64))


def test_infinite_observation_raises_env_check_error() -> None:
    loop, _, _ = make_loop(SingleEnv(Ticker(10, inf_obs_at=1)))
    loop.begin_segment()
    with pytest.raises(EnvCheckError, match=r"training step 0 \(env 0\)"):
        loop.step(np.zeros(1, dtype=np.int64))


def test_warn_if_never_ending_warns_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loop_module, "NEVER_ENDING_STEPS", 5)
    loop, _, _ = make_loop(SingleEnv(Ticker(10**9)))
    loop.begin_segment()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(4):
            loop.step(np.zeros(1, dtype=np.int64))
            loop.warn_if_never_ending()
        assert caught == []
        for _ in range(5):
            loop.step(np.zeros(1, dtype=np.int64))
            loop.warn_if_never_ending()
    assert len(caught) == 1
    text = str(caught[0].message)
    assert "The episode of env 0 (Ticker) has not ended in 5 training steps" in text
    assert "TimeLimit" in text


def test_first_steps_are_checked_in_full_then_by_type_and_shape(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(loop_module, "FIRST_STEPS_CHECKED", 3)
    env = SyncVectorEnv([lambda: Ticker(10)] * 2)
    originals = list(env.envs)
    loop, _, _ = make_loop(env)
    loop.check_first_steps()
    assert all(type(e).__name__ == "StepChecks" for e in env.envs)
    run(loop, 3)
    assert all(type(e) is StepTypes for e in env.envs)
    assert [e.env for e in env.envs] == originals  # type: ignore[attr-defined]
    loop.check_first_steps()  # once per env: not wrapped again
    assert [e.env for e in env.envs] == originals  # type: ignore[attr-defined]


class Faulty(gymnasium.Env[np.ndarray, np.int64]):
    """Correct for ``good`` steps (over all episodes), then returns ``fault`` in place of one of
    the step's values (``key``: obs, reward, terminated or truncated)."""

    def __init__(self, key: str, fault: Any, good: int) -> None:
        self.observation_space = spaces.Box(0.0, 1.0, (2,), np.float32)
        self.action_space = spaces.Discrete(2)
        self.key, self.fault, self.good, self.calls, self.t = key, fault, good, 0, 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, np.float32), {}

    def step(self, action: Any) -> tuple[Any, ...]:
        self.calls += 1
        self.t += 1
        values = {
            "obs": np.full(2, 0.5, np.float32),
            "reward": 1.0,
            "terminated": False,
            "truncated": self.t >= 7,
            "info": {},
        }
        if self.calls > self.good:
            values[self.key] = self.fault
        obs, reward, info = values["obs"], values["reward"], values["info"]
        return obs, reward, values["terminated"], values["truncated"], info


LATE_FAULTS = [
    ("reward", np.array([1.0, 2.0]), "reward-type", "step() returned reward [1. 2.] (ndarray)"),
    ("reward", np.array([1.0]), "reward-type", "step() returned reward [1.] (ndarray)"),
    ("reward", "1.0", "reward-type", "step() returned reward '1.0' (str)"),
    ("reward", None, "reward-type", "step() returned reward None (NoneType)"),
    ("terminated", "False", "terminated-type", "step() returned terminated='False' (str)"),
    ("truncated", np.array([False]), "truncated-type", "returned truncated=[False] (ndarray)"),
    ("obs", np.float32(0.5), "obs-type", "The observation np.float32(0.5) is a float32, not a"),
    ("obs", np.zeros(3, np.float32), "obs-shape", "has shape (3,), not (2,)"),
    ("obs", np.zeros(2, np.float64), "obs-dtype", "has dtype float64, not float32"),
    ("info", None, "info-type", "returned info None (NoneType); expected a dict"),
]


@pytest.mark.parametrize("num_envs", [1, 2])
@pytest.mark.parametrize(("key", "fault", "code", "message"), LATE_FAULTS)
def test_env_faults_after_the_first_checked_steps_raise_env_check_error_naming_the_step(
    monkeypatch: pytest.MonkeyPatch, num_envs: int, key: str, fault: Any, code: str, message: str
) -> None:
    monkeypatch.setattr(loop_module, "FIRST_STEPS_CHECKED", 5)
    if num_envs == 1:
        env: VectorEnv = SingleEnv(Faulty(key, fault, good=20))
    else:
        env = SyncVectorEnv(
            [lambda: Faulty(key, fault, good=20)] * 2, autoreset_mode=AutoresetMode.SAME_STEP
        )
    loop, _, _ = make_loop(env)
    loop.check_first_steps()
    loop.begin_segment()
    for _ in range(20):  # fine, and past the full checks
        loop.step(np.zeros(num_envs, dtype=np.int64))
    with pytest.raises(EnvCheckError) as caught:
        loop.step(np.zeros(num_envs, dtype=np.int64))
    text = " ".join(str(caught.value).split())
    assert f"[error] {code}: " in text and message in text
    assert f"at training step {20 * num_envs:,} (env 0)" in text
    assert "Fix: " in text


def test_late_steps_accept_numpy_scalars_and_bools_and_int_flags() -> None:
    class Relaxed(Faulty):
        def step(self, action: Any) -> tuple[Any, ...]:
            obs, _, _, truncated, info = super().step(action)
            return obs, np.float32(1.0), np.bool_(False), int(truncated), info

    env = SingleEnv(Relaxed("obs", None, good=10**9))
    loop, _, _ = make_loop(env)
    env.env = StepTypes(env.env, label="Relaxed", where=lambda: "a step")
    loop.begin_segment()
    steps = [loop.step(np.zeros(1, dtype=np.int64)) for _ in range(14)]
    assert sum(bool(s.truncated[0]) for s in steps) == 2


def test_first_steps_check_names_a_bad_step() -> None:
    env = SingleEnv(Ticker(10, nan_reward_at=1))
    loop, _, _ = make_loop(env)
    loop.check_first_steps()
    loop.begin_segment()
    with pytest.raises(EnvCheckError, match="reward-not-finite"):
        loop.step(np.zeros(1, dtype=np.int64))


# ---- vectorize, names, info, signals ----------------------------------------------------------


def test_vectorize_wraps_a_single_env_and_checks_spaces_first() -> None:
    seen: list[Any] = []
    ticker = Ticker()
    vec, single = vectorize(ticker, 1, lambda obs, act: seen.append((obs, act)))
    assert isinstance(vec, SingleEnv) and single is ticker
    assert vec.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    assert seen == [(ticker.observation_space, ticker.action_space)]


def test_vectorize_keeps_a_vector_env_and_refuses_a_mismatched_count() -> None:
    env = two_tickers(AutoresetMode.NEXT_STEP)
    assert vectorize(env, 1, lambda o, a: None) == (env, None)
    assert vectorize(env, 2, lambda o, a: None) == (env, None)
    with pytest.raises(ConfigError, match="num_envs=3 but the vector env given has 2 envs"):
        vectorize(env, 3, lambda o, a: None)


def test_vectorize_refuses_copies_of_an_instance() -> None:
    with pytest.raises(ConfigError, match="num_envs=2 needs an env that can be built several"):
        vectorize(Ticker(), 2, lambda o, a: None)


def test_env_name_and_class_name() -> None:
    assert env_name("catch") == "catch"
    assert env_name(Ticker) == "Ticker"
    assert env_name(Ticker()) == "Ticker"
    assert env_name(two_tickers(AutoresetMode.NEXT_STEP)) == "Ticker"
    assert env_name(gymnasium.make("CartPole-v1")) == "CartPole-v1"
    assert env_class_name(gymnasium.make("CartPole-v1")) == "CartPoleEnv"


def test_env_info_takes_one_env_and_drops_masks_and_finals() -> None:
    info = {
        "t": np.array([1, 2]),
        "_t": np.array([True, False]),
        "final_obs": np.array([None, None]),
        "inner": {"x": np.array([5, 6]), "_x": np.array([False, True])},
        "_inner": np.array([True, True]),
    }
    assert env_info(info, 0) == {"t": 1, "inner": {}}
    assert env_info(info, 1) == {"inner": {"x": 6}}


def test_signals_turn_sigterm_into_a_flag_and_a_second_sigint_aborts() -> None:
    assert threading.current_thread() is threading.main_thread()
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with signals() as flag:
        assert not flag
        signal.raise_signal(signal.SIGTERM)
        assert flag and flag.name == "SIGTERM"
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
