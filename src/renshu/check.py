"""Diagnose an environment and say, in plain words, how to fix each problem.

:func:`check_env` runs Gymnasium's own checker (:func:`gymnasium.utils.env_checker.check_env`),
translating its warnings and assertion failures, and then probes the environment itself:

* its structure: ``reset``/``step``, both spaces, Gymnasium (not gym) spaces;
* the old gym API (bare ``reset()``, 4-tuple ``step()``, no ``seed``): warnings, because
  :func:`renshu.make` adapts it, with what to change to drop the adapter;
* seeding: two ``reset(seed=s)`` must agree, and so must two runs of the same actions;
* a bounded probe (a few random-action episodes, then one episode per held action, each up to
  ``probe_steps`` steps, within ``probe_seconds``) looking for observations outside the
  declared space, bad rewards, non-bool flags, episodes that never end and stepping past the
  end;
* rendering (``render_mode`` declared in ``metadata``, the right frame type);
* with ``algo=``, whether that algorithm can handle both spaces (the algorithm's own
  ``space_problems``, the verdict its constructor gives too).

The per-step checks (:func:`obs_problem`, :func:`step_problems`) also guard the first steps of
training (:class:`StepChecks`), so ``agent.fit`` refuses what ``check_env`` refuses.

Errors (the env cannot be trained as it is) raise :class:`EnvCheckError`; warnings are returned.
The check resets and steps the environment and restores the global ``random`` and
``numpy.random`` states afterwards.
"""

from __future__ import annotations

import contextlib
import functools
import math
import random
import re
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env as gymnasium_check_env
from gymnasium.utils.env_checker import data_equivalence

from renshu.compat.legacy import (
    ApiReport,
    LegacyEnv,
    adapt,
    inspect_api,
    to_gymnasium_space,
)
from renshu.errors import ConfigError, EnvError, EnvResolveError
from renshu.make import EnvLike, make_raw, where

__all__ = [
    "EnvCheckError",
    "Problem",
    "Severity",
    "StepChecks",
    "StepTypes",
    "check_env",
    "obs_problem",
    "step_problems",
]

Severity = Literal["error", "warning"]

_ADAPTED = " renshu adapts this automatically (renshu.make wraps the env in LegacyEnv)."
_GYMNASIUM_GUIDE = "See https://gymnasium.farama.org/introduction/create_custom_env/."
_SEED_FIX = (
    "Call super().reset(seed=seed) at the top of reset() and draw every random number from "
    "self.np_random (not random, np.random or an unseeded Generator)."
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an environment, and how to fix it."""

    severity: Severity
    """``"error"``: it cannot be trained as it is; ``"warning"``: it works, but watch out."""
    code: str
    """A short stable slug, e.g. ``"obs-out-of-bounds"``."""
    message: str
    """What is wrong: expected vs actual."""
    fix: str
    """What to do about it."""

    def __str__(self) -> str:
        return f"[{self.severity}] {self.code}: {self.message} Fix: {self.fix}"


class EnvCheckError(EnvError):
    """:func:`check_env` found at least one error; ``problems`` lists everything it found."""

    def __init__(self, problems: Sequence[Problem], env: str = "the environment") -> None:
        super().__init__(list(problems), env)
        self.problems: list[Problem] = list(problems)
        self.env = env

    def __str__(self) -> str:
        errors = sum(p.severity == "error" for p in self.problems)
        found = _plural(errors, "error")
        warned = len(self.problems) - errors
        if warned:
            found += f" and {_plural(warned, 'warning')}"
        lines = [f"{self.env} failed the environment check: {found}."]
        for number, problem in enumerate(self.problems, 1):
            lines.append(f"  {number}. [{problem.severity}] {problem.code}: {problem.message}")
            lines.append(f"     Fix: {problem.fix}")
        return "\n".join(lines)


def check_env(
    env: EnvLike,
    *,
    algo: str | None = None,
    seed: int = 0,
    probe_episodes: int = 3,
    probe_steps: int = 500,
    probe_seconds: float = 5.0,
) -> list[Problem]:
    """Check an environment; raise :class:`EnvCheckError` if it has errors.

    Args:
        env: anything :func:`renshu.make` accepts. A legacy gym-API object is checked as
            written, so its old API is reported (as warnings: renshu adapts it).
        algo: also check that this algorithm (``"dqn"``, ``"drqn"``, ``"a2c"``, ``"a3c"``,
            ``"ppo"``) can handle the action space.
        seed: seed of the probe's resets and action samples.
        probe_episodes: random-action episodes in the probe (held-action episodes come after).
        probe_steps: at most this many steps per probe episode.
        probe_seconds: the probe stops starting episodes after this long.

    Returns:
        The warnings (an empty list for a clean env).

    Raises:
        EnvCheckError: at least one error; ``.problems`` has errors and warnings.
        EnvResolveError: ``env`` cannot be built at all.
        ConfigError: ``algo`` is unknown.
    """
    algorithm = _algorithm(algo)
    rng_state = random.getstate(), np.random.get_state()
    try:
        raw, owned = _resolve(env)
    except BaseException:
        random.setstate(rng_state[0])
        np.random.set_state(rng_state[1])
        raise
    label = f"'{env}'" if isinstance(env, str) else type(raw).__name__
    checker = _Checker(
        raw,
        rebuild=env if isinstance(env, (str, type)) else None,
        algorithm=algorithm,
        seed=seed,
        budget=_Budget(probe_episodes, probe_steps, probe_seconds),
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            problems = checker.run()
    finally:
        random.setstate(rng_state[0])
        np.random.set_state(rng_state[1])
        checker.close(owned)
    if any(p.severity == "error" for p in problems):
        raise EnvCheckError(problems, label)
    return problems


# --------------------------------------------------------------------------------------------
# Setup
# --------------------------------------------------------------------------------------------


def _algorithm(algo: str | None) -> str | None:
    """The algorithm's key in :data:`renshu.agents.ALGORITHMS` (the one list of them)."""
    if algo is None:
        return None
    from renshu.agents import ALGORITHMS

    key = algo.lower().replace("-", "").replace("_", "")
    if key not in ALGORITHMS:
        raise ConfigError(
            f"Unknown algo {algo!r} for check_env. Known: {', '.join(ALGORITHMS)}; pass one of "
            "those, or leave algo out."
        )
    return key


def _resolve(env: EnvLike) -> tuple[Any, bool]:
    """The object to check as written, and whether this check built it (and closes it)."""
    if isinstance(env, LegacyEnv):
        return env.legacy_env, False
    if isinstance(env, (str, type)):
        return make_raw(env), True
    if isinstance(env, gymnasium.vector.VectorEnv):
        return make_raw(env), False  # raises: a vector env is not checked here
    return env, False


@dataclass(frozen=True)
class _Budget:
    episodes: int
    steps: int
    seconds: float


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _short(value: Any, limit: int = 60) -> str:
    """A short repr of an observation or other value, for messages."""
    if isinstance(value, np.ndarray) and value.size > 8:
        text = f"array of shape {value.shape}, dtype {value.dtype}"
    else:
        text = np.array2string(value) if isinstance(value, np.ndarray) else repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fmt_bound(bound: np.ndarray[Any, Any], name: str) -> str:
    """A Box bound as one number when it is uniform, else as the space's attribute."""
    flat = np.unique(bound)
    return repr(float(flat[0])) if flat.size == 1 else f"self.observation_space.{name}"


# --------------------------------------------------------------------------------------------
# The checker
# --------------------------------------------------------------------------------------------


@dataclass
class _ObsTally:
    """Observations outside the space, seen during the probe."""

    total: int = 0
    outside: dict[str, int] = field(default_factory=dict)
    first: dict[str, str] = field(default_factory=dict)
    low_seen: float = math.inf
    high_seen: float = -math.inf


class _Stop(Exception):
    """The env raised or returned something that makes further probing pointless."""


class _Checker:
    """Runs every check on one environment and collects :class:`Problem` s."""

    def __init__(
        self,
        raw: Any,
        *,
        rebuild: str | type | None,
        algorithm: str | None,
        seed: int,
        budget: _Budget,
    ) -> None:
        self.raw = raw
        self.rebuild = rebuild
        self.algorithm = algorithm
        self.seed = seed
        self.budget = budget
        self.name = type(raw).__name__
        self.problems: list[Problem] = []
        self.from_gymnasium: list[Problem] = []
        self.env: gymnasium.Env[Any, Any] | None = None
        self.report: ApiReport | None = None
        self.tally = _ObsTally()

    # ---- bookkeeping -------------------------------------------------------------------------

    def add(self, severity: Severity, code: str, message: str, fix: str) -> None:
        self.problems.append(Problem(severity, code, message, fix))

    def has(self, code: str) -> bool:
        return any(p.code == code for p in self.problems)

    @property
    def legacy(self) -> bool:
        return self.report is not None and self.report.legacy

    def close(self, owned: bool) -> None:
        if owned:
            for env in (self.env, self.raw):
                close = getattr(env, "close", None)
                if callable(close):
                    with contextlib.suppress(Exception):
                        close()

    # ---- the run -----------------------------------------------------------------------------

    def run(self) -> list[Problem]:
        if not self.check_structure() or not self.check_api():
            return self.finish()
        self.env = LegacyEnv(self.raw, report=self.report, warn=False) if self.legacy else self.raw
        self.check_algorithm()
        self.run_gymnasium_checker()
        for probe in (self.probe_seeding, self.probe_episodes, self.probe_render):
            try:
                probe()
            except _Stop:
                break
        return self.finish()

    def finish(self) -> list[Problem]:
        own = {p.code for p in self.problems}
        if any(code.startswith("obs-") for code in own):
            own.add("obs-out-of-space")
        for code, by in _SUPERSEDED.items():
            if own & set(by):
                own.add(code)
        merged = self.problems + [p for p in self.from_gymnasium if p.code not in own]
        unique: dict[str, Problem] = {}
        for problem in merged:
            unique.setdefault(problem.code, problem)
        ordered = list(unique.values())
        return [p for p in ordered if p.severity == "error"] + [
            p for p in ordered if p.severity == "warning"
        ]

    # ---- structure and API -------------------------------------------------------------------

    def check_structure(self) -> bool:
        """reset()/step() and both spaces must be there; say what to write otherwise."""
        missing = [f"{n}()" for n in ("reset", "step") if not callable(getattr(self.raw, n, None))]
        if missing:
            self.add(
                "error",
                "not-an-env",
                f"{self.name} has no {' or '.join(missing)} method, so it is not an environment.",
                "Subclass gymnasium.Env and define reset(self, *, seed=None, options=None) and "
                f"step(self, action). {_GYMNASIUM_GUIDE}",
            )
            return False
        ok = True
        for name in ("action_space", "observation_space"):
            ok = self.check_space(name) and ok
        if _is_gym(self.raw):
            self.add(
                "warning",
                "gym-env",
                f"{self.name} subclasses gym.Env from the unmaintained gym package, not "
                f"gymnasium.Env.{_ADAPTED}",
                "Import from gymnasium instead: `from gymnasium import Env`.",
            )
        return ok

    def check_space(self, name: str) -> bool:
        kind = name.split("_")[0]
        space = getattr(self.raw, name, None)
        if space is None:
            self.add(
                "error",
                f"missing-{kind}-space",
                f"{self.name} has no {name}.",
                f"Set self.{name} in __init__, e.g. "
                + ("Discrete(3)." if kind == "action" else "Box(0.0, 1.0, (1,), np.float32)."),
            )
            return False
        try:
            converted = to_gymnasium_space(space, name=name)
        except EnvResolveError as error:
            self.add(
                "error",
                f"{kind}-space-type",
                str(error),
                f"Set self.{name} to a "
                "gymnasium.spaces space (Box, Discrete, MultiDiscrete, MultiBinary, Tuple, "
                "Dict).",
            )
            return False
        if isinstance(converted, spaces.Discrete) and int(converted.n) < 1:
            self.add(
                "error",
                f"{kind}-space-empty",
                f"{name} is {converted}: it holds no values (n={int(converted.n)}).",
                f"Give it at least one value, e.g. self.{name} = Discrete(3).",
            )
            return False
        if converted is not space and not self.has("gym-spaces"):
            self.add(
                "warning",
                "gym-spaces",
                f"{name} is {type(space).__module__}.{type(space).__name__} from the old gym "
                f"package; Gymnasium expects gymnasium.spaces.{_ADAPTED}",
                "Import the spaces from gymnasium: `from gymnasium.spaces import Discrete, Box`.",
            )
        return True

    def check_api(self) -> bool:
        """Signature and one reset()/step(): report the old gym API (adapted) and bad returns."""
        report = self.report = inspect_api(self.raw, probe=True)
        if report.reset_error is not None:
            self.add_raised("reset", report.reset_error)
            return False
        if report.legacy and not self.report_legacy(report):
            return False
        if report.step_error is not None:
            self.add_raised("step", report.step_error)
            return False
        values = report.step_values
        if report.probed and values not in (4, 5):
            shown = f"{values} values" if values is not None else _short(report.step_result)
            self.add(
                "error",
                "step-return",
                f"step() returned {shown}; expected (obs, reward, terminated, truncated, info).",
                "Return a 5-tuple: `return obs, reward, terminated, truncated, info`.",
            )
            return False
        return True

    def report_legacy(self, report: ApiReport) -> bool:
        """Report the old-API traits renshu adapts; False if reset() returns garbage."""
        if report.reset_bare and not self.report_bare_reset(report.reset_result):
            return False
        if report.step_values == 4:
            self.add(
                "warning",
                "step-4-tuple",
                "step() returns the old 4-tuple (obs, reward, done, info); Gymnasium expects "
                "(obs, reward, terminated, truncated, info). renshu reads done as terminated, "
                f"or truncated when info['TimeLimit.truncated'] is set.{_ADAPTED}",
                "Return `obs, reward, terminated, truncated, info`: terminated when the task "
                "ends (goal, failure), truncated when a time limit cuts the episode.",
            )
        if not report.reset_takes_seed:
            self.add(
                "warning",
                "reset-no-seed",
                "reset() takes no seed argument, so runs cannot be seeded through it. renshu "
                "seeds Python's random and numpy.random before calling it.",
                "Define `def reset(self, *, seed=None, options=None)`, call "
                "`super().reset(seed=seed)` first and draw randomness from self.np_random.",
            )
        elif not report.reset_takes_options:
            self.add(
                "warning",
                "reset-no-options",
                f"reset() takes no options argument; vector envs pass one.{_ADAPTED}",
                "Define `def reset(self, *, seed=None, options=None)`.",
            )
        for text in report.obs_conversions:
            self.report_conversion(text, report)
        return True

    def report_bare_reset(self, result: Any) -> bool:
        space = self.raw_space("observation_space")
        if isinstance(result, tuple) and not isinstance(space, spaces.Tuple):
            self.add(
                "error",
                "reset-return",
                f"reset() returned a tuple of {len(result)} values; expected (obs, info) with "
                "info a dict.",
                "Return `obs, info` where info is a dict (`{}` if you have nothing to report).",
            )
            return False
        self.add(
            "warning",
            "reset-bare-obs",
            f"reset() returns a bare observation ({_short(result)}); Gymnasium expects "
            f"(obs, info).{_ADAPTED}",
            "Return `obs, {}` (an observation and an info dict) from reset().",
        )
        return True

    def report_conversion(self, text: str, report: ApiReport) -> None:
        space = self.raw_space("observation_space")
        result = report.reset_result if report.reset_bare else report.reset_result[0]
        if isinstance(space, spaces.Box) and not isinstance(result, np.ndarray):
            kind = "Python " + type(result).__name__ if type(result) in (int, float) else None
            self.add(
                "warning",
                "obs-not-array",
                f"reset() and step() return a {kind or type(result).__name__} "
                f"({_short(result)}), but observation_space is {space}, which holds "
                f"{space.dtype} arrays of shape {space.shape}.{_ADAPTED}",
                f"Return `np.array([...], dtype=np.{space.dtype})` instead of the bare value.",
            )
            return
        self.add(
            "warning",
            "obs-converted",
            f"Observations do not match observation_space {space}: {text}.{_ADAPTED}",
            "Build observations with the space's dtype and shape, e.g. "
            "`np.asarray(obs, dtype=self.observation_space.dtype)`.",
        )

    def raw_space(self, name: str) -> spaces.Space[Any]:
        return to_gymnasium_space(getattr(self.raw, name), name=name)

    def add_raised(self, method: str, error: BaseException) -> None:
        self.add(
            "error",
            f"{method}-raises",
            f"{method}() raised {type(error).__name__}: {error}{where(error)}.",
            f"Fix the error at that line; {method}() must work on a freshly built env.",
        )

    # ---- algorithm ---------------------------------------------------------------------------

    def check_algorithm(self) -> None:
        """The algorithm's own verdict on both spaces (the one its constructor gives)."""
        if self.algorithm is None or self.env is None:
            return
        from renshu.agents import ALGORITHMS, space_verdict

        agent_class = ALGORITHMS[self.algorithm].agent_class()
        for code, message, fix in space_verdict(
            agent_class, self.env.observation_space, self.env.action_space
        ):
            self.add("error", code, message, fix)

    # ---- Gymnasium's checker -----------------------------------------------------------------

    def run_gymnasium_checker(self) -> None:
        assert self.env is not None
        target = self.env.unwrapped if isinstance(self.env, gymnasium.Wrapper) else self.env
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                gymnasium_check_env(target, skip_render_check=True)
            except Exception as error:
                self.from_gymnasium.append(_translate_exception(error))
        for item in caught:
            problem = _translate_warning(str(item.message))
            if problem is not None:
                self.from_gymnasium.append(problem)

    # ---- probes ------------------------------------------------------------------------------

    def call(self, method: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception as error:
            self.add_raised(method, error)
            raise _Stop from error

    def reset(self, seed: int | None) -> Any:
        assert self.env is not None
        env = self.env
        result = self.call("reset", lambda: env.reset(seed=seed))
        if not (isinstance(result, tuple) and len(result) == 2):
            self.add(
                "error",
                "reset-return",
                f"reset() returned {_short(result)}; expected (obs, info).",
                "Return `obs, info` where info is a dict.",
            )
            raise _Stop
        return result

    def step(self, action: Any) -> tuple[Any, Any, Any, Any, Any]:
        assert self.env is not None
        env = self.env
        result = self.call("step", lambda: env.step(action))
        if not (isinstance(result, tuple) and len(result) == 5):
            self.add(
                "error",
                "step-return",
                f"step() returned {_short(result)}; expected "
                "(obs, reward, terminated, truncated, info).",
                "Return `obs, reward, terminated, truncated, info`.",
            )
            raise _Stop
        for name, flag in (("terminated", result[2]), ("truncated", result[3])):
            if _truth(flag) is None:  # e.g. an array of several values: no episode end to read
                problem = flag_problem(name, flag, "a step of the probe")
                assert problem is not None
                self.problems.append(problem)
                raise _Stop
        return result

    def probe_seeding(self) -> None:
        """Same seed, same observations; same seed and actions, same trajectory."""
        assert self.env is not None
        first = deepcopy(self.reset(self.seed)[0])
        second = deepcopy(self.reset(self.seed)[0])
        if not _equivalent(first, second):
            self.add(
                "warning",
                "reset-ignores-seed",
                f"Two reset(seed={self.seed}) calls gave different observations "
                f"({_short(first)} vs {_short(second)}), so runs cannot be reproduced.",
                _SEED_FIX,
            )
            return
        self.env.action_space.seed(self.seed)
        actions = [self.env.action_space.sample() for _ in range(30)]
        runs = [self.rollout(actions), self.rollout(actions)]
        for index, (a, b) in enumerate(zip(*runs, strict=False), 1):
            if not _equivalent(a, b):
                self.add(
                    "warning",
                    "step-ignores-seed",
                    f"After reset(seed={self.seed}) and the same actions, two runs diverged at "
                    f"step {index}: {_short(a[0])} vs {_short(b[0])} (observations), "
                    f"{_short(a[1])} vs {_short(b[1])} (rewards).",
                    _SEED_FIX,
                )
                return

    def rollout(self, actions: list[Any]) -> list[tuple[Any, ...]]:
        self.reset(self.seed)
        trajectory = []
        for action in actions:
            obs, reward, terminated, truncated, _ = self.step(action)
            trajectory.append((deepcopy(obs), reward, terminated, truncated))
            if terminated or truncated:
                break
        return trajectory

    def plans(self) -> Iterator[tuple[str, Callable[[], Any]]]:
        """Random-action episodes, then one episode per held (extreme) action."""
        assert self.env is not None
        space = self.env.action_space
        space.seed(self.seed)
        for _ in range(self.budget.episodes):
            yield "a random-action episode", space.sample
        for text, action in _held_actions(space):
            yield f"an episode holding action {text}", functools.partial(deepcopy, action)

    def probe_episodes(self) -> None:
        deadline = time.monotonic() + self.budget.seconds
        unended = played = 0
        after_end_tested = False
        for number, (plan, next_action) in enumerate(self.plans()):
            if time.monotonic() > deadline:
                break
            played += 1
            obs, info = self.reset(self.seed + 1 + number)
            self.check_obs(obs, f"reset() of {plan}")
            self.check_info(info, "reset()")
            ended = False
            for step in range(1, self.budget.steps + 1):
                obs, reward, terminated, truncated, info = self.step(next_action())
                where_ = f"step {step} of {plan}"
                self.check_obs(obs, where_)
                self.check_step_values(reward, terminated, truncated, info, where_)
                if terminated or truncated:
                    ended = True
                    if not after_end_tested:
                        after_end_tested = True
                        self.probe_step_after_end(next_action(), where_)
                    break
            unended += not ended
        self.report_obs_tally()
        if unended:
            self.add(
                "warning",
                "no-episode-end",
                f"{unended} of {played} probe episodes did not end within {self.budget.steps} "
                "steps.",
                "Return truncated=True after a step limit (or terminated=True when the task "
                "ends), or wrap the env: gymnasium.wrappers.TimeLimit(env, max_episode_steps=N).",
            )

    def probe_step_after_end(self, action: Any, where_: str) -> None:
        assert self.env is not None
        try:
            result = self.env.step(action)
        except Exception:
            return  # refusing to step past the end is fine
        if (
            isinstance(result, tuple)
            and len(result) == 5
            and _truth(result[2]) is False
            and _truth(result[3]) is False
        ):
            self.add(
                "warning",
                "step-after-end",
                f"The episode ended at {where_}, but one more step() without reset() returned "
                "terminated=False and truncated=False: the env carries on past the end.",
                "Keep returning terminated=True (or raise an error) until reset() is called; "
                "code that forgets to reset would otherwise mix two episodes.",
            )

    # ---- per-step checks ---------------------------------------------------------------------

    def check_obs(self, obs: Any, where_: str) -> None:
        assert self.env is not None
        space = self.env.observation_space
        tally = self.tally
        tally.total += 1
        found = _diagnose_obs(obs, space)
        if _finite_array(obs) and isinstance(space, spaces.Box):
            tally.low_seen = min(tally.low_seen, float(np.min(obs)))
            tally.high_seen = max(tally.high_seen, float(np.max(obs)))
        if found is None:
            return
        code, detail = found
        tally.outside[code] = tally.outside.get(code, 0) + 1
        tally.first.setdefault(code, f"{detail} (at {where_})")

    def report_obs_tally(self) -> None:
        assert self.env is not None
        space = self.env.observation_space
        tally = self.tally
        for code, count in tally.outside.items():
            seen = f"{count} of {tally.total} observations in the probe were not"
            message = f"Observations are not in observation_space {space}: {seen}, e.g. the "
            message += f"observation {tally.first[code]}."
            if code == "obs-out-of-bounds" and isinstance(space, spaces.Box):
                message += f" Values seen ranged from {tally.low_seen:g} to {tally.high_seen:g}."
            if self.has("obs-not-array"):
                message += f" {self.name} also returns bare Python numbers (renshu converts them)."
            self.add(_OBS_SEVERITY.get(code, "error"), code, message, _obs_fix(code, space))

    def check_step_values(
        self, reward: Any, terminated: Any, truncated: Any, info: Any, where_: str
    ) -> None:
        for problem in _value_problems(reward, terminated, truncated, info, where_):
            self.problems.append(problem)

    def check_info(self, info: Any, method: str) -> None:
        problem = info_problem(info, method)
        if problem is not None:
            self.problems.append(problem)

    # ---- rendering ---------------------------------------------------------------------------

    def probe_render(self) -> None:
        assert self.env is not None
        modes = self.env.metadata.get("render_modes")
        modes = list(modes) if isinstance(modes, (list, tuple)) else []
        mode = self.env.render_mode
        if mode is not None and mode not in modes:
            self.add(
                "error",
                "render-mode-unknown",
                f"render_mode={mode!r} is not in metadata['render_modes'] ({list(modes)}).",
                f"Declare it: metadata = {{'render_modes': [{mode!r}], 'render_fps': 4}}, or "
                "build the env with one of the declared modes.",
            )
        elif mode is not None and mode != "human":
            self.render_once(self.env, mode)
        for other in modes:
            if other not in (mode, "human") and not str(other).endswith("_list"):
                self.probe_render_mode(str(other))

    def probe_render_mode(self, mode: str) -> None:
        if self.rebuild is None:
            return
        try:
            raw = make_raw(self.rebuild, render_mode=mode)
        except EnvResolveError as error:
            if "unknown argument 'render_mode'" in str(error):
                self.add(
                    "error",
                    "render-mode-arg",
                    f"metadata['render_modes'] lists {mode!r}, but {self.builder()} takes no "
                    "render_mode argument.",
                    "Add `render_mode: str | None = None` to __init__ and store "
                    "`self.render_mode = render_mode`.",
                )
            else:
                self.add("error", "render-raises", str(error), "Fix the error it names.")
            return
        env = adapt(raw, probe=False)
        try:
            self.render_once(env, mode)
        finally:
            env.close()

    def builder(self) -> str:
        if isinstance(self.rebuild, type):
            return f"{self.rebuild.__name__}.__init__"
        return f"'{self.rebuild}'"

    def render_once(self, env: gymnasium.Env[Any, Any], mode: str) -> None:
        try:
            env.reset(seed=self.seed)
            frame = env.render()
        except (ImportError, gymnasium.error.DependencyNotInstalled) as error:
            self.add(
                "warning",
                "render-dependency",
                f"render_mode={mode!r} could not be tested: {type(error).__name__}: {error}",
                "Install the missing package to render in this mode (it is optional).",
            )
            return
        except Exception as error:
            self.add_raised("render", error)
            return
        trouble = _render_trouble(mode, frame)
        if trouble is not None:
            self.add("warning", "render-return", trouble, _RENDER_FIXES.get(mode, _GYMNASIUM_GUIDE))


# --------------------------------------------------------------------------------------------
# Per-step checks (shared by the probe and by the first steps of training)
# --------------------------------------------------------------------------------------------

_OBS_SEVERITY: dict[str, Severity] = {"obs-out-of-bounds": "warning"}
"""Observation problems an agent trains through: a Box observation outside its bounds (as
tutorial 000's shower drifts) is a warning for ``renshu check`` and ``renshu train`` alike."""


def obs_problem(obs: Any, space: spaces.Space[Any], where_: str) -> Problem | None:
    """None if ``obs`` is in ``space``, else the problem (code, expected vs actual, fix)."""
    found = _diagnose_obs(obs, space)
    if found is None:
        return None
    code, detail = found
    return Problem(
        _OBS_SEVERITY.get(code, "error"),
        code,
        f"The observation {detail} (at {where_}); observation_space is {space}.",
        _obs_fix(code, space),
    )


def reward_problem(reward: Any, where_: str) -> Problem | None:
    """None for a finite real reward, else the problem."""
    if isinstance(reward, bool) or not isinstance(reward, (int, float, np.integer, np.floating)):
        return Problem(
            "error",
            "reward-type",
            f"step() returned reward {_short(reward)} ({type(reward).__name__}) at {where_}; "
            "expected a float.",
            "Return a plain number: `reward = float(...)`"
            + (" (e.g. `float(reward[0])`)." if isinstance(reward, np.ndarray) else "."),
        )
    if not math.isfinite(float(reward)):
        return Problem(
            "error",
            "reward-not-finite",
            f"step() returned reward {float(reward)} at {where_}; rewards must be finite.",
            "Guard the reward computation (division by zero, overflow, log of 0), e.g. clip "
            "its inputs or use np.nan_to_num.",
        )
    return None


def flag_problem(name: str, value: Any, where_: str) -> Problem | None:
    """None for a bool ``terminated``/``truncated``; a warning for 0/1; else an error."""
    if isinstance(value, (bool, np.bool_)):
        return None
    integer = isinstance(value, (int, np.integer)) and value in (0, 1)
    return Problem(
        "warning" if integer else "error",
        f"{name}-type",
        f"step() returned {name}={_short(value)} ({type(value).__name__}) at {where_}; "
        "expected a bool.",
        f"Return a bool: `{name} = bool(...)`.",
    )


def info_problem(info: Any, method: str) -> Problem | None:
    """None for a dict, else the problem."""
    if isinstance(info, dict):
        return None
    return Problem(
        "error",
        "info-type",
        f"{method} returned info {_short(info)} ({type(info).__name__}); expected a dict.",
        "Return a dict as info (`{}` if you have nothing to report).",
    )


def _value_problems(
    reward: Any, terminated: Any, truncated: Any, info: Any, where_: str
) -> list[Problem]:
    found = [
        reward_problem(reward, where_),
        flag_problem("terminated", terminated, where_),
        flag_problem("truncated", truncated, where_),
        info_problem(info, "step()"),
    ]
    return [p for p in found if p is not None]


def step_problems(result: Any, space: spaces.Space[Any], where_: str) -> list[Problem]:
    """Everything wrong with what one ``step()`` returned (errors and warnings)."""
    if not (isinstance(result, tuple) and len(result) == 5):
        return [
            Problem(
                "error",
                "step-return",
                f"step() returned {_short(result)} at {where_}; expected "
                "(obs, reward, terminated, truncated, info).",
                "Return `obs, reward, terminated, truncated, info`.",
            )
        ]
    obs, reward, terminated, truncated, info = result
    found = obs_problem(obs, space, where_)
    return ([found] if found is not None else []) + _value_problems(
        reward, terminated, truncated, info, where_
    )


def reset_problems(result: Any, space: spaces.Space[Any], where_: str) -> list[Problem]:
    """Everything wrong with what one ``reset()`` returned (errors and warnings)."""
    if not (isinstance(result, tuple) and len(result) == 2):
        return [
            Problem(
                "error",
                "reset-return",
                f"reset() returned {_short(result)} at {where_}; expected (obs, info).",
                "Return `obs, info` where info is a dict.",
            )
        ]
    found = [obs_problem(result[0], space, where_), info_problem(result[1], "reset()")]
    return [p for p in found if p is not None]


class StepChecks(gymnasium.Wrapper[Any, Any, Any, Any]):
    """Checks what the first ``steps`` calls of ``reset()``/``step()`` return, as
    :func:`check_env`'s probe does, and raises :class:`EnvCheckError` on an error.

    ``done`` is called once the steps are checked: the owner then takes the wrapper out, so
    later steps cost nothing. ``label`` names the env in the error; ``where`` says what the
    step was (e.g. ``"training step 12"``).
    """

    def __init__(
        self,
        env: gymnasium.Env[Any, Any],
        *,
        steps: int,
        label: str,
        where: Callable[[], str],
        done: Callable[[], None],
    ) -> None:
        super().__init__(env)
        self.left, self.label, self.where, self.done = steps, label, where, done

    def reset(self, **kwargs: Any) -> Any:
        result = self.env.reset(**kwargs)
        self._verdict(reset_problems(result, self.env.observation_space, self.where()))
        return result

    def step(self, action: Any) -> Any:
        result = self.env.step(action)
        self._verdict(step_problems(result, self.env.observation_space, self.where()))
        self.left -= 1
        if self.left <= 0:
            self.done()
        return result

    def _verdict(self, problems: list[Problem]) -> None:
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            raise EnvCheckError(errors, self.label)


_REWARD_TYPES = frozenset(
    {float, int, np.float64, np.float32, np.float16, np.int64, np.int32, np.int16, np.int8}
)
_FLAG_TYPES = frozenset({bool, np.bool_})


class StepTypes(gymnasium.Wrapper[Any, Any, Any, Any]):
    """The checks of every training step after :class:`StepChecks`' first ones, cheap enough
    for each step (a few type and shape comparisons, no ``space.contains``): ``step()`` returns
    five values, the reward is a real number (a Python or NumPy scalar), ``terminated`` and
    ``truncated`` are bools (NumPy's too), ``info`` is a dict, and a Box observation is an
    array of the space's shape and dtype. A fault raises :class:`EnvCheckError` naming the step
    (``where``) and the fix, as the first steps' checks do.
    """

    def __init__(
        self, env: gymnasium.Env[Any, Any], *, label: str, where: Callable[[], str]
    ) -> None:
        super().__init__(env)
        self.label, self.where = label, where
        space = env.observation_space
        self._box = space if isinstance(space, spaces.Box) else None
        self._shape = space.shape
        self._dtype = space.dtype

    def reset(self, **kwargs: Any) -> Any:
        result = self.env.reset(**kwargs)
        if not (isinstance(result, tuple) and len(result) == 2) or self._odd_obs(result[0]):
            self._refuse(reset_problems(result, self.env.observation_space, self.where()))
        return result

    def step(self, action: Any) -> Any:
        result = self.env.step(action)
        if type(result) is not tuple or len(result) != 5:
            self._refuse(step_problems(result, self.env.observation_space, self.where()))
        obs, reward, terminated, truncated, info = result
        if (
            type(reward) not in _REWARD_TYPES
            or type(terminated) not in _FLAG_TYPES
            or type(truncated) not in _FLAG_TYPES
            or type(info) is not dict
            or self._odd_obs(obs)
        ):  # a closer look, only now: refuse the errors (0/1 flags, a subclass pass)
            where_ = self.where()
            found = [
                reward_problem(reward, where_),
                flag_problem("terminated", terminated, where_),
                flag_problem("truncated", truncated, where_),
                info_problem(info, f"step() at {where_}"),
                self._obs_problem(obs, where_),
            ]
            self._refuse([p for p in found if p is not None])
        return result

    def _odd_obs(self, obs: Any) -> bool:
        return self._box is not None and (
            type(obs) is not np.ndarray or obs.shape != self._shape or obs.dtype != self._dtype
        )

    def _obs_problem(self, obs: Any, where_: str) -> Problem | None:
        """The shape or dtype problem of a Box observation (values are not looked at)."""
        box = self._box
        if box is None or (
            isinstance(obs, np.ndarray)
            and obs.shape == box.shape
            and np.can_cast(obs.dtype, box.dtype)
        ):
            return None
        with warnings.catch_warnings():  # Gymnasium's "Casting input x" on a scalar
            warnings.simplefilter("ignore")
            return obs_problem(obs, box, where_)

    def _refuse(self, problems: list[Problem]) -> None:
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            raise EnvCheckError(errors, self.label)


# --------------------------------------------------------------------------------------------
# Observations
# --------------------------------------------------------------------------------------------


def _is_gym(obj: Any) -> bool:
    return any(
        c.__module__.split(".")[0] == "gym" and c.__name__ in ("Env", "Wrapper")
        for c in type(obj).__mro__
    )


def _truth(value: Any) -> bool | None:
    """``bool(value)``, or None when it has none (an array of several values raises)."""
    try:
        return bool(value)
    except Exception:
        return None


def _equivalent(a: Any, b: Any) -> bool:
    """Like Gymnasium's data_equivalence, but NaN equals NaN (a NaN bug is not a seeding bug)."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_equivalent(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        if np.issubdtype(a.dtype, np.floating):
            return bool(np.allclose(a, b, rtol=1e-5, atol=1e-5, equal_nan=True))
    return data_equivalence(a, b)


def _finite_array(obs: Any) -> bool:
    return (
        isinstance(obs, np.ndarray)
        and obs.size > 0
        and np.issubdtype(obs.dtype, np.number)
        and bool(np.all(np.isfinite(obs)))
    )


def _held_actions(space: spaces.Space[Any]) -> list[tuple[str, Any]]:
    """The extreme actions to hold for a whole probe episode."""
    if isinstance(space, spaces.Discrete):
        start, n = int(space.start), int(space.n)
        values = range(start, start + n) if n <= 8 else (start, start + n - 1)
        return [(str(v), np.int64(v)) for v in values]
    if isinstance(space, spaces.Box):
        held = []
        for name, bound in (("low", space.low), ("high", space.high)):
            if np.all(np.isfinite(bound)):
                held.append((f"{name} ({_short(bound)})", bound.astype(space.dtype)))
        return held
    if isinstance(space, spaces.MultiDiscrete):
        return [
            ("all zeros", np.zeros_like(space.nvec)),
            ("all max", (space.nvec - 1).astype(space.dtype)),
        ]
    if isinstance(space, spaces.MultiBinary):
        return [
            ("all zeros", np.zeros(space.shape, dtype=space.dtype)),
            ("all ones", np.ones(space.shape, dtype=space.dtype)),
        ]
    return []


def _diagnose_obs(obs: Any, space: spaces.Space[Any]) -> tuple[str, str] | None:
    """None if ``obs`` is in ``space``, else (code, what is wrong with it)."""
    try:
        if space.contains(obs):
            return None
    except Exception:
        pass
    if isinstance(space, spaces.Box):
        return _diagnose_box(obs, space)
    if isinstance(space, spaces.Discrete):
        if not isinstance(obs, (int, np.integer)) or isinstance(obs, bool):
            return "obs-type", f"{_short(obs)} is a {type(obs).__name__}, not an int"
        last = int(space.start) + int(space.n) - 1
        return "obs-out-of-bounds", f"{obs} is outside {int(space.start)}..{last}"
    return "obs-out-of-space", f"{_short(obs)}"


def _diagnose_box(obs: Any, space: spaces.Box) -> tuple[str, str]:
    if not isinstance(obs, np.ndarray):
        return (
            "obs-type",
            f"{_short(obs)} is a {type(obs).__name__}, not a {space.dtype} array of shape "
            f"{space.shape}",
        )
    if obs.shape != space.shape:
        return "obs-shape", f"{_short(obs)} has shape {obs.shape}, not {space.shape}"
    if not np.can_cast(obs.dtype, space.dtype):
        return "obs-dtype", f"{_short(obs)} has dtype {obs.dtype}, not {space.dtype}"
    if np.issubdtype(obs.dtype, np.floating) and not np.all(np.isfinite(obs)):
        return "obs-not-finite", f"{_short(obs)} contains NaN or inf"
    below = np.any(obs < space.low)
    side = "below low" if below else "above high"
    bound = space.low if below else space.high
    return "obs-out-of-bounds", f"{_short(obs)} is {side} ({_short(bound)})"


def _obs_fix(code: str, space: spaces.Space[Any]) -> str:
    if not isinstance(space, spaces.Box):
        return "Return observations that observation_space contains, or widen the space."
    dtype = f"np.{space.dtype}"
    if code == "obs-out-of-bounds":
        low = _fmt_bound(space.low, "low")
        high = _fmt_bound(space.high, "high")
        return (
            f"Keep the state inside the bounds before returning it, e.g. "
            f"`obs = np.clip(obs, {low}, {high})`, and return "
            f"`np.array([...], dtype={dtype})`; or widen the Box if such values are real."
        )
    if code == "obs-dtype":
        return (
            f"Cast it: `obs.astype({dtype})` (or build it with dtype={dtype}), or declare the "
            "Box with the dtype you return."
        )
    if code == "obs-shape":
        return f"Return an array of shape {space.shape} (reshape it), or declare that shape."
    if code == "obs-not-finite":
        return "Guard the computation that produces NaN/inf, or clip it with np.nan_to_num."
    return f"Return `np.array([...], dtype={dtype})` with shape {space.shape}."


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------

_RENDER_FIXES = {
    "ansi": "Return the frame as a str from render() when render_mode='ansi'.",
    "rgb_array": "Return an np.uint8 array of shape (height, width, 3) from render().",
    "depth_array": "Return a 2-D np.ndarray from render().",
}


def _render_trouble(mode: str, frame: Any) -> str | None:
    if mode in ("ansi", "ascii") and not isinstance(frame, str):
        return f"render() with render_mode={mode!r} returned {type(frame).__name__}, not a str."
    if mode == "rgb_array":
        ok = (
            isinstance(frame, np.ndarray)
            and frame.dtype == np.uint8
            and frame.ndim == 3
            and frame.shape[2] == 3
        )
        if not ok:
            return (
                "render() with render_mode='rgb_array' returned "
                f"{_short(frame)}; expected a uint8 array of shape (height, width, 3)."
            )
    if mode == "depth_array" and not (isinstance(frame, np.ndarray) and frame.ndim == 2):
        return f"render() with render_mode='depth_array' returned {_short(frame)}."
    return None


# --------------------------------------------------------------------------------------------
# Gymnasium's checker, translated
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    pattern: str
    code: str
    severity: Severity
    fix: str


_SUPERSEDED = {
    "truncates-immediately": ("truncated-type",),
    "step-ignores-seed": ("reset-ignores-seed", "reward-not-finite", "obs-not-finite"),
    "reset-return": ("reset-bare-obs",),
    "step-return": ("step-4-tuple",),
    "ambiguous-truth": ("terminated-type", "truncated-type"),
}
"""A Gymnasium finding is dropped when renshu's own probe explained the same cause."""

_IGNORED = (
    "is different from the unwrapped version",
    "Not able to test alternative render modes",
    "Casting input x to numpy array",
    "precision lowered by casting",
    "even though this environment has already returned",
    "Using the latest versioned environment",
    "is out of date",
    "parameter is now ignored",
    "Expects `done` signal",
)

_RULES = (
    _Rule(
        r"is not within the observation space",
        "obs-out-of-space",
        "error",
        "Return observations that observation_space contains: its dtype "
        "(`np.array([...], dtype=np.float32)`), its shape and values within low..high "
        "(`np.clip`).",
    ),
    _Rule(
        r"was expecting numpy array dtype to be",
        "obs-dtype",
        "error",
        "Cast it: `np.asarray(obs, dtype=self.observation_space.dtype)`.",
    ),
    _Rule(
        r"was expecting a numpy array|should be an int or np\.int64|was expecting a tuple|"
        r"must be a dict",
        "obs-type",
        "error",
        "Return the type observation_space holds, e.g. `np.array([...], dtype=np.float32)`.",
    ),
    _Rule(
        r"reward is a NaN value|reward is an inf value",
        "reward-not-finite",
        "error",
        "Guard the reward computation against NaN/inf.",
    ),
    _Rule(
        r"reward returned by `step\(\)` must be a float",
        "reward-type",
        "error",
        "Return a plain number: `reward = float(...)`.",
    ),
    _Rule(
        r"`terminated` signal to be a boolean",
        "terminated-type",
        "warning",
        "Return a bool: `terminated = bool(...)`.",
    ),
    _Rule(
        r"truth value of an array with more than one element is ambiguous",
        "ambiguous-truth",
        "error",
        "Return plain bools for terminated and truncated (`terminated = bool(...)`), not arrays.",
    ),
    _Rule(
        r"`truncated` signal to be a boolean",
        "truncated-type",
        "warning",
        "Return a bool: `truncated = bool(...)`.",
    ),
    _Rule(
        r"observations returned by .* share an object",
        "obs-reused",
        "error",
        "Return a new array on every call (e.g. `return self._obs.copy()`); anything that keeps "
        "the returned observations is silently overwritten otherwise.",
    ),
    _Rule(
        r"infos returned by .* share an object",
        "info-reused",
        "error",
        "Build a new info dict in every reset()/step() instead of returning one kept on self.",
    ),
    _Rule(
        r"super\(\)\.reset\(seed=seed\)|random number generator to have been generated|"
        r"np_random` is not properly",
        "reset-super-seed",
        "warning",
        _SEED_FIX,
    ),
    _Rule(
        r"support for the `seed` function is dropped",
        "seed-method",
        "warning",
        "Remove seed(); seed through reset(seed=...) and self.np_random instead.",
    ),
    _Rule(
        r"space (minimum|maximum) value is (-)?infinity",
        "space-unbounded",
        "warning",
        "Give finite low/high where the values are bounded; networks learn faster from "
        "normalised inputs.",
    ),
    _Rule(
        r"symmetric and normalized space",
        "action-space-not-normalized",
        "warning",
        "Declare Box(-1.0, 1.0, ...) actions and rescale them inside step().",
    ),
    _Rule(
        r"low value is greater than a high value",
        "space-bounds",
        "error",
        "Swap low and high: every low must be <= its high.",
    ),
    _Rule(
        r"maximum and minimum values are equal",
        "space-bounds",
        "warning",
        "Give the Box a range (low < high), or drop the constant dimension.",
    ),
    _Rule(
        r"reset\(seed=123\)` .*non-deterministic|reset\(seed=123\)` observations are not equal",
        "reset-ignores-seed",
        "warning",
        _SEED_FIX,
    ),
    _Rule(
        r"Deterministic step|Step .* not equal although similar",
        "step-ignores-seed",
        "warning",
        _SEED_FIX,
    ),
    _Rule(
        r"`info` returned by `step\(\)` must be a python dictionary|"
        r"second element returned by `env\.reset\(\)` was not a dictionary",
        "info-type",
        "error",
        "Return a dict as info (`{}` if you have nothing to report).",
    ),
    _Rule(
        r"truncates after 1 step",
        "truncates-immediately",
        "error",
        "Set truncated=True only after the step limit, and reset the step counter in reset().",
    ),
    _Rule(
        r"was not a tuple of the form `\(obs, info\)`|did not return a 2-tuple|"
        r"should be `\(obs, info\)` by default",
        "reset-return",
        "error",
        "Return `obs, info` where info is a dict.",
    ),
    _Rule(
        r"four or five element tuple|Expects step result to be a tuple",
        "step-return",
        "error",
        "Return `obs, reward, terminated, truncated, info`.",
    ),
    _Rule(
        r"old step API",
        "step-4-tuple",
        "warning",
        "Return `obs, reward, terminated, truncated, info`.",
    ),
    _Rule(
        r"default seed argument .*should be `None`",
        "reset-seed-default",
        "warning",
        "Define `def reset(self, *, seed=None, options=None)`.",
    ),
    _Rule(
        r"does not provide a `seed`|passed a `seed`",
        "reset-no-seed",
        "warning",
        "Define `def reset(self, *, seed=None, options=None)`.",
    ),
    _Rule(
        r"does not provide an `options`|passed `options`",
        "reset-no-options",
        "warning",
        "Define `def reset(self, *, seed=None, options=None)`.",
    ),
    _Rule(
        r"on the closed environment should be allowed",
        "close-twice",
        "warning",
        "Make close() safe to call twice (check whether resources are already released).",
    ),
    _Rule(
        r"render_modes|render fps|render_fps",
        "render-metadata",
        "warning",
        "Declare metadata = {'render_modes': [...], 'render_fps': N} on the class.",
    ),
)


def _clean(text: str) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    text = re.sub(r"^(WARN|DEPRECATION|ERROR): ", "", text.strip())
    return " ".join(text.split())


def _translate_warning(text: str) -> Problem | None:
    text = _clean(text)
    if any(noise in text for noise in _IGNORED):
        return None
    for rule in _RULES:
        if re.search(rule.pattern, text):
            return Problem(rule.severity, rule.code, f"Gymnasium's checker: {text}", rule.fix)
    return Problem("warning", "gymnasium", f"Gymnasium's checker: {text}", _GYMNASIUM_GUIDE)


_GYMNASIUM_DIR = str(Path(gymnasium.__file__).resolve().parent)
_RENSHU_DIR = str(Path(__file__).resolve().parent)


def _translate_exception(error: Exception) -> Problem:
    frames = traceback.extract_tb(error.__traceback__)
    env_frames = [
        f
        for f in frames
        if not str(Path(f.filename).resolve()).startswith((_GYMNASIUM_DIR, _RENSHU_DIR))
    ]
    if env_frames:
        method = env_frames[0].name
        code = (
            f"{method}-raises" if method in ("reset", "step", "render", "close") else "env-raises"
        )
        return Problem(
            "error",
            code,
            f"{method}() raised {type(error).__name__}: {error}{where(error)}.",
            "Fix the error at that line.",
        )
    problem = _translate_warning(str(error))
    text = _clean(str(error))
    if problem is None or problem.code == "gymnasium":
        return Problem("error", "gymnasium", f"Gymnasium's checker: {text}", _GYMNASIUM_GUIDE)
    return problem
