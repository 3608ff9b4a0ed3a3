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
      metrics.csv          one row per finished episode and one per periodic log (appended)
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
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import math
import os
import re
import time
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np

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
from renshu.errors import CheckpointError, ConfigError, RenshuError

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
    "charts/epsilon",
    "losses/td_loss",
    "losses/q_values",
    "eval/mean_reward",
    "eval/std_reward",
    "test/mean_reward",
    "test/std_reward",
)
"""The columns of a new ``metrics.csv``, in order."""

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.csv"


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
    for n in range(10_000):
        path = runs_dir / (name if n == 0 else f"{name}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise ConfigError(f"Too many runs named {name!r} in {str(runs_dir)!r}; pass another --name.")


# --------------------------------------------------------------------------------------------
# metrics.csv
# --------------------------------------------------------------------------------------------


def read_metrics(path: str | Path) -> dict[str, np.ndarray]:
    """The columns of a ``metrics.csv`` (or of ``RUN/metrics.csv``) as float arrays (NaN: empty)."""
    path = Path(path)
    if path.is_dir():
        path = path / METRICS_FILE
    if not path.is_file():
        raise ConfigError(
            f"No metrics at {str(path)!r}: the file does not exist. Pass a run folder that "
            "renshu train wrote (e.g. runs/catch-dqn-0)."
        )
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header or header[0] != "step":
            raise ConfigError(
                f"{str(path)!r} is not a renshu metrics file (its first column is not 'step')."
            )
        rows = [row for row in reader if row]
    columns: dict[str, np.ndarray] = {}
    for i, name in enumerate(header):
        columns[name] = np.array(
            [_float(row[i]) if i < len(row) else math.nan for row in rows], dtype=np.float64
        )
    return columns


def _float(text: str) -> float:
    try:
        return float(text) if text else math.nan
    except ValueError:
        return math.nan


def _truncate_metrics(path: Path, after_step: int) -> int:
    """Drop the rows of ``path`` logged after ``after_step`` (atomically); return how many."""
    if not path.is_file():
        return 0
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
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
        with open(tmp, "w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(rows)
        os.replace(tmp, path)
    finally:
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
        self._handle = open(self.path, mode, newline="", encoding="utf-8")  # noqa: SIM115
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
        with open(self.path, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
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
        """Flush and close the file (safe to call twice)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = self._writer = None


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
        """Flush and close the event file (safe to call twice)."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None


# --------------------------------------------------------------------------------------------
# Checkpoints and progress lines
# --------------------------------------------------------------------------------------------


class CheckpointKeeper(CheckpointEvery):
    """:class:`CheckpointEvery` with the replay buffer, kept only in the newest checkpoint.

    Every checkpoint stays a complete, loadable agent; only the newest keeps ``replay.npz``
    (which is what an exact resume needs), so a long run does not fill the disk with buffers.
    """

    def __init__(self, every: int, directory: str | Path) -> None:
        super().__init__(every, directory, replay=True)

    def on_tick(self, step: int) -> None:
        saved = len(self.saved)
        super().on_tick(step)
        if len(self.saved) > saved:
            prune_replays(self.directory)


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

    def __init__(self, path: Path, settings: dict[str, Any], env: Any = None) -> None:
        self.path = Path(path)
        self.settings = settings
        """The contents of ``config.yaml``."""
        self._env = env if env is not None else settings.get("env")
        self.check_warnings: list[Problem] = []
        """Warnings :func:`renshu.check_env` returned when the run was created."""

    # ---------------------------------------------------------------- properties
    @property
    def name(self) -> str:
        """The folder name (``catch-dqn-0``)."""
        return self.path.name

    @property
    def env(self) -> Any:
        """The environment argument the run trains on."""
        return self._env

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
    ) -> Run:
        """Check everything, then make a new run folder and write its ``config.yaml``.

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

        Raises:
            ConfigError: an option is unknown or out of range (no folder is made).
            EnvCheckError: the environment failed the check (no folder is made).
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
        warned: list[Problem] = []
        if check_env:
            warned = _check_trainable(env, algo)
        from renshu import __version__

        settings: dict[str, Any] = {
            "env": env if isinstance(env, str) else None,
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
        dump_yaml(settings, folder / CONFIG_FILE)
        run = cls(folder, settings, env)
        run.check_warnings = warned
        return run

    @classmethod
    def open(cls, path: str | Path, *, env: Any = None) -> Run:
        """Open an existing run folder (to resume, test or plot it).

        ``env`` is needed only when the run was created with an environment instance.
        """
        path = Path(path)
        settings = _read_settings(path)
        if settings["env"] is None and env is None:
            raise ConfigError(
                f"The run {str(path)!r} was trained on an environment object "
                f"({settings.get('env_name')}), which config.yaml cannot record. "
                "Open it from Python with Run.open(path, env=<the same environment>)."
            )
        return cls(path, settings, env)

    # ---------------------------------------------------------------- agents
    def resume_point(self) -> Path | None:
        """The newest complete checkpoint, or None if there is none yet.

        Raises CheckpointError when checkpoint folders exist but none is complete; warns about
        incomplete ones newer than the newest complete one (they are ignored).
        """
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

    def load_agent(self, *, device: str | None = None, env: Any = None) -> DQN:
        """The final agent (``agent/``), or else the newest complete checkpoint."""
        overrides = {"device": device} if device else {}
        env = env if env is not None else self.env
        if self.agent_dir.is_dir():
            return _load(self.agent_dir, env, overrides)
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

    # ---------------------------------------------------------------- training
    def train(
        self,
        *,
        steps: int | None = None,
        device: str | None = None,
        gif: bool = True,
        test: bool = True,
        progress: bool | None = None,
        callbacks: Sequence[Callback] = (),
        log_every: int | None = None,
    ) -> RunResult:
        """Train up to ``steps`` total (default: the run's), resuming from the last checkpoint.

        Writes metrics, TensorBoard events and checkpoints while training; then a checkpoint
        at the last step, the learning curve, and (unless a signal stopped training) the final
        agent, a greedy test of ``test_episodes`` episodes and a GIF of the first one.
        """
        total = check_field(RunSettings, "steps", steps if steps is not None else self.steps)
        if device is not None:
            check_device(device)
        start_from = self.resume_point()
        files = {"config": self.path / CONFIG_FILE, "metrics": self.path / METRICS_FILE}
        if start_from is not None and int(start_from.name) >= total:
            start = int(start_from.name)
            result = RunResult(self.path, start, total, start, 0.0, files=files)
            result.notes.append(
                f"The run is already at step {start:,} of {total:,}; nothing to train. "
                "Pass a larger total (--steps) to train further."
            )
            return result
        agent = self._agent(start_from, device)
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
        keeper = CheckpointKeeper(int(self.settings["checkpoint_every"]), self.checkpoint_dir)
        every = log_every if log_every is not None else max(100, min(1_000, total // 50))
        started = time.perf_counter()
        try:
            history = agent.fit(
                total - start,
                callbacks=[csv_log, tb, keeper, *callbacks],
                progress=progress,
                log_every=every,
            )
            wall = time.perf_counter() - started
            files["tensorboard"] = self.path / "tb"
            # The resume point: a checkpoint at the last step (unless one was just written).
            newest = checkpoint.latest(self.checkpoint_dir)
            if newest is None or int(newest.name) != agent.num_steps:
                newest = agent.save_checkpoint(self.checkpoint_dir, replay=True)
                prune_replays(self.checkpoint_dir)
            files["checkpoint"] = newest
            files["learning_curve"] = self.plot_learning_curve()
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
            if history.interrupted:
                return result
            files["agent"] = agent.save(self.agent_dir)
            if test:
                scores = agent.test(episodes=int(self.settings["test_episodes"]), progress=False)
                result.test_scores = [float(r) for r in scores.history["episode_reward"]]
                row = {"test/mean_reward": result.test_mean, "test/std_reward": result.test_std}
                csv_log.write({"step": agent.num_steps, **row}, flush=True)
                for key, value in row.items():
                    tb.writer.add_scalar(key, value, agent.num_steps)
            if gif:
                self._gif(agent, result)
            return result
        finally:
            csv_log.close()
            tb.close()

    def _agent(self, start_from: Path | None, device: str | None) -> DQN:
        overrides = {"device": device} if device else {}
        if start_from is not None:
            return _load(start_from, self.env, overrides)
        if self.settings["algo"] != "dqn":  # pragma: no cover - one algorithm so far
            raise ConfigError(f"Training {self.settings['algo']!r} runs is not supported yet.")
        from renshu.agents.dqn import DQN, DQNConfig

        options = {**self.settings["config"], **overrides}
        custom = [k for k, v in options.items() if isinstance(v, str) and v.startswith("<custom")]
        if custom:
            raise ConfigError(
                f"The run {str(self.path)!r} was made with custom objects for "
                f"{', '.join(custom)}, which config.yaml records only by name. Train it from "
                "Python with Run.create(...).train()."
            )
        try:
            config = build(DQNConfig, options)  # the overrides were checked by train()
        except ConfigError as error:
            raise ConfigError(
                f"{str(self.path / CONFIG_FILE)!r} has a bad entry under config: {error} The "
                "file was edited or damaged; restore that entry (renshu train --help lists the "
                "options) and run again."
            ) from None
        return DQN(self.env, config=config)

    def plot_learning_curve(self, out: str | Path | None = None) -> Path:
        """Draw episode reward against step from ``metrics.csv`` (``plots/learning_curve.png``)."""
        from renshu.plots import learning_curve

        out = Path(out) if out is not None else self.path / "plots" / "learning_curve.png"
        data = self.metrics() if (self.path / METRICS_FILE).is_file() else {}
        rewards = data.get("charts/episode_reward", np.array([]))
        keep = ~np.isnan(rewards)
        steps = data.get("step", np.array([]))
        learning_curve(
            steps[keep] if steps.size else steps,
            rewards[keep],
            title=f"{self.name}: episode reward",
            out=out,
        )
        return out

    def _gif(self, agent: DQN, result: RunResult) -> None:
        from renshu.video import record_episode, render_fps, save_gif

        try:
            env = _render_env(self.env)
        except (RenshuError, TypeError, ValueError) as error:
            result.notes.append(
                f"No GIF: cannot build the env with render_mode='rgb_array' ({error})."
            )
            return
        if env is None:
            result.notes.append("No GIF: the environment does not render rgb_array frames.")
            return
        try:
            frames = record_episode(agent, env, max_frames=1_000)
        except Exception as error:  # rendering is optional: report why, keep the run
            result.notes.append(f"No GIF: rendering failed ({type(error).__name__}: {error}).")
            return
        finally:
            env.close()
        if frames:
            result.files["gif"] = save_gif(
                frames, self.path / "videos" / "test.gif", fps=render_fps(env)
            )


def _load(path: Path, env: Any, overrides: Mapping[str, Any]) -> DQN:
    """``renshu.load`` with the errors of a mismatched network or optimizer named as such."""
    try:
        agent: DQN = checkpoint.load(path, env=env, **overrides)
    except (ValueError, KeyError, RuntimeError) as error:
        if isinstance(error, RenshuError):
            raise
        raise CheckpointError(
            f"{str(path)!r} cannot be loaded into a new agent ({type(error).__name__}: {error}). "
            "It was probably saved by another version of renshu; train a new run, or load it "
            "with the version that saved it."
        ) from None
    return agent


def _render_env(env: Any) -> Any:
    """``env`` built with ``render_mode="rgb_array"``, or None if it does not render that."""
    from renshu.make import make
    from renshu.video import supports_rgb_array

    if not isinstance(env, str | type):
        return None
    built = make(env, render_mode="rgb_array")
    if not supports_rgb_array(built):
        built.close()
        return None
    return built


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


TRAINABLE_DESPITE = frozenset({"obs-out-of-bounds"})
"""Check errors an agent trains through (a Box observation a little outside its bounds, as in
tutorial 000's shower): ``train`` reports them as warnings instead of refusing."""


def _check_trainable(env: Any, algo: str) -> list[Problem]:
    """Run :func:`renshu.check_env`; raise only for problems that make training impossible."""
    from renshu.check import EnvCheckError, check_env

    try:
        return check_env(env, algo=algo)
    except EnvCheckError as error:
        if any(p.severity == "error" and p.code not in TRAINABLE_DESPITE for p in error.problems):
            raise
        return [dataclasses.replace(p, severity="warning") for p in error.problems]
