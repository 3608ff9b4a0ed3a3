"""``renshu tune``: a sweep of an algorithm's options on Ray Tune, each trial an ordinary run."""

from __future__ import annotations

import argparse
import math
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from renshu.cli._text import (
    ENV_HELP,
    _add_env_kwargs,
    _algorithms,
    _env_kwargs,
    _key_value,
    _natural_int,
    _paragraph,
    _plural,
    _positive_int,
    _say,
)

if TYPE_CHECKING:
    from renshu.cli._text import Subparsers
    from renshu.distributed.tune import SweepOutcome, Trial
    from renshu.presets import Preset

TUNE_EPILOG = """\
examples:
  renshu tune CartPole-v1 --algo ppo --trials 8 --steps 20000 \\
      --search learning_rate=loguniform:1e-4:1e-2
  renshu tune shower --algo dqn --search gamma=uniform:0.8:0.99 --search batch_size=choice:32,64
  renshu tune my_env.py:GridEnv --search-file space.yaml --seeds-per-trial 3
  renshu tune catch --ray-address 10.0.0.5:6379 --cpus-per-trial 2

Distributions (--search KEY=DIST; KEY is an option of --algo, see `renshu train --algo A -h`):
  uniform:A:B       a number drawn uniformly from [A, B]
  loguniform:A:B    a number whose logarithm is uniform (A > 0): learning rates
  randint:A:B       an integer from A to B - 1 (B is exclusive, as Ray Tune's tune.randint)
  choice:X,Y,Z      one of the values, each read as YAML (64, adam, true, 1e-3)
Every value a search can draw is checked against the option before any trial starts.
A search file (--search-file) maps options to the same text:
  learning_rate: loguniform:1e-4:1e-2
  batch_size: choice:64,128

The sweep folder (runs/tune-<env>-<algo>, or -1, -2, ... if taken):
  trial-000/ ...   one ordinary run folder per trial (per seed: trial-000-seed-1, ...)
  best.yaml        the best trial's settings, for renshu train --config
  plots/learning_curves.png   every trial's evaluations, the best highlighted
  ray/             Ray Tune's own records
Each run trains with --seed (the same seeds in every trial, so the options alone differ) and
plays a few greedy episodes on an evaluation env of its own every tenth of its steps; ASHA stops
the trials whose evaluations fall behind. A finished trial's score is its final greedy test
(the mean over its seeds); the best finished trial is written to best.yaml (a trial ASHA
stopped is never chosen: its score is an evaluation of a partly trained run), and
`renshu train ENV --algo A --config best.yaml --seed S` trains the same run again (same score).
Exit status: 0 when at least one trial finished, 1 when none did (each failed, or was stopped),
2 for bad input, 130 after Ctrl+C (trials stop; their run folders keep their checkpoints)."""


def add_tune_command(subparsers: Subparsers) -> None:
    """``renshu tune ENV --search KEY=DIST ...``."""
    parser = subparsers.add_parser(
        "tune",
        help="sweep an algorithm's options on Ray Tune, each trial a run folder",
        description=_paragraph(
            "Train --trials runs of --algo on ENV, each with options drawn from the search "
            "space (--search, --search-file) laid over the preset, --config and --set, on Ray "
            "Tune (a local Ray, or --ray-address). Poor trials are stopped early (ASHA); at "
            "the end: a table of the trials, their learning curves, and the best settings as "
            "a preset file for renshu train --config. Needs the ray extra: "
            "pip install 'renshu[ray]'."
        ),
        epilog=TUNE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("env", metavar="ENV", help=ENV_HELP)
    parser.add_argument(
        "--algo", choices=_algorithms(), default=None, help="algorithm (default dqn)"
    )
    parser.add_argument(
        "--search",
        metavar="KEY=DIST",
        action="append",
        default=[],
        help="search one option (repeatable), e.g. learning_rate=loguniform:1e-4:1e-2",
    )
    parser.add_argument(
        "--search-file",
        metavar="FILE",
        default=None,
        help="a YAML file of KEY: DIST lines (with --search: both, each option once)",
    )
    parser.add_argument(
        "--trials", type=_positive_int, default=8, help="trials to draw (default 8)"
    )
    parser.add_argument(
        "--steps",
        type=_positive_int,
        default=None,
        help="training steps of each run (default: the preset's)",
    )
    parser.add_argument(
        "--seed",
        type=_natural_int,
        default=None,
        help="the first seed of each trial's runs, and of the drawing (default 0)",
    )
    parser.add_argument(
        "--seeds-per-trial",
        type=_positive_int,
        default=1,
        metavar="K",
        help="runs per trial, seeds --seed to --seed + K - 1; its score is their mean (default 1)",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        default=None,
        help="a preset YAML file laid over the environment's preset (the search's base)",
    )
    parser.add_argument(
        "--set",
        dest="options",
        metavar="KEY=VALUE",
        action="append",
        type=_key_value,
        default=[],
        help="set one option of the base (repeatable), e.g. --set gamma=0.95",
    )
    parser.add_argument(
        "--cpus-per-trial",
        type=_positive_int,
        default=1,
        metavar="N",
        help="CPUs Ray reserves for each trial (default 1; each run trains with 1 thread)",
    )
    parser.add_argument(
        "--eval-episodes",
        type=_positive_int,
        default=5,
        metavar="N",
        help="greedy episodes of each evaluation that ASHA compares (default 5)",
    )
    parser.add_argument(
        "--ray-address",
        metavar="ADDRESS",
        default=None,
        help="join the Ray cluster at HOST:PORT (or auto) instead of starting a local Ray",
    )
    parser.add_argument(
        "--runs-dir", default=None, metavar="DIR", help="where the sweep folder goes (default runs)"
    )
    parser.add_argument(
        "--name", default=None, help="the sweep folder's name (default tune-<env>-<algo>)"
    )
    parser.add_argument(
        "--no-check",
        action="store_true",
        help="sweep even if the environment fails renshu check (at your own risk)",
    )
    _add_env_kwargs(parser)
    parser.set_defaults(handler=run_tune)


def run_tune(args: argparse.Namespace, console: Console) -> int:
    """Check everything, run the sweep, print its table; write the plot and best.yaml."""
    from renshu.agents import DEFAULT
    from renshu.distributed import cluster
    from renshu.distributed.tune import Sweep, run_sweep
    from renshu.make import absolute_env
    from renshu.runs.folders import _new_folder, env_label

    algo = args.algo or DEFAULT
    preset, dists = _base_and_space(args, algo)
    env = absolute_env(args.env)
    env_kwargs = _env_kwargs(args)
    if not args.no_check:
        _check(env, algo, env_kwargs, console)
    cluster.use_address(args.ray_address)
    seed = args.seed if args.seed is not None else 0
    steps = args.steps if args.steps is not None else preset.steps
    with cluster.connect(what="renshu tune") as info:
        folder = _new_folder(
            Path(args.runs_dir or "runs"), args.name or f"tune-{env_label(env)}-{algo}"
        ).absolute()
        sweep = Sweep(
            env=env,
            algo=algo,
            steps=steps,
            seeds=tuple(range(seed, seed + args.seeds_per_trial)),
            preset=preset,
            dists=tuple(dists),
            folder=folder,
            trials=args.trials,
            env_kwargs=env_kwargs,
            eval_episodes=args.eval_episodes,
            cpus_per_trial=args.cpus_per_trial,
            sample_seed=seed,
            command=shlex.join(["renshu", *getattr(args, "argv", [])]),
            torch_threads=_torch_threads(),
        )
        where = "a local Ray" if info.local else f"Ray at {info.address}"
        _say(
            console,
            f"Sweeping {algo.upper()} on {env_label(env)}: {_plural(args.trials, 'trial')} of "
            f"{steps:,} steps ({', '.join(str(d) for d in dists)}), {info.cpus:g} CPUs of "
            f"{where} -> {folder}",
        )
        outcome = run_sweep(sweep)
    return _report(console, sweep, outcome, env_kwargs)


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


def _base_and_space(args: argparse.Namespace, algo: str) -> tuple[Preset, list[Any]]:
    """The base preset (the env's, --config, --set, threads 1) and the checked search space."""
    from renshu import presets
    from renshu.distributed import search

    preset = presets.load(args.env, algo)
    if args.config is not None:
        preset = presets.load_file(args.config, algo, base=preset)
    options = {key: value for key, value, _ in args.options}
    if options:
        origin = " ".join(f"--set {text}" for _, _, text in args.options)
        preset = preset.with_options(options, origin=origin)
    if "threads" not in options:
        preset = preset.with_options({"threads": 1}, origin="renshu tune (threads=1)")
    dists = [search.parse(text) for text in args.search]
    if args.search_file is not None:
        dists.extend(search.load_file(args.search_file))
    dists = search.check_space(dists, presets.config_class(algo), algo)
    for corner, which in zip(search.corners(dists), ("lowest", "highest"), strict=False):
        preset.with_options(corner, origin=f"the search at its {which} values {corner}")
    return preset, dists


def _check(env: Any, algo: str, env_kwargs: dict[str, Any], console: Console) -> None:
    """Run renshu check once for all trials; its errors stop the sweep (as renshu train)."""
    from renshu.check import check_env
    from renshu.cli.check import _problem_table
    from renshu.errors import ConfigError
    from renshu.make import make_raw

    problems = check_env(make_raw(env, **env_kwargs) if env_kwargs else env, algo=algo)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        console.print(_problem_table(problems))
        raise ConfigError(
            f"{env} failed the environment check with {_plural(len(errors), 'error')} (see the "
            f"table above), so no trial was started. Fix them (`renshu check "
            f"{shlex.quote(str(env))} --algo {algo}` re-checks), or pass --no-check."
        )


def _report(console: Console, sweep: Any, outcome: SweepOutcome, env_kwargs: dict[str, Any]) -> int:
    """The table, the plot, best.yaml and the command that reproduces it; the exit status."""
    from renshu.distributed.tune import RAY_FOLDER

    best = outcome.best()
    console.print(_table(sweep, outcome, best))
    if outcome.trials:
        plot = _plot(sweep, outcome, best)
        _say(console, f"Learning curves: {plot}")
    if best is not None:
        path = _write_best(sweep, best)
        command = ["renshu", "train", str(sweep.env), "--algo", sweep.algo, "--config", str(path)]
        if env_kwargs:
            command += ["--env-kwargs", *(f"{k}={v}" for k, v in env_kwargs.items())]
        seeds = sweep.seeds
        _say(
            console,
            f"Best: trial {best.index}, score {best.score:.3f}. Settings: {path}\n"
            f"Reproduce it{'s first run' if len(seeds) > 1 else ''}: "
            f"{shlex.join([*command, '--seed', str(seeds[0])])}",
        )
        if len(seeds) > 1:
            _say(console, f"(its other runs: --seed {', '.join(map(str, seeds[1:]))})")
    if outcome.interrupted:
        unstarted = sweep.trials - len(outcome.trials)
        never = f" ({_plural(unstarted, 'trial')} never started)" if unstarted else ""
        _say(
            console,
            f"Interrupted: the trials stopped{never}; their run folders keep the checkpoints "
            f"they wrote (resume one with renshu train --resume RUN). Ray Tune's records: "
            f"{sweep.folder / RAY_FOLDER}",
        )
        return 130
    if best is None:
        _say(console, "No trial finished, so there is no best setting (see the table).")
        return 1
    return 0


STATUS = {
    "finished": "finished",
    "stopped": "stopped early (ASHA)",
    "failed": "failed",
    "interrupted": "interrupted",
}


def _table(sweep: Any, outcome: SweepOutcome, best: Trial | None) -> Table:
    table = Table(title=f"{sweep.folder.name}: trials", title_style="bold")
    table.add_column("trial", justify="right")
    for dist in sweep.dists:
        table.add_column(dist.key, justify="right")
    table.add_column("score", justify="right")
    table.add_column("steps", justify="right")
    table.add_column("status", overflow="fold")
    for trial in outcome.trials:
        status = STATUS[trial.status]
        if trial.message:
            status += f": {trial.message}"
        score = f"{trial.score:.3f}" if math.isfinite(trial.score) else "-"
        if trial.status != "finished" and math.isfinite(trial.score):
            score += " (eval)"
        style = "bold green" if trial is best else None
        values = [_value(trial.options.get(dist.key)) for dist in sweep.dists]
        table.add_row(str(trial.index), *values, score, f"{trial.step:,}", status, style=style)
    return table


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _plot(sweep: Any, outcome: SweepOutcome, best: Trial | None) -> Path:
    from renshu.plots import _figure, _style, save_figure

    fig = _figure()
    ax = fig.add_subplot()
    _style(ax)
    for trial in outcome.trials:
        if not trial.curve:
            continue
        steps, scores = zip(*trial.curve, strict=True)
        if trial is best:
            continue
        ax.plot(steps, scores, color="#999999", linewidth=1.0, alpha=0.7, marker=".")
    if best is not None and best.curve:
        steps, scores = zip(*best.curve, strict=True)
        ax.plot(
            steps,
            scores,
            color="#d62728",
            linewidth=2.4,
            marker="o",
            label=f"trial {best.index} (best)",
        )
        ax.legend(loc="best")
    ax.set_xlabel("training steps" + (" (over the trial's seeds)" if len(sweep.seeds) > 1 else ""))
    ax.set_ylabel("greedy score")
    ax.set_title(f"{sweep.folder.name}: {len(outcome.trials)} trials")
    return save_figure(fig, sweep.folder / "plots" / "learning_curves.png")


def _write_best(sweep: Any, best: Trial) -> Path:
    """``SWEEP/best.yaml``: the best trial's settings in the preset format, with a comment."""
    import os
    import uuid

    import yaml

    from renshu.distributed.search import as_options
    from renshu.presets import config_class

    options = as_options(best.options, sweep.dists, config_class(sweep.algo))
    section = {
        "steps": sweep.steps,
        "test_episodes": sweep.preset.test_episodes,
        "config": {**sweep.preset.config, **options},
    }
    seeds = ", ".join(map(str, sweep.seeds))
    header = (
        f"# renshu tune: the best of {sweep.trials} trials of {sweep.algo} on {sweep.env}.\n"
        f"# Trial {best.index} (seed{'s' if len(sweep.seeds) > 1 else ''} {seeds}): final greedy "
        f"test mean {best.score:.6g}.\n"
        f"# Searched: {', '.join(str(d) for d in sweep.dists)}\n"
    )
    text = header + yaml.safe_dump({sweep.algo: section}, sort_keys=False)
    path = sweep.folder / "best.yaml"
    tmp = path.with_name(f".best.yaml.tmp-{uuid.uuid4().hex[:8]}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
