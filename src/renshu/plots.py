"""Pictures of training: learning curves, metric comparisons, and per-episode observation traces.

Everything draws on a :class:`matplotlib.figure.Figure` with the Agg canvas (no pyplot, no
window, safe in scripts and threads); pass ``out=`` to write a PNG, or show the returned figure
in a notebook.

    logger = renshu.EpisodeLogger()
    agent.test(episodes=10, callbacks=[logger])
    plot_observations(logger.observations, band=(37, 39), out="shower.png")
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "auto_window",
    "learning_curve",
    "plot_metric",
    "plot_observations",
    "rolling_mean",
    "save_figure",
]

Series = tuple[Sequence[float] | np.ndarray, Sequence[float] | np.ndarray]
"""``(steps, values)`` of one curve."""
Points = tuple[
    Sequence[float] | np.ndarray, Sequence[float] | np.ndarray, Sequence[float] | np.ndarray
]
"""``(steps, means, stds)`` of greedy evaluations or tests."""


def rolling_mean(values: Sequence[float] | np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over the last ``window`` values (fewer at the start); NaNs are skipped."""
    x = np.asarray(values, dtype=np.float64)
    if window <= 1 or x.size == 0:
        return x.copy()
    ok = ~np.isnan(x)
    sums = np.cumsum(np.where(ok, x, 0.0))
    counts = np.cumsum(ok)
    sums[window:] = sums[window:] - sums[:-window]
    counts[window:] = counts[window:] - counts[:-window]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def auto_window(count: int) -> int:
    """A rolling-mean window for ``count`` points: about a tenth of them, between 1 and 20."""
    return int(min(20, max(1, count // 10)))


def _figure(width: float = 7.5, height: float = 4.2) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    return fig


def _style(ax: Axes) -> None:
    ax.grid(True, color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _draw_series(
    ax: Axes, steps: np.ndarray, values: np.ndarray, window: int, colour: Any, label: str | None
) -> None:
    """The raw values as a faint line and their rolling mean as a solid one."""
    order = np.argsort(steps, kind="stable")
    steps, values = steps[order], values[order]
    if window > 1 and len(values) > 1:
        ax.plot(steps, values, color=colour, alpha=0.25, linewidth=0.9)
        ax.plot(steps, rolling_mean(values, window), color=colour, linewidth=2.0, label=label)
    else:
        marker = "." if len(values) < 30 else None
        ax.plot(steps, values, color=colour, linewidth=1.6, label=label, marker=marker)


def _x_formatter(ax: Axes) -> None:
    from matplotlib.ticker import EngFormatter

    ax.xaxis.set_major_formatter(EngFormatter(sep=""))


def plot_metric(
    series: Mapping[str, Series],
    *,
    metric: str = "charts/episode_reward",
    window: int | None = None,
    title: str | None = None,
    xlabel: str = "step",
    out: str | Path | None = None,
) -> Figure:
    """One figure with one curve per entry of ``series`` (label -> (steps, values)).

    Each curve is its raw values (faint) and their trailing rolling mean over ``window`` points
    (``None``: :func:`auto_window` of the longest series). A legend names the curves when
    there are several.
    """
    fig = _figure()
    ax = fig.add_subplot()
    _style(ax)
    counts = [len(np.asarray(v)) for _, v in series.values()]
    win = window if window is not None else auto_window(max(counts, default=0))
    colours = [f"C{i % 10}" for i in range(len(series))]
    for (label, (steps, values)), colour in zip(series.items(), colours, strict=True):
        s = np.asarray(steps, dtype=np.float64)
        v = np.asarray(values, dtype=np.float64)
        keep = ~np.isnan(v)
        _draw_series(ax, s[keep], v[keep], win, colour, label)
    ax.set_xlabel(xlabel)
    pretty = metric.split("/")[-1].replace("_", " ")
    ax.set_ylabel(pretty + (f" (rolling mean of {win})" if win > 1 else ""))
    _x_formatter(ax)
    ax.set_title(title if title is not None else pretty)
    if len(series) > 1:
        ax.legend(frameon=False)
    if out is not None:
        save_figure(fig, out)
    return fig


def learning_curve(
    steps: Sequence[float] | np.ndarray,
    rewards: Sequence[float] | np.ndarray,
    *,
    window: int | None = None,
    evaluations: Points | None = None,
    test: Points | None = None,
    test_episodes: int | None = None,
    title: str = "learning curve",
    out: str | Path | None = None,
) -> Figure:
    """Episode reward against training step: raw rewards (faint) and their rolling mean.

    Training episodes explore, so their rewards can stay low while the greedy policy is good;
    ``evaluations`` (the periodic greedy evaluations, ``eval/*`` in metrics.csv) and ``test``
    (the greedy test after training, ``test/*``), each ``(steps, means, stds)``, are drawn on
    top as markers with ``mean ± std`` bars. ``test_episodes`` goes into the test's label.
    """
    label = "episode reward"
    fig = plot_metric(
        {label: (steps, rewards)},
        metric="charts/episode_reward",
        window=window,
        title=title,
    )
    ax = fig.axes[0]
    ax.set_ylabel("episode reward")
    n = len(np.asarray(rewards))
    win = window if window is not None else auto_window(n)
    from matplotlib.lines import Line2D

    handles: list[Any] = []
    labels: list[str] = []
    if n and win > 1:
        handles += [Line2D([], [], color="C0", alpha=0.3), Line2D([], [], color="C0", linewidth=2)]
        labels += ["training episode (exploring)", f"mean of last {win}"]
    elif n:
        handles.append(Line2D([], [], color="C0", linewidth=1.6, marker="." if n < 30 else None))
        labels.append("training episode (exploring)")
    if evaluations is not None and len(evaluations[0]):
        e_steps, e_means, e_stds = (np.asarray(a, dtype=np.float64) for a in evaluations)
        handles.append(
            ax.errorbar(
                e_steps,
                e_means,
                yerr=e_stds,
                color="C1",
                marker="o",
                markersize=4,
                linewidth=1.2,
                capsize=3,
                zorder=3,
            )
        )
        labels.append("greedy evaluation (mean ± std)")
    if test is not None and len(test[0]):
        t_steps, t_means, t_stds = (np.asarray(a, dtype=np.float64) for a in test)
        handles.append(
            ax.errorbar(
                t_steps[-1:],
                t_means[-1:],
                yerr=t_stds[-1:],
                color="C3",
                marker="D",
                markersize=7,
                linestyle="none",
                capsize=5,
                elinewidth=1.6,
                zorder=4,
            )
        )
        episodes = f", {test_episodes} episodes" if test_episodes else ""
        labels.append(f"greedy test: {t_means[-1]:.4g} ± {t_stds[-1]:.3g}{episodes}")
    if n == 0:
        ax.text(
            0.5,
            0.5,
            "no episode finished yet",
            transform=ax.transAxes,
            ha="center",
            va="center",
            color="#777777",
        )
    if len(handles) > 1 or (handles and (win > 1 or not n)):
        ax.legend(handles, labels, frameon=False, loc="best", fontsize="small")
    if out is not None:
        save_figure(fig, out)
    return fig


def plot_observations(
    observations: Mapping[int, Sequence[Any]] | Sequence[Sequence[Any]],
    *,
    band: tuple[float, float] | None = None,
    index: int = 0,
    ylabel: str = "observation",
    title: str | None = None,
    out: str | Path | None = None,
) -> Figure:
    """Each episode's observations against its step, one line per episode (tutorial 000's plot).

    ``observations`` is :attr:`renshu.EpisodeLogger.observations` (episode -> list of
    observations) or a list of such lists. Observations with several numbers are reduced to
    element ``index``. ``band=(low, high)`` shades a target range, e.g. ``(37, 39)`` for Shower.
    """
    episodes = (
        dict(observations) if isinstance(observations, Mapping) else dict(enumerate(observations))
    )
    fig = _figure()
    ax = fig.add_subplot()
    _style(ax)
    if band is not None:
        low, high = band
        ax.axhspan(low, high, color="#2e8b57", alpha=0.15, label=f"target {low:g}–{high:g}")
    for number, (episode, obs) in enumerate(episodes.items()):
        values = np.array([np.asarray(o, dtype=np.float64).reshape(-1)[index] for o in obs])
        ax.plot(
            np.arange(1, len(values) + 1),
            values,
            color=f"C{number % 10}",
            linewidth=1.2,
            alpha=0.85,
            label=f"episode {episode + 1}" if isinstance(episode, int) else str(episode),
        )
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_title(title if title is not None else f"{ylabel} per episode")
    if episodes or band is not None:
        columns = 1 if len(episodes) <= 10 else 2
        ax.legend(
            frameon=False,
            fontsize="small",
            ncols=columns,
            loc="center left",
            bbox_to_anchor=(1.01, 0.5),
        )
    if out is not None:
        save_figure(fig, out)
    return fig


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as a PNG (to a temporary name, then renamed: never half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png")
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    return path
