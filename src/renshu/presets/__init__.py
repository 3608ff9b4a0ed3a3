"""Hyperparameter presets: one YAML file per environment, per algorithm.

A preset file holds one section per algorithm::

    dqn:
      steps: 30000          # default training steps for `renshu train`
      test_episodes: 20     # greedy episodes played after training
      config:               # options of the algorithm's config (DQNConfig for dqn)
        double: true
        target_update: 500

:func:`load` finds the file for an environment (``catch``, ``CartPole-v1``, ``renshu/Catch-v0``;
anything else gets ``default.yaml``). :func:`load_file` reads a user's file (``--config``), in
the format above or as a flat mapping of config options plus optional ``steps`` and
``test_episodes``, on top of a base preset. Every option is checked by the algorithm's config
class, so a misspelt key is an error that names the key, the file and the close matches.

    >>> preset = load("catch")
    >>> preset.steps, preset.config["double"]
    (30000, True)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from renshu import agents as algorithms
from renshu.config import Range, build, check_field, field_names, load_yaml
from renshu.errors import ConfigError

__all__ = ["PRESETS_DIR", "Preset", "available", "find", "load", "load_file"]

PRESETS_DIR = Path(__file__).resolve().parent
"""The folder holding the built-in preset files."""


SECTION_KEYS = ("steps", "test_episodes", "config")
"""The keys of one algorithm's section."""

RESERVED = {"seed": "--seed"}
"""Config options a preset may not set, and the flag that sets them instead."""


@dataclass(frozen=True)
class Preset:
    """One algorithm's settings for one environment."""

    steps: Annotated[int, Range(ge=1)]
    """Training steps when the user does not give ``--steps``, >= 1."""
    test_episodes: Annotated[int, Range(ge=1)]
    """Greedy episodes played after training, >= 1."""
    config: dict[str, Any] = field(default_factory=dict)
    """Options of the algorithm's config (checked: every key exists, every value is allowed)."""
    source: Path | None = None
    """The file these settings came from (the last one, when files were layered)."""
    algo: str = "dqn"
    """The algorithm these settings are for."""

    def with_options(self, options: Mapping[str, Any], *, origin: str) -> Preset:
        """A copy with ``options`` laid over :attr:`config`, checked; ``origin`` names where the
        options came from in error messages (e.g. ``"--set"``)."""
        merged = {**self.config, **options}
        _check_config(self.algo, merged, origin, reserved=options)
        return dataclasses.replace(self, config=merged)


def config_class(algo: str) -> type[Any]:
    """The dataclass config of ``algo`` (``DQNConfig`` for ``"dqn"``)."""
    cls: type[Any] = algorithms.get(algo).config_class()
    return cls


def available() -> list[str]:
    """Names of the environments with a built-in preset (``default`` excluded)."""
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml") if p.stem != "default")


def find(env: str) -> Path:
    """The preset file for ``env``: its short name, its Gymnasium id, or ``default.yaml``.

    ``renshu/Catch-v0`` finds ``catch.yaml`` (the short name without extra arguments);
    ``file.py:Class``, ``module:Class`` and unknown ids find ``default.yaml``.
    """
    from renshu.envs import SHORT_NAMES

    name = env.strip()
    for short, (env_id, kwargs) in SHORT_NAMES.items():
        if name == env_id and not kwargs:
            name = short
            break
    if name and "/" not in name and ":" not in name and not name.startswith("."):
        path = PRESETS_DIR / f"{name}.yaml"
        if path.is_file():
            return path
    return PRESETS_DIR / "default.yaml"


def load(env: str, algo: str = "dqn") -> Preset:
    """The built-in preset of ``algo`` for ``env`` (see :func:`find`)."""
    config_class(algo)  # an unknown algorithm is named as such
    path = find(env)
    data = load_yaml(path)
    if algo not in data:
        path = PRESETS_DIR / "default.yaml"
        data = load_yaml(path)
    if algo not in data:
        raise ConfigError(
            f"Preset file {str(path)!r} has no {algo!r} section. Add one "
            f"({algo}: {{steps: ..., test_episodes: ..., config: {{...}}}})."
        )
    return _from_section(data[algo], algo, path, base=None)


def load_file(path: str | Path, algo: str = "dqn", *, base: Preset | None = None) -> Preset:
    """Read a user's preset file and lay it over ``base`` (default: ``default.yaml``).

    The file is either in the preset format (``dqn: {steps, test_episodes, config}``) or a flat
    mapping of config options with optional ``steps`` and ``test_episodes``.
    """
    path = Path(path)
    data = load_yaml(path)
    base = base if base is not None else load("default", algo)
    if any(key in algorithms.ALGORITHMS for key in data):
        others = [key for key in data if key not in algorithms.ALGORITHMS]
        if others:
            raise ConfigError(
                f"Preset file {str(path)!r} mixes algorithm sections with other keys "
                f"({', '.join(map(repr, others))}). Put every option under "
                f"'{algo}: config:', or write a flat file without sections."
            )
        if algo not in data:
            raise ConfigError(
                f"Preset file {str(path)!r} has no {algo!r} section (it has "
                f"{', '.join(map(repr, data))}). Add '{algo}:' or pick that algorithm."
            )
        return _from_section(data[algo], algo, path, base=base)
    section: dict[str, Any] = {"config": {k: v for k, v in data.items() if k not in SECTION_KEYS}}
    section.update({k: data[k] for k in ("steps", "test_episodes") if k in data})
    if "config" in data:
        raise ConfigError(
            f"Preset file {str(path)!r} has a 'config' key but no algorithm section. Either "
            f"nest it ('{algo}:' then 'config:' under it) or list the options at the top level."
        )
    return _from_section(section, algo, path, base=base)


def _from_section(section: Any, algo: str, path: Path, base: Preset | None) -> Preset:
    where = f"preset file {str(path)!r}"
    if not isinstance(section, dict):
        raise ConfigError(
            f"The {algo!r} section of {where} must be a mapping with "
            f"{', '.join(SECTION_KEYS)}, got {type(section).__name__}."
        )
    unknown = [key for key in section if key not in SECTION_KEYS]
    if unknown:
        names = field_names(config_class(algo))
        hint = (
            f" {unknown[0]!r} is a {algo} option: move it under 'config:'."
            if unknown[0] in names
            else ""
        )
        raise ConfigError(
            f"Unknown key {unknown[0]!r} in the {algo!r} section of {where}; a section holds "
            f"{', '.join(SECTION_KEYS)}.{hint}"
        )
    if base is None and not {"steps", "test_episodes"} <= set(section):
        missing = sorted({"steps", "test_episodes"} - set(section))
        raise ConfigError(f"The {algo!r} section of {where} needs {' and '.join(missing)}.")
    steps, episodes = (
        check_field(
            Preset, name, section.get(name, getattr(base, name, None)), label=f"{name} in {where}"
        )
        for name in ("steps", "test_episodes")
    )
    options = section.get("config") or {}
    if not isinstance(options, dict):
        raise ConfigError(
            f"'config' in {where} must be a mapping of option: value, got {type(options).__name__}."
        )
    merged = {**(base.config if base else {}), **options}
    _check_config(algo, merged, where, reserved=options)
    assert isinstance(steps, int) and isinstance(episodes, int)
    return Preset(steps=steps, test_episodes=episodes, config=merged, source=path, algo=algo)


def _check_config(
    algo: str, options: Mapping[str, Any], origin: str, *, reserved: Mapping[str, Any]
) -> None:
    """Build the algorithm's config from ``options``; errors name ``origin``."""
    for key, flag in RESERVED.items():
        if key in reserved:
            raise ConfigError(
                f"{origin} sets {key!r}, which renshu train sets from {flag}. Remove it and "
                f"pass {flag} instead."
            )
    try:
        build(config_class(algo), options)
    except ConfigError as error:
        raise ConfigError(f"In {origin}: {error} Fix it there and run again.") from None
