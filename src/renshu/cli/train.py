"""``renshu train``: train into a new run folder, or resume one."""

from __future__ import annotations

import argparse
import shlex
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

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
from renshu.cli.check import _problem_table
from renshu.errors import RenshuError

if TYPE_CHECKING:
    from pathlib import Path

    from renshu.cli._text import Subparsers

TRAIN_EPILOG = """\
examples:
  renshu train catch                             the preset's steps and options, seed 0
  renshu train catch --seed 1 --steps 50000      -> runs/catch-dqn-1
  renshu train catch --set optimizer=rmsprop --name rmsprop
  renshu train catch --set optimizer=rmsprop_graves --name graves
  renshu plot runs/rmsprop runs/graves --metric losses/td_loss
  renshu train my_env.py:ShowerEnv --config my_preset.yaml --set net=[24,24]
  renshu train my_env.py:GridEnv --env-kwargs size=12 walls=true
  renshu train CartPole-v1 --algo ppo --seeds 0-4   five seeds in parallel (Ray): mean,
                                                 95% interval, IQM, one plot of all
  renshu train --resume runs/catch-dqn-0         after Ctrl+C: continue from the last checkpoint
  renshu train --resume runs/catch-dqn-0 --steps 60000    train a finished run further
  renshu train --resume runs/catch-dqn-0 --checkpoint 20000   resume from another checkpoint

The run folder (runs/<env>-<algo>-<seed>, or -1, -2, ... if taken; nothing is overwritten):
  config.yaml  metrics.csv  tb/  checkpoints/<step>/  agent/  plots/learning_curve.png
  videos/test.gif
Ctrl+C (or SIGTERM) finishes the current step, saves a checkpoint and the plots, and exits 130
(143); `renshu train --resume RUN` continues from that checkpoint. Resume keeps the step and
episode counters, random states and what the algorithm's checkpoint holds:
{keeps}
It restarts the environments, so the episodes under way at the checkpoint are cut (not counted as
episodes; metrics.csv marks each cut in checkpoint/cut_episodes and checkpoint/cut_steps).

Presets: {presets} (others use default.yaml: the defaults below, as renshu.DQN(env) does).
A preset file (--config) looks like:
  dqn:
    steps: 30000
    test_episodes: 20
    config: {{double: true, target_update: 500}}
or is a flat mapping of options (plus optional steps, test_episodes).

{options}"""


def _options_help(algo: str, width: int = 100) -> str:
    """The options of the algorithm ``algo`` (its config dataclass in
    :data:`renshu.agents.ALGORITHMS`) with their defaults and docs, read without importing
    torch; then how to see the other algorithms' options."""
    import textwrap

    from renshu.agents import ALGORITHMS
    from renshu.config import source_field_docs

    algorithm = ALGORITHMS[algo]
    module, _, class_name = algorithm.config.partition(":")
    lines = [
        f"options of --algo {algo}, {algorithm.summary}, for --set KEY=VALUE",
        "(values are YAML: 0.99, 1e-3, true or false, [64, 64], null):",
    ]
    for name, (default, doc) in source_field_docs(module, class_name).items():
        head = f"  {name}={_as_yaml(default)}" if default else f"  {name}"
        if name == "seed":
            head, doc = "  seed", "Set with --seed (default 0)."
        body = textwrap.wrap(" ".join(doc.replace("``", "`").split()), width - 6)
        lines.append(head)
        lines.extend(f"      {line}" for line in body)
    others = [name for name in ALGORITHMS if name != algo]
    if others:
        lines.append("")
        lines.extend(
            textwrap.wrap(
                f"The other algorithms ({', '.join(others)}) have options of their own: "
                f"`renshu train --algo {others[0]} --help` lists them.",
                width - 2,
            )
        )
    return "\n".join(lines)


def _keeps_help() -> str:
    """What each algorithm's checkpoint holds, one line each."""
    from renshu.agents import ALGORITHMS

    return "\n".join(f"  {name}: {', '.join(a.keeps)}" for name, a in ALGORITHMS.items())


def _as_yaml(source: str) -> str:
    """A Python default as written (``1_000``, ``False``, ``"adam"``) as YAML (``1000``,
    ``false``, ``adam``); left as is when it is not a literal."""
    import ast

    import yaml

    try:
        value = ast.literal_eval(source)
    except (ValueError, SyntaxError):
        return source
    text: str = yaml.safe_dump(value, default_flow_style=True).strip()
    return text.removesuffix("...").strip()


def add_train_command(subparsers: Subparsers) -> None:
    """``renshu train ENV [options]`` and ``renshu train --resume RUN``."""
    from renshu.presets import available

    parser = subparsers.add_parser(
        "train",
        add_help=False,  # -h lists the options of --algo, which may come after it
        help="train an agent on ENV into a run folder (or --resume one)",
        description=_paragraph(
            "Train an agent on ENV with the environment's preset (see below), laid over with "
            "--config and --set. The environment is checked first. While training: metrics.csv, "
            "TensorBoard events and a checkpoint every tenth of the steps; at the end: the "
            "agent, a learning curve, a greedy test and a GIF of it, and a results table."
        ),
        epilog=TRAIN_EPILOG.format(
            presets=", ".join(available()), options="{options}", keeps=_keeps_help()
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-h",
        "--help",
        action=_HelpAfterParsing,
        help="show this help and exit; with --algo ALGO it lists that algorithm's options",
    )
    parser.add_argument("env", metavar="ENV", nargs="?", help=ENV_HELP)
    parser.add_argument(
        "--algo", choices=_algorithms(), default=None, help="algorithm (default dqn)"
    )
    parser.add_argument(
        "--steps",
        type=_positive_int,
        default=None,
        help="total training steps (default: the preset's; with --resume: a new total)",
    )
    parser.add_argument(
        "--seed", type=_natural_int, default=None, help="seed of everything random (default 0)"
    )
    parser.add_argument(
        "--seeds",
        metavar="SEEDS",
        default=None,
        help="train one run per seed in parallel on Ray, e.g. 0-4, 0,2,5 or 0-3,7: run folders "
        "in one group folder (runs/<env>-<algo>-seeds-<SEEDS>) with group.yaml, the mean, a 95%% "
        "bootstrap interval and the interquartile mean of the final greedy tests, and "
        "plots/learning_curves.png (needs the ray extra: pip install 'renshu[ray]')",
    )
    parser.add_argument(
        "--ray-address",
        metavar="ADDR",
        default=None,
        help="the Ray cluster to run on: HOST:PORT (what `ray start --head` prints), "
        "ray://HOST:PORT or auto (default: a local Ray, or RAY_ADDRESS)",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        default=None,
        help="a preset YAML file laid over the environment's preset",
    )
    parser.add_argument(
        "--set",
        dest="options",
        metavar="KEY=VALUE",
        action="append",
        type=_key_value,
        default=[],
        help="set one option (repeatable), e.g. --set gamma=0.95 --set net=[64,64]",
    )
    parser.add_argument(
        "--num-envs",
        type=_positive_int,
        default=None,
        metavar="N",
        help="environments stepped together",
    )
    parser.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        metavar="N",
        help="A3C's Ray workers, each with its own --num-envs envs (--algo a3c)",
    )
    parser.add_argument(
        "--device", default=None, help='"cpu", "cuda", "cuda:1", ... (default: CUDA if present)'
    )
    parser.add_argument(
        "--runs-dir", default=None, metavar="DIR", help="where run folders go (default runs)"
    )
    parser.add_argument(
        "--name",
        default=None,
        help="the run folder's name (default <env>-<algo>-<seed>; with --seeds, the group "
        "folder's)",
    )
    parser.add_argument(
        "--checkpoint-every",
        type=_positive_int,
        default=None,
        metavar="STEPS",
        help="steps between checkpoints (default: a tenth of --steps, at least 1000)",
    )
    parser.add_argument(
        "--no-gif", action="store_true", help="skip the GIF of a test episode at the end"
    )
    parser.add_argument(
        "--no-check",
        action="store_true",
        help="train even if the environment fails renshu check (at your own risk)",
    )
    parser.add_argument(
        "--threads",
        type=_positive_int,
        default=None,
        metavar="N",
        help="CPU threads for torch and BLAS while training and testing: the threads option "
        "(default 1, fastest for small networks; raise it for a large CNN on an idle machine)",
    )
    _add_env_kwargs(parser)
    parser.add_argument(
        "--resume",
        metavar="RUN",
        default=None,
        help="continue the run in folder RUN from its newest checkpoint that loads (a damaged "
        "newer one is skipped, with a warning)",
    )
    parser.add_argument(
        "--checkpoint",
        type=_natural_int,
        default=None,
        metavar="STEP",
        help="with --resume: resume from RUN/checkpoints/STEP instead (newer checkpoints are "
        "moved aside to checkpoints/<step>.unused once training starts)",
    )
    parser.add_argument(
        "--trust-env",
        action="store_true",
        help="with --resume: import the Python file or module that RUN's config.yaml names as "
        "its env (by default only built-in names and Gymnasium ids are; or give ENV)",
    )
    parser.set_defaults(handler=run_train)


class _HelpAfterParsing(argparse.Action):
    """``-h``/``--help`` that keeps parsing, so ``--algo`` counts wherever it stands: it
    records the parser, and :func:`run_train` prints its help for that algorithm."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=None, **kwargs)

    def __call__(self, parser: Any, namespace: Any, values: Any, option: Any = None) -> None:
        setattr(namespace, self.dest, parser)


def print_help(args: argparse.Namespace, console: Console) -> int:
    """``renshu train [--algo ALGO] --help``: the help with the options of ALGO (default
    DQN's)."""
    from renshu.agents import DEFAULT

    parser: argparse.ArgumentParser = args.help
    text = parser.format_help().replace("{options}", _options_help(args.algo or DEFAULT))
    console.file.write(text)
    return 0


def run_train(args: argparse.Namespace, console: Console) -> int:
    """Create (or reopen) a run folder, train, and print the results; 130/143 on a signal."""
    if args.help is not None:
        return print_help(args, console)
    from renshu.agents import DEFAULT
    from renshu.check import EnvCheckError
    from renshu.errors import ConfigError
    from renshu.runs import Run

    if args.ray_address is not None:
        from renshu.distributed import cluster

        cluster.use_address(args.ray_address)  # every Ray user in this process joins it
    if args.seeds is not None:
        from renshu.cli.seeds import run_seeds

        return run_seeds(args, console)
    if args.resume is not None:
        run = _reopen(args)
        return _train(run, args, console, steps=args.steps, resumed=True)
    if args.checkpoint is not None:
        raise ConfigError(
            "--checkpoint STEP chooses the checkpoint a resume starts from; use it with "
            "--resume RUN (a new run has no checkpoints)."
        )
    if not args.env:
        raise ConfigError(
            "renshu train needs an environment (e.g. renshu train catch), or --resume RUN to "
            "continue a run."
        )
    algo = args.algo or DEFAULT
    preset = _preset(args, algo)
    try:
        run = Run.create(
            args.env,
            algo=algo,
            steps=args.steps,
            seed=args.seed if args.seed is not None else 0,
            preset=preset,
            runs_dir=args.runs_dir or "runs",
            name=args.name,
            checkpoint_every=args.checkpoint_every,
            extra={"command": _command_line(args)},
            check_env=not args.no_check,
            env_kwargs=_env_kwargs(args),
        )
    except EnvCheckError as error:
        raise _check_failed(error, args.env, algo, console) from None
    _check_warnings(run, args.env, console)
    return _train(run, args, console, steps=None, resumed=False)


def _preset(args: argparse.Namespace, algo: str) -> Any:
    """The env's preset for ``algo``, laid over with --config, --set and the option flags."""
    from renshu import presets

    preset = presets.load(args.env, algo)
    if args.config is not None:
        preset = presets.load_file(args.config, algo, base=preset)
    options = {key: value for key, value, _ in args.options}
    if options:
        origin = " ".join(f"--set {text}" for _, _, text in args.options)
        preset = preset.with_options(options, origin=origin)
    flags = {
        "num_envs": args.num_envs,
        "workers": args.workers,
        "device": args.device,
        "threads": args.threads,
    }
    flags = {k: v for k, v in flags.items() if v is not None}
    if flags:
        origin = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in flags.items())
        preset = preset.with_options(flags, origin=origin)
    return preset


def _check_failed(error: Any, env: str, algo: str, console: Console) -> RenshuError:
    """Print the problems of an env that failed the check; the error that ends the command."""
    from renshu.errors import ConfigError

    check = f"renshu check {_shell_env(env)} --algo {algo}"
    console.print(_problem_table(error.problems))
    errors = sum(p.severity == "error" for p in error.problems)
    return ConfigError(
        f"{env} failed the environment check with {_plural(errors, 'error')} (see the "
        f"table above), so no run was started. Fix them and train again (`{check}` "
        "re-checks without training), or pass --no-check to "
        "train anyway."
    )


def _check_warnings(run: Any, env: str, console: Console) -> None:
    """One line for the warnings the env check gave, if any."""
    if run.check_warnings:
        codes = ", ".join(sorted({p.code for p in run.check_warnings}))
        _say(
            console,
            f"check: {_plural(len(run.check_warnings), 'warning')} ({codes}); "
            f"`renshu check {_shell_env(env)}` explains.",
        )


def _shell_env(env: str) -> str:
    """``env`` for a command to paste in any folder: a file path made absolute, quoted."""
    from renshu.make import absolute_env

    return shlex.quote(str(absolute_env(env)))


def _reopen(args: argparse.Namespace) -> Any:
    from renshu.errors import ConfigError
    from renshu.runs import Run

    fixed = {
        "--config": args.config,
        "--set": args.options or None,
        "--seed": args.seed,
        "--num-envs": args.num_envs,
        "--workers": args.workers,
        "--name": args.name,
        "--runs-dir": args.runs_dir,
        "--checkpoint-every": args.checkpoint_every,
        "--algo": args.algo,
        "--no-check": args.no_check or None,
        "--env-kwargs": args.env_kwargs or None,
    }
    given = [flag for flag, value in fixed.items() if value is not None]
    if given:
        raise ConfigError(
            f"--resume continues a run with the settings in its config.yaml, so "
            f"{', '.join(given)} cannot be changed. Leave {'it' if len(given) == 1 else 'them'} "
            "out (--steps, --checkpoint, --device, --threads and --no-gif are allowed), or "
            "start a new run."
        )
    run = Run.open(args.resume, env=args.env, trust_env=args.trust_env)
    if args.env is not None and not _same_env(args.env, run):
        raise ConfigError(
            f"The run {args.resume!r} trains {run.settings['env']!r}, not {args.env!r}. Leave "
            "ENV out with --resume (the run's config.yaml names it)."
        )
    return run


def _same_env(env: str, run: Any) -> bool:
    """Whether ``env`` names the environment ``run`` trains (a file path may be written
    relative to the current folder, and recorded absolute or relative to another). When the
    recorded file is gone, a file of the same name with the same class is taken as it, moved."""
    from pathlib import Path

    from renshu.make import absolute_env, env_file, find_saved_env

    recorded = run.settings["env"]
    if env == recorded or absolute_env(env) == absolute_env(recorded):
        return True
    try:
        return bool(absolute_env(env) == find_saved_env(recorded, run.path))
    except RenshuError:
        given, saved = env_file(env), env_file(recorded)
        return (
            given is not None
            and saved is not None
            and (Path(given[0]).name, given[1]) == (Path(saved[0]).name, saved[1])
        )


def _train(
    run: Any, args: argparse.Namespace, console: Console, *, steps: int | None, resumed: bool
) -> int:
    from renshu.errors import DivergenceError, EnvError
    from renshu.runs import LineProgress

    total = steps if steps is not None else run.steps

    def resuming(found: Path | None) -> None:  # once the checkpoint has loaded, replay and all
        where = f"step {int(found.name):,}" if found else "step 0 (no checkpoint yet)"
        _say(console, f"Resuming {run.path} from {where}, up to {total:,} steps.")
        if found is not None and int(found.name) < total:
            _say(console, _resume_keeps(run, int(found.name)))
        stretched = run.schedule_change(total)
        if stretched is not None and (found is None or int(found.name) < total):
            _say(console, stretched)

    if resumed:
        found = run.resume_point(args.checkpoint)
        if found is not None and int(found.name) >= total:
            resuming(found)  # nothing to train: said before the run's note
    else:
        cfg = run.settings
        _say(
            console,
            f"Training {cfg['algo'].upper()} on {cfg['env']} for {total:,} steps, seed "
            f"{cfg['seed']} -> {run.path}",
        )
    tty = console.is_terminal
    callbacks = [] if tty else [LineProgress(total, lambda text: _say(console, text))]
    _say(console, f"Ctrl+C stops and saves; resume with: {run.resume_command}")
    try:
        result = run.train(
            steps=steps,
            device=args.device,
            threads=args.threads if resumed else None,  # a new run has it in its config
            gif=not args.no_gif,
            callbacks=callbacks,
            checkpoint_step=args.checkpoint if resumed else None,
            on_start=resuming if resumed else None,
        )
    except EnvError as error:
        _env_failed(error)
        return 1
    except DivergenceError as error:
        _diverged(error, run)
        return 1
    for note in result.notes:
        _say(console, note)
    if result.stopped_in_test:  # training is complete: show what the test played
        planned = int(run.settings["test_episodes"])
        _say(
            console,
            f"Stopped by {result.interrupted} during the final greedy test, after "
            f"{len(result.test_scores)} of {planned:,} episodes; training is complete "
            "and the agent saved. The results and learning curve below are from the episodes "
            f"that finished ({run.test_command} plays more).",
        )
        _print_results(console, run, result)
        return 130 if result.interrupted == "SIGINT" else 143
    if result.interrupted:
        _say(
            console,
            f"Stopped by {result.interrupted} at step {result.steps:,} of {result.total_steps:,}. "
            f"Saved {result.files['checkpoint']} and {result.files['learning_curve']}.",
        )
        if result.cut_episodes:
            _say(console, _cut_sentence(result.cut_episodes, result.cut_steps))
        _say(console, f"Resume with: {run.resume_command}")
        return 130 if result.interrupted == "SIGINT" else 143
    if result.steps > result.start_step:
        _print_results(console, run, result)
    return 0


def _resume_keeps(run: Any, step: int) -> str:
    """What a resume from the checkpoint at ``step`` keeps and what it restarts."""
    cut = run.cut_at(step)
    if cut is None:
        restarted = "the episodes under way at the checkpoint are cut (not counted as episodes)"
    elif cut[0]:
        were = "was" if cut[0] == 1 else "were"
        restarted = f"{_cut_words(*cut)} under way there {were} cut (not counted as episodes)"
    else:
        restarted = "no episode was under way there"
    from renshu.agents import get

    keeps = ", ".join(get(run.settings["algo"]).keeps)
    return (
        f"Kept from the checkpoint: {keeps}, step and episode counters, random states. "
        f"Restarted: the environments, with new episodes from step {step:,}; {restarted}."
    )


def _cut_sentence(episodes: int, steps: int) -> str:
    """What a checkpoint that stopped training cut, and what a resume does about it."""
    return (
        f"{_cut_words(episodes, steps)} under way there {'was' if episodes == 1 else 'were'} "
        "cut: not counted as episodes (metrics.csv marks the cut); a resume starts new episodes."
    )


def _cut_words(episodes: int, steps: int) -> str:
    """``1 episode (37 steps)`` / ``4 episodes (130 steps)``."""
    return f"{_plural(episodes, 'episode').capitalize()} ({_plural(steps, 'step')})"


def _env_failed(error: Any) -> None:
    """Print an env failure during training: the user's frames and what renshu was doing (in
    the message), the checkpoint kept, and how to resume."""
    errors = Console(stderr=True, highlight=False)
    errors.print(Text.assemble(("error: ", "bold red"), str(error)), soft_wrap=True)
    if error.checkpoint is not None:
        _say(errors, f"Saved {error.checkpoint} (the state before the failing step).")
        if error.cut_episodes:
            _say(errors, _cut_sentence(error.cut_episodes, error.cut_steps))
    if error.resume:
        _say(errors, f"Fix the environment, then resume with: {error.resume}")


def _diverged(error: Any, run: Any) -> None:
    """Print a divergence: what broke and which options to change (in the message), the
    checkpoint kept, and the two ways on."""
    errors = Console(stderr=True, highlight=False)
    errors.print(Text.assemble(("error: ", "bold red"), str(error)), soft_wrap=True)
    change = f" --set {error.retry}" if error.retry else ""
    new_run = (
        "start a new run with the option changed, e.g.: renshu train "
        f"{shlex.quote(str(run.settings['env']))} --algo {run.settings['algo']}{change}"
    )
    if error.checkpoint is None:
        _say(errors, f"No checkpoint was written before the divergence; {new_run}")
        return
    _say(
        errors,
        f"Kept {error.checkpoint}, the newest checkpoint, written before the divergence. "
        f"Resume with: {error.resume} (with the same options it diverges again, unless the "
        f"cause was in your env and you fixed it), or {new_run}",
    )


def _print_results(console: Console, run: Any, result: Any) -> None:
    """The results table, then the commands that go on from it, each on a line of its own
    outside the table (a table cell folds a long command into pieces that do not paste)."""
    console.print(_results_table(run, result))
    files = result.files
    if "agent" in files:
        _say(console, f"Test it: {run.test_command}")
    if "tensorboard" in files:
        logdir = shlex.quote(str(files["tensorboard"].absolute()))
        _say(console, f"TensorBoard: tensorboard --logdir {logdir}")


def _results_table(run: Any, result: Any) -> Table:
    table = Table(title=f"{run.name}: results", show_header=False, title_style="bold")
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    if result.test_scores:
        played = _plural(len(result.test_scores), "episode")
        if result.stopped_in_test:
            played += f" of {int(run.settings['test_episodes']):,}, stopped by {result.interrupted}"
        table.add_row(
            "test reward", f"{result.test_mean:.3f} ± {result.test_std:.3f} (greedy, {played})"
        )
    steps = f"{result.steps:,}"
    if result.start_step:
        steps += f" (resumed at {result.start_step:,})"
    table.add_row("steps", steps)
    table.add_row("wall time", _duration(result.wall_time))
    table.add_row("steps/s", f"{result.steps_per_second:,.0f}")
    files = result.files
    table.add_row("run folder", str(run.path))
    table.add_row("config", str(files["config"]))
    table.add_row("metrics", str(files["metrics"]))
    if "checkpoint" in files:
        table.add_row("checkpoint", str(files["checkpoint"]))
    if "agent" in files:
        table.add_row("agent", str(files["agent"]))
    table.add_row("learning curve", str(files["learning_curve"]))
    if "gif" in files:
        table.add_row("GIF", str(files["gif"]))
    return table


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{seconds:.1f}s"


def _command_line(args: argparse.Namespace) -> str:
    return shlex.join(["renshu", *getattr(args, "argv", [])])
