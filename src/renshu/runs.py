"""Run folders: one training run on disk, so it can be read, plotted, tested and resumed.

:class:`Run` is what ``renshu train`` drives; Python users can call it the same way::

    run = Run.create("catch", steps=30_000, seed=0, options={"double": True})
    result = run.train()                      # fit, checkpoints, plots, test, GIF
    run = Run.open("runs/catch-dqn-0")
    run.train(steps=60_000)                   # resume from the last checkpoint, up to 60k steps

A run folder holds::

    runs/<env>-<algo>-<seed>[-<n>]/
      config.yaml          resolved settings: env, algo, seed, steps, test_episodes,
                           checkpoint_every, every option of the algorithm's config, versions
      metrics.csv          one row per finished episode, one per periodic log, and one per
                           checkpoint that cut episodes under way (appended)
      tb/                  TensorBoard events (tensorboard --logdir runs)
      checkpoints/<step>/  saved agents; the newest also keeps its replay buffer, so training
                           resumes exactly (older ones drop replay.npz to save disk)
      agent/               the final agent (renshu.load("runs/catch-dqn-0/agent"))
      plots/learning_curve.png
      videos/test.gif      one greedy test episode, for envs that render rgb_array

A new run never reuses a folder: a second run with the same name gets ``-1``, ``-2``, ...
``metrics.csv`` has the columns of :data:`METRIC_COLUMNS` (more are added when a callback logs
other keys): episode rows fill ``episode``, ``charts/episode_reward`` and
``charts/episode_length``; log rows fill the periodic metrics. The agent's periodic
``charts/episode_reward`` (a mean of recent episodes) is not stored: the per-episode rewards are.

A checkpoint ends the episodes under way (an env's state cannot be saved in general, so training
after a checkpoint, or a resume from it, starts new episodes). Those cut episodes are not
episodes in ``metrics.csv``; a row at the checkpoint's step counts them in
``checkpoint/cut_episodes`` and their steps in ``checkpoint/cut_steps``, so the episode lengths
plus the cut steps add up to the run's steps.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime
import errno
import math
import os
import re
import shlex
import time
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np

from renshu import agents as algorithms
from renshu import checkpoint
from renshu.callbacks import Callback, CheckpointEvery
from renshu.config import (
    Range,
    build,
    check_field,
    dump_yaml,
    field_names,
    load_yaml,
    to_plain,
    validate,
)
from renshu.config import check_device as _check_device
from renshu.errors import (
    CheckpointError,
    ConfigError,
    EnvError,
    RenshuError,
    RunFileError,
    os_error_message,
)

if TYPE_CHECKING:
    from renshu.agents.dqn import DQN
    from renshu.check import Problem
    from renshu.presets import Preset

__all__ = [
    "METRIC_COLUMNS",
    "CheckpointKeeper",
    "LineProgress",
    "MetricsCSV",
    "Run",
    "RunResult",
    "TensorBoardLogger",
    "env_label",
    "plot_runs",
    "read_metrics",
]

METRIC_COLUMNS = (
    "step",
    "time",
    "episode",
    "charts/episode_reward",
    "charts/episode_length",
    "charts/SPS",
    *dict.fromkeys(key for algo in algorithms.ALGORITHMS.values() for key in algo.metrics),
    "eval/mean_reward",
    "eval/std_reward",
    "test/mean_reward",
    "test/std_reward",
    "checkpoint/cut_episodes",
    "checkpoint/cut_steps",
)
"""The columns of a new ``metrics.csv``, in order."""

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.csv"
RUN_CONTENTS = (CONFIG_FILE, METRICS_FILE, "tb", "checkpoints", "plots", "videos", "agent")
"""What renshu writes into a run folder (a failed start removes only these)."""
NO_GIF_HELP = (
    "To get one, accept `render_mode=None` in the env's __init__ (store it as "
    "self.render_mode), list 'rgb_array' in metadata['render_modes'], and make render() return "
    "the picture as a (height, width, 3) uint8 array when render_mode == 'rgb_array'"
)
"""How to make an environment render frames for a GIF."""


@dataclass
class RunSettings:
    """The entries of a run's ``config.yaml`` that renshu reads back; checked when a run is
    created and again when it is opened (the file may have been edited)."""

    env: str | None
    """The environment as given on the command line; None for an environment object."""
    algo: str
    """The algorithm (``dqn``)."""
    seed: Annotated[int, Range(ge=0)]
    """Seeds the networks, replay, exploration and envs, >= 0."""
    steps: Annotated[int, Range(ge=1)]
    """Total training steps, >= 1."""
    test_episodes: Annotated[int, Range(ge=1)]
    """Greedy episodes played after training, >= 1."""
    checkpoint_every: Annotated[int, Range(ge=1)]
    """Steps between checkpoints, >= 1."""
    config: dict[str, Any]
    """The algorithm's options (checked by its config class when the agent is built)."""

    def __post_init__(self) -> None:
        validate(self)


_SETTINGS = tuple(field_names(RunSettings))


# --------------------------------------------------------------------------------------------
# Names and folders
# --------------------------------------------------------------------------------------------


def env_label(env: Any) -> str:
    """A folder-safe name for an env: ``catch``, ``CartPole-v1``, ``Catch-v0`` for
    ``renshu/Catch-v0``, the class name for ``file.py:Class`` or an instance."""
    if isinstance(env, str):
        text = env.strip()
        text = text.rsplit(":", 1)[1] if ":" in text else text
        text = text.rsplit("/", 1)[-1]
    elif isinstance(env, type):
        text = env.__name__
    else:
        text = type(getattr(env, "unwrapped", env)).__name__
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "env"


def _new_folder(runs_dir: Path, name: str) -> Path:
    """Create ``runs_dir/name``, or ``name-1``, ``name-2``, ... if taken; never reuse one."""
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise ConfigError(
            f"A run name must be one folder name (no slashes), got {name!r}. Use --runs-dir to "
            "choose the folder that holds the runs."
        )
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ConfigError(
            f"Cannot put runs in {str(runs_dir)!r}: it (or a parent) is a file, not a folder. "
            "Pass another --runs-dir."
        ) from None
    except OSError as error:
        raise _new_run_error(error, runs_dir) from None
    for n in range(10_000):
        path = runs_dir / (name if n == 0 else f"{name}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        except OSError as error:
            raise _new_run_error(error, runs_dir) from None
        return path
    raise ConfigError(f"Too many runs named {name!r} in {str(runs_dir)!r}; pass another --name.")


def _new_run_error(error: OSError, runs_dir: Path) -> RunFileError:
    return RunFileError(
        os_error_message(
            error,
            "Creating a run folder",
            f"No run was started. Make {str(runs_dir)!r} writable, or pass another --runs-dir",
        )
    )


def _remove_new_run(folder: Path) -> None:
    """Remove what renshu wrote into ``folder`` (a run this process just made), then the folder
    if nothing else is in it. Best effort: a failure here never hides the original error."""
    import shutil

    for name in RUN_CONTENTS:
        path = folder / name
        with contextlib.suppress(OSError):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        folder.rmdir()


# --------------------------------------------------------------------------------------------
# metrics.csv
# --------------------------------------------------------------------------------------------


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

    The file is flushed at every periodic log, at the end, and at most a second after any row.
    An existing file is appended to, keeping its columns; ``time`` continues from its last row.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.columns: list[str] = list(METRIC_COLUMNS)
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


# --------------------------------------------------------------------------------------------
# TensorBoard
# --------------------------------------------------------------------------------------------


class TensorBoardLogger(Callback):
    """Writes episode rewards/lengths and the periodic metrics to TensorBoard under ``log_dir``.

    Keys are namespaced as logged (``charts/episode_reward``, ``losses/td_loss``, ...). With
    ``config``, the resolved settings are logged once as text and as hyperparameters.
    """

    def __init__(self, log_dir: str | Path, *, config: Mapping[str, Any] | None = None) -> None:
        self.log_dir = Path(log_dir)
        self.config = config
        self.writer: Any = None

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(self.log_dir), flush_secs=10)
        if self.config is not None:
            self._log_config(self.config)

    def _log_config(self, settings: Mapping[str, Any]) -> None:
        import yaml
        from torch.utils.tensorboard.summary import hparams

        text = yaml.safe_dump(dict(settings), sort_keys=False)
        self.writer.add_text("config", "```yaml\n" + text + "```", global_step=0)
        flat = {f"config/{k}": v for k, v in dict(settings.get("config", {})).items()}
        flat.update({k: v for k, v in settings.items() if k != "config"})
        params = {
            k: v if isinstance(v, bool | int | float | str) else str(v) for k, v in flat.items()
        }
        for summary in hparams(params, {"test/mean_reward": math.nan}):
            self.writer.file_writer.add_summary(summary)

    def on_episode_end(self, episode: int, logs: dict[str, Any]) -> None:
        step = logs.get("nb_steps", self.agent.num_steps)
        self.writer.add_scalar("charts/episode_reward", logs["episode_reward"], step)
        if "nb_episode_steps" in logs:
            self.writer.add_scalar("charts/episode_length", logs["nb_episode_steps"], step)

    def on_log(self, step: int, logs: dict[str, float]) -> None:
        for key, value in logs.items():
            if key != "charts/episode_reward":
                self.writer.add_scalar(key, value, step)

    def on_train_end(self, logs: dict[str, Any]) -> None:
        self.writer.flush()

    def close(self) -> None:
        """Flush and close the event file (safe to call twice; never raises over another
        error)."""
        if self.writer is not None:
            writer, self.writer = self.writer, None
            with contextlib.suppress(OSError):
                writer.close()


# --------------------------------------------------------------------------------------------
# Checkpoints and progress lines
# --------------------------------------------------------------------------------------------


class CheckpointKeeper(CheckpointEvery):
    """:class:`CheckpointEvery` with the replay buffer, kept only in the newest checkpoint.

    Every checkpoint stays a complete, loadable agent; only the newest keeps ``replay.npz``
    (which is what an exact resume needs), so a long run does not fill the disk with buffers.
    A checkpoint ends the episodes under way; with ``metrics``, each cut is recorded there
    (see :func:`record_cut`).
    """

    def __init__(
        self, every: int, directory: str | Path, *, metrics: MetricsCSV | None = None
    ) -> None:
        super().__init__(every, directory, replay=True)
        self.metrics = metrics

    def on_tick(self, step: int) -> None:
        if step < self._next:
            return
        cut = self.agent.episodes_in_progress()
        saved = len(self.saved)
        super().on_tick(step)
        if len(self.saved) > saved:
            prune_replays(self.directory)
            if self.metrics is not None:
                record_cut(self.metrics, step, cut)


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


def prune_replays(directory: Path) -> None:
    """Delete ``replay.npz`` from every complete checkpoint under ``directory`` but the newest."""
    newest = checkpoint.latest(directory)
    if newest is None:
        return
    for child in directory.iterdir():
        if child.name.isdigit() and child != newest and (child / "replay.npz").is_file():
            (child / "replay.npz").unlink()


class LineProgress(Callback):
    """One line per periodic log, at most every ``seconds`` (for logs that are not a terminal)."""

    def __init__(self, total: int, write: Callable[[str], None], seconds: float = 10.0) -> None:
        self.total, self.write, self.seconds = total, write, seconds
        self._last = -math.inf
        self._rewards: list[float] = []

    def on_episode_end(self, episode: int, logs: dict[str, Any]) -> None:
        self._rewards = [*self._rewards[-19:], float(logs["episode_reward"])]

    def on_log(self, step: int, logs: dict[str, float]) -> None:
        now = time.perf_counter()
        if now - self._last < self.seconds:
            return
        self._last = now
        parts = [f"step {step:,}/{self.total:,}"]
        if self._rewards:
            parts.append(f"reward {np.mean(self._rewards):.3g}")
        if "losses/td_loss" in logs:
            parts.append(f"loss {logs['losses/td_loss']:.3g}")
        if "charts/epsilon" in logs:
            parts.append(f"eps {logs['charts/epsilon']:.3f}")
        if "charts/SPS" in logs:
            parts.append(f"{logs['charts/SPS']:,.0f} steps/s")
        self.write("  ".join(parts))


# --------------------------------------------------------------------------------------------
# Run
# --------------------------------------------------------------------------------------------


@dataclass
class RunResult:
    """What :meth:`Run.train` did."""

    path: Path
    """The run folder."""
    steps: int
    """The agent's step count at the end."""
    total_steps: int
    """The run's target step count."""
    start_step: int
    """The step training started (or resumed) from."""
    wall_time: float
    """Seconds spent in ``fit``."""
    interrupted: str | None = None
    """``"SIGINT"`` or ``"SIGTERM"`` if a signal stopped training, else None."""
    test_scores: list[float] = field(default_factory=list)
    """Rewards of the greedy test episodes (empty if interrupted)."""
    files: dict[str, Path] = field(default_factory=dict)
    """What was written: config, metrics, tensorboard, checkpoint, agent, learning_curve, gif."""
    notes: list[str] = field(default_factory=list)
    """Things worth telling the user (e.g. why there is no GIF)."""
    cut_episodes: int = 0
    """Episodes under way that the last checkpoint ended (not counted as episodes)."""
    cut_steps: int = 0
    """The steps those cut episodes had taken."""

    @property
    def steps_per_second(self) -> float:
        """Training steps per second of wall time in this call."""
        return (self.steps - self.start_step) / self.wall_time if self.wall_time > 0 else 0.0

    @property
    def test_mean(self) -> float:
        """Mean greedy test reward (NaN if no test ran)."""
        return float(np.mean(self.test_scores)) if self.test_scores else math.nan

    @property
    def test_std(self) -> float:
        """Standard deviation of the greedy test rewards (NaN if no test ran)."""
        return float(np.std(self.test_scores)) if self.test_scores else math.nan


class Run:
    """A run folder and the training that fills it. Build with :meth:`create` or :meth:`open`."""

    def __init__(
        self, path: Path, settings: dict[str, Any], env: Any = None, *, trust_env: bool = False
    ) -> None:
        self.path = Path(path)
        self.settings = settings
        """The contents of ``config.yaml``."""
        self._env = env if env is not None else settings.get("env")
        self._untrusted_env: str | None = None
        if (
            env is None
            and isinstance(self._env, str)
            and not trust_env
            and not checkpoint.env_is_safe(self._env)
        ):  # never import code named in a run folder unless the user says so
            self._untrusted_env, self._env = self._env, None
        self.check_warnings: list[Problem] = []
        """Warnings :func:`renshu.check_env` returned when the run was created."""
        self._new_agent: DQN | None = None  # built by create(), trained by the first train()
        self._made_here = False  # create() made the folder and nothing has trained in it yet

    # ---------------------------------------------------------------- properties
    @property
    def name(self) -> str:
        """The folder name (``catch-dqn-0``)."""
        return self.path.name

    @property
    def env(self) -> Any:
        """The environment argument the run trains on.

        Raises ConfigError when config.yaml names a Python file or module that the run was
        not opened to trust (``Run.open(path, env=...)`` or ``trust_env=True``).
        """
        if self._untrusted_env is not None:
            ref = self._untrusted_env
            raise ConfigError(
                f"The run {str(self.path)!r} names its environment {ref!r} in config.yaml: "
                "Python code (a file or module) that renshu does not import from a run folder "
                "unless you say so (a run folder may come from someone else). If you trust it, "
                f"name it on the command line (renshu test {self.path} --env {ref}, or "
                f"renshu train {ref} --resume {self.path}) or add --trust-env; from Python, "
                f"Run.open(path, env={ref!r}) or Run.open(path, trust_env=True)."
            )
        return self._env

    @property
    def resume_command(self) -> str:
        """The shell command that continues this run. It names the env when that is Python code
        (a file or module), which a resume imports only when named on the command line."""
        env = self.settings.get("env")
        if isinstance(env, str) and not checkpoint.env_is_safe(env):
            return f"renshu train {shlex.quote(env)} --resume {shlex.quote(str(self.path))}"
        return f"renshu train --resume {shlex.quote(str(self.path))}"

    @property
    def env_kwargs(self) -> dict[str, Any]:
        """Constructor arguments of the environment (``--env-kwargs``), from ``config.yaml``."""
        return dict(self.settings.get("env_kwargs") or {})

    def make_env(self, **kwargs: Any) -> Any:
        """The run's environment built with its :attr:`env_kwargs` (and ``kwargs`` on top, e.g.
        ``render_mode``)."""
        from renshu.make import make

        return make(self.env, **{**self.env_kwargs, **kwargs})

    @property
    def steps(self) -> int:
        """The run's total training steps."""
        return int(self.settings["steps"])

    @property
    def checkpoint_dir(self) -> Path:
        """``RUN/checkpoints``."""
        return self.path / "checkpoints"

    @property
    def agent_dir(self) -> Path:
        """``RUN/agent``: the final agent."""
        return self.path / "agent"

    # ---------------------------------------------------------------- creating and opening
    @classmethod
    def create(
        cls,
        env: Any,
        *,
        algo: str = "dqn",
        steps: int | None = None,
        seed: int = 0,
        options: Mapping[str, Any] | None = None,
        preset: Preset | None = None,
        runs_dir: str | Path = "runs",
        name: str | None = None,
        checkpoint_every: int | None = None,
        test_episodes: int | None = None,
        check_env: bool = True,
        extra: Mapping[str, Any] | None = None,
        env_kwargs: Mapping[str, Any] | None = None,
    ) -> Run:
        """Check everything and build the agent, then make a new run folder and write its
        ``config.yaml`` (so a start that fails leaves no folder behind).

        Args:
            env: anything :func:`renshu.make` accepts (a string is recorded and can be resumed
                from the shell; an instance must be passed again to :meth:`open`).
            algo: the algorithm (``"dqn"``).
            steps: total training steps (default: the preset's).
            seed: seeds the networks, replay, exploration and envs.
            options: config options laid over the preset (e.g. ``{"double": True}``).
            preset: the settings to start from (default: :func:`renshu.presets.load` of env).
            runs_dir: the folder that holds run folders.
            name: the folder name (default ``<env>-<algo>-<seed>``); never reused.
            checkpoint_every: steps between checkpoints (default :func:`default_every`).
            test_episodes: greedy episodes after training (default: the preset's).
            check_env: run :func:`renshu.check_env` first (errors raise EnvCheckError).
            extra: more entries for ``config.yaml`` (e.g. the command line).
            env_kwargs: constructor arguments for the environment (recorded in
                ``config.yaml`` and used again by resume, test and the GIF).

        Raises:
            ConfigError: an option is unknown or out of range, or the agent cannot be built
                for the environment (no folder is made).
            EnvCheckError: the environment failed the check (no folder is made).
            RunFileError: the folder cannot be written (nothing is left behind).
        """
        from renshu import presets

        if preset is None:
            preset = presets.load(env if isinstance(env, str) else "default", algo)
        if options:
            preset = preset.with_options(options, origin="the options given")
        total = check_field(RunSettings, "steps", steps if steps is not None else preset.steps)
        every = check_field(
            RunSettings,
            "checkpoint_every",
            checkpoint_every if checkpoint_every is not None else default_every(total),
        )
        episodes = check_field(
            RunSettings,
            "test_episodes",
            test_episodes if test_episodes is not None else preset.test_episodes,
        )
        seed = check_field(RunSettings, "seed", seed)
        config = build(presets.config_class(algo), {**preset.config, "seed": seed})
        if getattr(config, "per_beta_steps", 0) is None:  # anneal over the run, not a segment
            config.per_beta_steps = total
        kwargs = dict(env_kwargs or {})
        if kwargs and not isinstance(env, str | type):
            raise ConfigError(
                f"env_kwargs {kwargs} need an environment renshu builds (a name, "
                "'file.py:Class' or a class), not an instance that is already built."
            )
        warned: list[Problem] = []
        if check_env:
            warned = _check_trainable(env, algo, kwargs)
        agent = _build_agent(algo, _agent_env(env, kwargs, config.num_envs), config)
        from renshu import __version__

        settings: dict[str, Any] = {
            "env": env if isinstance(env, str) else None,
            "env_kwargs": kwargs,
            "env_name": env_label(env),
            "algo": algo,
            "seed": seed,
            "steps": total,
            "test_episodes": episodes,
            "checkpoint_every": every,
            "preset": str(preset.source) if preset.source else None,
            "renshu_version": __version__,
            "created": datetime.datetime.now().isoformat(timespec="seconds"),
            **(dict(extra) if extra else {}),
            "config": to_plain(config),
        }
        folder = _new_folder(Path(runs_dir), name or f"{env_label(env)}-{algo}-{seed}")
        try:
            dump_yaml(settings, folder / CONFIG_FILE)
        except BaseException as error:
            _remove_new_run(folder)
            if isinstance(error, OSError):
                raise _new_run_error(error, Path(runs_dir)) from None
            raise
        run = cls(folder, settings, env)
        run.check_warnings = warned
        run._new_agent, run._made_here = agent, True
        return run

    @classmethod
    def open(cls, path: str | Path, *, env: Any = None, trust_env: bool = False) -> Run:
        """Open an existing run folder (to resume, test or plot it).

        ``env`` is needed when the run was created with an environment instance, and to use an
        env that config.yaml names as a Python file or module (or pass ``trust_env=True``):
        opening a run never imports code named in its files otherwise.
        """
        path = Path(path)
        settings = _read_settings(path)
        if settings["env"] is None and env is None:
            raise ConfigError(
                f"The run {str(path)!r} was trained on an environment object "
                f"({settings.get('env_name')}), which config.yaml cannot record. "
                "Open it from Python with Run.open(path, env=<the same environment>)."
            )
        return cls(path, settings, env, trust_env=trust_env)

    # ---------------------------------------------------------------- agents
    def resume_point(self) -> Path | None:
        """The newest complete checkpoint, or None if there is none yet.

        Raises CheckpointError when checkpoint folders exist but none is complete; warns about
        incomplete ones newer than the newest complete one (they are ignored).
        """
        checkpoint.remove_leftovers(self.checkpoint_dir)
        found = checkpoint.latest(self.checkpoint_dir)
        partial = self._incomplete_checkpoints()
        if found is None and partial:
            first = partial[-1]
            absent = [n for n in checkpoint.REQUIRED_FILES if not (first / n).is_file()]
            raise CheckpointError(
                f"{str(first)!r} is not a complete checkpoint (missing {', '.join(absent)}), and "
                f"the run {str(self.path)!r} has no complete one to resume from. It was probably "
                "cut off while being written. Delete the incomplete folder to train this run "
                "again from step 0, or start a new run."
            )
        if found is not None:
            newer = [p for p in partial if int(p.name) > int(found.name)]
            for p in newer:
                warnings.warn(
                    f"{str(p)!r} is an incomplete checkpoint and is ignored; resuming from "
                    f"{str(found)!r}.",
                    stacklevel=2,
                )
        return found

    def _incomplete_checkpoints(self) -> list[Path]:
        if not self.checkpoint_dir.is_dir():
            return []
        return sorted(
            (
                child
                for child in self.checkpoint_dir.iterdir()
                if child.is_dir()
                and child.name.isdigit()
                and not all((child / n).is_file() for n in checkpoint.REQUIRED_FILES)
            ),
            key=lambda p: int(p.name),
        )

    def load_agent(
        self, *, device: str | None = None, env: Any = None, threads: int | None = None
    ) -> DQN:
        """The final agent (``agent/``), or else the newest complete checkpoint.

        ``threads`` replaces the agent's ``threads`` option (CPU threads while it tests)."""
        if device is not None:
            check_device(device)
        overrides: dict[str, Any] = {"device": device} if device else {}
        if threads is not None:
            overrides["threads"] = threads
        env = env if env is not None else self._agent_env_for_load()
        if all((self.agent_dir / n).is_file() for n in checkpoint.REQUIRED_FILES):
            return _load(checkpoint.agent_path(self.path), env, overrides)
        found = self.resume_point()
        if found is None:
            raise CheckpointError(
                f"The run {str(self.path)!r} has no agent yet: no agent/ folder and no "
                "checkpoint. Train it first (renshu train --resume "
                f"{self.path}), or pass another run."
            )
        return _load(found, env, overrides)

    def metrics(self) -> dict[str, np.ndarray]:
        """The columns of ``metrics.csv``."""
        return read_metrics(self.path / METRICS_FILE)

    def cut_at(self, step: int) -> tuple[int, int] | None:
        """(episodes, steps) that the checkpoint at ``step`` cut, from ``metrics.csv``; None
        when the file does not say (a run from an older renshu, or no metrics)."""
        if not (self.path / METRICS_FILE).is_file():
            return None
        data = self.metrics()
        if "checkpoint/cut_episodes" not in data:
            return None
        at = data["step"] == step
        episodes = data["checkpoint/cut_episodes"][at]
        steps = data.get("checkpoint/cut_steps", np.array([]))[at]
        return int(np.nansum(episodes)), int(np.nansum(steps))

    def _agent_env_for_load(self) -> Any:
        num_envs = int(dict(self.settings.get("config") or {}).get("num_envs", 1) or 1)
        return _agent_env(self.env, self.env_kwargs, num_envs)

    # ---------------------------------------------------------------- training
    def train(
        self,
        *,
        steps: int | None = None,
        device: str | None = None,
        threads: int | None = None,
        gif: bool = True,
        test: bool = True,
        progress: bool | None = None,
        callbacks: Sequence[Callback] = (),
        log_every: int | None = None,
    ) -> RunResult:
        """Train up to ``steps`` total (default: the run's), resuming from the last checkpoint.

        Writes metrics, TensorBoard events and checkpoints while training; then a checkpoint
        at the last step, (unless a signal stopped training) the final agent, a greedy test of
        ``test_episodes`` episodes and a GIF of the first one, and the learning curve with the
        test marked on it. ``threads`` replaces the agent's ``threads`` option for this call.

        A checkpoint ends the episodes under way (see the module doc); resuming restores the
        weights, target network, optimizer, replay buffer, counters and random states, and
        starts new episodes.

        Raises:
            RunFileError: a file of the run cannot be written (read-only folder, full disk);
                nothing already written is removed.
        """
        total = check_field(RunSettings, "steps", steps if steps is not None else self.steps)
        if device is not None:
            check_device(device)
        if threads is not None:
            from renshu.agents.dqn import DQNConfig

            threads = check_field(DQNConfig, "threads", threads)
        start_from = self.resume_point()
        if start_from is not None and int(start_from.name) >= total:
            start = int(start_from.name)
            files = {"config": self.path / CONFIG_FILE, "metrics": self.path / METRICS_FILE}
            result = RunResult(self.path, start, total, start, 0.0, files=files)
            result.notes.append(
                f"The run is already at step {start:,} of {total:,}; nothing to train. "
                "Pass a larger total (--steps) to train further."
            )
            return result
        fresh, self._made_here = self._made_here and start_from is None, False
        agent: DQN | None = None
        try:
            agent = self._agent(start_from, device, threads)
            return self._train(agent, start_from, total, gif, test, progress, callbacks, log_every)
        except BaseException as error:
            if fresh and (agent is None or agent.num_steps == 0) and not self._has_checkpoints():
                _remove_new_run(self.path)  # a start that failed: leave nothing behind
            if (
                isinstance(error, OSError)
                and not isinstance(error, RenshuError)
                and _is_ours(error, self.path)
            ):
                fix = {
                    errno.ENOSPC: "Free some space",
                    errno.EDQUOT: "Free some space",
                    errno.EISDIR: "Move that folder out of the way",
                }.get(error.errno or 0, "Make the run folder writable")
                raise RunFileError(
                    os_error_message(
                        error,
                        f"Training the run {str(self.path)!r}",
                        f"Nothing already written was removed. {fix}, then continue with "
                        f"{self.resume_command}",
                    )
                ) from None
            raise

    def _has_checkpoints(self) -> bool:
        return self.checkpoint_dir.is_dir() and any(self.checkpoint_dir.iterdir())

    def _train(
        self,
        agent: DQN,
        start_from: Path | None,
        total: int,
        gif: bool,
        test: bool,
        progress: bool | None,
        callbacks: Sequence[Callback],
        log_every: int | None,
    ) -> RunResult:
        files = {"config": self.path / CONFIG_FILE, "metrics": self.path / METRICS_FILE}
        start = agent.num_steps
        if total != self.steps:
            self.settings["steps"] = total
            _dump_atomic(self.settings, self.path / CONFIG_FILE)
        notes: list[str] = []
        dropped = _truncate_metrics(self.path / METRICS_FILE, start)
        if dropped:
            notes.append(
                f"Dropped {dropped} metrics rows logged after step {start:,} (the checkpoint "
                "training resumes from)."
            )
        if start_from is not None and (start_from / "replay.npz").is_file() is False:
            notes.append(
                f"{start_from} has no replay buffer: training resumes with an empty one, so it "
                "will not match an uninterrupted run exactly."
            )
        csv_log = MetricsCSV(self.path / METRICS_FILE)
        tb = TensorBoardLogger(self.path / "tb", config=self.settings if start == 0 else None)
        keeper = CheckpointKeeper(
            int(self.settings["checkpoint_every"]), self.checkpoint_dir, metrics=csv_log
        )
        every = log_every if log_every is not None else max(100, min(1_000, total // 50))
        started = time.perf_counter()
        try:
            try:
                history = agent.fit(
                    total - start,
                    callbacks=[csv_log, tb, keeper, *callbacks],
                    progress=progress,
                    log_every=every,
                )
            except EnvError as error:  # the env failed: keep the work, say how to go on
                error.checkpoint = self._save_before_failure(agent)
                error.resume = self.resume_command
                raise
            wall = time.perf_counter() - started
            files["tensorboard"] = self.path / "tb"
            result = RunResult(
                self.path,
                agent.num_steps,
                total,
                start,
                wall,
                interrupted=history.interrupted,
                files=files,
                notes=notes,
            )
            # The resume point: a checkpoint at the last step (unless one was just written).
            newest = checkpoint.latest(self.checkpoint_dir)
            if newest is None or int(newest.name) != agent.num_steps:
                cut = agent.episodes_in_progress()
                newest = agent.save_checkpoint(self.checkpoint_dir, replay=True)
                prune_replays(self.checkpoint_dir)
                record_cut(csv_log, agent.num_steps, cut)
                result.cut_episodes, result.cut_steps = len(cut), int(sum(cut))
            else:
                result.cut_episodes, result.cut_steps = self.cut_at(agent.num_steps) or (0, 0)
            files["checkpoint"] = newest
            if history.interrupted:
                csv_log.close()
                files["learning_curve"] = self.plot_learning_curve()
                return result
            files["agent"] = agent.save(self.agent_dir, overwrite=True)
            if test:
                scores = agent.test(
                    episodes=int(self.settings["test_episodes"]),
                    env=self.make_env() if self.env_kwargs else None,
                    progress=False,
                )
                result.test_scores = [float(r) for r in scores.history["episode_reward"]]
                row = {"test/mean_reward": result.test_mean, "test/std_reward": result.test_std}
                csv_log.write({"step": agent.num_steps, **row}, flush=True)
                for key, value in row.items():
                    tb.writer.add_scalar(key, value, agent.num_steps)
            csv_log.close()
            files["learning_curve"] = self.plot_learning_curve()
            if gif:
                self._gif(agent, result)
            return result
        finally:
            csv_log.close()
            tb.close()

    def _save_before_failure(self, agent: DQN) -> Path | None:
        """A checkpoint of the state before the step the env failed on (nothing of that step
        was stored); None if it cannot be written."""
        newest = checkpoint.latest(self.checkpoint_dir)
        if newest is not None and int(newest.name) == agent.num_steps:
            return newest
        try:
            saved = agent.save_checkpoint(self.checkpoint_dir, replay=True)
        except (OSError, RenshuError):
            return newest
        prune_replays(self.checkpoint_dir)
        return saved

    def _agent(self, start_from: Path | None, device: str | None, threads: int | None) -> DQN:
        overrides: dict[str, Any] = {"device": device} if device else {}
        if threads is not None:
            overrides["threads"] = threads
        if start_from is not None:
            return _load(start_from, self._agent_env_for_load(), overrides)
        built, self._new_agent = self._new_agent, None
        if built is not None and (device is None or device == built.config.device):
            if threads is not None:
                built.config.threads = threads
            return built
        algorithm = algorithms.get(self.settings["algo"])
        options = {**self.settings["config"], **overrides}
        custom = [k for k, v in options.items() if isinstance(v, str) and v.startswith("<custom")]
        if custom:
            raise ConfigError(
                f"The run {str(self.path)!r} was made with custom objects for "
                f"{', '.join(custom)}, which config.yaml records only by name. Train it from "
                "Python with Run.create(...).train()."
            )
        try:
            config = build(algorithm.config_class(), options)  # overrides checked by train()
        except ConfigError as error:
            raise ConfigError(
                f"{str(self.path / CONFIG_FILE)!r} has a bad entry under config: {error} The "
                "file was edited or damaged; restore that entry (renshu train --help lists the "
                "options) and run again."
            ) from None
        agent: DQN = algorithm.agent_class()(self._agent_env_for_load(), config=config)
        return agent

    def plot_learning_curve(self, out: str | Path | None = None) -> Path:
        """Draw episode reward against step from ``metrics.csv`` (``plots/learning_curve.png``),
        with the periodic greedy evaluations and the final greedy test marked."""
        from renshu.plots import learning_curve

        out = Path(out) if out is not None else self.path / "plots" / "learning_curve.png"
        data = self.metrics() if (self.path / METRICS_FILE).is_file() else {}
        empty = np.array([])
        steps = data.get("step", empty)

        def points(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
            means = data.get(f"{name}/mean_reward", empty)
            keep = ~np.isnan(means)
            if not keep.any():
                return None
            stds = data.get(f"{name}/std_reward", np.full(means.shape, np.nan))
            return steps[keep], means[keep], np.nan_to_num(stds[keep])

        rewards = data.get("charts/episode_reward", empty)
        keep = ~np.isnan(rewards)
        learning_curve(
            steps[keep] if steps.size else steps,
            rewards[keep],
            evaluations=points("eval"),
            test=points("test"),
            test_episodes=int(self.settings.get("test_episodes") or 0) or None,
            title=f"{self.name}: episode reward",
            out=out,
        )
        return out

    def _gif(self, agent: DQN, result: RunResult) -> None:
        from renshu.video import record_episode, render_fps, save_gif

        try:
            env = self.rgb_array_env()
        except RenshuError as error:
            result.notes.append(f"No GIF: {error}")
            return
        try:
            frames = record_episode(agent, env, max_frames=1_000)
        except Exception as error:  # rendering is optional: report why, keep the run
            result.notes.append(f"No GIF: rendering failed ({type(error).__name__}: {error}).")
            return
        finally:
            env.close()
        if not frames:
            result.notes.append(
                f"No GIF: {self.settings.get('env_name') or 'the environment'} returned no "
                f"rgb_array frames from render(). The run is fine without one. {NO_GIF_HELP}."
            )
            return
        result.files["gif"] = save_gif(
            frames, self.path / "videos" / "test.gif", fps=render_fps(env)
        )

    def rgb_array_env(self) -> Any:
        """The run's environment built with ``render_mode="rgb_array"``, for a GIF.

        Raises:
            ConfigError: it has no rgb_array render; the message says why and how to add one.
        """
        if not isinstance(self.env, str | type):
            raise ConfigError(
                "the run trains on an environment instance, which cannot be rebuilt with "
                "render_mode='rgb_array'. The run is fine without a GIF; record one from Python "
                "with renshu.video.record_episode(agent, <the env built with "
                "render_mode='rgb_array'>)."
            )
        return rgb_array_env(self.env, self.env_kwargs)


def rgb_array_env(env: Any, env_kwargs: Mapping[str, Any] | None = None) -> Any:
    """``env`` (a name, ``file.py:Class`` or class) built with ``render_mode="rgb_array"``.

    Raises:
        ConfigError: the environment has no ``rgb_array`` render: its
            ``metadata["render_modes"]`` does not list it, or its constructor takes no
            ``render_mode``. The message says so, that a run is fine without a GIF, and how to
            add one (or ``--no-gif``).
    """
    from renshu.make import make
    from renshu.video import supports_rgb_array

    kwargs = dict(env_kwargs or {})
    label = env if isinstance(env, str) else getattr(env, "__name__", str(env))
    try:
        built = make(env, **kwargs, render_mode="rgb_array")
    except RenshuError as error:
        # Why not? Look at the env as it trains (no render_mode) before blaming anything.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                plain = make(env, **kwargs)
            except RenshuError:
                raise error from None
        modes = list(getattr(plain, "metadata", {}).get("render_modes") or [])
        plain.close()
        if "rgb_array" in modes:
            why = (
                "its __init__ takes no render_mode argument, though metadata['render_modes'] "
                "lists rgb_array"
            )
        else:
            why = f"its metadata['render_modes'] lists {', '.join(map(str, modes)) or 'none'}"
            if "render_mode" in str(error) and "unknown argument" in str(error):
                why += " and its __init__ takes no render_mode argument"
        raise ConfigError(
            f"{label} has no rgb_array render ({why}), so there is no GIF of it. A run is "
            f"fine without one. {NO_GIF_HELP}; or pass --no-gif to skip the GIF."
        ) from None
    if not supports_rgb_array(built):
        built.close()
        raise ConfigError(
            f"{label} has no rgb_array render (its metadata['render_modes'] does not list "
            f"rgb_array), so there is no GIF of it. A run is fine without one. {NO_GIF_HELP}; or "
            "pass --no-gif to skip the GIF."
        )
    return built


def _build_agent(algo: str, env: Any, config: Any) -> DQN:
    """The agent a new run trains, built before its folder exists (so a failure leaves none)."""
    agent: DQN = algorithms.get(algo).agent_class()(env, config=config)
    return agent


def _agent_env(env: Any, env_kwargs: Mapping[str, Any], num_envs: int) -> Any:
    """What an agent trains on: ``env`` itself, or, with constructor arguments, the env (or
    ``num_envs`` copies as a vector env) built with them."""
    if not env_kwargs or not isinstance(env, str | type):
        return env
    from renshu.make import make, make_vec

    if num_envs > 1:
        return make_vec(env, num_envs, **env_kwargs)
    return make(env, **env_kwargs)


def _is_ours(error: OSError, folder: Path) -> bool:
    """True for a file error renshu's own writing caused (in the run folder, or a read-only or
    full disk), as opposed to one from the user's environment code."""
    if error.errno in (errno.EROFS, errno.ENOSPC, errno.EDQUOT):
        return True
    name = error.filename
    if not isinstance(name, str | os.PathLike):
        return False
    try:
        Path(os.fspath(name)).resolve().relative_to(folder.resolve())
    except (ValueError, OSError):
        return False
    return True


def _load(path: Path, env: Any, overrides: Mapping[str, Any]) -> DQN:
    """``renshu.load`` for ``renshu test`` and ``--resume``: every failure is renshu's error.

    The env is the run's (already trusted or given by the user), so it is built as is.
    """
    try:
        agent: DQN = checkpoint.load(path, env=env, **overrides)
    except RenshuError:
        raise
    except Exception as error:  # checkpoint.load wraps its own; this is the last guard
        raise CheckpointError(
            f"{str(path)!r} cannot be loaded into a new agent ({type(error).__name__}: {error}). "
            "Its files are damaged or were not written by this version of renshu; load another "
            "checkpoint."
        ) from None
    return agent


def _read_settings(path: Path) -> dict[str, Any]:
    """The ``config.yaml`` of the run folder ``path``; errors name the problem and the fix."""
    if not path.is_dir():
        hint = ""
        parent = path.parent if str(path.parent) not in ("", ".") else Path(".")
        if parent.is_dir():
            close = sorted(p.name for p in parent.iterdir() if p.is_dir())
            import difflib

            match = difflib.get_close_matches(path.name, close, n=3, cutoff=0.6)
            if match:
                hint = f" Did you mean: {', '.join(str(parent / m) for m in match)}?"
        what = "is a file, not a folder" if path.exists() else "does not exist"
        raise ConfigError(
            f"No run at {str(path)!r}: it {what}. Pass a run folder that renshu train "
            f"made (it holds config.yaml), e.g. runs/catch-dqn-0.{hint}"
        )
    file = path / CONFIG_FILE
    if not file.is_file():
        raise ConfigError(
            f"{str(path)!r} is not a run folder: it has no {CONFIG_FILE}. Pass the folder "
            "renshu train made (e.g. runs/catch-dqn-0), not one inside it."
        )
    settings = load_yaml(file, fix="Restore it from a copy, or start a new run (renshu train ENV).")
    missing = [key for key in _SETTINGS if key not in settings]
    if missing:
        raise ConfigError(
            f"{str(file)!r} lacks {', '.join(missing)}; it was not written by renshu train "
            "or has been edited. Restore those entries to resume the run."
        )
    try:
        checked = RunSettings(**{key: settings[key] for key in _SETTINGS})
    except ConfigError as error:
        raise ConfigError(
            f"{str(file)!r} has a bad entry: {error} The file was edited or damaged; restore "
            "that entry (renshu train writes e.g. steps: 30000, checkpoint_every: 3000) and "
            "run again."
        ) from None
    settings.update(dataclasses.asdict(checked))
    return settings


def default_every(steps: int) -> int:
    """Steps between checkpoints for a run of ``steps``: a tenth, but at least 1,000 (or the
    whole run when it is shorter), since a checkpoint ends the episodes under way."""
    return max(steps // 10, min(steps, 1_000))


def check_device(device: str) -> None:
    """Raise ConfigError unless torch can use ``device`` here ("auto" always is); see
    :func:`renshu.config.check_device`."""
    _check_device(device)


def _dump_atomic(data: Mapping[str, Any], path: Path) -> None:
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        dump_yaml(data, tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------
# Comparing runs
# --------------------------------------------------------------------------------------------


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
        _read_settings(path)  # a clear error for a missing or foreign folder
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


def _check_trainable(
    env: Any, algo: str, env_kwargs: Mapping[str, Any] | None = None
) -> list[Problem]:
    """Run :func:`renshu.check_env`: its errors refuse the run, its warnings are returned (an
    observation outside its Box bounds is a warning there too, so check and train agree).

    With ``env_kwargs``, the environment is checked as built with them."""
    from renshu.check import check_env

    if env_kwargs:
        from renshu.make import make_raw

        env = make_raw(env, **env_kwargs)
    return check_env(env, algo=algo)
