"""The legacy gym adapter, with tutorial 000's ShowEnv exactly as printed (gym and gymnasium)."""

from __future__ import annotations

import importlib
import importlib.util
import random
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import gym
import gymnasium
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env as gymnasium_check_env

import renshu
from renshu.compat import (
    LegacyEnv,
    LegacyEnvWarning,
    adapt,
    inspect_api,
    is_legacy,
    to_gymnasium_space,
)
from renshu.errors import EnvResolveError, RenshuError

pytestmark = pytest.mark.filterwarnings("ignore:.*Box bound precision:UserWarning")

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ROOT = FIXTURES.parents[1]
VARIANTS = ("tutorial000_gym", "tutorial000_gymnasium")
ADAPTED = (
    "reset() returned a bare observation -> (obs, {}); "
    "step() returned 4 values -> (obs, reward, terminated, truncated, info); "
    "int observation -> float32 array of shape (1,); "
)
SEEDING = (
    "reset() takes no seed -> reset(seed=s) seeds Python's random and numpy.random with s; "
    "reset() takes no options -> options are ignored."
)
make = importlib.import_module("renshu.make").make


def load(variant: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"fixture_{variant}", FIXTURES / f"{variant}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def legacy_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, LegacyEnvWarning)]


def build(variant: str, how: str) -> tuple[gymnasium.Env[Any, Any], list[str]]:
    """The fixture's ShowEnv through renshu.make, from an instance or from its path."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if how == "instance":
            env = make(load(variant).ShowEnv())
        else:
            env = make(f"tests/fixtures/{variant}.py:ShowEnv")
    return env, legacy_warnings(caught)


@pytest.fixture(autouse=True)
def _at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


@pytest.mark.parametrize("how", ["instance", "path"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_tutorial_env_gives_gymnasium_steps(variant: str, how: str) -> None:
    env, _ = build(variant, how)
    assert isinstance(env, LegacyEnv) and isinstance(env, gymnasium.Env)
    assert env.observation_space == spaces.Box(0.0, 100.0, (1,), np.float32)
    assert env.action_space == spaces.Discrete(3)
    obs, info = env.reset(seed=0)
    assert info == {}
    assert isinstance(obs, np.ndarray) and obs.dtype == np.float32 and obs.shape == (1,)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert isinstance(obs, np.ndarray) and obs.dtype == np.float32 and obs.shape == (1,)
    assert type(reward) is float and reward in (-1.0, 1.0)
    assert terminated is False and truncated is False and info == {}


@pytest.mark.parametrize("how", ["instance", "path"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_tutorial_env_warns_once_with_what_was_adapted(variant: str, how: str) -> None:
    env, messages = build(variant, how)
    assert len(messages) == 1
    spaces_note = "gym.spaces -> gymnasium.spaces; " if variant == "tutorial000_gym" else ""
    assert messages[0] == (
        f"renshu adapted ShowEnv to the Gymnasium API: {ADAPTED}{spaces_note}{SEEDING[:-1]}. "
        "Update ShowEnv to the Gymnasium API to silence this warning (`renshu check` shows how)."
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        env.reset(seed=1)
        for _ in range(60):
            env.step(1)
    assert legacy_warnings(caught) == []


@pytest.mark.parametrize("variant", VARIANTS)
def test_done_after_60_seconds_is_terminated(variant: str) -> None:
    env, _ = build(variant, "path")
    env.reset(seed=3)
    flags = [env.step(1)[2:4] for _ in range(60)]
    assert flags[:-1] == [(False, False)] * 59
    assert flags[-1] == (True, False)


@pytest.mark.parametrize("variant", VARIANTS)
def test_seeded_runs_are_reproducible(variant: str) -> None:
    env, _ = build(variant, "path")

    def run(seed: int) -> list[tuple[float, float]]:
        obs, _ = env.reset(seed=seed)
        trace = [(float(obs[0]), 0.0)]
        for action in [0, 1, 2] * 20:
            obs, reward, *_ = env.step(action)
            trace.append((float(obs[0]), float(reward)))
        return trace

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_seeding_a_legacy_env_seeds_the_global_generators() -> None:
    env, _ = build("tutorial000_gym", "path")
    env.reset(seed=11)
    after_reset = random.random(), np.random.random()
    random.seed(11)
    np.random.seed(11)
    random.randint(-3, 3)  # the draw ShowEnv.reset() made
    assert after_reset == (random.random(), np.random.random())


def test_gymnasium_checker_accepts_the_adapter() -> None:
    env, _ = build("tutorial000_gym", "path")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gymnasium_check_env(env, skip_render_check=True)


def test_vector_env_of_legacy_envs() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LegacyEnvWarning)
        envs = renshu.make_vec("tests/fixtures/tutorial000_gym.py:ShowEnv", 2)
    obs, _ = envs.reset(seed=0)
    assert obs.shape == (2, 1) and obs.dtype == np.float32
    obs, rewards, terminated, truncated, _ = envs.step(np.array([0, 2]))
    assert rewards.dtype == np.float64
    assert terminated.dtype == np.bool_ and truncated.dtype == np.bool_


# ---- detection --------------------------------------------------------------------------------


class NewLooking(gymnasium.Env[Any, Any]):
    """New-API signature, old-API behaviour: only a probe can tell."""

    action_space = spaces.Discrete(2)
    observation_space = spaces.Box(0.0, 1.0, (1,), np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        return 0.5

    def step(self, action: Any) -> Any:
        return 0.5, 1, True, {"TimeLimit.truncated": True}


def test_is_legacy_by_signature() -> None:
    assert is_legacy(load("tutorial000_gym").ShowEnv())
    assert is_legacy(load("tutorial000_gymnasium").ShowEnv())
    assert not is_legacy(gymnasium.make("CartPole-v1"))
    assert not is_legacy(gymnasium.envs.classic_control.CartPoleEnv())


def test_is_legacy_by_behaviour() -> None:
    assert not is_legacy(NewLooking())
    assert is_legacy(NewLooking(), probe=True)
    report = inspect_api(NewLooking())
    assert (report.reset_bare, report.step_values) == (True, 4)
    assert report.obs_conversions == ("float observation -> float32 array of shape (1,)",)


def test_behaviour_legacy_env_is_adapted_by_make() -> None:
    with pytest.warns(LegacyEnvWarning, match="reset\\(\\) returned a bare observation"):
        env = make(NewLooking())
    assert isinstance(env, LegacyEnv)
    obs, _ = env.reset()
    assert obs.dtype == np.float32


def test_time_limit_truncated_info_means_truncated() -> None:
    env = LegacyEnv(NewLooking(), warn=False)
    env.reset()
    _, reward, terminated, truncated, info = env.step(0)
    assert (reward, terminated, truncated) == (1.0, False, True)
    assert info == {"TimeLimit.truncated": True}


def test_adapt_keeps_gymnasium_envs_and_adapters() -> None:
    cartpole = gymnasium.make("CartPole-v1")
    assert adapt(cartpole) is cartpole
    adapter = LegacyEnv(NewLooking(), warn=False)
    assert adapt(adapter) is adapter


def test_adapt_rejects_non_envs() -> None:
    with pytest.raises(EnvResolveError, match="object is not an environment: it has no reset"):
        adapt(object())


def test_new_api_gym_env_only_needs_spaces_converted() -> None:
    class NewGym(gym.Env):  # type: ignore[misc]
        action_space = gym.spaces.Discrete(2)
        observation_space = gym.spaces.Discrete(5, start=1)

        def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
            super().reset(seed=seed)
            return int(self.np_random.integers(1, 6)), {"seeded": seed}

        def step(self, action: Any) -> Any:
            return 1, 0.0, False, True, {}

    with pytest.warns(LegacyEnvWarning) as caught:
        env = make(NewGym())
    assert legacy_warnings(list(caught)) == [
        "renshu adapted NewGym to the Gymnasium API: gym.spaces -> gymnasium.spaces. Update "
        "NewGym to the Gymnasium API to silence this warning (`renshu check` shows how)."
    ]
    assert env.reset(seed=3) == env.reset(seed=3)
    assert env.reset(seed=3)[1] == {"seeded": 3}
    assert env.step(0) == (1, 0.0, False, True, {})


def test_old_seed_method_is_called() -> None:
    seeds: list[int] = []

    class OldSeed:
        action_space = spaces.Discrete(2)
        observation_space = spaces.Discrete(2)

        def seed(self, seed: int) -> None:
            seeds.append(seed)

        def reset(self) -> int:
            return 0

        def step(self, action: Any) -> Any:
            return 0, 0.0, True, {}

    env = LegacyEnv(OldSeed(), warn=False)
    assert "and calls seed(s)" in env.adaptations[-2]
    env.reset(seed=5)
    assert seeds == [5]


def test_bad_step_return_raises_a_clear_error() -> None:
    class ThreeValues:
        action_space = spaces.Discrete(2)
        observation_space = spaces.Discrete(2)

        def reset(self) -> int:
            return 0

        def step(self, action: Any) -> Any:
            return 0, 0.0, True

    env = LegacyEnv(ThreeValues(), warn=False)
    env.reset()
    with pytest.raises(RenshuError) as caught:
        env.step(0)
    assert str(caught.value) == (
        "ThreeValues.step() returned 3 values; expected 4 values (obs, reward, done, info) or "
        "5 (obs, reward, terminated, truncated, info)."
    )


def test_render_and_close_pass_through() -> None:
    calls: list[str] = []

    class OldRender:
        action_space = spaces.Discrete(2)
        observation_space = spaces.Discrete(2)
        metadata = {"render.modes": ["ansi"], "video.frames_per_second": 5}  # noqa: RUF012
        render_mode = "ansi"

        def reset(self) -> int:
            return 0

        def step(self, action: Any) -> Any:
            return 0, 0.0, True, {}

        def render(self, mode: str = "human") -> str:
            calls.append(mode)
            return "frame"

        def close(self) -> None:
            calls.append("closed")

    env = LegacyEnv(OldRender(), warn=False)
    assert env.metadata["render_modes"] == ["ansi"] and env.metadata["render_fps"] == 5
    assert env.render() == "frame"
    env.close()
    assert calls == ["ansi", "closed"]
    assert str(env) == "<LegacyEnv<OldRender>>"


# ---- spaces -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (gym.spaces.Box(-1.0, 2.0, (2, 3)), spaces.Box(-1.0, 2.0, (2, 3), np.float32)),
        (gym.spaces.Box(0, 255, (4,), np.uint8), spaces.Box(0, 255, (4,), np.uint8)),
        (gym.spaces.Discrete(3), spaces.Discrete(3)),
        (gym.spaces.Discrete(3, start=-1), spaces.Discrete(3, start=-1)),
        (gym.spaces.MultiDiscrete([2, 3]), spaces.MultiDiscrete([2, 3])),
        (gym.spaces.MultiBinary(4), spaces.MultiBinary(4)),
        (
            gym.spaces.Tuple((gym.spaces.Discrete(2), gym.spaces.MultiBinary(2))),
            spaces.Tuple((spaces.Discrete(2), spaces.MultiBinary(2))),
        ),
        (
            gym.spaces.Dict({"a": gym.spaces.Discrete(2)}),
            spaces.Dict({"a": spaces.Discrete(2)}),
        ),
    ],
    ids=[
        "box",
        "box-uint8",
        "discrete",
        "discrete-start",
        "multidiscrete",
        "multibinary",
        "tuple",
        "dict",
    ],
)
def test_gym_spaces_become_gymnasium_spaces(old: Any, new: spaces.Space[Any]) -> None:
    converted = to_gymnasium_space(old)
    assert type(converted) is type(new)
    assert converted == new


def test_gymnasium_space_is_kept() -> None:
    space = spaces.Discrete(4)
    assert to_gymnasium_space(space) is space


def test_unconvertible_spaces() -> None:
    with pytest.raises(EnvResolveError) as caught:
        to_gymnasium_space(gym.spaces.Text(5), name="observation_space")
    assert str(caught.value) == (
        "observation_space is gym.spaces.Text, which renshu cannot convert (it converts Box, "
        "Discrete, MultiDiscrete, MultiBinary, Tuple, Dict). Use the matching gymnasium.spaces "
        "class instead."
    )
    with pytest.raises(EnvResolveError) as caught:
        to_gymnasium_space([0, 100], name="observation_space")
    assert str(caught.value) == (
        "observation_space is [0, 100] (list), not a space. Expected a gymnasium.spaces.Space "
        "such as Box(low=0.0, high=1.0, shape=(1,), dtype=np.float32); set "
        "self.observation_space in __init__."
    )
