"""Turn an environment argument into a Gymnasium environment.

:func:`make` accepts, in this order of resolution:

* ``"path/to/file.py:ClassName"``: the file is imported by path and the class built with the
  keyword arguments;
* ``"package.module:ClassName"``: the module is imported and the class built;
* a short name from :data:`renshu.envs.SHORT_NAMES` (``"catch16"`` is ``renshu/Catch-v0`` with
  ``size=16``; keyword arguments given to :func:`make` win over the short name's);
* a registered Gymnasium id (``"CartPole-v1"``), built with :func:`gymnasium.make`;
* an environment class, or an environment instance (used as is).

An object that follows the old gym API is wrapped in :class:`renshu.compat.LegacyEnv`, which
warns once about what it adapted. Every mistake raises :class:`renshu.errors.EnvResolveError` with
one paragraph that says what was given, what was expected and how to fix it.

:func:`make_vec` builds ``num_envs`` copies as one :class:`gymnasium.vector.VectorEnv`, using an
id's batched twin (its ``vector_entry_point``) when there is one.

Both are exported at the top level: ``renshu.make("catch")``, ``renshu.make_vec("catch", 8)``.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import importlib
import importlib.util
import inspect
import re
import sys
import sysconfig
import traceback
import types
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeAlias

import gymnasium
from gymnasium.envs.registration import EnvSpec, load_env_creator
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv, VectorEnv

from renshu.compat.legacy import adapt
from renshu.envs import SHORT_NAMES
from renshu.errors import ConfigError, EnvResolveError

__all__ = ["EnvLike", "Vectorization", "make", "make_raw", "make_vec"]

EnvLike: TypeAlias = "str | type[Any] | gymnasium.Env[Any, Any] | Any"
"""What :func:`make` accepts: a name or id string, an env class, or an env instance."""

Vectorization: TypeAlias = Literal["auto", "twin", "sync", "async"]
"""How :func:`make_vec` batches environments."""

_VECTORIZATIONS = ("auto", "twin", "sync", "async")
_GYM_MAKE_ARGS = ("max_episode_steps", "disable_env_checker")
_HERE = Path(__file__).resolve().parent
_FILE_MODULES: dict[Path, tuple[int, types.ModuleType]] = {}


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def make(env: EnvLike, **kwargs: Any) -> gymnasium.Env[Any, Any]:
    """Build a Gymnasium environment from a name, id, ``file.py:Class``, ``module:Class``,
    class or instance.

    Args:
        env: what to build (see the module docstring for every form).
        **kwargs: constructor arguments, ``render_mode=`` among them.

    Returns:
        A :class:`gymnasium.Env`; a legacy gym-API object comes back wrapped in
        :class:`renshu.compat.LegacyEnv`. An env that :func:`gymnasium.make` did not build and
        whose signatures look right is probed with one ``reset()`` and one ``step()``, to catch
        the old API by behaviour; reset it before use, as always.

    Raises:
        EnvResolveError: the argument names nothing buildable, or building it failed.

    Example:
        >>> env = make("CartPole-v1")
        >>> obs, info = env.reset(seed=0)
        >>> obs.shape
        (4,)
    """
    raw = make_raw(env, **kwargs)
    return adapt(raw, label=_label(env))


def make_raw(env: EnvLike, **kwargs: Any) -> Any:
    """Build what :func:`make` would build, without adapting a legacy object.

    :func:`renshu.check_env` uses it to inspect an environment exactly as written.
    """
    if isinstance(env, str):
        return _from_string(env.strip(), kwargs)
    if isinstance(env, type):
        return _instantiate(env, kwargs, _label(env))
    if isinstance(env, VectorEnv):
        raise EnvResolveError(
            f"{type(env).__name__} is a vector environment (gymnasium.vector.VectorEnv), but "
            "make() returns a single environment. Use the vector env directly, or build one "
            "with renshu.make_vec(...)."
        )
    if kwargs:
        raise EnvResolveError(
            f"make() got {_format_kwargs(kwargs)} for an environment instance "
            f"({type(env).__name__}), which is already built. Pass its class or "
            "'path/to/file.py:ClassName' to build it with these arguments, or pass the instance "
            "alone."
        )
    if isinstance(env, gymnasium.Env) or _has_env_methods(env):
        return env
    raise EnvResolveError(
        f"Cannot make an environment from {env!r} ({type(env).__name__}). {_usage()}"
    )


def make_vec(
    env: EnvLike,
    num_envs: int,
    *,
    vectorization: Vectorization = "auto",
    **kwargs: Any,
) -> VectorEnv[Any, Any, Any]:
    """Build ``num_envs`` copies of an environment as one vector env (NEXT_STEP autoreset).

    Args:
        env: anything :func:`make` accepts; an instance only with ``num_envs=1``.
        num_envs: how many copies.
        vectorization: ``"auto"`` uses the id's batched twin (its registered
            ``vector_entry_point``) when it has one, else ``"sync"``; ``"twin"`` insists on the
            twin; ``"sync"`` is :class:`gymnasium.vector.SyncVectorEnv` of :func:`make` copies;
            ``"async"`` is :class:`gymnasium.vector.AsyncVectorEnv` (one process per copy).
        **kwargs: constructor arguments for every copy.

    Raises:
        ConfigError: ``num_envs`` or ``vectorization`` is out of range.
        EnvResolveError: as :func:`make`, or ``"twin"`` was asked of an id without one.

    Example:
        >>> envs = make_vec("CartPole-v1", 2)
        >>> obs, info = envs.reset(seed=0)
        >>> obs.shape
        (2, 4)
    """
    _check_vec_options(num_envs, vectorization)
    env_id, id_kwargs, label = _registered(env, kwargs)
    if env_id is not None and vectorization in ("auto", "twin"):
        spec = _spec(env_id, label)
        if spec.vector_entry_point is not None:
            return _make_twin(spec, num_envs, id_kwargs, label)
    if vectorization == "twin":
        raise EnvResolveError(
            f"{label} has no batched twin (no vector_entry_point is registered for it). Use "
            "vectorization='sync' or 'async', or 'auto' to fall back to SyncVectorEnv."
        )
    factory = _copy_factory(env, kwargs, num_envs, vectorization, label)
    vector_cls = AsyncVectorEnv if vectorization == "async" else SyncVectorEnv
    return vector_cls([factory] * num_envs, autoreset_mode=AutoresetMode.NEXT_STEP)


# --------------------------------------------------------------------------------------------
# Strings
# --------------------------------------------------------------------------------------------


def _from_string(text: str, kwargs: dict[str, Any]) -> Any:
    if ":" in text:
        left, _, right = text.rpartition(":")
        if _looks_like_path(left):
            module = _import_file(left, text)
            return _from_module_attr(module, right, text, f"'{left}'", left, kwargs)
        if right.isidentifier() and all(part.isidentifier() for part in left.split(".")):
            module = _import_module(left, right, text)
            return _from_module_attr(module, right, text, f"module '{left}'", left, kwargs)
        return _from_id(text, kwargs, f"'{text}'")
    if text.endswith(".py"):
        raise _file_without_class(text)
    short = SHORT_NAMES.get(text) or SHORT_NAMES.get(text.lower())
    if short is not None:
        env_id, defaults = short
        return _from_id(env_id, {**defaults, **kwargs}, f"'{text}' ({env_id})")
    if text in gymnasium.registry:
        return _from_id(text, kwargs, f"'{text}'")
    raise _unknown(text)


def _looks_like_path(text: str) -> bool:
    return text.endswith(".py") or "/" in text or "\\" in text


def _usage() -> str:
    return (
        f"Use a short name ({', '.join(SHORT_NAMES)}), a Gymnasium id such as 'CartPole-v1', "
        "'path/to/file.py:ClassName', 'package.module:ClassName', or pass an env instance."
    )


def _unknown(text: str) -> EnvResolveError:
    candidates = [*SHORT_NAMES, *sorted(gymnasium.registry)]
    by_lower: dict[str, str] = {}
    for name in candidates:
        by_lower.setdefault(name.lower(), name)
    matches = difflib.get_close_matches(text.lower(), list(by_lower), n=5, cutoff=0.6)
    hint = f" Did you mean: {', '.join(by_lower[m] for m in matches)}?" if matches else ""
    return EnvResolveError(f"Unknown environment '{text}'.{hint} {_usage()}")


def _file_without_class(text: str) -> EnvResolveError:
    module = _import_file(text, text)
    envs = _env_classes(module)
    if envs:
        use = "use " + " or ".join(f"'{text}:{name}'" for name in envs)
    else:
        use = "the file defines no environment class (one with reset() and step())"
    return EnvResolveError(
        f"'{text}' names a file but no class. Expected 'path/to/file.py:ClassName'; {use}."
    )


# --------------------------------------------------------------------------------------------
# Registered ids
# --------------------------------------------------------------------------------------------


def _registered(env: EnvLike, kwargs: dict[str, Any]) -> tuple[str | None, dict[str, Any], str]:
    """The Gymnasium id behind a short name or id, with the kwargs to build it."""
    if isinstance(env, str):
        text = env.strip()
        short = SHORT_NAMES.get(text) or SHORT_NAMES.get(text.lower())
        if short is not None:
            return short[0], {**short[1], **kwargs}, f"'{text}' ({short[0]})"
        if ":" not in text and text in gymnasium.registry:
            return text, kwargs, f"'{text}'"
    return None, kwargs, _label(env)


def _spec(env_id: str, label: str) -> EnvSpec:
    if ":" in env_id:
        module, _, env_id = env_id.partition(":")
        try:
            importlib.import_module(module)
        except Exception as error:
            raise EnvResolveError(
                f"Cannot import module '{module}' to register {label}: "
                f"{type(error).__name__}: {error}. Install the package that provides it."
            ) from error
    try:
        return gymnasium.spec(env_id)
    except gymnasium.error.Error as error:
        raise _unknown(env_id) from error


def _load_creator(spec: EnvSpec, label: str, vector: bool = False) -> Callable[..., Any]:
    entry = spec.vector_entry_point if vector else spec.entry_point
    if callable(entry):
        return entry
    if entry is None:
        raise EnvResolveError(
            f"{label} is registered without an entry point, so it cannot be built."
        )
    try:
        return load_env_creator(entry)
    except Exception as error:
        raise EnvResolveError(
            f"Cannot load {label}: its entry point '{entry}' raised {type(error).__name__}: "
            f"{error}. Check that the package providing it is installed and imports cleanly."
        ) from error


def _from_id(env_id: str, kwargs: dict[str, Any], label: str) -> gymnasium.Env[Any, Any]:
    spec = _spec(env_id, label)
    creator = _load_creator(spec, label)
    _check_kwargs(creator, kwargs, label, extra=_GYM_MAKE_ARGS, preset=spec.kwargs)
    _check_render_mode(creator, kwargs, label, gymnasium_make=True)
    try:
        return gymnasium.make(spec, **kwargs)
    except Exception as error:
        raise _build_error(label, kwargs, error) from error


def _make_twin(
    spec: EnvSpec, num_envs: int, kwargs: dict[str, Any], label: str
) -> VectorEnv[Any, Any, Any]:
    creator = _load_creator(spec, f"the batched twin of {label}", vector=True)
    _check_kwargs(
        creator,
        kwargs,
        f"the batched twin of {label}",
        extra=("num_envs",),
        preset={**spec.kwargs, "num_envs": num_envs},
    )
    try:
        envs = gymnasium.make_vec(
            spec.id, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs
        )
    except Exception as error:
        raise _build_error(f"the batched twin of {label}", kwargs, error) from error
    mode = envs.metadata.get("autoreset_mode")
    if mode is not None and mode != AutoresetMode.NEXT_STEP:
        envs.close()
        raise EnvResolveError(
            f"The batched twin of {label} resets with {mode}, but renshu needs "
            "AutoresetMode.NEXT_STEP. Use vectorization='sync' instead."
        )
    return envs


def _check_vec_options(num_envs: int, vectorization: str) -> None:
    if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
        raise ConfigError(f"num_envs must be a positive int, got {num_envs!r}.")
    if vectorization not in _VECTORIZATIONS:
        raise ConfigError(
            f"vectorization must be one of {', '.join(_VECTORIZATIONS)}; got {vectorization!r}."
        )


def _copy_factory(
    env: EnvLike, kwargs: dict[str, Any], num_envs: int, vectorization: str, label: str
) -> Callable[[], gymnasium.Env[Any, Any]]:
    if isinstance(env, (str, type)):
        return functools.partial(make, env, **kwargs)
    if num_envs == 1 and vectorization != "async":
        built = make(env, **kwargs)
        return lambda: built
    raise EnvResolveError(
        f"make_vec() needs something it can build {num_envs} times, but got an instance "
        f"({label}). Pass its class, its 'path/to/file.py:ClassName', a short name or an id."
    )


# --------------------------------------------------------------------------------------------
# Files and modules
# --------------------------------------------------------------------------------------------


def env_file(env: Any) -> tuple[str, str] | None:
    """``(path, class)`` of a ``"path/to/file.py:ClassName"`` reference; None for anything else
    (a short name, an id, ``module:Class``, an object)."""
    if not isinstance(env, str) or ":" not in env:
        return None
    left, _, right = env.rpartition(":")
    return (left, right) if _looks_like_path(left) else None


def absolute_env(env: Any) -> Any:
    """``env`` with the path of a ``file.py:ClassName`` reference made absolute (from the
    current folder), so it builds from any folder; anything else (and a file that does not
    exist, which :func:`make` explains as typed) is returned as is."""
    found = env_file(env)
    if found is None:
        return env
    path = Path(found[0]).expanduser()
    full = path if path.is_absolute() else Path.cwd() / path
    return f"{full}:{found[1]}" if full.is_file() else env


def find_saved_env(env: str, saved_at: Path) -> str:
    """An env reference read from files saved in the folder ``saved_at`` (a run folder, a saved
    agent or a checkpoint), with a relative ``file.py:ClassName`` path located and made
    absolute; other references are returned as is.

    A relative path was relative to the folder training ran in, which is not recorded: it is
    looked for in the current folder, then in the folders above ``saved_at`` (the runs folder,
    the folder holding it, ...).

    Raises:
        EnvResolveError: the file is in none of them; the message lists every path tried.
    """
    found = env_file(env)
    if found is None or Path(found[0]).expanduser().is_absolute():
        return env
    relative = Path(found[0]).expanduser()
    bases = [Path.cwd(), *list(Path(saved_at).absolute().parents)[:4]]
    tried: list[Path] = []
    for base in bases:
        candidate = base / relative
        if candidate in tried:
            continue
        if candidate.is_file():
            return f"{candidate}:{found[1]}"
        tried.append(candidate)
    where = f"path/to/{relative.name}:{found[1]}"
    raise EnvResolveError(
        f"Environment file '{found[0]}' (named as {env!r} in {str(saved_at)!r}) was not found. "
        f"Tried: {', '.join(str(p) for p in tried)}. Name the file where it is now: renshu "
        f"test RUN --env {where}, renshu train {where} --resume RUN, or from Python "
        f"env='{where}'."
    )


def _import_file(path_text: str, given: str) -> types.ModuleType:
    """Import a Python file by path (cached until the file changes)."""
    full = (Path.cwd() / Path(path_text).expanduser()).resolve()
    if full.is_dir():
        raise EnvResolveError(
            f"'{path_text}' (in '{given}') is a folder, not a file. Expected "
            "'path/to/file.py:ClassName'; name the .py file that defines the environment."
        )
    if not full.is_file():
        raise EnvResolveError(
            f"Environment file '{path_text}' does not exist (looked for {full}). Expected "
            f"'path/to/file.py:ClassName' with a path relative to the current folder "
            f"({Path.cwd()}) or an absolute one; check the path."
        )
    mtime = full.stat().st_mtime_ns
    cached = _FILE_MODULES.get(full)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    module = _exec_file(full, path_text, given)
    _FILE_MODULES[full] = (mtime, module)
    return module


def _exec_file(full: Path, path_text: str, given: str) -> types.ModuleType:
    digest = hashlib.sha1(str(full).encode()).hexdigest()[:8]
    stem = re.sub(r"\W", "_", full.stem)
    name = f"renshu_envfile_{stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, full)
    if spec is None or spec.loader is None:
        raise EnvResolveError(
            f"'{path_text}' cannot be imported as Python. Expected a .py file in "
            "'path/to/file.py:ClassName'."
        )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    folder = str(full.parent)
    sys.path.insert(0, folder)  # so the file can import its neighbours
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as error:
        sys.modules.pop(name, None)
        raise EnvResolveError(
            f"Importing '{path_text}' (for '{given}') raised {type(error).__name__}: "
            f"{_error_text(error)}{where(error, full)}. {_import_fix(error, 'file')}"
        ) from error
    finally:
        if folder in sys.path:
            sys.path.remove(folder)
    return module


def _import_module(module_name: str, attr: str, given: str) -> types.ModuleType:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if module_name == missing or module_name.startswith(missing + "."):
            candidate = module_name.replace(".", "/") + ".py"
            hint = ""
            if Path(candidate).is_file():
                hint = f" There is a file '{candidate}' here: use '{candidate}:{attr}'."
            raise EnvResolveError(
                f"Cannot import module '{module_name}' (for '{given}'): there is no module named "
                f"'{missing}'. Expected 'package.module:ClassName' naming an importable module; "
                "install the package, add its folder to PYTHONPATH, or use "
                f"'path/to/file.py:ClassName'.{hint}"
            ) from error
        raise _module_error(module_name, given, error) from error
    except (Exception, SystemExit) as error:
        raise _module_error(module_name, given, error) from error


def _module_error(module_name: str, given: str, error: BaseException) -> EnvResolveError:
    return EnvResolveError(
        f"Importing module '{module_name}' (for '{given}') raised {type(error).__name__}: "
        f"{_error_text(error)}{where(error)}. {_import_fix(error, 'module')}"
    )


def _import_fix(error: BaseException, what: str) -> str:
    if isinstance(error, ModuleNotFoundError) and error.name:
        if error.name.split(".")[0] == "gym":
            return (
                "Install it (pip install gym), or import from gymnasium instead; renshu adapts "
                "old gym environments either way."
            )
        return f"Install '{error.name}', or change the import."
    return f"Fix the error in the {what} and try again."


def _from_module_attr(
    module: types.ModuleType,
    attr: str,
    given: str,
    where: str,
    prefix: str,
    kwargs: dict[str, Any],
) -> Any:
    if attr not in vars(module):
        raise _missing_class(module, attr, where, prefix)
    return _instantiate(vars(module)[attr], kwargs, f"'{given}'", module)


def _missing_class(module: types.ModuleType, attr: str, where: str, prefix: str) -> EnvResolveError:
    classes = [
        name
        for name, value in vars(module).items()
        if isinstance(value, type) and value.__module__ == module.__name__
    ]
    envs = _env_classes(module)
    close = difflib.get_close_matches(attr, classes, n=1, cutoff=0.6)
    suggestion = close[0] if close else (envs[0] if len(envs) == 1 else None)
    listed = ", ".join(classes) if classes else "none"
    use = (
        f"Use '{prefix}:{suggestion}'."
        if suggestion
        else "Check the class name; it is case-sensitive."
    )
    return EnvResolveError(f"{where} has no class '{attr}'. Classes defined there: {listed}. {use}")


def _env_classes(module: types.ModuleType) -> list[str]:
    return [
        name
        for name, value in vars(module).items()
        if isinstance(value, type) and value.__module__ == module.__name__ and _is_env_class(value)
    ]


# --------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------


def _has_env_methods(obj: Any) -> bool:
    return callable(getattr(obj, "reset", None)) and callable(getattr(obj, "step", None))


def _is_env_class(cls: type) -> bool:
    return issubclass(cls, gymnasium.Env) or _has_env_methods(cls)


def _instantiate(
    obj: Any, kwargs: dict[str, Any], label: str, module: types.ModuleType | None = None
) -> Any:
    """Build an env from a class or factory function; accept a ready instance as is."""
    if isinstance(obj, type):
        if not _is_env_class(obj):
            raise _not_env_class(obj, label, module)
        return _construct(obj, kwargs, label)
    if _has_env_methods(obj) and not kwargs:
        return obj
    if callable(obj):
        built = _construct(obj, kwargs, label)
        if not _has_env_methods(built):
            raise EnvResolveError(
                f"{label} returned {type(built).__name__}, not an environment. Expected it to "
                "return a gymnasium.Env, or an object with reset(), step(), action_space and "
                "observation_space."
            )
        return built
    raise EnvResolveError(
        f"{label} is {type(obj).__name__}, not a class. Expected an environment class (a "
        "gymnasium.Env subclass, or a class with reset() and step())."
    )


def _not_env_class(cls: type, label: str, module: types.ModuleType | None) -> EnvResolveError:
    missing = " or ".join(
        f"{name}()" for name in ("reset", "step") if not callable(getattr(cls, name, None))
    )
    others = ""
    if module is not None and _env_classes(module):
        others = f" Environments in that file: {', '.join(_env_classes(module))}."
    return EnvResolveError(
        f"{label} is not an environment: class {cls.__name__} has no {missing} method. Expected "
        "a gymnasium.Env subclass, or a class with reset(), step(), action_space and "
        f"observation_space.{others}"
    )


def _construct(factory: Callable[..., Any], kwargs: dict[str, Any], label: str) -> Any:
    _check_kwargs(factory, kwargs, label)
    _check_render_mode(factory, kwargs, label, gymnasium_make=False)
    try:
        return factory(**kwargs)
    except Exception as error:
        raise _build_error(label, kwargs, error) from error


def _check_kwargs(
    factory: Callable[..., Any],
    kwargs: Mapping[str, Any],
    label: str,
    extra: Iterable[str] = (),
    preset: Mapping[str, Any] | None = None,
) -> None:
    """Reject unknown or missing constructor arguments, naming the accepted ones."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return
    named = [
        name
        for name, p in params.items()
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    ]
    accepted = [*named, *(e for e in extra if e not in named)]
    accepts = f"It accepts: {', '.join(accepted)}." if accepted else "It accepts no arguments."
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    unknown = [key for key in kwargs if key not in accepted]
    if unknown and not takes_any:
        quoted = ", ".join(f"'{key}'" for key in unknown)
        noun = "argument" if len(unknown) == 1 else "arguments"
        close = difflib.get_close_matches(unknown[0], accepted, n=1, cutoff=0.6)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise EnvResolveError(
            f"{label} got an unknown {noun} {quoted}.{hint} {accepts} Remove it or fix its name."
        )
    given = {**(preset or {}), **kwargs}
    missing = [
        name
        for name in named
        if params[name].default is inspect.Parameter.empty and name not in given
    ]
    if missing:
        quoted = ", ".join(f"'{name}'" for name in missing)
        raise EnvResolveError(
            f"{label} needs {quoted}, which has no default. {accepts} "
            f"Pass it, e.g. make(..., {missing[0]}=...)."
        )


def _check_render_mode(
    factory: Callable[..., Any], kwargs: Mapping[str, Any], label: str, gymnasium_make: bool
) -> None:
    mode = kwargs.get("render_mode")
    metadata = getattr(factory, "metadata", None)
    if mode is None or not isinstance(metadata, dict):
        return
    modes = metadata.get("render_modes")
    if not isinstance(modes, (list, tuple)) or mode in modes:
        return
    if gymnasium_make and isinstance(mode, str):
        human = mode == "human" and {"rgb_array", "rgb_array_list"} & set(modes)
        collected = mode.endswith("_list") and mode[: -len("_list")] in modes
        if human or collected:
            return  # gymnasium.make adds HumanRendering / RenderCollection
    listed = ", ".join(map(str, modes)) or "none"
    raise EnvResolveError(
        f"{label} cannot render with render_mode={mode!r}: its metadata['render_modes'] lists "
        f"{listed}. Pass one of those, or leave render_mode out."
    )


def _build_error(label: str, kwargs: Mapping[str, Any], error: BaseException) -> EnvResolveError:
    with_args = f" with {_format_kwargs(kwargs)}" if kwargs else ""
    if isinstance(error, ValueError):
        fix = " Fix the argument, or leave it out to use the default." if kwargs else ""
        return EnvResolveError(f"Could not build {label}{with_args}: {_sentence(str(error))}{fix}")
    return EnvResolveError(
        f"Building {label}{with_args} raised {type(error).__name__}: {_error_text(error)}"
        f"{where(error)}. Fix the constructor (or its arguments) and try again."
    )


# --------------------------------------------------------------------------------------------
# Text helpers
# --------------------------------------------------------------------------------------------


def _label(env: Any) -> str:
    if isinstance(env, str):
        return f"'{env}'"
    if isinstance(env, type):
        return env.__name__
    return type(env).__name__


def _format_kwargs(kwargs: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in kwargs.items())


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _error_text(error: BaseException) -> str:
    if isinstance(error, SyntaxError):
        return error.msg
    return str(error)


def _short_path(filename: str) -> str:
    try:
        return str(Path(filename).resolve().relative_to(Path.cwd()))
    except ValueError:
        return filename


_LIBRARY_DIRS = tuple(
    str(Path(p).resolve())
    for p in {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"]}
)


def _is_library_frame(filename: str) -> bool:
    if filename.startswith("<"):
        return True
    path = str(Path(filename).resolve())
    if path.startswith(_LIBRARY_DIRS) or "site-packages" in path:
        return True
    return Path(path).parent in (_HERE, _HERE / "compat")


def where(error: BaseException, path: Path | None = None) -> str:
    """Say where ``error`` was raised: `` (file, line N: `code`)``, or ``""`` if unknown.

    With ``path``, only frames in that file count; otherwise the innermost frame outside the
    standard library, installed packages and this module is chosen.
    """
    if isinstance(error, SyntaxError) and error.lineno:
        code = (error.text or "").strip()
        shown = f": `{code}`" if code else ""
        return f" ({_short_path(error.filename or '?')}, line {error.lineno}{shown})"
    frames = traceback.extract_tb(error.__traceback__)
    if path is not None:
        chosen = [f for f in frames if Path(f.filename).resolve() == path]
    else:
        chosen = [f for f in frames if not _is_library_frame(f.filename)] or frames
    if not chosen:
        return ""
    frame = chosen[-1]
    shown = f": `{frame.line.strip()}`" if frame.line else ""
    return f" ({_short_path(frame.filename)}, line {frame.lineno}{shown})"
