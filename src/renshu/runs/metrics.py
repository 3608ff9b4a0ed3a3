"""``metrics.csv``: reading it (:func:`read_metrics`), appending to it while training
(:class:`MetricsCSV`), and the rows that mark episodes cut by a checkpoint."""

from __future__ import annotations

import contextlib
import csv
import math
import os
import re
import time
import uuid
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from renshu import agents as algorithms
from renshu.callbacks import Callback
from renshu.errors import ConfigError, RunFileError, os_error_message
from renshu.runs.folders import METRICS_FILE

SHARED_COLUMNS = (
    "step",
    "time",
    "episode",
    "charts/episode_reward",
    "charts/episode_length",
    "charts/SPS",
)
"""The columns every run's ``metrics.csv`` starts with."""
END_COLUMNS = (
    "eval/mean_reward",
    "eval/std_reward",
    "test/mean_reward",
    "test/std_reward",
    "checkpoint/cut_episodes",
    "checkpoint/cut_steps",
)
"""The columns after the algorithm's own metrics."""


def metric_columns(algo: str | None) -> tuple[str, ...]:
    """The columns of a new ``metrics.csv`` of the algorithm ``algo``, in order: the shared
    ones, the algorithm's metrics (:data:`renshu.agents.ALGORITHMS`), evaluation, test and cut
    columns. ``None``: the metrics of every algorithm."""
    chosen = algorithms.ALGORITHMS.values() if algo is None else [algorithms.get(algo)]
    own = dict.fromkeys(key for algorithm in chosen for key in algorithm.metrics)
    return (*SHARED_COLUMNS, *own, *END_COLUMNS)


METRIC_COLUMNS = metric_columns(None)
"""Every column renshu's ``metrics.csv`` files may have, in order (the shared ones, then every
algorithm's metrics)."""


def read_metrics(path: str | Path) -> dict[str, np.ndarray]:
    """The columns of a ``metrics.csv`` (or of ``RUN/metrics.csv``) as float arrays (NaN: empty)."""
    path = Path(path)
    if path.is_dir() and path.name != METRICS_FILE:
        path = path / METRICS_FILE
    if path.is_dir():
        raise RunFileError(
            f"{str(path)!r} is a folder, but a run keeps its metrics in a file by that name. "
            "Move the folder out of the way (renshu did not make it); the rest of the run is "
            "untouched."
        )
    if not path.is_file():
        raise ConfigError(
            f"No metrics at {str(path)!r}: the file does not exist. Pass a run folder that "
            "renshu train wrote (e.g. runs/catch-dqn-0)."
        )
    all_rows = _read_rows(path, warn=True)
    header = all_rows[0] if all_rows else None
    if not header or header[0] != "step":
        raise ConfigError(
            f"{str(path)!r} is not a renshu metrics file (its first column is not 'step')."
        )
    rows = [row for row in all_rows[1:] if row]
    columns: dict[str, np.ndarray] = {}
    for i, name in enumerate(header):
        columns[name] = np.array(
            [_float(row[i]) if i < len(row) else math.nan for row in rows], dtype=np.float64
        )
    return columns


def _read_rows(path: Path, *, warn: bool = False) -> list[list[str]]:
    """The rows of a CSV file. Bytes that are not UTF-8 (a damaged file) are kept as they are
    (surrogate escapes, written back unchanged) and read as empty values, with a warning."""
    try:
        with open(path, newline="", encoding="utf-8", errors="surrogateescape") as handle:
            rows = list(csv.reader(handle))
    except csv.Error as error:
        raise RunFileError(
            f"{str(path)!r} cannot be read as CSV ({error}); it is damaged. Move it aside "
            "(renshu starts a new one when training resumes) or repair the damaged line."
        ) from None
    except OSError as error:
        raise RunFileError(os_error_message(error, "Reading the metrics")) from None
    if warn:
        damaged = [n for n, row in enumerate(rows, 1) if any(_SURROGATE.search(c) for c in row)]
        if damaged:
            lines = ", ".join(map(str, damaged[:5])) + (", ..." if len(damaged) > 5 else "")
            noun = "line" if len(damaged) == 1 else "lines"
            warnings.warn(
                f"{str(path)!r} has bytes that are not text on {noun} {lines} (the file is "
                "damaged); those values are read as empty. The file is left as it is.",
                stacklevel=3,
            )
    return rows


_SURROGATE = re.compile("[\udc80-\udcff]")


def _float(text: str) -> float:
    try:
        return float(text) if text else math.nan
    except ValueError:
        return math.nan


def _truncate_metrics(path: Path, after_step: int) -> int:
    """Drop the rows of ``path`` logged after ``after_step`` (atomically); return how many."""
    if not path.is_file():
        return 0
    rows = _read_rows(path)
    if not rows:
        return 0
    kept = [rows[0]] + [r for r in rows[1:] if r and _float(r[0]) <= after_step]
    dropped = len(rows) - len(kept)
    if dropped:
        _write_rows(path, kept)
    return dropped


def _write_rows(path: Path, rows: Sequence[Sequence[str]]) -> None:
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        with open(tmp, "w", newline="", encoding="utf-8", errors="surrogateescape") as handle:
            csv.writer(handle).writerows(rows)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool | int | np.integer):
        return str(int(value))
    number = float(value)
    return "" if math.isnan(number) else format(number, ".7g")


class MetricsCSV(Callback):
    """Appends episode rows and periodic-metric rows to ``metrics.csv`` (see the module doc).

    A new file gets the columns of :func:`metric_columns` of ``algo`` (the run's algorithm; None:
    every algorithm's). The file is flushed at every periodic log, at the end, and at most a
    second after any row. An existing file is appended to, keeping its columns; ``time``
    continues from its last row.
    """

    def __init__(self, path: str | Path, algo: str | None = None) -> None:
        self.path = Path(path)
        self.columns: list[str] = list(metric_columns(algo))
        self._handle: Any = None
        self._writer: Any = None
        self._time_offset = 0.0
        self._started = 0.0
        self._flushed = 0.0
        self._rows = 0

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        if self.path.is_file() and self.path.stat().st_size > 0:
            existing = read_metrics(self.path)
            self.columns = list(existing)
            times = existing.get("time", np.array([]))
            times = times[~np.isnan(times)]
            self._time_offset = float(times.max()) if times.size else 0.0
            self._open("a")
        else:
            self._open("w")
            self._writer.writerow(self.columns)
        self._started = time.perf_counter()

    def _open(self, mode: str) -> None:
        self._handle = open(  # noqa: SIM115
            self.path, mode, newline="", encoding="utf-8", errors="surrogateescape"
        )
        self._writer = csv.writer(self._handle)

    def write(self, row: Mapping[str, Any], *, flush: bool = False) -> None:
        """Append one row (keys are column names; new keys add columns)."""
        if self._writer is None:
            self.on_train_begin({})
        new = [key for key in row if key not in self.columns]
        if new:
            self._add_columns(new)
        elapsed = self._time_offset + time.perf_counter() - self._started
        values = {**row, "time": round(elapsed, 3)}
        self._writer.writerow([_cell(values.get(name)) for name in self.columns])
        self._rows += 1
        now = time.perf_counter()
        if flush or self._rows == 1 or now - self._flushed >= 1.0:
            self._handle.flush()
            self._flushed = now

    def _add_columns(self, new: list[str]) -> None:
        self._handle.close()
        rows = _read_rows(self.path)
        self.columns += new
        rows[0] = self.columns
        _write_rows(self.path, rows)
        self._open("a")

    def on_episode_end(self, episode: int, logs: dict[str, Any]) -> None:
        self.write(
            {
                "step": logs.get("nb_steps", self.agent.num_steps),
                "episode": episode,
                "charts/episode_reward": logs["episode_reward"],
                "charts/episode_length": logs.get("nb_episode_steps"),
            }
        )

    def on_log(self, step: int, logs: dict[str, float]) -> None:
        row = {k: v for k, v in logs.items() if k != "charts/episode_reward"}
        if row:
            self.write({"step": step, **row}, flush=True)

    def on_train_end(self, logs: dict[str, Any]) -> None:
        self.close()

    def close(self) -> None:
        """Flush and close the file (safe to call twice; never raises over another error)."""
        if self._handle is not None:
            handle, self._handle, self._writer = self._handle, None, None
            with contextlib.suppress(OSError):
                handle.close()


def record_cut(metrics: MetricsCSV, step: int, lengths: Sequence[int]) -> None:
    """Write the row that marks episodes cut by a checkpoint at ``step`` (nothing if none)."""
    if lengths:
        metrics.write(
            {
                "step": step,
                "checkpoint/cut_episodes": len(lengths),
                "checkpoint/cut_steps": int(sum(lengths)),
            },
            flush=True,
        )
