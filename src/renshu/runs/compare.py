"""Comparing runs: one metric of several run folders on one figure."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from renshu import agents as algorithms
from renshu.errors import ConfigError
from renshu.runs.folders import METRICS_FILE, _read_settings
from renshu.runs.metrics import SHARED_COLUMNS, read_metrics


def plot_runs(
    paths: Sequence[str | Path],
    *,
    metric: str = "charts/episode_reward",
    window: int | None = None,
    out: str | Path,
) -> Path:
    """Draw ``metric`` of several runs on one figure (legend: the run folder names)."""
    import difflib

    from renshu.plots import plot_metric

    series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for given in paths:
        path = Path(given)
        settings = _read_settings(path)  # a clear error for a missing or foreign folder
        _check_logged(path, settings.get("algo"), metric)
        data = read_metrics(path)
        if metric not in data:
            columns = [c for c in data if c not in ("step", "time", "episode")]
            close = difflib.get_close_matches(metric, columns, n=3, cutoff=0.5)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise ConfigError(
                f"{str(path / METRICS_FILE)!r} has no column {metric!r}.{hint} "
                f"Its metrics: {', '.join(columns)}."
            )
        values = data[metric]
        keep = ~np.isnan(values)
        if not keep.any():
            raise ConfigError(
                f"{str(path / METRICS_FILE)!r} has no values of {metric!r} yet (the run logged "
                "none: train longer, or pick another --metric)."
            )
        label = path.resolve().name
        while label in series:
            label += "'"
        series[label] = (data["step"][keep], values[keep])
    out = Path(out)
    title = metric if len(series) > 1 else f"{next(iter(series))}: {metric}"
    plot_metric(series, metric=metric, window=window, title=title, out=out)
    return out


def _check_logged(path: Path, algo: object, metric: str) -> None:
    """Refuse another algorithm's metric, naming the ones the run's algorithm logs (a run's
    metrics.csv may have an empty column for it, written by an older renshu)."""
    algorithm = algorithms.ALGORITHMS.get(algo) if isinstance(algo, str) else None
    others = {key for other in algorithms.ALGORITHMS.values() for key in other.metrics}
    if algorithm is None or metric in algorithm.metrics or metric not in others:
        return
    shared = [c for c in SHARED_COLUMNS if c.startswith("charts/")]
    raise ConfigError(
        f"{algorithm.label} does not log {metric}; it logs: {', '.join(algorithm.metrics)} "
        f"(and {', '.join(shared)}). The run {str(path)!r} trained {algorithm.label}: pick one "
        "of those with --metric."
    )
