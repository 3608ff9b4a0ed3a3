"""A group of runs: one environment, algorithm and set of options trained with several seeds.

A group folder holds ordinary run folders (each one trained, tested, resumed and plotted as any
other) and one summary of them::

    runs/<env>-<algo>-seeds-<seeds>[-<n>]/
      group.yaml                 env, algo, seeds, steps, options, command line, each seed's
                                 status and final greedy test, and the statistics below
      <env>-<algo>-<seed>/       one run folder per seed
      plots/learning_curves.png  the seeds' learning curves: their mean and a 95% band

One seed's score says little about an algorithm: the statistics of the seeds' final greedy test
means are their mean, a 95% bootstrap confidence interval of the mean (percentile method), the
interquartile mean (the mean of the middle half, Agarwal et al., 2021) and how many reached the
environment's reward threshold (Gymnasium's ``spec.reward_threshold``) where it has one. SciPy
computes them (:func:`scipy.stats.bootstrap`, :func:`scipy.stats.trim_mean`), imported when
needed. Nothing here needs Ray: ``renshu plot GROUP`` and Python read groups without it; only
training the seeds in parallel (:mod:`renshu.distributed.seeds`) does.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from renshu.config import load_yaml
from renshu.errors import ConfigError
from renshu.runs.folders import CONFIG_FILE, METRICS_FILE, _dump_atomic, _new_folder

GROUP_FILE = "group.yaml"
"""The summary of a group folder (its presence makes a folder a group)."""
PLOT_FILE = Path("plots") / "learning_curves.png"
"""The group's figure, relative to its folder."""
CONFIDENCE = 0.95
"""The confidence level of the bootstrap intervals."""
RESAMPLES = 9_999
"""Bootstrap resamples of the final scores (the band of the curves uses fewer)."""
MAX_SEEDS = 10_000
"""Most seeds one group trains."""

_SPEC = re.compile(r"^(\d+)(?:-(\d+))?$")


def parse_seeds(spec: str) -> list[int]:
    """The seeds a ``--seeds`` spec names: ``0-4`` -> [0, 1, 2, 3, 4]; ``0,2,5``; ``0-3,7``.

    Raises ConfigError (naming the part that is wrong and what is accepted) for a malformed
    part, an empty range (``4-0``), a seed named twice, or more than :data:`MAX_SEEDS`.
    """
    accepted = "--seeds takes seeds >= 0 and ranges, separated by commas: 0-4, 0,2,5 or 0-3,7"
    parts = [part.strip() for part in str(spec).split(",")]
    seeds: list[int] = []
    for part in parts:
        match = _SPEC.match(part)
        if match is None:
            shown = f"an empty part in {spec!r}" if not part else f"{part!r}"
            raise ConfigError(f"{accepted}; got {shown}.")
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if last < first:
            raise ConfigError(
                f"The range {part!r} in --seeds {spec} is empty (it counts down). Write it "
                f"low-high: {last}-{first}."
            )
        if len(seeds) + last - first + 1 > MAX_SEEDS:
            raise ConfigError(f"--seeds {spec} names more than {MAX_SEEDS:,} seeds; name fewer.")
        seeds.extend(range(first, last + 1))
    return check_seeds(seeds, given=f"--seeds {spec}")


def check_seeds(seeds: Iterable[Any], *, given: str | None = None) -> list[int]:
    """``seeds`` as a list of distinct ints >= 0 (at least one), else ConfigError."""
    values = list(seeds)
    label = given if given is not None else f"seeds={values!r}"
    if not values:
        raise ConfigError(f"{label} names no seed; name at least one (e.g. range(5) or 0-4).")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
            raise ConfigError(f"{label}: each seed must be an integer >= 0, got {value!r}.")
    ints = [int(v) for v in values]
    twice = sorted({s for s in ints if ints.count(s) > 1})
    if twice:
        raise ConfigError(
            f"{label} names seed {', '.join(map(str, twice))} more than once; each seed trains "
            "one run, so name each once."
        )
    return ints


def seeds_label(seeds: Sequence[int]) -> str:
    """The shortest spec for ``seeds`` (``0-4``, ``0,2,5``, ``0-3,7``), as in folder names."""
    parts: list[str] = []
    ordered = sorted(seeds)
    start = prev = ordered[0] if ordered else 0
    for seed in [*ordered[1:], None]:
        if seed is not None and seed == prev + 1:
            prev = seed
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if seed is not None:
            start = prev = seed
    return ",".join(parts)


def reward_threshold(env: Any) -> float | None:
    """The reward at which ``env`` counts as solved (Gymnasium's ``spec.reward_threshold``) for
    a registered id or short name, or an env object with a spec; else None."""
    import gymnasium

    spec: Any
    if isinstance(env, str):
        from renshu.envs import SHORT_NAMES

        env_id = SHORT_NAMES.get(env, (env, {}))[0]
        try:
            spec = gymnasium.spec(env_id)
        except Exception:  # not a registered id (a file or module): no threshold known
            return None
    else:
        spec = getattr(getattr(env, "unwrapped", env), "spec", None) or getattr(env, "spec", None)
    value = getattr(spec, "reward_threshold", None)
    return float(value) if value is not None else None


@dataclass
class Statistics:
    """What the seeds' final greedy test means say together."""

    scores: list[float]
    """Each seed's final greedy test mean (seeds without one are left out)."""
    mean: float
    """Their mean (NaN without scores)."""
    ci_low: float | None
    """Lower end of the 95% bootstrap confidence interval of the mean (None below 2 scores)."""
    ci_high: float | None
    """Upper end of that interval."""
    iqm: float
    """Interquartile mean: the mean of the middle 50% (``scipy.stats.trim_mean(x, 0.25)``)."""
    threshold: float | None
    """The env's reward threshold, or None when it has none."""
    reached: int | None
    """Seeds whose score is >= the threshold (None without a threshold)."""
    confidence: float = CONFIDENCE
    """The confidence level of the interval."""

    def as_dict(self) -> dict[str, Any]:
        """Plain values for ``group.yaml``."""
        return {key: _plain(value) for key, value in asdict(self).items()}

    def interval_text(self) -> str:
        """``[lo, hi]``, or why there is none."""
        if self.ci_low is None or self.ci_high is None:
            return "needs 2 or more seeds"
        return f"[{self.ci_low:.2f}, {self.ci_high:.2f}]"

    def threshold_text(self) -> str:
        """``3 of 5 seeds reach 475`` or ``no threshold``."""
        if self.threshold is None or self.reached is None:
            return "no threshold"
        if not self.scores:
            return f"{self.threshold:g} (no seed has a final greedy test)"
        return f"{self.reached} of {len(self.scores)} seeds reach {self.threshold:g}"


def _scipy_stats() -> Any:
    try:
        from scipy import stats
    except ImportError:
        raise ConfigError(
            "The statistics of a group of seeds (bootstrap interval, interquartile mean) use "
            "SciPy, which is not installed: pip install scipy (it comes with renshu's ray "
            "extra, pip install 'renshu[ray]')."
        ) from None
    return stats


def statistics(
    scores: Sequence[float],
    *,
    threshold: float | None = None,
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    random_state: int = 0,
) -> Statistics:
    """The mean, the bootstrap confidence interval of the mean (percentile method,
    ``resamples`` resamples, seeded by ``random_state`` so a summary is reproducible), the
    interquartile mean and the seeds reaching ``threshold`` of ``scores`` (NaNs are left out)."""
    values = np.asarray([s for s in scores if s is not None and not math.isnan(s)], np.float64)
    reached = None if threshold is None else int(np.sum(values >= threshold))
    if values.size == 0:
        return Statistics([], math.nan, None, None, math.nan, threshold, reached, confidence)
    stats = _scipy_stats()
    low = high = None
    if values.size >= 2:
        if np.ptp(values) == 0:  # every seed scored the same: the interval is that score
            low = high = float(values[0])
        else:
            interval = stats.bootstrap(
                (values,),
                np.mean,
                confidence_level=confidence,
                n_resamples=resamples,
                method="percentile",
                random_state=np.random.default_rng(random_state),
            ).confidence_interval
            low, high = float(interval.low), float(interval.high)
    return Statistics(
        scores=[float(v) for v in values],
        mean=float(np.mean(values)),
        ci_low=low,
        ci_high=high,
        iqm=float(stats.trim_mean(values, 0.25)),
        threshold=threshold,
        reached=reached,
        confidence=confidence,
    )


@dataclass
class SeedResult:
    """One seed of a group: its run folder and how its training ended."""

    seed: int
    """The seed."""
    run: str
    """The run folder's name inside the group folder."""
    status: str = "not started"
    """``done``, ``failed``, ``stopped`` (by a signal; resume it), ``cancelled`` (before
    training started; resume it to train it) or ``not started``."""
    steps: int = 0
    """Steps trained."""
    total_steps: int = 0
    """Steps the run was to train."""
    test_mean: float | None = None
    """Mean reward of its final greedy test (None without a test)."""
    test_std: float | None = None
    """Standard deviation of those rewards."""
    wall_time: float | None = None
    """Seconds its training took (None when unknown)."""
    error: str | None = None
    """Why it failed (the run's own error message), else None."""

    def as_dict(self) -> dict[str, Any]:
        """Plain values for ``group.yaml``."""
        return {key: _plain(value) for key, value in asdict(self).items()}


@dataclass
class Group:
    """A group folder (:func:`Group.create`, :func:`Group.open`)."""

    path: Path
    """The folder."""
    summary: dict[str, Any] = field(default_factory=dict)
    """The contents of ``group.yaml``."""

    @classmethod
    def create(
        cls,
        runs_dir: str | Path,
        *,
        env_name: str,
        algo: str,
        seeds: Sequence[int],
        name: str | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> Group:
        """Make a new group folder ``runs_dir/<env>-<algo>-seeds-<seeds>`` (``-1``, ``-2``, ...
        when taken: never reused) and write its ``group.yaml`` with ``settings`` (env, steps,
        options, command, ...) and every seed not started."""
        label = name or f"{env_name}-{algo}-seeds-{seeds_label(seeds)}"
        path = _new_folder(Path(runs_dir), label)
        from renshu import __version__

        summary: dict[str, Any] = {
            "env_name": env_name,
            "algo": algo,
            "seeds": list(seeds),
            **dict(settings or {}),
            "renshu_version": __version__,
            "created": datetime.datetime.now().isoformat(timespec="seconds"),
            "runs": {},
            "statistics": None,
        }
        group = cls(path, summary)
        group.write([SeedResult(s, group.run_name(s)) for s in seeds])
        return group

    @classmethod
    def open(cls, path: str | Path) -> Group:
        """An existing group folder; ConfigError when ``path`` is not one."""
        path = Path(path)
        file = path / GROUP_FILE
        if not file.is_file():
            raise ConfigError(
                f"{str(path)!r} is not a group of seeds: it has no {GROUP_FILE}. Pass the "
                "folder renshu train --seeds made (e.g. runs/catch-dqn-seeds-0-4)."
            )
        summary = load_yaml(file, fix="Restore it, or train the seeds again.")
        if not isinstance(summary, dict) or not isinstance(summary.get("seeds"), list):
            raise ConfigError(f"{str(file)!r} lacks its list of seeds; it was edited or damaged.")
        return cls(path, summary)

    @property
    def name(self) -> str:
        """The folder name."""
        return self.path.name

    @property
    def seeds(self) -> list[int]:
        """The seeds, in the order given."""
        return [int(s) for s in self.summary["seeds"]]

    @property
    def plot_path(self) -> Path:
        """``GROUP/plots/learning_curves.png``."""
        return self.path / PLOT_FILE

    def run_name(self, seed: int) -> str:
        """The folder name of ``seed``'s run (``<env>-<algo>-<seed>``, as ``group.yaml`` says
        once it ran)."""
        entry = (self.summary.get("runs") or {}).get(seed) or {}
        return str(entry.get("run") or f"{self.summary['env_name']}-{self.summary['algo']}-{seed}")

    def run_path(self, seed: int) -> Path:
        """``seed``'s run folder."""
        return self.path / self.run_name(seed)

    def runs(self) -> list[Path]:
        """The run folders of the group that exist (have a ``config.yaml``), in seed order."""
        return [p for p in (self.run_path(s) for s in self.seeds) if (p / CONFIG_FILE).is_file()]

    def results(self) -> list[SeedResult]:
        """Each seed's result as ``group.yaml`` records it, brought up to date from its run
        folder (steps and final greedy test from ``metrics.csv``)."""
        recorded = self.summary.get("runs") or {}
        results = []
        for seed in self.seeds:
            entry = dict(recorded.get(seed) or {})
            result = SeedResult(seed, self.run_name(seed))
            for key in ("status", "total_steps", "wall_time", "error"):
                if entry.get(key) is not None:
                    setattr(result, key, entry[key])
            read_run(self.run_path(seed), result)
            results.append(result)
        return results

    def statistics(self, results: Sequence[SeedResult] | None = None) -> Statistics:
        """:func:`statistics` of the seeds' final greedy test means."""
        results = self.results() if results is None else results
        threshold = self.summary.get("reward_threshold")
        return statistics(
            [r.test_mean for r in results if r.test_mean is not None],
            threshold=float(threshold) if threshold is not None else None,
        )

    def write(self, results: Sequence[SeedResult], stats: Statistics | None = None) -> Path:
        """Record ``results`` (and ``stats``) in ``group.yaml``, atomically."""
        self.summary.pop("runs", None)  # last in the file, after the settings
        self.summary.pop("statistics", None)
        self.summary["runs"] = {r.seed: r.as_dict() for r in results}
        self.summary["statistics"] = stats.as_dict() if stats is not None else None
        file = self.path / GROUP_FILE
        _dump_atomic(self.summary, file)
        return file

    def curves(
        self, metric: str = "charts/episode_reward", window: int | None = None
    ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Seed -> (steps, rolling mean of ``metric``) for each run that logged it."""
        from renshu.plots import auto_window, rolling_mean
        from renshu.runs.metrics import read_metrics

        curves = {}
        for seed in self.seeds:
            file = self.run_path(seed) / METRICS_FILE
            if not file.is_file():
                continue
            data = read_metrics(file)
            values = data.get(metric)
            if values is None:
                continue
            keep = ~np.isnan(values)
            if keep.sum() < 1:
                continue
            steps, values = data["step"][keep], values[keep]
            win = window if window is not None else auto_window(len(values))
            curves[seed] = (steps, rolling_mean(values, win))
        return curves

    def plot(
        self,
        out: str | Path | None = None,
        *,
        metric: str = "charts/episode_reward",
        window: int | None = None,
    ) -> Path:
        """Draw the seeds' curves of ``metric`` (``GROUP/plots/learning_curves.png``)."""
        return plot_groups([self], out=out or self.plot_path, metric=metric, window=window)


def read_run(path: Path, result: SeedResult) -> SeedResult:
    """Fill ``result``'s steps and final greedy test from the run folder ``path`` (its last
    ``metrics.csv`` row and its ``test/*`` row), where they are there."""
    from renshu.runs.metrics import read_metrics

    file = path / METRICS_FILE
    if not file.is_file():
        return result
    try:
        data = read_metrics(file)
    except ConfigError:
        return result
    steps = data.get("step", np.array([]))
    if steps.size:
        result.steps = max(result.steps, int(np.nanmax(steps)))
    means = data.get("test/mean_reward", np.array([]))
    keep = ~np.isnan(means)
    if keep.any():
        result.test_mean = float(means[keep][-1])
        stds = data.get("test/std_reward", np.full(means.shape, np.nan))[keep]
        result.test_std = float(stds[-1]) if not np.isnan(stds[-1]) else None
    return result


def is_group(path: str | Path) -> bool:
    """Whether ``path`` is a group folder (holds ``group.yaml``)."""
    return (Path(path) / GROUP_FILE).is_file()


GRID_POINTS = 200
"""Steps of the common grid the seeds' curves are interpolated onto."""
BAND_RESAMPLES = 1_000
"""Bootstrap resamples per grid step for the band of the curves."""


def mean_band(
    curves: Mapping[Any, tuple[np.ndarray, np.ndarray]], *, random_state: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """The curves interpolated onto a common step grid (from the latest first step to the
    earliest last step, where every curve has points): (grid, mean, low, high), the band being
    the 95% bootstrap confidence interval of the mean at each step (None for one curve)."""
    firsts = [float(s[0]) for s, _ in curves.values()]
    lasts = [float(s[-1]) for s, _ in curves.values()]
    start, stop = max(firsts), min(lasts)
    grid = np.linspace(start, stop, GRID_POINTS) if stop > start else np.array([stop])
    table = np.stack([np.interp(grid, s, v) for s, v in curves.values()])
    mean = table.mean(axis=0)
    if len(table) < 2:
        return grid, mean, None, None
    stats = _scipy_stats()
    flat = np.ptp(table, axis=0) == 0
    low, high = mean.copy(), mean.copy()
    if not flat.all():
        interval = stats.bootstrap(
            (table[:, ~flat],),
            np.mean,
            axis=0,
            vectorized=True,
            confidence_level=CONFIDENCE,
            n_resamples=BAND_RESAMPLES,
            method="percentile",
            random_state=np.random.default_rng(random_state),
        ).confidence_interval
        low[~flat], high[~flat] = interval.low, interval.high
    return grid, mean, low, high


def plot_groups(
    groups: Sequence[Group],
    *,
    out: str | Path,
    metric: str = "charts/episode_reward",
    window: int | None = None,
) -> Path:
    """One figure: for each group, its seeds' curves of ``metric`` (rolling means, faint), their
    mean (solid) and the 95% bootstrap band of the mean; for one group, each seed's final greedy
    test as a dot at its last step. ConfigError when no run of a group logged ``metric``."""
    from matplotlib.figure import Figure

    from renshu.plots import _style, _x_formatter, save_figure

    fig = Figure(figsize=(7.5, 4.2), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    _style(ax)
    for number, group in enumerate(groups):
        colour = f"C{number % 10}"
        curves = group.curves(metric, window)
        if not curves:
            raise ConfigError(
                f"No run of the group {str(group.path)!r} has values of {metric!r} yet (its "
                "runs logged none, or have not started): train them, or pick another --metric."
            )
        for steps, values in curves.values():
            ax.plot(steps, values, color=colour, alpha=0.2, linewidth=0.8)
        grid, mean, low, high = mean_band(curves)
        label = f"{group.name}: mean of {len(curves)} seeds"
        if len(groups) == 1:
            label = f"mean of {len(curves)} seeds"
        ax.plot(grid, mean, color=colour, linewidth=2.0, label=label)
        if low is not None and high is not None:
            ax.fill_between(grid, low, high, color=colour, alpha=0.25, linewidth=0)
        if len(groups) == 1 and metric == "charts/episode_reward":
            results = [r for r in group.results() if r.test_mean is not None]
            if results:
                stats = group.statistics(results)
                ax.scatter(
                    [r.steps for r in results],
                    [float(r.test_mean or 0.0) for r in results],
                    color="C3",
                    marker="D",
                    s=22,
                    zorder=4,
                    label=f"final greedy test per seed (IQM {stats.iqm:.4g})",
                )
    pretty = metric.split("/")[-1].replace("_", " ")
    ax.set_xlabel("step")
    ax.set_ylabel(f"{pretty} (rolling mean per seed)")
    _x_formatter(ax)
    band = "band: 95% bootstrap CI of the mean"
    title = f"{groups[0].name}: {pretty}" if len(groups) == 1 else pretty
    ax.set_title(f"{title}\n{band}", fontsize="medium")
    ax.legend(frameon=False, fontsize="small", loc="best")
    return save_figure(fig, out)


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
