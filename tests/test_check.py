"""renshu.check_env: a table of broken environments, each with its problem code and fix."""

from __future__ import annotations

import pickle
import random
import sys
from dataclasses import FrozenInstanceError, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import renshu
from renshu.check import EnvCheckError, Problem, check_env
from renshu.compat import LegacyEnv
from renshu.errors import ConfigError, EnvResolveError, RenshuError

FIXTURES = Path(__file__).resolve().parent / "fixtures"
BROKEN = FIXTURES / "broken_envs.py"
CORRIDOR = f"{FIXTURES / 'corridor.py'}:Corridor"
FAST = {"probe_steps": 60, "probe_seconds": 2.0}

pytestmark = pytest.mark.filterwarnings("ignore:.*Box bound precision:UserWarning")


def problems_of(env: Any, **kwargs: Any) -> list[Problem]:
    """Every problem, whether check_env raised (errors) or returned (warnings only)."""
    try:
        return check_env(env, **{**FAST, **kwargs})
    except EnvCheckError as error:
        return error.problems


def broken(name: str) -> str:
    return f"{BROKEN}:{name}"


@dataclass(frozen=True)
class Case:
    env: str
    code: str
    severity: str
    message: tuple[str, ...]
    fix: str
    algo: str | None = None
    also: tuple[str, ...] = ()
    """Other codes the same fault brings along."""

    @property
    def id(self) -> str:
        return self.env


CASES = [
    Case(
        "ObsOutOfBounds",
        "obs-out-of-bounds",
        "warning",
        ("Observations are not in observation_space Box(0.0, 1.0, (1,), float32)", "above high"),
        "`obs = np.clip(obs, 0.0, 1.0)`, and return `np.array([...], dtype=np.float32)`",
    ),
    Case(
        "ObsWrongDtype",
        "obs-dtype",
        "error",
        ("has dtype float64, not float32",),
        "Cast it: `obs.astype(np.float32)`",
    ),
    Case(
        "ObsWrongShape",
        "obs-shape",
        "error",
        ("has shape (2,), not (1,)",),
        "Return an array of shape (1,)",
    ),
    Case(
        "ObsPythonFloat",
        "obs-type",
        "error",
        ("is a float, not a float32 array of shape (1,)",),
        "Return `np.array([...], dtype=np.float32)` with shape (1,).",
    ),
    Case("ObsNaN", "obs-not-finite", "error", ("[nan] contains NaN or inf",), "np.nan_to_num"),
    Case(
        "RewardNaN",
        "reward-not-finite",
        "error",
        ("step() returned reward nan at step 1", "rewards must be finite"),
        "Guard the reward computation",
    ),
    Case(
        "RewardArray",
        "reward-type",
        "error",
        ("step() returned reward [1.] (ndarray)", "expected a float"),
        "`float(reward[0])`",
    ),
    Case(
        "TerminatedArray",
        "terminated-type",
        "error",
        ("step() returned terminated=[False] (ndarray)", "expected a bool"),
        "Return a bool: `terminated = bool(...)`.",
    ),
    Case(
        "TruncatedInt",
        "truncated-type",
        "warning",
        ("step() returned truncated=0 (int)",),
        "Return a bool: `truncated = bool(...)`.",
    ),
    Case(
        "InfoNone",
        "info-type",
        "error",
        ("step() returned info None (NoneType); expected a dict.",),
        "Return a dict as info",
    ),
    Case(
        "OldStepApi",
        "step-4-tuple",
        "warning",
        ("step() returns the old 4-tuple (obs, reward, done, info)", "renshu adapts this"),
        "Return `obs, reward, terminated, truncated, info`",
    ),
    Case(
        "BareReset",
        "reset-bare-obs",
        "warning",
        ("reset() returns a bare observation", "Gymnasium expects (obs, info)"),
        "Return `obs, {}`",
    ),
    Case(
        "ResetThreeValues",
        "reset-return",
        "error",
        ("reset() returned a tuple of 3 values; expected (obs, info)",),
        "Return `obs, info` where info is a dict",
    ),
    Case(
        "ResetIgnoresSeed",
        "reset-ignores-seed",
        "warning",
        ("Two reset(seed=0) calls gave different observations",),
        "Call super().reset(seed=seed) at the top of reset()",
    ),
    Case(
        "StepIgnoresSeed",
        "step-ignores-seed",
        "warning",
        ("two runs diverged at step 1",),
        "draw every random number from self.np_random",
    ),
    Case(
        "NoActionSpace",
        "missing-action-space",
        "error",
        ("NoActionSpace has no action_space.",),
        "Set self.action_space in __init__, e.g. Discrete(3).",
    ),
    Case(
        "ObsSpaceNotASpace",
        "observation-space-type",
        "error",
        ("observation_space is (0.0, 1.0) (tuple), not a space.",),
        "Set self.observation_space to a gymnasium.spaces space",
    ),
    Case(
        "GymSpaces",
        "gym-spaces",
        "warning",
        ("action_space is gym.spaces.discrete.Discrete from the old gym package",),
        "`from gymnasium.spaces import Discrete, Box`",
    ),
    Case(
        "BoxActions",
        "algo-action-space",
        "error",
        ("DQN needs a Discrete action space, got Box(-1.0, 1.0, (1,), float32).",),
        "Use a discretizing wrapper or an algorithm for continuous actions.",
        algo="dqn",
    ),
    Case(
        "NeverEnds",
        "no-episode-end",
        "warning",
        ("probe episodes did not end within 60 steps",),
        "gymnasium.wrappers.TimeLimit(env, max_episode_steps=N)",
    ),
    Case(
        "StepsPastTheEnd",
        "step-after-end",
        "warning",
        ("one more step() without reset() returned terminated=False and truncated=False",),
        "Keep returning terminated=True (or raise an error) until reset() is called",
    ),
    Case(
        "StepRaises",
        "step-raises",
        "error",
        ("step() raised ZeroDivisionError: the shower broke", "line 147"),
        "Fix the error at that line",
    ),
    Case(
        "ResetRaises",
        "reset-raises",
        "error",
        ("reset() raised KeyError: 'temperature'", "broken_envs.py, line 152"),
        "Fix the error at that line",
    ),
    Case(
        "ReusedObs",
        "obs-reused",
        "error",
        ("share an object",),
        "Return a new array on every call",
    ),
    Case(
        "RenderReturnsList",
        "render-return",
        "warning",
        ("render() with render_mode='ansi' returned list, not a str.",),
        "Return the frame as a str",
    ),
    Case(
        "NoRenderModeArg",
        "render-mode-arg",
        "error",
        ("metadata['render_modes'] lists 'ansi'", "takes no render_mode argument"),
        "Add `render_mode: str | None = None` to __init__",
    ),
    Case(
        "RenderModeNotDeclared",
        "render-mode-unknown",
        "error",
        ("render_mode='rgb_array' is not in metadata['render_modes'] (['ansi']).",),
        "Declare it: metadata = {'render_modes': ['rgb_array'], 'render_fps': 4}",
    ),
    Case(
        "ResetWithoutOptions",
        "reset-no-options",
        "warning",
        ("reset() takes no options argument; vector envs pass one.",),
        "Define `def reset(self, *, seed=None, options=None)`.",
    ),
    Case(
        "LegacyFloat64Obs",
        "obs-converted",
        "warning",
        ("Observations do not match observation_space", "float64 observation -> float32"),
        "`np.asarray(obs, dtype=self.observation_space.dtype)`",
        also=("gym-spaces", "reset-bare-obs", "step-4-tuple", "reset-no-seed"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_broken_env_is_explained(case: Case) -> None:
    problems = problems_of(broken(case.env), algo=case.algo)
    found = {p.code: p for p in problems}
    assert case.code in found, [str(p) for p in problems]
    problem = found[case.code]
    assert problem.severity == case.severity
    for phrase in case.message:
        assert phrase in problem.message
    assert case.fix in problem.fix
    errors = [p for p in problems if p.severity == "error"]
    if case.severity == "error" or errors:
        with pytest.raises(EnvCheckError):
            check_env(broken(case.env), algo=case.algo, **FAST)
    else:
        returned = check_env(broken(case.env), algo=case.algo, **FAST)
        assert [p.code for p in returned] == [p.code for p in problems]


def test_each_broken_env_has_a_single_cause() -> None:
    """Apart from warnings that follow from the fault, each env reports its one problem."""
    for case in CASES:
        codes = [p.code for p in problems_of(broken(case.env), algo=case.algo)]
        assert sorted(codes) == sorted([case.code, *case.also]), (case.env, codes)


# ---- the tutorial's ShowEnv -------------------------------------------------------------------

TUTORIAL_CODES = [
    "reset-bare-obs",
    "step-4-tuple",
    "reset-no-seed",
    "obs-not-array",
]


@pytest.mark.parametrize(
    ("variant", "codes"),
    [
        ("tutorial000_gym", ["obs-out-of-bounds", "gym-spaces", "gym-env", *TUTORIAL_CODES]),
        ("tutorial000_gymnasium", ["obs-out-of-bounds", *TUTORIAL_CODES]),
    ],
)
def test_tutorial_env(variant: str, codes: list[str]) -> None:
    problems = check_env(f"{FIXTURES / variant}.py:ShowEnv")  # warnings only: it trains
    assert sorted(p.code for p in problems) == sorted(codes)
    drift = next(p for p in problems if p.code == "obs-out-of-bounds")
    assert drift.severity == "warning"
    assert "Observations are not in observation_space Box(0.0, 100.0, (1,), float32)" in (
        drift.message
    )
    assert "ShowEnv also returns bare Python numbers (renshu converts them)." in drift.message
    assert drift.fix == (
        "Keep the state inside the bounds before returning it, e.g. "
        "`obs = np.clip(obs, 0.0, 100.0)`, and return `np.array([...], dtype=np.float32)`; or "
        "widen the Box if such values are real."
    )
    ints = next(p for p in problems if p.code == "obs-not-array")
    assert ints.message.startswith("reset() and step() return a Python int (")
    assert ints.fix == "Return `np.array([...], dtype=np.float32)` instead of the bare value."
    assert all(p.severity == "warning" for p in problems)


def test_adapted_legacy_env_is_checked_as_written() -> None:
    with pytest.warns(UserWarning):
        env = renshu.make(f"{FIXTURES / 'tutorial000_gymnasium.py'}:ShowEnv")
    assert isinstance(env, LegacyEnv)
    codes = [p.code for p in problems_of(env)]
    assert "step-4-tuple" in codes and "obs-out-of-bounds" in codes


def test_not_an_env_instance() -> None:
    sys.path.insert(0, str(FIXTURES))
    from broken_envs import NotAnEnvAtAll

    [problem] = problems_of(NotAnEnvAtAll())
    assert problem == Problem(
        "error",
        "not-an-env",
        "NotAnEnvAtAll has no step() method, so it is not an environment.",
        "Subclass gymnasium.Env and define reset(self, *, seed=None, options=None) and "
        "step(self, action). See https://gymnasium.farama.org/introduction/create_custom_env/.",
    )


# ---- clean envs -------------------------------------------------------------------------------


def test_clean_env_has_no_problems() -> None:
    assert check_env(CORRIDOR) == []


def test_clean_env_passes_for_dqn() -> None:
    assert check_env(CORRIDOR, algo="DQN") == []


@pytest.mark.parametrize("name", ["shower", "catch", "catch16", "cave"])
def test_builtin_envs_have_no_errors(name: str) -> None:
    warnings = check_env(name, algo="dqn")
    assert all(p.severity == "warning" for p in warnings)


def test_gymnasium_env_passes() -> None:
    problems = check_env("CartPole-v1")
    assert "space-unbounded" in [p.code for p in problems]


# ---- the API ----------------------------------------------------------------------------------


def test_env_check_error_lists_every_problem_with_its_fix() -> None:
    problems = [
        Problem("error", "obs-dtype", "Observations are float64.", "Cast them."),
        Problem("warning", "reset-no-seed", "reset() takes no seed.", "Add seed."),
    ]
    error = EnvCheckError(problems, "'my_env.py:ShowerEnv'")
    assert isinstance(error, RenshuError)
    assert error.problems == problems
    assert str(error) == (
        "'my_env.py:ShowerEnv' failed the environment check: 1 error and 1 warning.\n"
        "  1. [error] obs-dtype: Observations are float64.\n"
        "     Fix: Cast them.\n"
        "  2. [warning] reset-no-seed: reset() takes no seed.\n"
        "     Fix: Add seed."
    )
    assert pickle.loads(pickle.dumps(error)).problems == problems


def test_problem_is_a_frozen_dataclass() -> None:
    problem = Problem("warning", "x", "Message.", "Fix it.")
    assert str(problem) == "[warning] x: Message. Fix: Fix it."
    with pytest.raises(FrozenInstanceError):
        problem.code = "y"  # type: ignore[misc]


def test_errors_come_before_warnings() -> None:
    with pytest.raises(EnvCheckError) as caught:
        check_env(broken("LegacyNaNObs"))
    severities = [p.severity for p in caught.value.problems]
    assert severities == sorted(severities)


def test_unknown_algo() -> None:
    with pytest.raises(ConfigError) as caught:
        check_env(CORRIDOR, algo="dqm")
    assert str(caught.value) == (
        "Unknown algo 'dqm' for check_env. Known: dqn, drqn, ppo, a2c, a3c; pass one of those, or "
        "leave algo out."
    )


def test_unresolvable_env_raises_env_resolve_error() -> None:
    with pytest.raises(EnvResolveError, match="Unknown environment 'cath'"):
        check_env("cath")


def test_global_random_state_is_restored() -> None:
    random.seed(1)
    np.random.seed(1)
    expected = random.random(), np.random.random()
    random.seed(1)
    np.random.seed(1)
    problems_of(f"{FIXTURES / 'tutorial000_gym.py'}:ShowEnv")
    assert (random.random(), np.random.random()) == expected


def test_exported_from_the_package() -> None:
    assert renshu.check_env is check_env
    assert renshu.EnvCheckError is EnvCheckError


@pytest.mark.parametrize("flag", ["terminated", "truncated"])
def test_an_array_terminated_or_truncated_is_reported_in_plain_words_not_a_crash(
    flag: str,
) -> None:
    from renshu.envs.toy import ScriptedEnv

    def reset(env: ScriptedEnv) -> tuple[np.ndarray, dict[str, Any]]:
        return np.zeros(1, np.float32), {}

    def step(env: ScriptedEnv, action: Any) -> tuple[Any, ...]:
        flags = {"terminated": False, "truncated": False, flag: np.array([False, False])}
        return np.zeros(1, np.float32), 1.0, flags["terminated"], flags["truncated"], {}

    with pytest.raises(EnvCheckError) as caught:
        check_env(ScriptedEnv(reset, step), **FAST)
    problems = caught.value.problems
    assert [p.code for p in problems] == [f"{flag}-type"]
    assert problems[0].message == (
        f"step() returned {flag}=[False False] (ndarray) at a step of the probe; expected a bool."
    )
    assert problems[0].fix == f"Return a bool: `{flag} = bool(...)`."
