"""A sweep's search space, read and checked without Ray: ``--search KEY=DIST``, ``--search-file``.

Each searched option has one distribution, written ``KIND:ARGS``:

    uniform:A:B       a real number drawn uniformly from [A, B]
    loguniform:A:B    a real number whose logarithm is uniform over [log A, log B] (A > 0)
    randint:A:B       an integer from A to B - 1 (B exclusive, as Ray Tune's tune.randint)
    choice:X,Y,Z      one of the values, each read as YAML (64, adam, true, 1e-3, null)

A search file (``--search-file``) is a YAML mapping of option to the same text::

    learning_rate: loguniform:1e-4:1e-2
    batch_size: choice:64,128,256
    n_epochs: randint:4:21

Everything is checked before any trial starts (:func:`check_space`): the option must be one of
the algorithm's, and every value a distribution can draw must be one the option accepts, as its
config field's annotation says (``learning_rate=uniform:-1:1`` is refused: learning_rate must be
> 0). Ray Tune's objects are made from a :class:`Dist` only where the sweep runs
(:mod:`renshu.distributed.tune`).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from renshu.config import check_field, field_names, load_yaml, parse_value, whole_number
from renshu.errors import ConfigError

KINDS = ("uniform", "loguniform", "randint", "choice")
"""The distributions a search takes."""

FORMS = "uniform:A:B, loguniform:A:B (A > 0), randint:A:B (B exclusive) or choice:X,Y,Z"
"""How each is written, for messages."""

RESERVED = {
    "seed": "--seed (every trial trains with the same seeds, so the options alone differ)",
}
"""Options a sweep may not search, and what sets them instead."""


@dataclass(frozen=True)
class Dist:
    """One searched option and the distribution its values are drawn from."""

    key: str
    """The option of the algorithm's config (``learning_rate``)."""
    kind: str
    """One of :data:`KINDS`."""
    values: tuple[Any, ...]
    """``(low, high)`` for uniform, loguniform and randint (randint's high excluded); the
    values for choice."""
    text: str
    """As the user wrote it (``loguniform:1e-4:1e-2``), for messages."""

    def extremes(self) -> tuple[Any, ...]:
        """The values to check against the option: every value a choice offers, the two ends
        of a range (randint's highest value is ``high - 1``)."""
        if self.kind == "choice":
            return self.values
        low, high = self.values
        return (low, high - 1) if self.kind == "randint" else (low, high)

    def __str__(self) -> str:
        return f"{self.key}={self.text}"


def parse(text: str, *, origin: str = "--search") -> Dist:
    """``KEY=KIND:ARGS`` (a ``--search`` argument) as a :class:`Dist`; ConfigError if malformed."""
    key, sep, dist = text.partition("=")
    key = key.strip().replace("-", "_")
    if not sep or not key:
        raise ConfigError(
            f"{origin} {text!r} is not KEY=DIST: expected e.g. "
            f"learning_rate=loguniform:1e-4:1e-2, with DIST one of {FORMS}."
        )
    return parse_dist(key, dist.strip(), origin=origin)


def parse_dist(key: str, text: str, *, origin: str = "--search") -> Dist:
    """The distribution ``text`` (``uniform:0.9:0.99``) of the option ``key``."""
    where = f"{origin} {key}={text}"
    kind, sep, rest = text.partition(":")
    kind = kind.strip().lower()
    if kind not in KINDS:
        close = difflib.get_close_matches(kind, KINDS, n=1, cutoff=0.75)
        hint = f" Did you mean {close[0]}?" if close else ""
        raise ConfigError(
            f"{where}: unknown distribution {kind!r}.{hint} The distributions are {FORMS}."
        )
    if kind == "choice":
        items = [item.strip() for item in rest.split(",")] if sep else []
        if not items or any(not item for item in items):
            raise ConfigError(
                f"{where}: choice needs values separated by commas, none of them empty, e.g. "
                f"{key}=choice:64,128 (got {rest!r})."
            )
        return Dist(key, kind, tuple(parse_value(item) for item in items), text)
    parts = rest.split(":") if sep else []
    if len(parts) != 2:
        raise ConfigError(
            f"{where}: {kind} needs two bounds, {kind}:A:B (e.g. {_example(kind)}), got "
            f"{len(parts)} {'value' if len(parts) == 1 else 'values'}."
        )
    low, high = (_bound(kind, part, where) for part in parts)
    if kind == "randint":
        if high <= low:
            raise ConfigError(
                f"{where}: randint:A:B draws A to B - 1 (B is exclusive, as in Ray Tune), so B "
                f"must be greater than A; got A={low}, B={high}. For A to B inclusive write "
                f"randint:{low}:{max(high, low) + 1}."
            )
    elif not low < high:
        raise ConfigError(
            f"{where}: the low bound must be below the high one, got low={low:g}, "
            f"high={high:g}. Swap them (or use --set {key}=VALUE to fix one value)."
        )
    if kind == "loguniform" and low <= 0:
        raise ConfigError(
            f"{where}: loguniform needs a low bound > 0 (it draws the logarithm uniformly), got "
            f"{low:g}. Use a small positive value (e.g. {key}=loguniform:1e-5:{high:g}), or "
            "uniform."
        )
    return Dist(key, kind, (low, high), text)


def _example(kind: str) -> str:
    return {"uniform": "uniform:0.9:0.99", "loguniform": "loguniform:1e-4:1e-2"}.get(
        kind, "randint:1:11"
    )


def _bound(kind: str, text: str, where: str) -> Any:
    value = parse_value(text.strip())
    if kind == "randint":
        whole = whole_number(value)
        if whole is None or isinstance(value, str):
            raise ConfigError(f"{where}: randint's bounds must be integers, got {text.strip()!r}.")
        return whole
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(
            f"{where}: {kind}'s bounds must be finite numbers (1e-3, 0.5, 10), got "
            f"{text.strip()!r}."
        )
    return float(value)


def load_file(path: str | Path) -> list[Dist]:
    """The search space in the YAML file ``path``: a mapping of option to distribution text."""
    try:
        data = load_yaml(path, fix="Fix the search file, or pass another one.")
    except ConfigError as error:  # said of a config file: this one is a search file
        text = str(error).replace("Config file", "Search file (--search-file)", 1)
        raise ConfigError(text) from None
    origin = f"search file {str(path)!r}:"
    dists = []
    for key, text in data.items():
        if not isinstance(text, str):
            raise ConfigError(
                f"{origin} {key} must be a distribution written as text ({FORMS}), e.g. "
                f"'{key}: loguniform:1e-4:1e-2', got {text!r}."
            )
        dists.append(parse_dist(str(key).replace("-", "_"), text.strip(), origin=origin))
    if not dists:
        raise ConfigError(
            f"{origin} it holds no option. Add lines like 'gamma: uniform:0.9:0.999'."
        )
    return dists


def combine(dists: Iterable[Dist]) -> list[Dist]:
    """The distributions, each option once (ConfigError if one is searched twice)."""
    seen: dict[str, Dist] = {}
    for dist in dists:
        if dist.key in seen:
            raise ConfigError(
                f"{dist.key} is searched twice ({seen[dist.key].text} and {dist.text}). Keep one."
            )
        seen[dist.key] = dist
    return list(seen.values())


def check_space(dists: Iterable[Dist], config_class: type, algo: str) -> list[Dist]:
    """Check every option of the search against the algorithm's config ``config_class``: the
    key is one of its options (with the close matches if not), and every value the
    distribution can draw is one the option accepts (its field's annotation: type and range).
    Returns the distributions, each option once; ConfigError on the first problem."""
    dists = combine(dists)
    if not dists:
        raise ConfigError(
            "A sweep needs a search space: give --search KEY=DIST (e.g. --search "
            f"learning_rate=loguniform:1e-4:1e-2) or --search-file FILE; DIST is one of {FORMS}."
        )
    names = [name for name in field_names(config_class) if name not in RESERVED]
    for dist in dists:
        if dist.key in RESERVED:
            raise ConfigError(
                f"{dist}: {dist.key} cannot be searched; it is set by {RESERVED[dist.key]}."
            )
        if dist.key not in names:
            close = difflib.get_close_matches(dist.key, names, n=3, cutoff=0.6)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise ConfigError(
                f"{dist}: {dist.key!r} is not an option of --algo {algo}.{hint} Its options: "
                f"{', '.join(names)}."
            )
        for value in dist.extremes():
            check_value(dist, config_class, value)
    return dists


def check_value(dist: Dist, config_class: type, value: Any) -> Any:
    """``value`` (one a distribution can draw) as the option takes it, or ConfigError."""
    try:
        return check_field(config_class, dist.key, value)
    except ConfigError as error:
        what = "offers" if dist.kind == "choice" else "can draw"
        hint = (
            " (for an integer option use randint:A:B or choice)"
            if dist.kind in ("uniform", "loguniform") and "an int" in str(error)
            else ""
        )
        raise ConfigError(
            f"{dist} {what} values the option refuses: {error}{hint} Narrow the search to "
            "values it accepts."
        ) from None


def corners(dists: Iterable[Dist]) -> list[dict[str, Any]]:
    """Two settings of the whole search to build the config with before any trial starts
    (checks that involve several options, e.g. a batch larger than a rollout): every option at
    its lowest value, and every option at its highest (a choice's first and last)."""
    dists = list(dists)
    low = {dist.key: dist.extremes()[0] for dist in dists}
    high = {dist.key: dist.extremes()[-1] for dist in dists}
    return [low] if low == high else [low, high]


def as_options(
    sampled: Mapping[str, Any], dists: Iterable[Dist], config_class: type
) -> dict[str, Any]:
    """The values a trial drew, converted as the options take them (a randint's NumPy int
    becomes an int, ``1e5`` for an int option ``100000``)."""
    by_key = {dist.key: dist for dist in dists}
    return {key: check_value(by_key[key], config_class, value) for key, value in sampled.items()}
