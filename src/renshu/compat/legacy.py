"""Run environments written for the old gym API under Gymnasium.

Many tutorials (tutorial 000's ``ShowEnv`` among them) were written for gym before 0.26:

* ``reset()`` takes no ``seed`` and returns a bare observation instead of ``(obs, info)``;
* ``step()`` returns ``(obs, reward, done, info)`` instead of
  ``(obs, reward, terminated, truncated, info)``;
* spaces come from ``gym.spaces``;
* observations are bare Python ints or floats although the space is a ``Box``.

:class:`LegacyEnv` wraps such an object and presents the Gymnasium API. It adapts what it finds,
call by call, and says once, in a :class:`LegacyEnvWarning`, what it adapted. It changes no
values: an observation outside the declared space stays outside (``renshu check`` reports it).

``done`` becomes ``terminated=True``, unless ``info["TimeLimit.truncated"]`` is true, in which
case the episode was cut by a time limit and ``truncated=True`` instead.

Seeding: when the wrapped ``reset()`` accepts no ``seed``, ``reset(seed=s)`` seeds Python's
``random`` module and NumPy's global ``numpy.random`` generator with ``s`` (and calls the object's
old-style ``seed(s)`` method if it has one) before calling it. Tutorial code draws its noise from
``random.randint``, so runs become reproducible; the price is that the global generators are
reseeded, as any seeded legacy run would do.
"""

from __future__ import annotations

import inspect
import math
import random
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, SupportsFloat

import gymnasium
import numpy as np
from gymnasium import spaces

from renshu.errors import EnvResolveError, RenshuError

__all__ = [
    "ApiReport",
    "LegacyEnv",
    "LegacyEnvWarning",
    "adapt",
    "inspect_api",
    "is_legacy",
    "to_gymnasium_space",
]

_CONVERTIBLE_SPACES = ("Box", "Discrete", "MultiDiscrete", "MultiBinary", "Tuple", "Dict")
_SPACE_EXAMPLES = {
    "action_space": "Discrete(3)",
    "observation_space": "Box(low=0.0, high=1.0, shape=(1,), dtype=np.float32)",
}


class LegacyEnvWarning(UserWarning):
    """Emitted once per wrapped environment; lists what :class:`LegacyEnv` adapted."""


# --------------------------------------------------------------------------------------------
# Spaces
# --------------------------------------------------------------------------------------------


def _gym_class(obj: Any, names: tuple[str, ...]) -> str | None:
    """Name of the first class of ``obj`` that comes from the ``gym`` package and is in names."""
    for cls in type(obj).__mro__:
        if cls.__module__.split(".")[0] == "gym" and cls.__name__ in names:
            return cls.__name__
    return None


def _is_gym_space(space: Any) -> bool:
    return _gym_class(space, ("Space",)) is not None


def _is_gym_env(obj: Any) -> bool:
    return _gym_class(obj, ("Env", "Wrapper")) is not None


def to_gymnasium_space(space: Any, *, name: str = "observation_space") -> spaces.Space[Any]:
    """Return ``space`` as a :mod:`gymnasium.spaces` space.

    A Gymnasium space is returned as is; a ``gym.spaces`` Box, Discrete, MultiDiscrete,
    MultiBinary, Tuple or Dict becomes its Gymnasium twin with the same bounds, dtype and shape.

    Raises:
        EnvResolveError: ``space`` is not a space, or is a gym space with no Gymnasium twin here.
    """
    if isinstance(space, spaces.Space):
        return space
    kind = _gym_class(space, _CONVERTIBLE_SPACES)
    if kind is None:
        if _is_gym_space(space):
            raise EnvResolveError(
                f"{name} is gym.spaces.{type(space).__name__}, which renshu cannot convert "
                f"(it converts {', '.join(_CONVERTIBLE_SPACES)}). "
                f"Use the matching gymnasium.spaces class instead."
            )
        raise EnvResolveError(
            f"{name} is {space!r} ({type(space).__name__}), not a space. Expected a "
            f"gymnasium.spaces.Space such as {_SPACE_EXAMPLES.get(name, 'Discrete(3)')}; "
            f"set self.{name} in __init__."
        )
    return _convert_gym_space(kind, space, name)


def _convert_gym_space(kind: str, space: Any, name: str) -> spaces.Space[Any]:
    if kind == "Box":
        return spaces.Box(
            low=np.asarray(space.low, dtype=space.dtype),
            high=np.asarray(space.high, dtype=space.dtype),
            shape=tuple(space.shape),
            dtype=space.dtype,
        )
    if kind == "Discrete":
        return spaces.Discrete(int(space.n), start=int(getattr(space, "start", 0)))
    if kind == "MultiDiscrete":
        return spaces.MultiDiscrete(np.asarray(space.nvec), dtype=space.dtype)
    if kind == "MultiBinary":
        return spaces.MultiBinary(space.n)
    if kind == "Tuple":
        return spaces.Tuple([to_gymnasium_space(s, name=name) for s in space.spaces])
    return spaces.Dict({k: to_gymnasium_space(s, name=name) for k, s in space.spaces.items()})


# --------------------------------------------------------------------------------------------
# Observations, actions, rewards
# --------------------------------------------------------------------------------------------


def _convert_obs(obs: Any, space: spaces.Space[Any]) -> Any:
    """Cast an observation to the dtype and shape its space declares, values unchanged."""
    if isinstance(space, (spaces.Box, spaces.MultiDiscrete, spaces.MultiBinary)):
        if isinstance(obs, np.ndarray) and obs.dtype == space.dtype and obs.shape == space.shape:
            return obs
        try:
            array = np.asarray(obs, dtype=space.dtype)
        except (TypeError, ValueError):
            return obs
        if array.shape != space.shape and array.size == math.prod(space.shape):
            array = array.reshape(space.shape)
        return array
    if isinstance(space, spaces.Discrete):
        if isinstance(obs, (float, np.floating)) and float(obs).is_integer():
            return int(obs)
        return obs
    if isinstance(space, spaces.Tuple) and isinstance(obs, (tuple, list)):
        if len(obs) == len(space.spaces):
            return tuple(_convert_obs(o, s) for o, s in zip(obs, space.spaces, strict=True))
        return obs
    if isinstance(space, spaces.Dict) and isinstance(obs, dict):
        return {k: _convert_obs(v, space[k]) if k in space.spaces else v for k, v in obs.items()}
    return obs


def _describe_conversion(obs: Any, space: spaces.Space[Any]) -> str | None:
    """Say in a few words how :func:`_convert_obs` changes ``obs``; None if it does not."""
    converted = _convert_obs(obs, space)
    if converted is obs:
        return None
    if isinstance(space, (spaces.Box, spaces.MultiDiscrete, spaces.MultiBinary)):
        if not isinstance(converted, np.ndarray) or converted.shape != space.shape:
            return None
        if not isinstance(obs, np.ndarray):
            return f"{type(obs).__name__} observation -> {space.dtype} array of shape {space.shape}"
        if obs.dtype != space.dtype and obs.shape != space.shape:
            return (
                f"{obs.dtype} observation of shape {obs.shape} -> "
                f"{space.dtype} array of shape {space.shape}"
            )
        if obs.dtype != space.dtype:
            return f"{obs.dtype} observation -> {space.dtype}"
        return f"observation of shape {obs.shape} -> shape {space.shape}"
    if isinstance(space, spaces.Discrete):
        return f"{type(obs).__name__} observation -> int"
    return f"{type(space).__name__.lower()} observation parts -> their declared dtypes and shapes"


def _legacy_action(action: Any, space: spaces.Space[Any]) -> Any:
    """Hand old code a plain ``int`` for a Discrete action, as gym's old samples were."""
    if isinstance(space, spaces.Discrete) and isinstance(action, (np.integer, np.ndarray)):
        return int(action)
    return action


def _reward(reward: Any) -> Any:
    """A real-valued reward as a Python float; anything else unchanged (check_env reports it)."""
    if isinstance(reward, (int, float, np.integer, np.floating)) and not isinstance(reward, bool):
        return float(reward)
    return reward


def _is_reset_pair(result: Any, space: spaces.Space[Any]) -> bool:
    """True when ``result`` looks like Gymnasium's ``(obs, info)`` rather than a bare obs."""
    if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict)):
        return False
    if not isinstance(space, spaces.Tuple):
        return True
    try:
        return not space.contains(result)
    except Exception:
        return True


# --------------------------------------------------------------------------------------------
# Detection
# --------------------------------------------------------------------------------------------


def _parameters(fn: Any) -> tuple[set[str], bool]:
    """Names of ``fn``'s keyword-capable parameters and whether it takes ``**kwargs``."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return set(), True
    names = {p.name for p in params if p.kind is not inspect.Parameter.POSITIONAL_ONLY}
    var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    return names, var_kw


@dataclass(frozen=True)
class ApiReport:
    """What :func:`inspect_api` found out about an environment object's API.

    The ``probe_*`` fields are filled only when the object was probed (one ``reset()`` and one
    ``step()`` with a sampled action).
    """

    gymnasium_env: bool
    """The object is a :class:`gymnasium.Env` (or wrapper)."""
    gym_env: bool
    """The object subclasses ``gym.Env`` or ``gym.Wrapper`` from the old gym package."""
    gym_spaces: bool
    """``action_space`` or ``observation_space`` is a ``gym.spaces`` space."""
    reset_takes_seed: bool
    """``reset`` accepts ``seed=`` (a named parameter or ``**kwargs``)."""
    reset_takes_options: bool
    """``reset`` accepts ``options=``."""
    seed_method: bool
    """The object has an old-style ``seed(s)`` method."""
    probed: bool = False
    """Whether ``reset()`` and ``step()`` were called to observe behaviour."""
    reset_bare: bool = False
    """Probe: ``reset()`` returned a bare observation, not ``(obs, info)``."""
    step_values: int | None = None
    """Probe: how many values ``step()`` returned (None if not a tuple or not probed)."""
    obs_conversions: tuple[str, ...] = ()
    """Probe: how observations are cast to their declared dtype and shape."""
    reset_result: Any = field(default=None, repr=False, compare=False)
    """Probe: what ``reset()`` returned."""
    step_result: Any = field(default=None, repr=False, compare=False)
    """Probe: what ``step()`` returned."""
    reset_error: BaseException | None = field(default=None, repr=False, compare=False)
    """Probe: the exception ``reset()`` raised, if any."""
    step_error: BaseException | None = field(default=None, repr=False, compare=False)
    """Probe: the exception ``step()`` raised, if any."""

    @property
    def legacy(self) -> bool:
        """Whether the object needs :class:`LegacyEnv` to follow the Gymnasium API."""
        return (
            not self.gymnasium_env
            or self.gym_spaces
            or not self.reset_takes_seed
            or not self.reset_takes_options
            or self.reset_bare
            or self.step_values == 4
        )

    def adaptations(self) -> list[str]:
        """One short ``found -> made`` phrase per thing :class:`LegacyEnv` adapts."""
        found: list[str] = []
        if self.reset_bare:
            found.append("reset() returned a bare observation -> (obs, {})")
        if self.step_values == 4:
            found.append("step() returned 4 values -> (obs, reward, terminated, truncated, info)")
        found.extend(self.obs_conversions)
        if self.gym_spaces:
            found.append("gym.spaces -> gymnasium.spaces")
        if not self.reset_takes_seed:
            also = " and calls seed(s)" if self.seed_method else ""
            found.append(
                "reset() takes no seed -> reset(seed=s) seeds Python's random and numpy.random "
                f"with s{also}"
            )
        if not self.reset_takes_options:
            found.append("reset() takes no options -> options are ignored")
        if not found and not self.gymnasium_env:
            kind = "a gym.Env" if self.gym_env else "not a gymnasium.Env"
            found.append(f"{kind} -> wrapped as a gymnasium.Env")
        return found


def _trusted(obj: Any) -> bool:
    """Envs built by gymnasium.make, wrappers and adapters are taken at their word."""
    return isinstance(obj, (gymnasium.Wrapper, LegacyEnv)) or getattr(obj, "spec", None) is not None


def inspect_api(obj: Any, *, probe: bool = True) -> ApiReport:
    """Find out whether ``obj`` follows the Gymnasium API or the old gym API.

    The signature of ``reset`` and the types of the spaces are read first. With ``probe=True``
    (and unless ``obj`` came from :func:`gymnasium.make` or is a wrapper) ``reset()`` and one
    ``step()`` with a sampled action are called, to catch classes that subclass
    :class:`gymnasium.Env` but still return a bare observation and a 4-tuple. Probing leaves the
    env mid-episode: reset it before use, as always.
    """
    names, var_kw = _parameters(getattr(obj, "reset", None))
    spaces_found = [getattr(obj, n, None) for n in ("action_space", "observation_space")]
    report = ApiReport(
        gymnasium_env=isinstance(obj, gymnasium.Env),
        gym_env=_is_gym_env(obj),
        gym_spaces=any(_is_gym_space(s) for s in spaces_found),
        reset_takes_seed=var_kw or "seed" in names,
        reset_takes_options=var_kw or "options" in names,
        seed_method=callable(getattr(obj, "seed", None)),
    )
    if not probe or (_trusted(obj) and not report.legacy):
        return report
    try:
        action_space = to_gymnasium_space(spaces_found[0], name="action_space")
        observation_space = to_gymnasium_space(spaces_found[1], name="observation_space")
    except EnvResolveError:
        return report
    return _probe(obj, report, action_space, observation_space)


def _probe(
    obj: Any,
    report: ApiReport,
    action_space: spaces.Space[Any],
    observation_space: spaces.Space[Any],
) -> ApiReport:
    """Call reset() and step() once and record what they returned."""
    fields: dict[str, Any] = {"probed": True}
    conversions: list[str] = []
    try:
        result = obj.reset()
    except Exception as error:
        return _replace(report, probed=True, reset_error=error)
    fields["reset_result"] = result
    bare = not _is_reset_pair(result, observation_space)
    fields["reset_bare"] = bare
    _note_conversion(result if bare else result[0], observation_space, conversions)
    try:
        step_result = obj.step(_legacy_action(action_space.sample(), action_space))
    except Exception as error:
        fields["step_error"] = error
    else:
        fields["step_result"] = step_result
        if isinstance(step_result, tuple):
            fields["step_values"] = len(step_result)
            if len(step_result) in (4, 5):
                _note_conversion(step_result[0], observation_space, conversions)
    fields["obs_conversions"] = tuple(conversions)
    return _replace(report, **fields)


def _note_conversion(obs: Any, space: spaces.Space[Any], found: list[str]) -> None:
    text = _describe_conversion(obs, space)
    if text is not None and text not in found:
        found.append(text)


def _replace(report: ApiReport, **changes: Any) -> ApiReport:
    values = {name: getattr(report, name) for name in report.__dataclass_fields__}
    values.update(changes)
    return ApiReport(**values)


def is_legacy(obj: Any, *, probe: bool = False) -> bool:
    """Whether ``obj`` needs :class:`LegacyEnv` (see :func:`inspect_api`; ``probe`` as there)."""
    if isinstance(obj, LegacyEnv):
        return False
    return inspect_api(obj, probe=probe).legacy


# --------------------------------------------------------------------------------------------
# The adapter
# --------------------------------------------------------------------------------------------


def require_env_shape(obj: Any, label: str | None = None) -> None:
    """Raise :class:`EnvResolveError` unless ``obj`` has reset(), step() and both spaces."""
    label = label or type(obj).__name__
    missing = [f"{n}()" for n in ("reset", "step") if not callable(getattr(obj, n, None))]
    if missing:
        raise EnvResolveError(
            f"{label} is not an environment: it has no {' or '.join(missing)} method. Expected a "
            "gymnasium.Env, or an object with reset(), step(), action_space and "
            "observation_space."
        )
    for name in ("action_space", "observation_space"):
        if getattr(obj, name, None) is None:
            raise EnvResolveError(
                f"{label} has no {name}. Set it in __init__, e.g. "
                f"self.{name} = {_SPACE_EXAMPLES[name]}; `renshu check` diagnoses the rest."
            )


_PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)


def _caller_outside_renshu() -> int:
    """The ``stacklevel`` that points a warning at the first caller outside renshu."""
    frame = sys._getframe(1)
    level = 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    return level


def _convert_metadata(metadata: Any) -> dict[str, Any]:
    out = dict(metadata) if isinstance(metadata, dict) else {}
    if "render_modes" not in out:
        out["render_modes"] = list(out.pop("render.modes", []))
    if "render_fps" not in out and "video.frames_per_second" in out:
        out["render_fps"] = out["video.frames_per_second"]
    return out


class LegacyEnv(gymnasium.Env[Any, Any]):
    """A :class:`gymnasium.Env` around an object that follows the old gym API.

    The wrapped object is ``env.legacy_env``. See the module docstring for what is adapted and
    how seeding works.

    Example:
        >>> import random
        >>> from gymnasium.spaces import Box, Discrete
        >>> class Coin:
        ...     action_space = Discrete(2)
        ...     observation_space = Box(0.0, 1.0, shape=(1,))
        ...     def reset(self):
        ...         return 0
        ...     def step(self, action):
        ...         return random.randint(0, 1), 1, True, {}
        >>> env = LegacyEnv(Coin(), warn=False)
        >>> env.reset(seed=0)
        (array([0.], dtype=float32), {})
    """

    def __init__(
        self, legacy_env: Any, *, report: ApiReport | None = None, warn: bool = True
    ) -> None:
        require_env_shape(legacy_env)
        self.legacy_env = legacy_env
        self.action_space = to_gymnasium_space(legacy_env.action_space, name="action_space")
        self.observation_space = to_gymnasium_space(
            legacy_env.observation_space, name="observation_space"
        )
        self.metadata = _convert_metadata(getattr(legacy_env, "metadata", None))
        self.render_mode = getattr(legacy_env, "render_mode", None)
        self.report = report if report is not None else inspect_api(legacy_env)
        self.adaptations: tuple[str, ...] = tuple(self.report.adaptations())
        if warn and self.adaptations:
            warnings.warn(
                self.warning_message(), LegacyEnvWarning, stacklevel=_caller_outside_renshu()
            )

    def warning_message(self) -> str:
        """The text of the one warning this adapter emits."""
        name = type(self.legacy_env).__name__
        return (
            f"renshu adapted {name} to the Gymnasium API: {'; '.join(self.adaptations)}. "
            f"Update {name} to the Gymnasium API to silence this warning "
            "(`renshu check` shows how)."
        )

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset the wrapped env; seed it (or the global generators) when ``seed`` is given."""
        super().reset(seed=seed)
        kwargs: dict[str, Any] = {}
        if self.report.reset_takes_seed:
            kwargs["seed"] = seed
        elif seed is not None:
            self._seed_legacy(seed)
        if self.report.reset_takes_options:
            kwargs["options"] = options
        result = self.legacy_env.reset(**kwargs)
        if _is_reset_pair(result, self.observation_space):
            obs, info = result[0], dict(result[1])
        else:
            obs, info = result, {}
        return _convert_obs(obs, self.observation_space), info

    def _seed_legacy(self, seed: int) -> None:
        random.seed(seed)
        np.random.seed(seed % 2**32)
        if self.report.seed_method:
            self.legacy_env.seed(seed)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step the wrapped env and return Gymnasium's 5-tuple."""
        result = self.legacy_env.step(_legacy_action(action, self.action_space))
        if not isinstance(result, tuple) or len(result) not in (4, 5):
            got = f"{len(result)} values" if isinstance(result, tuple) else type(result).__name__
            raise RenshuError(
                f"{type(self.legacy_env).__name__}.step() returned {got}; expected 4 values "
                "(obs, reward, done, info) or 5 (obs, reward, terminated, truncated, info)."
            )
        if len(result) == 4:
            obs, reward, done, info = result
            info = dict(info) if isinstance(info, dict) else {}
            truncated = bool(done) and bool(info.get("TimeLimit.truncated", False))
            terminated = bool(done) and not truncated
        else:
            obs, reward, terminated, truncated, info = result
            terminated, truncated = bool(terminated), bool(truncated)
        return (
            _convert_obs(obs, self.observation_space),
            _reward(reward),
            terminated,
            truncated,
            info,
        )

    def render(self) -> Any:
        """Render the wrapped env, passing ``mode=`` to an old-style ``render(mode)``."""
        names, _ = _parameters(self.legacy_env.render)
        if "mode" in names and self.render_mode is not None:
            return self.legacy_env.render(mode=self.render_mode)
        return self.legacy_env.render()

    def close(self) -> None:
        """Close the wrapped env if it can be closed."""
        close = getattr(self.legacy_env, "close", None)
        if callable(close):
            close()

    def __str__(self) -> str:
        return f"<LegacyEnv<{type(self.legacy_env).__name__}>>"


def adapt(obj: Any, *, probe: bool = True, label: str | None = None) -> gymnasium.Env[Any, Any]:
    """Return ``obj`` as a :class:`gymnasium.Env`: itself if it follows the API, else wrapped.

    Raises:
        EnvResolveError: ``obj`` has no reset()/step() or lacks a space.
    """
    if isinstance(obj, LegacyEnv):
        return obj
    require_env_shape(obj, label)
    report = inspect_api(obj, probe=probe)
    if not report.legacy:
        return obj
    return LegacyEnv(obj, report=report)
