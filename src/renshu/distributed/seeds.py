"""Many seeds of one run, trained in parallel on Ray: :func:`train_seeds`.

    result = renshu.train_seeds("CartPole-v1", seeds=range(5), algo="ppo", steps=50_000)
    result.statistics.mean, result.statistics.ci_low, result.statistics.iqm
    result.path                      # runs/CartPole-v1-ppo-seeds-0-4

Each seed is an ordinary run folder (:class:`renshu.runs.Run`) inside one group folder
(:class:`renshu.runs.group.Group`: the summary, the statistics and the plot, none of which needs
Ray). This module only runs the seeds: one Ray task per seed, asking for as many CPUs as the
run's ``threads`` option (default 1), started through :func:`renshu.distributed.cluster.connect`
(a local Ray, or the cluster ``address`` / ``RAY_ADDRESS`` names).

A seed whose environment raises or whose training diverges is reported as failed (its run keeps
its checkpoints, as ``renshu train`` keeps them) and the other seeds go on. Ctrl+C (or SIGTERM)
stops the seeds under way after their current step, each saving a checkpoint as
:meth:`Run.train` does, and cancels those not started (their folders hold ``config.yaml``, so
``renshu train --resume RUN`` trains them); the summary and the plot are written from what
finished.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from renshu.errors import ConfigError, RenshuError
from renshu.runs.group import Group, SeedResult, Statistics, check_seeds, read_run

if TYPE_CHECKING:
    from renshu.distributed.cluster import ClusterInfo
    from renshu.presets import Preset
    from renshu.runs import Run

STOP_GRACE_S = 120.0
"""Seconds the seeds under way get to save a checkpoint after Ctrl+C before they are killed."""


@dataclass
class SeedsResult:
    """What :func:`train_seeds` did."""

    group: Group
    """The group folder and its summary."""
    results: list[SeedResult]
    """Each seed's result, in the order the seeds were given."""
    statistics: Statistics
    """The statistics of the seeds' final greedy test means."""
    summary: Path
    """``GROUP/group.yaml``."""
    plot: Path | None
    """``GROUP/plots/learning_curves.png`` (None when no run finished an episode)."""
    wall_time: float
    """Seconds from the first task's start to the last one's end."""
    cluster: ClusterInfo | None = None
    """The Ray the seeds ran on."""
    interrupted: str | None = None
    """``"SIGINT"`` or ``"SIGTERM"`` when a signal stopped the seeds, else None."""
    notes: list[str] = field(default_factory=list)
    """Things worth telling the user (e.g. why there is no plot)."""

    @property
    def path(self) -> Path:
        """The group folder."""
        return self.group.path

    @property
    def failed(self) -> list[SeedResult]:
        """The seeds whose training failed."""
        return [r for r in self.results if r.status == "failed"]


def train_seeds(
    env: Any,
    *,
    seeds: Iterable[int] = range(5),
    algo: str | None = None,
    steps: int | None = None,
    options: Mapping[str, Any] | None = None,
    preset: Preset | None = None,
    runs_dir: str | Path = "runs",
    name: str | None = None,
    checkpoint_every: int | None = None,
    test_episodes: int | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    check_env: bool = True,
    gif: bool = True,
    device: str | None = None,
    address: str | None = None,
    num_cpus: int | None = None,
    command: str | None = None,
    on_created: Callable[[Group, list[Run], ClusterInfo], None] | None = None,
    on_result: Callable[[SeedResult], None] | None = None,
) -> SeedsResult:
    """Train one run per seed in parallel on Ray, in a new group folder in ``runs_dir``.

    The arguments are those of :meth:`renshu.runs.Run.create` (``env``, ``algo``, ``steps``,
    ``options``, ``preset``, ``checkpoint_every``, ``test_episodes``, ``env_kwargs``), for
    every seed; ``name`` names the group folder (default ``<env>-<algo>-seeds-<seeds>``).
    The environment is checked once (``check_env``); ``gif`` records each run's GIF.
    ``address`` (or ``RAY_ADDRESS``) joins a Ray cluster; ``num_cpus`` caps a local one.
    ``on_created(group, runs, cluster_info)`` is called once the folders exist,
    ``on_result(result)`` as each seed ends. The runs are created here (so every seed has a
    folder that ``renshu train --resume`` can continue) and trained in Ray tasks, with progress
    bars off.

    Raises:
        ConfigError: Ray is not installed, the address is malformed or unreachable, the seeds
            or the options are wrong (nothing is created).
        EnvCheckError: the environment failed the check (nothing is created).
    """
    from renshu.agents import DEFAULT
    from renshu.distributed import cluster
    from renshu.runs import Run, env_label
    from renshu.runs.group import reward_threshold

    seeds = check_seeds(seeds)
    algo = algo or DEFAULT
    cluster.check_address(address)
    cluster.require_ray("Training several seeds", address)
    with cluster.connect(address, num_cpus=num_cpus, what="Training several seeds") as info:
        made_runs_dir = not Path(runs_dir).exists()
        group = Group.create(
            runs_dir,
            env_name=env_label(env),
            algo=algo,
            seeds=seeds,
            name=name,
            settings={"env": env if isinstance(env, str) else None, "command": command},
        )
        try:
            runs = [
                Run.create(
                    env,
                    algo=algo,
                    steps=steps,
                    seed=seed,
                    options=options,
                    preset=preset,
                    runs_dir=group.path,
                    name=group.run_name(seed),
                    checkpoint_every=checkpoint_every,
                    test_episodes=test_episodes,
                    check_env=check_env and number == 0,
                    extra={"group": group.name, **({"command": command} if command else {})},
                    env_kwargs=env_kwargs,
                )
                for number, seed in enumerate(seeds)
            ]
            threads = int(runs[0].settings["config"].get("threads") or 1)
            if threads > info.cpus:
                raise ConfigError(
                    f"Each seed asks for threads={threads} CPUs, but the Ray it runs on has "
                    f"{info.cpus:g}, so no seed could start. Lower threads (--threads), or run "
                    "on a larger cluster (--ray-address)."
                )
        except BaseException:
            shutil.rmtree(group.path, ignore_errors=True)  # just made, holds only our files
            if made_runs_dir:
                with contextlib.suppress(OSError):
                    Path(runs_dir).rmdir()  # only if still empty
            raise
        first = runs[0].settings
        group.summary.update(
            {
                "env": first["env"],
                "env_kwargs": first["env_kwargs"],
                "steps": first["steps"],
                "test_episodes": first["test_episodes"],
                "options": dict(options or {}),
                "config": {k: v for k, v in first["config"].items() if k != "seed"},
                "reward_threshold": reward_threshold(env),
            }
        )
        results = {
            seed: SeedResult(seed, run.name, total_steps=run.steps)
            for seed, run in zip(seeds, runs, strict=True)
        }
        group.write(list(results.values()))
        if on_created is not None:
            on_created(group, runs, info)
        paths = [run.path.absolute() for run in runs]
        del runs  # the agents Run.create built: each task builds its own
        run_env = env if not isinstance(env, str) else first["env"]
        started = time.perf_counter()
        interrupted = _run_tasks(
            paths, run_env, results, device=device, gif=gif, threads=threads, on_result=on_result
        )
        wall = time.perf_counter() - started
    return _finish(group, results, wall, info, interrupted)


def _run_tasks(
    paths: list[Path],
    env: Any,
    results: dict[int, SeedResult],
    *,
    device: str | None,
    gif: bool,
    threads: int,
    on_result: Callable[[SeedResult], None] | None,
) -> str | None:
    """Train each run in a Ray task; fill ``results`` as they end. Returns the signal that
    stopped them (``"SIGINT"``, ``"SIGTERM"``) or None."""
    import ray

    task = ray.remote(num_cpus=threads, max_retries=0)(_train_seed)
    pending = {
        task.remote(str(path), env, device, gif): seed
        for seed, path in zip(results, paths, strict=True)
    }

    def collect(timeout: float) -> None:
        done, _ = ray.wait(list(pending), num_returns=1, timeout=timeout)
        for ref in done:
            seed = pending.pop(ref)
            _record(results[seed], _outcome(ray, ref))
            if on_result is not None:
                on_result(results[seed])

    try:
        while pending:
            collect(0.5)
        return None
    except BaseException as stop:
        if isinstance(stop, Exception):
            raise
        name = "SIGINT" if isinstance(stop, KeyboardInterrupt) else "SIGTERM"
    # A signal: the tasks under way stop after their current step and save a checkpoint (Ray
    # raises it in them as Ctrl+C); those not started are dropped.
    for ref in pending:
        ray.cancel(ref)
    deadline = time.monotonic() + STOP_GRACE_S
    with _ignoring_signals():
        while pending and time.monotonic() < deadline:
            collect(0.5)
    for ref, seed in pending.items():  # past the grace time: stop them
        ray.cancel(ref, force=True)
        results[seed].status = "stopped"
    return name


@contextlib.contextmanager
def _ignoring_signals() -> Any:
    """While the seeds under way save their checkpoints, more Ctrl+C presses do not cut that
    short (the grace time does)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _outcome(ray: Any, ref: Any) -> dict[str, Any]:
    """What the task returned, or why it has nothing (cancelled before it started, its worker
    died): never Ray's traceback."""
    try:
        outcome: dict[str, Any] = ray.get(ref)
    except ray.exceptions.TaskCancelledError:
        return {"status": "cancelled"}
    except ray.exceptions.RayError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return {"status": "failed", "error": f"{type(error).__name__}: {first}".rstrip(": ")}
    return outcome


def _record(result: SeedResult, outcome: Mapping[str, Any]) -> None:
    for key in ("status", "steps", "wall_time", "error", "test_mean", "test_std"):
        if outcome.get(key) is not None:
            setattr(result, key, outcome[key])


def _finish(
    group: Group,
    results: dict[int, SeedResult],
    wall: float,
    info: ClusterInfo,
    interrupted: str | None,
) -> SeedsResult:
    """Bring each result up to date from its run folder, write the summary and the plot."""
    ordered = []
    for seed, result in results.items():
        path = group.run_path(seed)
        read_run(path, result)
        if result.status == "not started":  # its outcome was lost to the signal: ask its folder
            if (path / "agent").is_dir():
                result.status = "done"
            else:
                result.status = "stopped" if (path / "checkpoints").is_dir() else "cancelled"
        ordered.append(result)
    stats = group.statistics(ordered)
    notes: list[str] = []
    plot: Path | None = None
    try:
        plot = group.plot()
    except ConfigError as error:
        notes.append(f"No plot: {error}")
    summary = group.write(ordered, stats)
    return SeedsResult(
        group=group,
        results=ordered,
        statistics=stats,
        summary=summary,
        plot=plot,
        wall_time=wall,
        cluster=info,
        interrupted=interrupted,
        notes=notes,
    )


def _train_seed(path: str, env: Any, device: str | None, gif: bool) -> dict[str, Any]:
    """A Ray task: train the run at ``path`` (made by :func:`train_seeds`) to its end.

    Returns a plain dict: status (done, stopped, cancelled, failed), steps, wall time, the final
    greedy test's mean and std, and the run's own error message when it failed. Ctrl+C (what
    ``ray.cancel`` raises here) stops training after the current step with a checkpoint.
    """
    import math
    import warnings

    started = time.perf_counter()
    outcome: dict[str, Any] = {"status": "failed"}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the driver printed the env check's warnings
            from renshu.errors import DivergenceError, EnvError
            from renshu.runs import Run

            run = Run.open(path, env=env)
            result = run.train(device=device, gif=gif, progress=False)
    except KeyboardInterrupt:  # cancelled before training installed its handler
        outcome["status"] = "cancelled"
    except (EnvError, DivergenceError) as error:
        kept = f" Kept {error.checkpoint}." if error.checkpoint is not None else ""
        outcome["error"] = f"{error}{kept}"
    except RenshuError as error:
        outcome["error"] = str(error)
    except Exception as error:  # the user's code (a callback, an env built oddly): its words
        outcome["error"] = f"{type(error).__name__}: {error}"
    else:
        stopped = result.interrupted is not None and not result.stopped_in_test
        mean = result.test_mean
        outcome.update(
            status="stopped" if stopped else "done",
            steps=result.steps,
            test_mean=None if math.isnan(mean) else mean,
            test_std=None if math.isnan(result.test_std) else result.test_std,
        )
    outcome["wall_time"] = time.perf_counter() - started
    return outcome
