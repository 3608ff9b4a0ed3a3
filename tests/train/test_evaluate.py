"""The test() loop: step caps (the env's limit, TEST_STEP_CAP, an explicit one), seeded random
actions, rendering, windows, with an agent reduced to what evaluate() uses."""

from __future__ import annotations

import warnings
from types import SimpleNamespace
from typing import Any

import gymnasium
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.envs.registration import EnvSpec

from renshu.callbacks import Callback
from renshu.train import evaluate as evaluate_module
from renshu.train.evaluate import TEST_STEP_CAP, evaluate, step_limit
from renshu.train.loop import segment_seed


class Counter(gymnasium.Env[np.ndarray, np.int64]):
    """Observation ``[step in the episode]``, reward 1 a step; ends after ``length`` steps
    (never by default). Records the actions taken and the seeds given to reset(); renders
    a 2x2 frame holding the step count."""

    metadata = {"render_modes": ["rgb_array"]}  # noqa: RUF012

    def __init__(self, length: int | None = None, n_actions: int = 5, render_none: bool = False):
        self.observation_space = spaces.Box(0.0, 1e9, (1,), np.float32)
        self.action_space = spaces.Discrete(n_actions)
        self.render_mode = "rgb_array"
        self.length, self.render_none = length, render_none
        self.t = 0
        self.actions: list[int] = []
        self.reset_seeds: list[int | None] = []

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.reset_seeds.append(seed)
        self.t = 0
        return np.array([0.0], np.float32), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self.actions.append(int(action))
        self.t += 1
        ended = self.length is not None and self.t >= self.length
        return np.array([self.t], np.float32), 1.0, ended, False, {}

    def render(self) -> Any:
        return None if self.render_none else np.full((2, 2, 3), self.t, np.uint8)


class StubAgent:
    """What evaluate() reads of an agent; greedy action 0 and a record of the windows."""

    def __init__(self, *, window: int = 1, seed: int = 0, n_actions: int = 5) -> None:
        self.config = SimpleNamespace(window=window, threads=1, seed=seed)
        self._frame_space = spaces.Box(0.0, 1e9, (1,), np.float32)
        self._encoder = None
        self.action_space = spaces.Discrete(n_actions)
        self.windows: list[np.ndarray] = []

    def _greedy(self, window: np.ndarray) -> np.ndarray:
        self.windows.append(window.copy())
        return np.zeros(len(window), np.int64)

    def _to_env(self, actions: np.ndarray) -> np.ndarray:
        return actions


class Frames(Callback):
    def __init__(self) -> None:
        self.logs: list[dict[str, Any]] = []

    def on_step_end(self, step: int, logs: dict[str, Any]) -> None:
        self.logs.append(logs)


def play(env: gymnasium.Env[Any, Any], episodes: int, **kwargs: Any) -> Any:
    agent: Any = StubAgent()
    return evaluate(agent, env, episodes, **kwargs)


def capped_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if "did not end within" in str(w.message)]


def test_step_cap_from_the_env_spec_warns_once() -> None:
    env = Counter()
    env.spec = EnvSpec("Counter-v0", entry_point="none:none", max_episode_steps=7)
    frames = Frames()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = play(env, 2, callbacks=[frames])
    assert history.history["nb_episode_steps"] == [7, 7]
    assert history.history["episode_reward"] == [7.0, 7.0]
    messages = capped_warnings(caught)
    assert len(messages) == 1
    assert "Test episode 0 did not end within 7 steps" in messages[0]
    assert "test(max_episode_steps=N)" in messages[0]
    last = frames.logs[6]
    assert last["truncated"] is True and last["terminated"] is False
    assert frames.logs[5]["truncated"] is False


def test_test_step_cap_applies_without_a_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(evaluate_module, "TEST_STEP_CAP", 12)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = play(Counter(), 3)
    assert history.history["nb_episode_steps"] == [12, 12, 12]
    assert history.history["nb_steps"] == [12, 24, 36]
    messages = capped_warnings(caught)
    assert len(messages) == 1 and "within 12 steps" in messages[0]


def test_explicit_max_episode_steps_caps_without_a_warning() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = play(Counter(), 2, max_episode_steps=4)
    assert history.history["nb_episode_steps"] == [4, 4]
    assert capped_warnings(caught) == []


def test_an_episode_that_ends_by_itself_is_not_capped() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = play(Counter(length=3), 2)
    assert history.history["nb_episode_steps"] == [3, 3]
    assert capped_warnings(caught) == []


def test_step_limit_reads_the_spec_else_the_cap() -> None:
    env = Counter()
    assert step_limit(env) == TEST_STEP_CAP
    env.spec = EnvSpec("Counter-v0", entry_point="none:none", max_episode_steps=None)
    assert step_limit(env) == TEST_STEP_CAP
    env.spec = EnvSpec("Counter-v0", entry_point="none:none", max_episode_steps=30)
    assert step_limit(env) == 30
    assert step_limit(gymnasium.make("CartPole-v1")) == 500
    assert step_limit(SimpleNamespace(spec=SimpleNamespace(max_episode_steps=True))) == (
        TEST_STEP_CAP
    )


def test_epsilon_one_gives_seeded_reproducible_random_actions() -> None:
    def actions(seed: int) -> list[int]:
        env = Counter(length=10)
        play(env, 3, epsilon=1.0, seed=seed)
        assert env.reset_seeds == [seed, None, None]  # only the first reset is seeded
        return env.actions

    first = actions(3)
    assert len(first) == 30
    assert first == actions(3)
    assert first != actions(4)
    assert len(set(first)) > 1 and set(first) <= set(range(5))


def test_epsilon_zero_plays_the_greedy_action() -> None:
    env = Counter(length=10)
    play(env, 2, seed=0)
    assert env.actions == [0] * 20


def test_without_a_seed_the_first_reset_uses_the_agent_seed() -> None:
    env = Counter(length=2)
    agent: Any = StubAgent(seed=11)
    evaluate(agent, env, 1)
    assert env.reset_seeds == [segment_seed(11, 10**9)]


def test_render_frames_reach_callbacks() -> None:
    frames = Frames()
    play(Counter(length=3), 2, render=True, callbacks=[frames])
    assert len(frames.logs) == 6
    assert [int(log["frame"][0, 0, 0]) for log in frames.logs] == [1, 2, 3, 1, 2, 3]
    assert frames.logs[0]["frame"].shape == (2, 2, 3)


def test_no_frame_without_render_or_when_render_returns_none() -> None:
    frames = Frames()
    play(Counter(length=2), 1, callbacks=[frames])
    play(Counter(length=2, render_none=True), 1, render=True, callbacks=[frames])
    assert len(frames.logs) == 4
    assert all("frame" not in log for log in frames.logs)


def test_windows_restart_with_each_episode() -> None:
    agent: Any = StubAgent(window=3)
    evaluate(agent, Counter(length=2), 2)
    seen = [w[0, :, 0].tolist() for w in agent.windows]
    assert seen == [[0, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 1]]
    assert agent.windows[0].shape == (1, 3, 1)


def test_episode_and_train_logs() -> None:
    class Hooks(Callback):
        def __init__(self) -> None:
            self.calls: list[tuple[str, Any]] = []

        def on_train_begin(self, logs: dict[str, Any]) -> None:
            self.calls.append(("train_begin", logs))

        def on_episode_begin(self, episode: int, logs: dict[str, Any]) -> None:
            self.calls.append(("episode_begin", episode))

        def on_episode_end(self, episode: int, logs: dict[str, Any]) -> None:
            self.calls.append(("episode_end", (episode, logs["nb_episode_steps"])))

        def on_train_end(self, logs: dict[str, Any]) -> None:
            self.calls.append(("train_end", logs))

    hooks = Hooks()
    play(Counter(length=2), 2, callbacks=[hooks])
    assert hooks.calls == [
        ("train_begin", {"episodes": 2}),
        ("episode_begin", 0),
        ("episode_end", (0, 2)),
        ("episode_begin", 1),
        ("episode_end", (1, 2)),
        ("train_end", {"interrupted": None}),
    ]
