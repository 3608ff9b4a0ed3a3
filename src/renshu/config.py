"""Dataclass configs: field docs, building from dicts/YAML, and validation with clear errors.

Each algorithm declares one ``@dataclass`` config whose fields carry a docstring (the string
literal under the field) and whose annotations say what a field accepts, with
:data:`typing.Annotated` constraints next to the type::

    @dataclass
    class Config:
        gamma: Annotated[float, Range(0, 1)] = 0.99
        '''Discount factor in [0, 1].'''
        max_grad_norm: Annotated[float, Range(gt=0)] | None = 10.0
        '''Clip the gradient norm to this (None: no clipping).'''

        def __post_init__(self) -> None:
            validate(self)

:func:`validate` checks every field from its annotation, the type first, then the range, so
the Python API, ``--set key=value`` and YAML files give the same message, e.g. ``gamma must be
a number in [0, 1], got 'abc' (a str).`` This module also reads the docstrings (for ``--help``,
docs and error messages), builds a config from user options (unknown keys are errors that
suggest the close matches), and loads/saves YAML presets.

What a type accepts: ``float`` any real number (an int, a NumPy number), finite, never a bool;
``int`` an int or a float with an integral value (YAML reads ``1e5`` as a float), converted to
int, never a bool (a string is the wrong type: YAML and ``--set`` read ``1e5`` as a number);
``bool`` only ``True``/``False`` (YAML and ``--set``: ``true``/``false``, not
``yes``/``no``/``on``/``off``, which stay strings and are refused); ``str`` a string;
``list[X]`` a list or tuple whose items are each an X; ``dict`` a mapping; ``None`` itself
(``null`` in YAML); ``Any`` anything (narrowed by :class:`Satisfies`).
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import functools
import importlib.util
import inspect
import itertools
import math
import numbers
import os
import re
import textwrap
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NamedTuple, TypeVar, Union, get_args, get_origin

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
    source without importing the module (so ``--help`` stays fast); ``{}`` if not found.

    Fields of its base classes come first, in dataclass order (a base defined in the same
    module or imported with ``from module import Name``); a field the class redefines keeps
    its base's place and takes the class's default and docstring."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:  # pragma: no cover - module missing
        return {}
    source = Path(spec.origin).read_text(encoding="utf-8")
    tree = ast.parse(source)
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            fields: dict[str, tuple[str, str]] = {}
            for base in node.bases:
                if isinstance(base, ast.Name):
                    fields.update(source_field_docs(*_defined_in(tree, module, base.id)))
            fields.update(_class_fields(node, source))
            return fields
    return {}


def _defined_in(tree: ast.Module, module: str, name: str) -> tuple[str, str]:
    """(module, class name) of the class ``name`` as the module ``tree`` sees it: imported with
    ``from X import Y [as name]``, else defined in ``module`` itself."""
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    return node.module, alias.name
    return module, name


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
    """PyYAML's safe loader with YAML 1.2's plain scalars: ``1e-3`` and ``5e4`` are floats (not
    strings), and only ``true``/``false`` are booleans (YAML 1.1's ``yes``, ``no``, ``on``,
    ``off`` stay strings, so ``double: yes`` is refused instead of guessed)."""


_BOOL = "tag:yaml.org,2002:bool"
YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
YamlLoader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def parse_value(text: str) -> Any:
    """Read one ``--set key=value`` value as YAML: ``0.99``, ``1e-3``, ``true``, ``[64, 64]``,
    ``null``; booleans are ``true``/``false`` only (``yes``/``no`` stay strings, which a bool
    option refuses); anything that is not valid YAML stays the string it is."""
    try:
        return yaml.load(text, Loader=YamlLoader)
    except (yaml.YAMLError, RecursionError, ValueError):
        return text


def load_yaml(
    path: str | Path, *, fix: str = "Fix the file, or pass another one."
) -> dict[str, Any]:
    """Read a YAML mapping; every failure (missing, a folder, unreadable, not UTF-8 text, not
    YAML, not a mapping) is a ConfigError naming the file, ending with ``fix``."""
    path = Path(path)
    where = f"Config file {str(path)!r}"
    if path.is_dir():
        raise ConfigError(f"{where} is a folder, not a file. Pass the YAML file inside it.")
    if not path.is_file():
        raise ConfigError(f"{where} does not exist. Check the path.")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{where} is not a text file: byte {exc.start} is not UTF-8 (a binary or damaged "
            f"file?). {fix}"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{where} cannot be read ({exc.strerror or exc}). {fix}") from None
    try:
        data = yaml.load(text, Loader=YamlLoader)
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        reason = " ".join(str(exc).split())
        raise ConfigError(f"{where} is not valid YAML: {reason}. {fix}") from None
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError(
            f"{where} must hold a mapping of option: value, got a {type(data).__name__}. {fix}"
        )
    return data


def dump_yaml(data: Mapping[str, Any], path: str | Path) -> None:
    """Write a mapping as YAML (keys in the given order)."""
    Path(path).write_text(yaml.safe_dump(dict(data), sort_keys=False), encoding="utf-8")


MAX_THREADS = 256
"""Most CPU threads an agent's ``threads`` option asks for: threads beyond a machine's cores
only wait for each other (one is fastest for small networks), and at 100,000 torch's thread
pool crashed the process (SIGSEGV) after exhausting the machine's threads."""
MAX_REPEATS = 10_000
"""Most updates on one batch of experience (PPO's ``n_epochs``, DQN's ``gradient_steps``): each
is a full pass, so 1e9 of them make ``fit()`` run for years instead of failing."""
MAX_ENVS = 65_536
"""Most environments an agent steps together (``num_envs``): the copies are built one by one
(about 1 ms and 3 KiB each for a small Python env, measured), so 10 million take hours and
gigabytes before the first step."""


def check(name: str, ok: bool, allowed: str, value: Any) -> None:
    """Raise ConfigError ``name must be <allowed>, got <value>`` unless ``ok``."""
    if not ok:
        raise ConfigError(f"{name} must be {allowed}, got {value!r}.")


# --------------------------------------------------------------------------------------------
# Declarative validation: constraints written next to each field's type
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Range:
    """Bounds of a number: ``Range(0, 1)`` is [0, 1], ``Range(gt=0)`` is > 0, ``Range(1, 1000)``
    on an int is [1, 1000]. Values must also be finite (no NaN, no infinity)."""

    ge: float | None = None
    le: float | None = None
    gt: float | None = None
    lt: float | None = None

    def __call__(self, value: float) -> bool:
        """Whether ``value`` lies within the bounds."""
        return (
            math.isfinite(value)
            and (self.ge is None or value >= self.ge)
            and (self.gt is None or value > self.gt)
            and (self.le is None or value <= self.le)
            and (self.lt is None or value < self.lt)
        )

    def __str__(self) -> str:
        low = ("[", self.ge) if self.ge is not None else ("(", self.gt)
        high = ("]", self.le) if self.le is not None else (")", self.lt)
        if low[1] is not None and high[1] is not None:
            return f"in {low[0]}{_number(low[1])}, {_number(high[1])}{high[0]}"
        if low[1] is not None:
            return f"{'>=' if low[0] == '[' else '>'} {_number(low[1])}"
        if high[1] is not None:
            return f"{'<=' if high[0] == ']' else '<'} {_number(high[1])}"
        return ""


class OneOf:
    """The strings a ``str`` field accepts: ``Annotated[str, OneOf("huber", "mse")]``."""

    def __init__(self, *choices: str) -> None:
        self.choices = choices

    def __call__(self, value: str) -> bool:
        """Whether ``value`` is one of the choices."""
        return value in self.choices

    def __str__(self) -> str:
        return ", ".join(f'"{choice}"' for choice in self.choices)

    def __repr__(self) -> str:
        return f"OneOf{self.choices!r}"


@dataclass(frozen=True)
class Satisfies:
    """An object a field accepts when ``test(value)`` holds, described as ``what``:
    ``Annotated[Any, Satisfies("a callable", callable)]``."""

    what: str
    test: Callable[[Any], bool]


@dataclass(frozen=True)
class Note:
    """Words shown in parentheses after one alternative of a field, e.g. what it means:
    ``Annotated[int, Range(ge=1), Note("hard copy every N steps")]``."""

    text: str


class _Alternative(NamedTuple):
    """One member of a field's annotation (a field ``int | None`` has two)."""

    kind: Any  # float, int, bool, str, None, list, dict or Any
    item: tuple[_Alternative, ...]  # the alternatives of a list's items
    checks: tuple[Any, ...]  # Range, OneOf, Satisfies
    note: str


def _alternatives(annotation: Any) -> tuple[_Alternative, ...]:
    """Split an annotation into the alternatives it accepts, each with its constraints."""
    extras: tuple[Any, ...] = ()
    if get_origin(annotation) is Annotated:
        annotation, *rest = get_args(annotation)
        extras = tuple(rest)
    origin = get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        found = tuple(alt for arg in get_args(annotation) for alt in _alternatives(arg))
        notes = [e.text for e in extras if isinstance(e, Note)]
        return (*found[:-1], found[-1]._replace(note=notes[0])) if notes else found
    note = next((e.text for e in extras if isinstance(e, Note)), "")
    checks = tuple(e for e in extras if not isinstance(e, Note))
    if annotation is None or annotation is type(None):
        return (_Alternative(None, (), checks, note),)
    if origin in (list, tuple, typing.Sequence) or annotation in (list, tuple):
        args = [a for a in get_args(annotation) if a is not Ellipsis]
        item = _alternatives(args[0]) if args else ()
        return (_Alternative(list, item, checks, note),)
    if origin in (dict, Mapping) or annotation in (dict, Mapping):
        return (_Alternative(dict, (), checks, note),)
    if annotation in (float, int, bool, str):
        return (_Alternative(annotation, (), checks, note),)
    return (_Alternative(Any, (), checks, note),)  # Any, object, a class: narrowed by Satisfies


_RULES: dict[type, dict[str, tuple[_Alternative, ...]]] = {}


def field_rules(cls: type) -> dict[str, tuple[_Alternative, ...]]:
    """Field name -> what it accepts, read from the annotations of the dataclass ``cls``."""
    if cls not in _RULES:
        hints = typing.get_type_hints(cls, include_extras=True)
        _RULES[cls] = {
            f.name: _alternatives(hints[f.name]) for f in dataclasses.fields(cls) if f.init
        }
    return _RULES[cls]


def describe(alternatives: tuple[_Alternative, ...]) -> str:
    """What a field accepts in words: ``a number > 0 or None``."""
    words = [_describe_one(alt) for alt in alternatives]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def _describe_one(alt: _Alternative, plural: bool = False) -> str:
    ranges = " ".join(str(c) for c in alt.checks if isinstance(c, Range))
    choices = [c for c in alt.checks if isinstance(c, OneOf)]
    custom = [c.what for c in alt.checks if isinstance(c, Satisfies)]
    if custom:
        text = custom[0]
    elif choices:
        text = str(choices[0])
    elif alt.kind is float:
        text = "numbers" if plural else "a number"
    elif alt.kind is int:
        text = "ints" if plural else "an int"
    elif alt.kind is bool:
        text = "true or false"
    elif alt.kind is str:
        text = "strings" if plural else "a string"
    elif alt.kind is None:
        text = "None"
    elif alt.kind is list:
        text = f"a list of {describe_items(alt.item)}" if alt.item else "a list"
    elif alt.kind is dict:
        text = "a mapping"
    else:
        text = "anything"
    text = f"{text} {ranges}" if ranges else text
    return f"{text} ({alt.note})" if alt.note else text


def describe_items(alternatives: tuple[_Alternative, ...]) -> str:
    """The items of a list in words: ``ints >= 1``."""
    return " or ".join(_describe_one(alt, plural=True) for alt in alternatives)


_MISSING = object()


def _coerce(alt: _Alternative, value: Any) -> Any:
    """``value`` as ``alt``'s type (an integral float becomes an int), or ``_MISSING`` when the
    type does not fit. Constraints other than :class:`Satisfies` are not checked here."""
    is_bool = isinstance(value, bool) or type(value).__name__ in ("bool", "bool_")  # NumPy's too
    custom = [c for c in alt.checks if isinstance(c, Satisfies)]
    if custom:
        return value if all(c.test(value) for c in custom) else _MISSING
    if alt.kind is None:
        return None if value is None else _MISSING
    if alt.kind is bool:
        return bool(value) if is_bool else _MISSING
    if alt.kind in (float, int) and (is_bool or not isinstance(value, numbers.Real)):
        return _MISSING
    if alt.kind is float:
        try:
            return float(value)
        except OverflowError:  # an int beyond float: out of any range
            return math.inf
    if alt.kind is int:
        whole = whole_number(value)
        return _MISSING if whole is None else whole
    if alt.kind is str:
        return value if isinstance(value, str) else _MISSING
    if alt.kind is list:
        return value if isinstance(value, list | tuple) else _MISSING
    if alt.kind is dict:
        return value if isinstance(value, Mapping) else _MISSING
    return value


def whole_number(value: Any) -> int | None:
    """``value`` as an int when it is a whole number: an int (NumPy's too), a float with an
    integral value (``1e5``, as YAML reads it), or a string of either (``"1e5"``,
    ``"100_000"``, ``"30000"``); None otherwise (a bool, ``1.5``, ``"abc"``, NaN)."""
    if isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"[-+]?[0-9][0-9_]*(\.[0-9_]*)?([eE][-+]?[0-9]+)?", text):
            return None
        value = int(text) if re.fullmatch(r"[-+]?[0-9_]+", text) else float(text)
    if isinstance(value, bool) or type(value).__name__ in ("bool", "bool_"):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return int(number) if math.isfinite(number) and number.is_integer() else None
    return None


def count(name: str, value: Any, *, minimum: int = 1) -> int:
    """``value`` as an int count >= ``minimum`` (a whole number as :func:`whole_number`
    takes it: ``100000``, ``1e5``, ``"1e5"``); ConfigError naming ``name`` otherwise."""
    whole = whole_number(value)
    if whole is None or whole < minimum:
        why = ""
        if whole is None:
            kind = type(value).__name__
            why = " (not a whole number)" if _is_number(value) else f" (a {kind})"
        raise ConfigError(
            f"{name} must be an int >= {minimum} (100000, 1e5 and 100_000 are accepted), got "
            f"{_shown(value)}{why}."
        )
    return whole


def _is_number(value: Any) -> bool:
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return False
        return True
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _in_range(alt: _Alternative, value: Any) -> Any:
    """``value`` (items converted) if it meets ``alt``'s constraints, else ``_MISSING``."""
    for rule in alt.checks:
        if isinstance(rule, Range | OneOf) and not rule(value):
            return _MISSING
    if alt.kind is list and alt.item:
        items = []
        for item in value:
            converted = _accept(alt.item, item)
            if converted is _MISSING:
                return _MISSING
            items.append(converted)
        return type(value)(items)
    return value


def _accept(alternatives: tuple[_Alternative, ...], value: Any) -> Any:
    for alt in alternatives:
        typed = _coerce(alt, value)
        if typed is not _MISSING and (checked := _in_range(alt, typed)) is not _MISSING:
            return checked
    return _MISSING


def check_value(name: str, value: Any, annotation: Any) -> Any:
    """Check ``value`` against ``annotation`` (type first, then range) and return it converted
    (``1e5`` for an int becomes ``100000``); raise ConfigError naming ``name``, what is
    expected and the value given otherwise."""
    return _check(name, value, _alternatives(annotation))


def _check(name: str, value: Any, alternatives: tuple[_Alternative, ...]) -> Any:
    accepted = _accept(alternatives, value)
    if accepted is not _MISSING:
        return accepted
    typed = any(_coerce(alt, value) is not _MISSING for alt in alternatives)
    given = _shown(value)
    if not typed and value is not None:
        kind = type(value).__name__
        given += f" ({'an' if kind[:1] in 'aeiou' else 'a'} {kind})"
    raise ConfigError(f"{name} must be {describe(alternatives)}, got {given}.")


def _shown(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def check_field(cls: type, name: str, value: Any, *, label: str | None = None) -> Any:
    """Check ``value`` for the field ``name`` of the dataclass ``cls``; return it converted.
    ``label`` replaces the field name in the message (e.g. ``steps in preset file 'p.yaml'``)."""
    return _check(label or name, value, field_rules(cls)[name])


def validate(config: Any) -> None:
    """Check every field of the dataclass instance ``config`` against its annotation, in field
    order, converting in place (also on frozen dataclasses); the first bad one raises."""
    for name, alternatives in field_rules(type(config)).items():
        value = getattr(config, name)
        converted = _check(name, value, alternatives)
        if converted is not value:
            object.__setattr__(config, name, converted)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:g}"


# --------------------------------------------------------------------------------------------
# Devices and memory: what this machine can do
# --------------------------------------------------------------------------------------------


def check_device(device: str) -> None:
    """Raise ConfigError unless ``device`` names a device torch can use here ("auto" always
    can): "cpu", "cuda", "cuda:N" (N below the number of GPUs) or "mps"."""
    if device == "auto":
        return
    import torch

    hint = "Use 'cpu', or 'auto' to take CUDA only when it is there."
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(
            f"device {device!r} is not a device name torch knows. Use 'auto', 'cpu', 'cuda', "
            "'cuda:N' or 'mps'."
        ) from None
    if parsed.type == "cpu":
        return
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device {device!r} needs CUDA, which this torch ({torch.__version__}) cannot "
                f"use here. {hint}"
            )
        count = torch.cuda.device_count()
        if parsed.index is not None and parsed.index >= count:
            raise ConfigError(
                f"device {device!r} names GPU {parsed.index}, but this machine has {count} "
                f"(cuda:0 to cuda:{count - 1}). Pick one of those, or 'cuda'."
            )
        return
    if parsed.type == "mps":
        if not torch.backends.mps.is_available():
            raise ConfigError(
                f"device {device!r} needs Apple's Metal (MPS), which this torch "
                f"({torch.__version__}) cannot use here. {hint}"
            )
        return
    raise ConfigError(
        f"device {device!r} is not one renshu trains on. Use 'auto', 'cpu', 'cuda', 'cuda:N' "
        "or 'mps'."
    )


def memory_available() -> int | None:
    """Bytes of memory this process can still take: the kernel's MemAvailable (lowered to the
    room left under a cgroup limit), else the physical memory; None when neither is known."""
    found: int | None = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found = int(line.split()[1]) * 1024
                break
    except (OSError, ValueError, IndexError):
        found = None
    if found is None:
        try:
            found = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, ValueError, OSError):
            return None
    try:
        cgroup = Path("/sys/fs/cgroup")
        limit = (cgroup / "memory.max").read_text().strip()
        if limit.isdigit():
            used = int((cgroup / "memory.current").read_text().strip())
            found = min(found, max(int(limit) - used, 0))
    except (OSError, ValueError):
        pass
    return found if found > 0 else None


def format_bytes(count: float) -> str:
    """``39_728_447_488`` -> ``"37 GiB"`` (two significant figures below 10)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if count < 1024 or unit == "PiB":
            return f"{count:.1f} {unit}" if count < 10 and unit != "B" else f"{count:,.0f} {unit}"
        count /= 1024
    return f"{count:,.0f} PiB"  # pragma: no cover - unreachable
