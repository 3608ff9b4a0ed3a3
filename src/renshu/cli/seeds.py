"""``renshu train ENV --seeds 0-4``: one run per seed, in parallel on Ray, in one group folder;
then a table of the seeds and the statistics of their final greedy tests."""

from __future__ import annotations

import argparse
import shlex
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from renshu.cli._text import _env_kwargs, _plural, _say
from renshu.errors import ConfigError

if TYPE_CHECKING:
    from renshu.distributed.cluster import ClusterInfo
    from renshu.distributed.seeds import SeedsResult
    from renshu.runs.group import Group, SeedResult


def run_seeds(args: argparse.Namespace, console: Console) -> int:
    """Train the seeds of ``--seeds``; 0 when all finished, 1 when one failed, 130/143 when a
    signal stopped them."""
    from renshu.agents import DEFAULT
    from renshu.check import EnvCheckError
    from renshu.cli.train import _check_failed, _check_warnings, _command_line, _preset
    from renshu.distributed.cluster import require_ray
    from renshu.runs.group import parse_seeds, seeds_label

    if args.seed is not None:
        raise ConfigError(
            f"--seeds {args.seeds} trains one run per seed it names, so --seed cannot be given "
            "with it. Put the seed in --seeds (e.g. --seeds 3), or leave --seeds out."
        )
    if args.resume is not None or args.checkpoint is not None:
        raise ConfigError(
            "--seeds starts new runs; --resume continues one run. Resume each seed's run on "
            "its own: renshu train --resume GROUP/RUN (renshu train --seeds prints them)."
        )
    if not args.env:
        raise ConfigError(
            "renshu train --seeds needs an environment (e.g. renshu train catch --seeds 0-4)."
        )
    seeds = parse_seeds(args.seeds)
    require_ray("renshu train --seeds")
    from renshu.distributed.seeds import train_seeds

    algo = args.algo or DEFAULT
    preset = _preset(args, algo)

    def created(group: Group, runs: list[Any], info: ClusterInfo) -> None:
        _check_warnings(runs[0], args.env, console)
        where = (
            f"a local Ray with {info.cpus:g} CPUs"
            if info.local
            else f"the Ray cluster at {info.address} ({info.cpus:g} CPUs)"
        )
        _say(
            console,
            f"Training {algo.upper()} on {args.env} for {runs[0].steps:,} steps, "
            f"{_plural(len(runs), 'seed')} ({seeds_label(group.seeds)}) on {where} -> "
            f"{group.path}",
        )
        _say(
            console,
            "Ctrl+C stops the seeds under way after their current step (each saves a "
            "checkpoint) and cancels those not started; renshu train --resume RUN continues "
            "any of them.",
        )

    def finished(result: SeedResult) -> None:
        _say(console, f"seed {result.seed}: {_status(result)}" + _score(result, prefix=", "))

    try:
        result = train_seeds(
            args.env,
            seeds=seeds,
            algo=algo,
            steps=args.steps,
            preset=preset,
            runs_dir=args.runs_dir or "runs",
            name=args.name,
            checkpoint_every=args.checkpoint_every,
            env_kwargs=_env_kwargs(args),
            check_env=not args.no_check,
            gif=not args.no_gif,
            device=args.device,
            command=_command_line(args),
            on_created=created,
            on_result=finished,
        )
    except EnvCheckError as error:
        raise _check_failed(error, args.env, algo, console) from None
    if result.interrupted:
        _say(
            console,
            f"Stopped by {result.interrupted}: the seeds under way saved a checkpoint, those "
            "not started were cancelled; nothing written was lost.",
        )
    _print_seeds(console, result)
    if result.interrupted:
        return 130 if result.interrupted == "SIGINT" else 143
    return 1 if result.failed else 0


def _status(result: SeedResult) -> str:
    if result.status == "failed":
        first = (result.error or "").strip().splitlines()
        return "failed" + (f": {first[0]}" if first else "")
    if result.status == "stopped":
        return f"stopped at step {result.steps:,} (checkpoint saved)"
    if result.status == "cancelled":
        return "cancelled before training"
    return result.status


def _score(result: SeedResult, prefix: str = "") -> str:
    if result.test_mean is None:
        return ""
    std = f" ± {result.test_std:.2f}" if result.test_std is not None else ""
    return f"{prefix}{result.test_mean:.2f}{std}"


def _seconds(value: float | None) -> str:
    from renshu.cli.train import _duration

    return _duration(value) if value is not None else ""


def _print_seeds(console: Console, result: SeedsResult) -> None:
    """The table of seeds, the statistics, where the files are and the commands that go on."""
    from renshu.runs import Run

    group = result.group
    table = Table(title=f"{group.name}: {_plural(len(result.results), 'seed')}", title_style="bold")
    table.add_column("seed", justify="right", no_wrap=True)
    table.add_column("status", overflow="fold")
    table.add_column("steps", justify="right", no_wrap=True)
    table.add_column("final greedy test (mean ± std)", justify="right", no_wrap=True)
    table.add_column("wall time", justify="right", no_wrap=True)
    for seed in result.results:
        steps = f"{seed.steps:,}" + (f" of {seed.total_steps:,}" if seed.status != "done" else "")
        style = {"failed": "red", "stopped": "yellow", "cancelled": "yellow"}.get(seed.status)
        table.add_row(
            str(seed.seed),
            Text(_status(seed), style=style or ""),
            steps,
            _score(seed) or "-",
            _seconds(seed.wall_time),
        )
    console.print(table)
    stats = result.statistics
    summary = Table(show_header=False, box=None, padding=(0, 2, 0, 0))
    summary.add_column(style="bold", no_wrap=True)
    summary.add_column(overflow="fold")
    counted = f"{_plural(len(stats.scores), 'seed')} with a final greedy test"
    if stats.scores:
        summary.add_row("mean", f"{stats.mean:.2f} ({counted})")
        summary.add_row(f"{stats.confidence:.0%} CI of the mean", stats.interval_text())
        summary.add_row("IQM", f"{stats.iqm:.2f} (interquartile mean)")
    else:
        summary.add_row("mean", f"none ({counted})")
    summary.add_row("threshold", stats.threshold_text())
    summary.add_row("wall time", _seconds(result.wall_time))
    console.print(summary)
    for note in result.notes:
        _say(console, note)
    errors = Console(stderr=True, highlight=False)
    for seed in result.failed:
        errors.print(
            Text.assemble(("error: ", "bold red"), f"seed {seed.seed}: {seed.error}"),
            soft_wrap=True,
        )
    _say(console, f"Group folder: {group.path.absolute()}")
    _say(console, f"Summary: {result.summary.absolute()}")
    if result.plot is not None:
        _say(console, f"Plot: {result.plot.absolute()}")
        _say(console, f"Redraw it: renshu plot {shlex.quote(str(group.path.absolute()))}")
    resumable = [s for s in result.results if s.status in ("stopped", "cancelled", "failed")]
    for seed in resumable:
        path = group.run_path(seed.seed)
        run = Run.open(path, env=group.summary.get("env") or "unknown")
        verb = "Fix the cause, then resume" if seed.status == "failed" else "Resume"
        _say(console, f"{verb} seed {seed.seed} with: {run.resume_command}")
    done = [s for s in result.results if s.status == "done"]
    if done and not resumable:
        run = Run.open(group.run_path(done[0].seed), env=group.summary.get("env") or "unknown")
        _say(console, f"Test a seed: {run.test_command}")
