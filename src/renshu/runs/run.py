"""One training run: :class:`Run` creates or opens a run folder and trains into it;
:class:`RunResult` is what a training call did. See :mod:`renshu.runs` for the folder's
contents."""

from __future__ import annotations

import contextlib
import datetime
import errno
import math
import re
import shlex
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from renshu import agents as algorithms
from renshu import checkpoint
from renshu.callbacks import Callback
from renshu.config import build, check_field, dump_yaml, to_plain
from renshu.errors import (
    CheckpointError,
    ConfigError,
    DivergenceError,
    EnvError,
    RenshuError,
    RunFileError,
    os_error_message,
)
from renshu.runs.envs import NO_GIF_HELP, _agent_env, _check_trainable, rgb_array_env
from renshu.runs.folders import (
    CONFIG_FILE,
    METRICS_FILE,
    RunSettings,
    _dump_atomic,
    _is_ours,
    _new_folder,
    _new_run_error,
    _read_settings,
    _remove_new_run,
    check_device,
    default_every,
    env_label,
)
from renshu.runs.loggers import CheckpointKeeper, TensorBoardLogger, prune_replays
from renshu.runs.metrics import MetricsCSV, _truncate_metrics, read_metrics, record_cut

if TYPE_CHECKING:
    from renshu.check import Problem
    from renshu.presets import Preset
    from renshu.train.agent import Agent


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
    """``"SIGINT"`` or ``"SIGTERM"`` if a signal stopped training (or the final test), else
    None."""
    test_scores: list[float] = field(default_factory=list)
    """Rewards of the greedy test episodes (empty if training was interrupted; those finished
    if the test was)."""
    stopped_in_test: bool = False
    """True when the signal came during the final greedy test: training is complete (the agent
    saved), and the results are those of the test episodes that finished."""
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
        self._env_located = env is not None  # a file path from config.yaml is found on use
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
        self._new_agent: Agent | None = None  # built by create(), trained by the first train()
        self._made_here = False  # create() made the folder and nothing has trained in it yet
        # The checkpoint resume_point() chose and read, kept for the train() or load that
        # follows, by the step asked for; and the saved agents found unusable in this choice,
        # with why (warned once one is chosen).
        self._chosen: tuple[int | None, Path, checkpoint.Checkpoint] | None = None
        self._unusable: dict[Path, str] = {}
        self._warned: set[Path] = set()

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
            run = _shell_path(self.path)
            raise ConfigError(
                f"The run {str(self.path)!r} names its environment {ref!r} in config.yaml: "
                "Python code (a file or module) that renshu does not import from a run folder "
                "unless you say so (a run folder may come from someone else). If you trust it, "
                f"name it on the command line (renshu test {run} --env {shlex.quote(ref)}) or "
                f"add --trust-env ({self.test_command}, or {self.resume_command}); from Python, "
                f"Run.open(path, env={ref!r}) or Run.open(path, trust_env=True)."
            )
        if not self._env_located and isinstance(self._env, str):
            from renshu.make import find_saved_env

            self._env = find_saved_env(self._env, self.path)  # recorded relative: find it
            self._env_located = True
        return self._env

    @property
    def resume_command(self) -> str:
        """The shell command that continues this run, from any folder."""
        return self._command("train", "--resume")

    @property
    def test_command(self) -> str:
        """The shell command that plays this run's agent greedily, from any folder."""
        return self._command("test")

    def _command(self, *words: str) -> str:
        """``renshu WORDS RUN``, with the run's absolute path (quoted for the shell), and
        ``--trust-env`` when the env is Python code (a file or module): the user trained on
        that code, and a command about the run imports it only when told to."""
        env = self.settings.get("env")
        trust = isinstance(env, str) and not checkpoint.env_is_safe(env)
        return " ".join(["renshu", *words, _shell_path(self.path), *(["--trust-env"] * trust)])

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

    def schedule_change(self, total: int) -> str | None:
        """What training to ``total`` steps instead of the run's total does to the schedules
        that follow the length of training (PPO's linear learning rate, ...): they end at the
        new total, and from the resume point on take the values a run of that total has at each
        step. None when the total stays or no schedule follows it."""
        if total == self.steps:
            return None
        algorithm = algorithms.get(self.settings["algo"])
        names = algorithm.schedules_following_total(dict(self.settings.get("config") or {}))
        if not names:
            return None
        verb = "stretched" if total > self.steps else "shortened"
        return (
            f"Schedules {verb} from {self.steps:,} to {total:,} steps ({', '.join(names)}): from "
            f"here on each has the value a {total:,}-step run has at the same step."
        )

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
        from renshu.make import absolute_env

        if preset is None:
            preset = presets.load(env if isinstance(env, str) else "default", algo)
        env = absolute_env(env)  # a file path recorded absolute resolves from any folder
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
    def resume_point(self, step: int | None = None) -> Path | None:
        """The checkpoint a resume starts from: the one at ``step`` (``--checkpoint STEP``), or
        else the newest complete checkpoint that loads; None if there is none yet.

        Every candidate is read and checked whole (:func:`renshu.checkpoint.read`) and must
        belong to this run: its algorithm is the run's, its step its folder's name. A newer one
        that fails is skipped with a warning saying why and which one is used instead; one
        asked for by ``step`` is never replaced by another.

        Raises CheckpointError when ``step`` names no checkpoint or one that does not load, when
        checkpoint folders exist but none is complete, or when none loads; warns about
        incomplete ones newer than the one chosen (they are ignored).
        """
        self._chosen, self._unusable, self._warned = None, {}, set()  # look afresh
        found = self._checked(step)
        return found[0] if found is not None else None

    def _checked(self, step: int | None) -> tuple[Path, checkpoint.Checkpoint] | None:
        """The chosen checkpoint and what reading it gave (see :meth:`resume_point`)."""
        if self._chosen is not None and self._chosen[0] == step:
            return self._chosen[1], self._chosen[2]
        checkpoint.remove_leftovers(self.checkpoint_dir)
        if step is not None:
            path = self.checkpoint_dir / str(step)
            if not path.is_dir():
                steps = sorted(int(p.name) for p in self._complete_checkpoints())
                have = ", ".join(f"{s}" for s in steps) if steps else "none"
                raise CheckpointError(
                    f"The run {str(self.path)!r} has no checkpoint at step {step:,} "
                    f"({str(path)!r} does not exist); its complete checkpoints are at steps: "
                    f"{have}. Pass one of those to --checkpoint, or leave --checkpoint out to "
                    "use the newest one that loads."
                )
            ckpt = self._read_checkpoint(path)
            self._chosen = (step, path, ckpt)
            return path, ckpt
        complete = sorted(self._complete_checkpoints(), key=lambda p: -int(p.name))
        partial = self._incomplete_checkpoints()
        if not complete and partial:
            first = partial[-1]
            absent = [n for n in checkpoint.REQUIRED_FILES if not (first / n).is_file()]
            raise CheckpointError(
                f"{str(first)!r} is not a complete checkpoint (missing {', '.join(absent)}), and "
                f"the run {str(self.path)!r} has no complete one to resume from. It was probably "
                "cut off while being written. Delete the incomplete folder to train this run "
                "again from step 0, or start a new run."
            )
        for path in complete:
            if path in self._unusable:
                continue
            try:
                ckpt = self._read_checkpoint(path)
            except CheckpointError as error:
                self._unusable[path] = str(error)
                continue
            self._warn_unusable(path)
            for p in partial:
                if int(p.name) > int(path.name):
                    warnings.warn(
                        f"{str(p)!r} is an incomplete checkpoint and is ignored; resuming from "
                        f"{str(path)!r}.",
                        stacklevel=3,
                    )
            self._chosen = (None, path, ckpt)
            return path, ckpt
        if complete:
            newest = complete[0]
            raise CheckpointError(
                f"No checkpoint of the run {str(self.path)!r} loads: "
                f"each of its {len(complete)} complete checkpoint(s) was tried, newest first. "
                f"{str(newest)!r}: {self._unusable[newest]}"
            )
        return None

    def _read_checkpoint(self, path: Path) -> checkpoint.Checkpoint:
        """Read and check the saved agent at ``path`` and that it belongs to this run."""
        ckpt = checkpoint.read(path)
        checkpoint.check_in_run(ckpt, self.settings["algo"])
        return ckpt

    def _warn_unusable(self, used: Path) -> None:
        """Say which saved agents were skipped, and why, now that ``used`` was chosen."""
        for path, reason in self._unusable.items():
            if path not in self._warned:
                self._warned.add(path)
                warnings.warn(
                    f"{str(path)!r} cannot be used ({reason.rstrip('.')}); using {str(used)!r}.",
                    stacklevel=4,
                )

    def _load_chosen(
        self, step: int | None, env: Any, overrides: Mapping[str, Any]
    ) -> tuple[Path, Agent]:
        """Build the agent of the checkpoint :meth:`resume_point` chooses; one that is read but
        does not build (its tensors or state do not fit the agent) is skipped like a damaged
        one, unless ``step`` asked for it."""
        while True:
            found = self._checked(step)
            if found is None:
                raise CheckpointError(
                    f"The run {str(self.path)!r} has no checkpoint to load. Train it first "
                    f"({self.resume_command})."
                )
            path, ckpt = found
            self._chosen = None  # read once, loaded once
            try:
                return path, _build(ckpt, env, overrides)
            except CheckpointError as error:
                if step is not None:
                    raise
                self._unusable[path] = str(error)

    def _complete_checkpoints(self) -> list[Path]:
        if not self.checkpoint_dir.is_dir():
            return []
        return [
            child
            for child in self.checkpoint_dir.iterdir()
            if child.is_dir()
            and child.name.isdigit()
            and all((child / n).is_file() for n in checkpoint.REQUIRED_FILES)
        ]

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
        self,
        *,
        device: str | None = None,
        env: Any = None,
        threads: int | None = None,
        checkpoint_step: int | None = None,
    ) -> Agent:
        """The final agent (``agent/``), or else the newest complete checkpoint that loads (see
        :meth:`resume_point`); with ``checkpoint_step``, the checkpoint of that step.

        A final agent that does not load is skipped for the newest checkpoint that does, with
        a warning. ``threads`` replaces the agent's ``threads`` option (CPU threads while it
        tests)."""
        if device is not None:
            check_device(device)
        overrides: dict[str, Any] = {"device": device} if device else {}
        if threads is not None:
            overrides["threads"] = threads
        env = env if env is not None else self._agent_env_for_load()
        self._unusable, self._warned = {}, set()  # the folder may have changed since
        final = all((self.agent_dir / n).is_file() for n in checkpoint.REQUIRED_FILES)
        if checkpoint_step is None and final:
            try:
                ckpt = self._read_checkpoint(checkpoint.agent_path(self.path))
                return _build(ckpt, env, overrides)
            except CheckpointError as error:
                if not self._complete_checkpoints():
                    raise
                self._unusable[self.agent_dir] = str(error)
        if checkpoint_step is None and self._checked(None) is None:
            raise CheckpointError(
                f"The run {str(self.path)!r} has no agent yet: no agent/ folder and no "
                f"checkpoint. Train it first ({self.resume_command}), or pass another run."
            )
        return self._load_chosen(checkpoint_step, env, overrides)[1]

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
        checkpoint_step: int | None = None,
        on_start: Callable[[Path | None], None] | None = None,
    ) -> RunResult:
        """Train up to ``steps`` total (default: the run's), resuming from the newest
        checkpoint that loads (see :meth:`resume_point`), or from ``checkpoint_step``'s.
        ``on_start(checkpoint)`` is called once the agent is loaded, before training: with the
        checkpoint it was loaded from (a damaged newer one skipped), or None for a new agent.

        Writes metrics, TensorBoard events and checkpoints while training; then a checkpoint
        at the last step, (unless a signal stopped training) the final agent, a greedy test of
        ``test_episodes`` episodes and a GIF of the first one, and the learning curve with the
        test marked on it. ``threads`` replaces the agent's ``threads`` option for this call.
        A new total moves the end of the schedules that follow the run's length
        (:meth:`schedule_change` says which).

        A checkpoint ends the episodes under way (see the module doc); resuming restores what
        the algorithm's checkpoint keeps (``keeps`` of its entry in
        :data:`renshu.agents.ALGORITHMS`), the counters and random states, and starts new
        episodes. Resuming from a checkpoint older than others of the run moves the
        newer ones aside (``checkpoints/<step>.unused``): they are no longer its history.

        Raises:
            RunFileError: a file of the run cannot be written (read-only folder, full disk);
                nothing already written is removed.
        """
        total = check_field(RunSettings, "steps", steps if steps is not None else self.steps)
        if device is not None:
            check_device(device)
        if threads is not None:
            from renshu.agents import get

            threads = check_field(get(self.settings["algo"]).config_class(), "threads", threads)
        self._remove_leftovers()
        self._unusable, self._warned = {}, set()  # the folder may have changed since
        found = self._checked(checkpoint_step)  # as resume_point() chose, if it just did
        start_from = found[0] if found is not None else None
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
        agent: Agent | None = None
        try:
            start_from, agent = self._agent(start_from, device, threads, checkpoint_step)
            if on_start is not None:
                on_start(start_from)
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

    def _remove_leftovers(self) -> list[Path]:
        """Remove what an interrupted save left in the run: renshu's ``.NAME.tmp-*`` and
        ``.NAME.old-*`` folders (checkpoints, the agent) and ``.NAME.tmp-*`` files (config,
        metrics, plots, GIFs), whatever their age, since training the run owns it (a test or
        load leaves young ones alone: they may be a save under way). Nothing else is touched."""
        removed = [
            *checkpoint.remove_leftovers(self.checkpoint_dir, older_than=0),
            *checkpoint.remove_leftovers(self.path, older_than=0),
        ]
        for folder, names in _TEMP_FILES.items():
            try:
                children = list((self.path / folder).iterdir())
            except OSError:
                continue
            for child in children:
                if names.match(child.name) and child.is_file() and not child.is_symlink():
                    with contextlib.suppress(OSError):
                        child.unlink()
                        removed.append(child)
        return removed

    def _has_checkpoints(self) -> bool:
        return self.checkpoint_dir.is_dir() and any(self.checkpoint_dir.iterdir())

    def _train(
        self,
        agent: Agent,
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
        if start_from is not None:
            notes.extend(self._set_aside_after(start))
        if start_from is not None and (start_from / "replay.npz").is_file() is False:
            storage = algorithms.get(self.settings["algo"]).storage
            notes.append(
                f"{start_from} has no {storage}: training resumes with an empty one, so it "
                "will not match an uninterrupted run exactly."
            )
        csv_log = MetricsCSV(self.path / METRICS_FILE, algo=self.settings["algo"])
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
                error.checkpoint, cut = self._save_before_failure(agent, csv_log)
                error.cut_episodes, error.cut_steps = len(cut), int(sum(cut))
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
                result.test_scores, result.interrupted = self._final_test(agent)
                result.stopped_in_test = result.interrupted is not None
            if result.test_scores:
                row = {"test/mean_reward": result.test_mean, "test/std_reward": result.test_std}
                csv_log.write({"step": agent.num_steps, **row}, flush=True)
                for key, value in row.items():
                    tb.writer.add_scalar(key, value, agent.num_steps)
            csv_log.close()
            files["learning_curve"] = self.plot_learning_curve()
            if gif and not result.interrupted:
                self._gif(agent, result)
            return result
        except DivergenceError as error:  # nothing diverged was saved: point at what was
            error.checkpoint = checkpoint.latest(self.checkpoint_dir)
            error.resume = self.resume_command
            raise
        finally:
            csv_log.close()
            tb.close()

    def _set_aside_after(self, step: int) -> list[str]:
        """Move checkpoints newer than ``step`` (the one training resumes from: an older one
        was chosen, or the newer ones do not load) to ``checkpoints/<step>.unused``, so that
        training saves its own there and a later resume does not take them for its history.
        Nothing is deleted; returns what to tell the user."""
        notes = []
        for path in sorted(self.checkpoint_dir.iterdir(), key=lambda p: p.name):
            if not (path.is_dir() and path.name.isdigit() and int(path.name) > step):
                continue
            target = path.with_name(f"{path.name}.unused")
            number = 1
            while target.exists():
                number += 1
                target = path.with_name(f"{path.name}.unused-{number}")
            path.rename(target)
            notes.append(
                f"Moved {path} to {target.name}: it is newer than step {step:,}, where training "
                "resumed, so it is not this run's history any more. Delete it when you no "
                "longer need it."
            )
        return notes

    def _final_test(self, agent: Agent) -> tuple[list[float], str | None]:
        """Play the run's greedy test: the rewards of the episodes played, and the signal
        (``"SIGINT"``, ``"SIGTERM"``) that stopped it early, if one did. Ctrl+C or SIGTERM ends
        it after the current step, and the episodes finished still count: training is over by
        then, and a resume would have nothing left to train."""
        return test_until_signal(
            agent,
            episodes=int(self.settings["test_episodes"]),
            env=self.make_env() if self.env_kwargs else None,
            progress=False,
        )

    def _save_before_failure(
        self, agent: Agent, csv_log: MetricsCSV
    ) -> tuple[Path | None, list[int]]:
        """A checkpoint of the state before the step the env failed on (nothing of that step
        was stored; None if it cannot be written), and the lengths of the episodes it cut.
        ``metrics.csv`` marks the cut as at any checkpoint (lengths + cut steps = steps)."""
        newest = checkpoint.latest(self.checkpoint_dir)
        if newest is not None and int(newest.name) == agent.num_steps:
            return newest, []  # that checkpoint cut the episodes and recorded it
        cut = agent.episodes_in_progress()
        try:
            saved = agent.save_checkpoint(self.checkpoint_dir, replay=True)
        except (OSError, RenshuError):
            return newest, []
        prune_replays(self.checkpoint_dir)
        with contextlib.suppress(OSError):  # the checkpoint is saved; the mark is a note on it
            record_cut(csv_log, agent.num_steps, cut)
        return saved, cut

    def _agent(
        self,
        start_from: Path | None,
        device: str | None,
        threads: int | None,
        checkpoint_step: int | None = None,
    ) -> tuple[Path | None, Agent]:
        """The agent to train and the checkpoint it was loaded from (None: a new one)."""
        overrides: dict[str, Any] = {"device": device} if device else {}
        if threads is not None:
            overrides["threads"] = threads
        if start_from is not None:
            return self._load_chosen(checkpoint_step, self._agent_env_for_load(), overrides)
        built, self._new_agent = self._new_agent, None
        if built is not None and (device is None or device == built.config.device):
            if threads is not None:
                built.config.threads = threads
            return None, built
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
        agent: Agent = algorithm.agent_class()(self._agent_env_for_load(), config=config)
        return None, agent

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

    def _gif(self, agent: Agent, result: RunResult) -> None:
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


def test_until_signal(
    agent: Agent, *, callbacks: Sequence[Callback] = (), **options: Any
) -> tuple[list[float], str | None]:
    """``agent.test(**options)`` that Ctrl+C or SIGTERM ends after the current step (a second
    Ctrl+C at once): the rewards of the episodes that finished, and the name of the signal
    (``"SIGINT"``, ``"SIGTERM"``) if one ended it early, else None."""
    from renshu.callbacks import History
    from renshu.train.loop import signals

    played = History()
    with signals() as interrupted, contextlib.suppress(_Stopped):
        agent.test(**options, callbacks=[played, *callbacks, _StopOn(interrupted)])
    return [float(r) for r in played.history["episode_reward"]], interrupted.name


_TEMP_FILES = {
    ".": re.compile(r"^\.(config\.yaml|metrics\.csv)\.tmp-[0-9a-f]{8}$"),
    "plots": re.compile(r"^\..+\.png\.tmp-[0-9a-f]{8}$"),
    "videos": re.compile(r"^\..+\.gif\.tmp-[0-9a-f]{8}$"),
}
"""The temporary files renshu writes in a run folder (then renames into place), by folder."""


class _Stopped(Exception):
    """Raised by :class:`_StopOn` to end a test that a signal interrupted."""


class _StopOn(Callback):
    """Ends a test (by raising :class:`_Stopped`) after the step during which ``flag`` (from
    :func:`renshu.train.loop.signals`) was raised; an episode that step ended still counts."""

    def __init__(self, flag: Any) -> None:
        self.flag = flag

    def on_step_end(self, step: int, logs: dict[str, Any]) -> None:
        if self.flag and not (logs.get("terminated") or logs.get("truncated")):
            raise _Stopped

    def on_episode_end(self, episode: int, logs: dict[str, Any]) -> None:
        if self.flag:
            raise _Stopped


def _shell_path(path: Path) -> str:
    """``path`` absolute and quoted for the shell, so a printed command works when pasted in
    any folder."""
    return shlex.quote(str(path.absolute()))


def _build_agent(algo: str, env: Any, config: Any) -> Agent:
    """The agent a new run trains, built before its folder exists (so a failure leaves none)."""
    agent: Agent = algorithms.get(algo).agent_class()(env, config=config)
    return agent


def _build(ckpt: checkpoint.Checkpoint, env: Any, overrides: Mapping[str, Any]) -> Agent:
    """The agent of a checkpoint read for ``renshu test`` and ``--resume``: every failure is
    renshu's error.

    The env is the run's (already trusted or given by the user), so it is built as is.
    """
    try:
        agent: Agent = checkpoint.build(ckpt, env=env, **overrides)
    except RenshuError:
        raise
    except Exception as error:  # checkpoint.build wraps its own; this is the last guard
        raise CheckpointError(
            f"{str(ckpt.path)!r} cannot be loaded into a new agent ({type(error).__name__}: "
            f"{error}). Its files are damaged or were not written by this version of renshu; "
            "load another checkpoint."
        ) from None
    return agent
