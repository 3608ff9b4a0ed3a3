"""Dataclass configs: field docs, building from dicts/YAML, and validation with clear errors.

Each algorithm declares one ``@dataclass`` config whose fields carry a docstring (the string
literal under the field). This module reads those docstrings (for ``--help``, docs and error
messages), builds a config from user options (unknown keys are errors that suggest the close
matches), and loads/saves YAML presets.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import functools
import importlib.util
import inspect
import itertools
import re
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from renshu.errors import ConfigError

C = TypeVar("C")


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """Map each dataclass field of ``cls`` to the docstring written under it."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError):  # pragma: no cover - source not available
        return {}
    node = tree.body[0] if tree.body and isinstance(tree.body[0], ast.ClassDef) else None
    return {name: doc for name, (_, doc) in _class_fields(node, "").items()} if node else {}


def source_field_docs(module: str, class_name: str) -> dict[str, tuple[str, str]]:
    """Field name -> (default as written, docstring) of a dataclass, read from its module's
    source without importing the module (so ``--help`` stays fast); ``{}`` if not found."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:  # pragma: no cover - module missing
        return {}
    source = Path(spec.origin).read_text(encoding="utf-8")
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            return _class_fields(node, source)
    return {}


def _class_fields(node: ast.ClassDef, source: str) -> dict[str, tuple[str, str]]:
    fields: dict[str, tuple[str, str]] = {}
    for item, after in itertools.pairwise(node.body):
        if (
            isinstance(item, ast.AnnAssign)
            and isinstance(item.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            default = ""
            if item.value is not None and source:
                default = ast.get_source_segment(source, item.value) or ""
            fields[item.target.id] = (default, inspect.cleandoc(after.value.value))
    return fields


def field_names(cls: type) -> list[str]:
    """The init field names of a dataclass type."""
    return [f.name for f in dataclasses.fields(cls) if f.init]


def build(cls: type[C], options: Mapping[str, Any], *, base: C | None = None) -> C:
    """Return ``cls(**options)`` (over ``base`` if given), refusing unknown keys by name."""
    names = field_names(cls)
    unknown = [key for key in options if key not in names]
    if unknown:
        raise ConfigError(_unknown_message(cls, unknown[0], names))
    # Values are taken by reference: modules and callables must not be copied.
    values = {f: getattr(base, f) for f in names} if base is not None else {}
    values.update(options)
    return cls(**values)


def _unknown_message(cls: type, key: str, names: list[str]) -> str:
    close = difflib.get_close_matches(key, names, n=3, cutoff=0.6)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return f"Unknown option {key!r} for {cls.__name__}.{hint} Allowed options: {', '.join(names)}."


def to_plain(config: Any) -> dict[str, Any]:
    """A JSON/YAML-safe dict of a config; non-plain values (modules, callables) become strings."""
    out: dict[str, Any] = {}
    for name in field_names(type(config)):
        out[name] = _plain(getattr(config, name))
    return out


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return f"<custom: {type(value).__name__}>"


def is_custom(value: Any) -> bool:
    """True for a value that ``to_plain`` could only record by name (a module, a callable)."""
    return isinstance(_plain(value), str) and str(_plain(value)).startswith("<custom:")


class YamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader, but ``1e-3`` and ``5e4`` are floats (YAML 1.2), not strings."""


YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def parse_value(text: str) -> Any:
    """Read one ``--set key=value`` value as YAML: ``0.99``, ``1e-3``, ``true``, ``[64, 64]``,
    ``null``; anything that is not valid YAML stays the string it is."""
    try:
        return yaml.load(text, Loader=YamlLoader)
    except yaml.YAMLError:
        return text


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, with errors that name the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Config file {str(path)!r} does not exist. Check the path.")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=YamlLoader) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"Config file {str(path)!r} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"Config file {str(path)!r} must hold a mapping of option: value, "
            f"got a {type(data).__name__}."
        )
    return data


def dump_yaml(data: Mapping[str, Any], path: str | Path) -> None:
    """Write a mapping as YAML (keys in the given order)."""
    Path(path).write_text(yaml.safe_dump(dict(data), sort_keys=False), encoding="utf-8")


def check(name: str, ok: bool, allowed: str, value: Any) -> None:
    """Raise ConfigError ``name must be <allowed>, got <value>`` unless ``ok``."""
    if not ok:
        raise ConfigError(f"{name} must be {allowed}, got {value!r}.")
