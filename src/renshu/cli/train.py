"""``renshu train``: train into a new run folder, or resume one."""

from __future__ import annotations

import argparse
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

if TYPE_CHECKING:
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
  renshu train --resume runs/catch-dqn-0         after Ctrl+C: continue from the last checkpoint
  renshu train --resume runs/catch-dqn-0 --steps 60000    train a finished run further

The run folder (runs/<env>-<algo>-<seed>, or -1, -2, ... if taken; nothing is overwritten):
  config.yaml  metrics.csv  tb/  checkpoints/<step>/  agent/  plots/learning_curve.png
  videos/test.gif
Ctrl+C (or SIGTERM) finishes the current step, saves a checkpoint and the plots, and exits 130
(143); `renshu train --resume RUN` continues from that checkpoint. Resume keeps the weights,
target network, optimizer state, replay buffer, step and episode counters and random states; it
restarts the environments, so the episodes under way at the checkpoint are cut (not counted as
episodes; metrics.csv marks each cut in checkpoint/cut_episodes and checkpoint/cut_steps).

Presets: {presets} (others use default.yaml: the defaults below, as renshu.DQN(env) does).
A preset file (--config) looks like:
  dqn:
    steps: 30000
    test_episodes: 20
    config: {{double: true, target_update: 500}}
or is a flat mapping of options (plus optional steps, test_episodes).

options for --set KEY=VALUE (values are YAML: 0.99, 1e-3, true or false, [64, 64], null):
{options}"""


def _options_help(width: int = 100) -> str:
    """The DQNConfig options with their defaults and docs, read without importing torch."""
    import textwrap

    from renshu.config import source_field_docs

    lines = []
    for name, (default, doc) in source_field_docs("renshu.agents.dqn", "DQNConfig").items():
        head = f"  {name}={_as_yaml(default)}" if default else f"  {name}"
        if name == "seed":
            head, doc = "  seed", "Set with --seed (default 0)."
        body = textwrap.wrap(" ".join(doc.replace("``", "`").split()), width - 6)
        lines.append(head)
        lines.extend(f"      {line}" for line in body)
    return "\n".join(lines)


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
        help="train an agent on ENV into a run folder (or --resume one)",
        description=_paragraph(
            "Train an agent on ENV with the environment's preset (see below), laid over with "
            "--config and --set. The environment is checked first. While training: metrics.csv, "
            "TensorBoard events and a checkpoint every tenth of the steps; at the end: the "
            "agent, a learning curve, a greedy test and a GIF of it, and a results table."
        ),
        epilog=TRAIN_EPILOG.format(presets=", ".join(available()), options=_options_help()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
        "--device", default=None, help='"cpu", "cuda", "cuda:1", ... (default: CUDA if present)'
    )
    parser.add_argument(
        "--runs-dir", default=None, metavar="DIR", help="where run folders go (default runs)"
    )
    parser.add_argument(
        "--name", default=None, help="the run folder's name (default <env>-<algo>-<seed>)"
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
        help="continue the run in folder RUN from its last complete checkpoint",
    )
    parser.add_argument(
        "--trust-env",
        action="store_true",
        help="with --resume: import the Python file or module that RUN's config.yaml names as "
        "its env (by default only built-in names and Gymnasium ids are; or give ENV)",
    )
    parser.set_defaults(handler=run_train)


def run_train(args: argparse.Namespace, console: Console) -> int:
    """Create (or reopen) a run folder, train, and print the results; 130/143 on a signal."""
    from renshu import presets
    from renshu.agents import DEFAULT
    from renshu.check import EnvCheckError
    from renshu.errors import ConfigError
    from renshu.runs import Run

    if args.resume is not None:
        run = _reopen(args)
        return _train(run, args, console, steps=args.steps, resumed=True)
    if not args.env:
        raise ConfigError(
            "renshu train needs an environment (e.g. renshu train catch), or --resume RUN to "
            "continue a run."
        )
    algo = args.algo or DEFAULT
    preset = presets.load(args.env, algo)
    if args.config is not None:
        preset = presets.load_file(args.config, algo, base=preset)
    options = {key: value for key, value, _ in args.options}
    if options:
        origin = " ".join(f"--set {text}" for _, _, text in args.options)
        preset = preset.with_options(options, origin=origin)
    flags = {"num_envs": args.num_envs, "device": args.device, "threads": args.threads}
    flags = {k: v for k, v in flags.items() if v is not None}
    if flags:
        origin = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in flags.items())
        preset = preset.with_options(flags, origin=origin)
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
        console.print(_problem_table(error.problems))
        errors = sum(p.severity == "error" for p in error.problems)
        raise ConfigError(
            f"{args.env} failed the environment check with {_plural(errors, 'error')} (see the "
            "table above), so no run was started. Fix them and train again (`renshu check "
            f"{args.env} --algo {algo}` re-checks without training), or pass --no-check to "
            "train anyway."
        ) from None
    if run.check_warnings:
        codes = ", ".join(sorted({p.code for p in run.check_warnings}))
        _say(
            console,
            f"check: {_plural(len(run.check_warnings), 'warning')} ({codes}); "
            f"`renshu check {args.env}` explains.",
        )
    return _train(run, args, console, steps=None, resumed=False)


def _reopen(args: argparse.Namespace) -> Any:
    from renshu.errors import ConfigError
    from renshu.runs import Run

    fixed = {
        "--config": args.config,
        "--set": args.options or None,
        "--seed": args.seed,
        "--num-envs": args.num_envs,
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
            "out (--steps, --device, --threads and --no-gif are allowed), or start a new run."
        )
    run = Run.open(args.resume, env=args.env, trust_env=args.trust_env)
    if args.env is not None and args.env != run.settings["env"]:
        raise ConfigError(
            f"The run {args.resume!r} trains {run.settings['env']!r}, not {args.env!r}. Leave "
            "ENV out with --resume (the run's config.yaml names it)."
        )
    return run


def _train(
    run: Any, args: argparse.Namespace, console: Console, *, steps: int | None, resumed: bool
) -> int:
    from renshu import checkpoint
    from renshu.errors import EnvError
    from renshu.runs import LineProgress

    total = steps if steps is not None else run.steps
    if resumed:
        found = checkpoint.latest(run.checkpoint_dir)
        where = f"step {int(found.name):,}" if found else "step 0 (no checkpoint yet)"
        _say(console, f"Resuming {run.path} from {where}, up to {total:,} steps.")
        if found is not None and int(found.name) < total:
            _say(console, _resume_keeps(run, int(found.name)))
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
        )
    except EnvError as error:
        _env_failed(error)
        return 1
    for note in result.notes:
        _say(console, note)
    if result.interrupted:
        _say(
            console,
            f"Stopped by {result.interrupted} at step {result.steps:,} of {result.total_steps:,}. "
            f"Saved {result.files['checkpoint']} and {result.files['learning_curve']}.",
        )
        if result.cut_episodes:
            _say(
                console,
                f"{_cut_words(result.cut_episodes, result.cut_steps)} under way there "
                f"{'was' if result.cut_episodes == 1 else 'were'} cut: not counted as "
                "episodes (metrics.csv marks the cut); a resume starts new episodes.",
            )
        _say(console, f"Resume with: {run.resume_command}")
        return 130 if result.interrupted == "SIGINT" else 143
    if result.steps > result.start_step:
        console.print(_results_table(run, result))
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
    return (
        "Kept from the checkpoint: weights, target network, optimizer state, replay buffer, "
        "step and episode counters, random states. Restarted: the environments, with new "
        f"episodes from step {step:,}; {restarted}."
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
    if error.resume:
        _say(errors, f"Fix the environment, then resume with: {error.resume}")


def _results_table(run: Any, result: Any) -> Table:
    table = Table(title=f"{run.name}: results", show_header=False, title_style="bold")
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    if result.test_scores:
        table.add_row(
            "test reward",
            f"{result.test_mean:.3f} ± {result.test_std:.3f} "
            f"(greedy, {_plural(len(result.test_scores), 'episode')})",
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
    if "tensorboard" in files:
        table.add_row("TensorBoard", f"tensorboard --logdir {files['tensorboard']}")
    if "checkpoint" in files:
        table.add_row("checkpoint", str(files["checkpoint"]))
    if "agent" in files:
        table.add_row("agent", f"{files['agent']}  (renshu test {run.path})")
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
    import shlex

    return shlex.join(["renshu", *getattr(args, "argv", [])])
