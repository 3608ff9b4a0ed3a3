"""The ``renshu`` command.

Each subcommand is one ``add_<name>_command(subparsers)`` function that declares its arguments
and sets ``handler``, a function ``(args, console) -> exit code``; :data:`COMMANDS` lists them in
the order ``renshu --help`` shows them. Handlers import what they need when they run, so the
command starts fast (no torch at import time).

Exit codes: 0 success, 1 the command ran and found problems (``renshu check``), 2 a usage error,
a :class:`renshu.errors.RenshuError`, or a file that cannot be read or written (each printed as
one paragraph, no traceback; ``RENSHU_DEBUG=1`` shows the traceback of a file error), 130 Ctrl+C,
143 SIGTERM (handled from the start of :func:`main`).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from renshu import __version__
from renshu.errors import RenshuError

if TYPE_CHECKING:
    from renshu.check import Problem

    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

__all__ = ["COMMANDS", "build_parser", "main"]

Handler = Callable[[argparse.Namespace, Console], int]

ENV_HELP = (
    "the environment: a short name (shower, catch, catch16, cave), a Gymnasium id "
    "(CartPole-v1), path/to/file.py:ClassName or package.module:ClassName"
)
ENV_KWARGS_HELP = (
    "constructor arguments of the environment, e.g. --env-kwargs size=12 walls=true "
    "(values are YAML, as with --set)"
)

DESCRIPTION = """\
renshu: deep reinforcement learning for people who write their own environments.

Train an agent into a run folder (config, metrics, TensorBoard, checkpoints, plots, GIF), test
it, plot runs side by side, check an environment, or watch a random agent play it."""

EPILOG = """\
examples:
  renshu train catch                        train with the preset; writes runs/catch-dqn-0
  renshu train shower --steps 5000 --set gamma=0.9 --set double=true
  renshu train --resume runs/catch-dqn-0    continue after Ctrl+C, from the last checkpoint
  renshu test runs/catch-dqn-0 --episodes 10 --gif
  renshu plot runs/catch-dqn-0 runs/catch-dqn-1 --metric losses/td_loss
  renshu check my_env.py:ShowerEnv          explain what is wrong with an environment
  renshu check CartPole-v1 --algo dqn       ...and whether DQN can handle its actions
  renshu random shower --episodes 25        the tutorial's random-agent loop
  renshu random catch --episodes 1 --render ansi
  python -m renshu --version

Run `renshu COMMAND --help` for the options of one command."""


# --------------------------------------------------------------------------------------------
# renshu check
# --------------------------------------------------------------------------------------------


def add_check_command(subparsers: Subparsers) -> None:
    """``renshu check ENV [--algo ALGO]``."""
    parser = subparsers.add_parser(
        "check",
        help="explain what is wrong with an environment, with fixes",
        description=_paragraph(
            "Run Gymnasium's checker and renshu's probes on ENV and print every problem with "
            "its fix. An error means renshu cannot train on ENV as it is (`renshu train` "
            "refuses it); a warning means it trains, but watch out (`renshu train` prints the "
            "same warnings). Exit code: 0 when there are no errors (warnings only, or nothing "
            "found), 1 when there is at least one error, 2 when ENV cannot be built."
        ),
        epilog="example:\n  renshu check my_env.py:ShowerEnv --algo dqn",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("env", metavar="ENV", help=ENV_HELP)
    parser.add_argument(
        "--algo",
        choices=_algorithms(),
        help="also check that this algorithm can handle the observation and action spaces",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the probe (default 0)")
    _add_env_kwargs(parser)
    parser.set_defaults(handler=run_check)


def run_check(args: argparse.Namespace, console: Console) -> int:
    """Print the problems of ``args.env`` as a table; 1 if any is an error."""
    from renshu.check import EnvCheckError, check_env

    env = args.env
    if args.env_kwargs:
        from renshu.make import make_raw

        env = make_raw(args.env, **_env_kwargs(args))
    try:
        problems = check_env(env, algo=args.algo, seed=args.seed)
    except EnvCheckError as error:
        problems = error.problems
    errors = sum(p.severity == "error" for p in problems)
    if problems:
        console.print(_problem_table(problems))
    warned = len(problems) - errors
    if errors:
        console.print(
            Text.assemble(
                ("✗ ", "bold red"),
                f"{args.env}: {_plural(errors, 'error')}, {_plural(warned, 'warning')}.",
            )
        )
        return 1
    tail = f" ({_plural(warned, 'warning')})" if warned else ""
    console.print(Text.assemble(("✓ ", "bold green"), f"{args.env} passed the check{tail}."))
    return 0


def _algorithms() -> list[str]:
    """The algorithms renshu has: the keys of :data:`renshu.agents.ALGORITHMS` (a light module:
    building the parser imports no torch)."""
    from renshu.agents import ALGORITHMS

    return sorted(ALGORITHMS)


def _problem_table(problems: Sequence[Problem]) -> Table:
    # overflow="fold": a long fix (a line of code) wraps onto the next line, never cut with "…"
    table = Table(show_lines=True, header_style="bold")
    table.add_column("severity", no_wrap=True)
    table.add_column("problem", ratio=3, overflow="fold")
    table.add_column("fix", ratio=2, overflow="fold")
    for problem in problems:
        style = "bold red" if problem.severity == "error" else "yellow"
        table.add_row(
            Text(problem.severity, style=style),
            Text.assemble((problem.code, "bold"), "\n", problem.message),
            Text(problem.fix),
        )
    return table


# --------------------------------------------------------------------------------------------
# renshu random
# --------------------------------------------------------------------------------------------


def add_random_command(subparsers: Subparsers) -> None:
    """``renshu random ENV [--episodes N] [--seed S] [--render ansi]``."""
    parser = subparsers.add_parser(
        "random",
        help="play ENV with random actions and print each episode's score",
        description=_paragraph(
            "The tutorial's random-agent loop: every step takes action_space.sample(); one "
            "'Episode:N Score:S' line per episode, then the mean, std, min and max."
        ),
        epilog="example:\n  renshu random shower --episodes 25 --seed 0",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("env", metavar="ENV", help=ENV_HELP)
    parser.add_argument(
        "--episodes", type=_positive_int, default=25, help="episodes to play (default 25)"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of resets and actions")
    parser.add_argument("--render", choices=("ansi", "human"), default=None, help="show every step")
    parser.add_argument(
        "--max-steps",
        type=_positive_int,
        default=None,
        help="end an episode after this many steps (default: when the env ends it)",
    )
    _add_env_kwargs(parser)
    parser.set_defaults(handler=run_random)


def run_random(args: argparse.Namespace, console: Console) -> int:
    """Play random episodes and print one score line each, then a summary."""
    import numpy as np

    from renshu.make import make

    env = make(
        args.env, **_env_kwargs(args), **({"render_mode": args.render} if args.render else {})
    )
    try:
        env.action_space.seed(args.seed)
        scores = [
            _random_episode(env, args, console, episode) for episode in range(1, args.episodes + 1)
        ]
    finally:
        env.close()
    values = np.asarray(scores, dtype=np.float64)
    _say(
        console,
        f"Summary: mean={values.mean():.2f} std={values.std():.2f} min={_num(values.min())} "
        f"max={_num(values.max())} episodes={len(scores)}",
    )
    return 0


def _random_episode(env: Any, args: argparse.Namespace, console: Console, episode: int) -> float:
    env.reset(seed=args.seed if episode == 1 else None)
    _show_frame(env, console)
    done, score, steps = False, 0.0, 0
    while not done:
        action = env.action_space.sample()
        _, reward, terminated, truncated, _ = env.step(action)
        _show_frame(env, console)
        score += float(reward)
        steps += 1
        done = terminated or truncated or steps == args.max_steps
    _say(console, f"Episode:{episode} Score:{_num(score)}")
    return score


def _show_frame(env: Any, console: Console) -> None:
    if env.render_mode == "ansi":
        frame = env.render()
        if frame is not None:
            _say(console, str(frame))


# --------------------------------------------------------------------------------------------
# renshu train
# --------------------------------------------------------------------------------------------

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

Presets: {presets} (others use default.yaml).
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


class Terminated(BaseException):
    """SIGTERM arrived outside the training loop (inside it, training stops cleanly).

    A BaseException, like KeyboardInterrupt, so ``except Exception`` does not swallow it."""


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


def _key_value(text: str) -> tuple[str, Any, str]:
    """``KEY=VALUE`` -> (key, the value read as YAML, the text as typed)."""
    from renshu.config import parse_value

    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE (e.g. gamma=0.95), got {text!r}")
    return key.replace("-", "_"), parse_value(value.strip()), text


def _command_line(args: argparse.Namespace) -> str:
    import shlex

    return shlex.join(["renshu", *getattr(args, "argv", [])])


def _natural_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


# --------------------------------------------------------------------------------------------
# renshu test
# --------------------------------------------------------------------------------------------


def add_test_command(subparsers: Subparsers) -> None:
    """``renshu test RUN [--episodes N] [--gif [PATH]] [--render MODE] [--seed S]``."""
    parser = subparsers.add_parser(
        "test",
        help="play a trained agent greedily and print each episode's score",
        description=_paragraph(
            "Load RUN/agent (or the run's newest checkpoint, or a saved agent folder) and play "
            "greedily: one 'Episode:N Score:S' line per episode, then the mean and std."
        ),
        epilog=(
            "examples:\n"
            "  renshu test runs/catch-dqn-0 --episodes 10\n"
            "  renshu test runs/catch-dqn-0 --gif       writes runs/catch-dqn-0/videos/test-1.gif\n"
            "  renshu test runs/catch-dqn-0 --gif catch.gif --seed 3\n"
            "  renshu test runs/shower-dqn-0 --episodes 1 --render ansi"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "run", metavar="RUN", help="a run folder (runs/catch-dqn-0) or a saved agent folder"
    )
    parser.add_argument(
        "--episodes",
        type=_positive_int,
        default=None,
        help="episodes to play (default: the run's test_episodes, or 10)",
    )
    parser.add_argument(
        "--gif",
        nargs="?",
        const=True,
        default=None,
        metavar="PATH",
        help="record the first episode as a GIF (default path RUN/videos/test-<n>.gif)",
    )
    parser.add_argument("--render", choices=("human", "ansi"), default=None, help="show every step")
    parser.add_argument("--seed", type=int, default=None, help="seed of the first reset")
    parser.add_argument(
        "--max-steps",
        type=_positive_int,
        default=None,
        metavar="N",
        help="end an episode after N steps, as truncated (default: the env's own time limit, "
        "else 10000 with a warning when an episode reaches it)",
    )
    parser.add_argument("--device", default=None, help='"cpu", "cuda", ... (default: as saved)')
    parser.add_argument(
        "--threads",
        type=_positive_int,
        default=None,
        metavar="N",
        help="CPU threads for torch and BLAS while testing (default: the agent's threads "
        "option, 1)",
    )
    _add_env_kwargs(parser, "; laid over the run's own (from its config.yaml)")
    parser.add_argument(
        "--env",
        metavar="ENV",
        default=None,
        help="the environment to test on (default: the one saved); needed for a Python file or "
        "module env, which renshu does not import from saved files unless named here",
    )
    parser.add_argument(
        "--trust-env",
        action="store_true",
        help="import the Python file or module the saved files name as the env",
    )
    parser.set_defaults(handler=run_test)


def run_test(args: argparse.Namespace, console: Console) -> int:
    """Play greedily, print the scores, optionally write a GIF."""
    from pathlib import Path

    import numpy as np
    from gymnasium.error import DependencyNotInstalled

    from renshu import checkpoint
    from renshu.errors import ConfigError, RunFileError, os_error_message
    from renshu.make import make
    from renshu.runs import Run, rgb_array_env
    from renshu.video import FrameRecorder, draw_score, render_fps, save_gif

    if args.gif is not None and args.render is not None:
        raise ConfigError(
            "--gif and --render cannot be combined (a GIF needs render_mode='rgb_array'). "
            "Run renshu test twice: once with --gif, once with --render."
        )
    path = Path(args.run)
    overrides: dict[str, Any] = {"device": args.device} if args.device else {}
    if args.threads is not None:
        overrides["threads"] = args.threads
    kwargs = _env_kwargs(args)
    if (path / "config.json").is_file():  # a saved agent folder
        agent = checkpoint.load(path, env=args.env, trust_env=args.trust_env, **overrides)
        run = _enclosing_run(path, env=args.env, trust_env=args.trust_env)
        env_spec = args.env or agent.env_spec
        if env_spec is None and agent._env_ref is not None:
            raise ConfigError(
                checkpoint.untrusted_env_message(agent._env_ref, where=repr(str(path)))
                + f" If you trust it, name it: renshu test {path} --env {agent._env_ref}, or "
                "add --trust-env."
            )
        if env_spec is None and run is not None and run._untrusted_env is None:
            env_spec = run.env  # an agent folder inside a run: the run names the env
        kwargs = {**(run.env_kwargs if run is not None else {}), **kwargs}
    else:
        run = Run.open(path, env=args.env, trust_env=args.trust_env)
        kwargs = run.settings["env_kwargs"] = {**run.env_kwargs, **kwargs}
        agent = run.load_agent(device=args.device, threads=args.threads)
        env_spec = run.env
    if env_spec is None:
        raise ConfigError(
            f"{str(path)!r} was trained on an environment object ({agent.env_name or 'unnamed'}), "
            "which saved files cannot record. Name it: renshu test "
            f"{path} --env my_env.py:ClassName, or from Python: renshu.load(path, env=...).test()."
        )
    episodes = args.episodes or (int(run.settings["test_episodes"]) if run else 10)
    env = None
    callbacks: list[Any] = []
    recorder = None
    try:
        if args.render is not None:
            env = make(env_spec, render_mode=args.render, **kwargs)
            if args.render == "ansi":
                callbacks.append(_ansi_printer(env, lambda text: _say(console, text)))
        elif args.gif is not None:
            env = rgb_array_env(env_spec, kwargs)  # the GIF was asked for: no render, exit 2
            recorder = FrameRecorder(env, max_frames=2_000, caption=draw_score(env), episodes=1)
            callbacks.append(recorder)
        elif kwargs or env_spec != agent.env_spec:
            env = make(env_spec, **kwargs)
        history = agent.test(
            episodes=episodes,
            env=env,
            seed=args.seed,
            callbacks=callbacks,
            progress=False,
            max_episode_steps=args.max_steps,
        )
    except DependencyNotInstalled as error:
        raise ConfigError(
            f"Rendering {env_spec!r} needs a package that is not installed: {error}."
        ) from None
    finally:
        if env is not None:
            env.close()
    scores = np.asarray(history.history["episode_reward"], dtype=np.float64)
    for number, score in enumerate(scores, 1):
        _say(console, f"Episode:{number} Score:{_num(score)}")
    _say(
        console,
        f"Summary: mean={scores.mean():.2f} std={scores.std():.2f} min={_num(scores.min())} "
        f"max={_num(scores.max())} episodes={len(scores)}",
    )
    if recorder is not None:
        if not recorder.frames:
            raise ConfigError(
                f"{env_spec} returned no frames from render() with render_mode='rgb_array', so "
                "no GIF was written. render() must return a (height, width, 3) uint8 array in "
                "that mode."
            )
        if isinstance(args.gif, str):
            out = Path(args.gif)
        else:
            base = run.path if run is not None else path
            out = _numbered(base / "videos", "test", ".gif")
        try:
            save_gif(recorder.frames, out, fps=render_fps(env))
        except OSError as error:
            raise RunFileError(
                os_error_message(
                    error, "Writing the GIF", "Pass --gif PATH to write it somewhere writable"
                )
            ) from None
        _say(console, f"GIF: {out}")
    return 0


def _enclosing_run(path: Any, *, env: Any = None, trust_env: bool = False) -> Any:
    """The run folder holding a saved-agent folder (RUN/agent, RUN/checkpoints/N), if any."""
    from renshu.runs import CONFIG_FILE, Run

    for parent in list(path.resolve().parents)[:2]:
        if (parent / CONFIG_FILE).is_file():
            try:
                return Run.open(parent, env=env, trust_env=trust_env)
            except RenshuError:
                return None
    return None


def _numbered(folder: Any, stem: str, suffix: str) -> Any:
    """``folder/stem-<n>suffix`` with the smallest n >= 1 not yet taken."""
    n = 1
    while (folder / f"{stem}-{n}{suffix}").exists():
        n += 1
    return folder / f"{stem}-{n}{suffix}"


def _ansi_printer(env: Any, write: Callable[[str], None]) -> Any:
    """A test callback that prints ``env.render()`` text after the reset and every step."""
    from renshu.callbacks import Callback

    class AnsiPrinter(Callback):
        def on_episode_begin(self, episode: int, logs: dict[str, Any]) -> None:
            self.show()

        def on_step_end(self, step: int, logs: dict[str, Any]) -> None:
            self.show()

        def show(self) -> None:
            frame = env.render()
            if frame is not None:
                write(str(frame))

    return AnsiPrinter()


# --------------------------------------------------------------------------------------------
# renshu plot
# --------------------------------------------------------------------------------------------


def add_plot_command(subparsers: Subparsers) -> None:
    """``renshu plot RUN [RUN ...] [--metric M] [--window W] [--out PATH]``."""
    parser = subparsers.add_parser(
        "plot",
        help="draw a metric of one or more runs on one figure",
        description=_paragraph(
            "Draw one column of each run's metrics.csv against the training step: the raw "
            "values faint, their rolling mean solid, one colour per run with a legend."
        ),
        epilog=(
            "examples:\n"
            "  renshu plot runs/catch-dqn-0              episode reward, with a rolling mean\n"
            "  renshu plot runs/rmsprop runs/graves --metric losses/td_loss\n"
            "  renshu plot runs/catch-dqn-* --window 50 --out catch.png\n"
            "\n"
            "metrics: charts/episode_reward, charts/episode_length, losses/td_loss,\n"
            "losses/q_values, charts/epsilon, charts/SPS, eval/mean_reward, test/mean_reward,\n"
            "or any other column of metrics.csv."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("runs", metavar="RUN", nargs="+", help="run folders")
    parser.add_argument(
        "--metric",
        default="charts/episode_reward",
        help="a metrics.csv column (default charts/episode_reward)",
    )
    parser.add_argument(
        "--window",
        type=_positive_int,
        default=None,
        help="rolling-mean window in points (default: about a tenth of them, at most 20)",
    )
    parser.add_argument(
        "--out",
        default=None,
        metavar="PATH",
        help="the PNG to write (default RUN/plots/<metric>.png for one run, "
        "compare-<metric>.png here for several)",
    )
    parser.set_defaults(handler=run_plot)


def run_plot(args: argparse.Namespace, console: Console) -> int:
    """Write the figure and print where it went."""
    from pathlib import Path

    from renshu.runs import plot_runs

    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", args.metric).strip("_") or "metric"
    if args.out is not None:
        out = Path(args.out)
    elif len(args.runs) == 1:
        out = Path(args.runs[0]) / "plots" / f"{slug}.png"
    else:
        out = Path(f"compare-{slug}.png")
    try:
        written = plot_runs(args.runs, metric=args.metric, window=args.window, out=out)
    except OSError as error:
        if isinstance(error, RenshuError):
            raise
        from renshu.errors import RunFileError, os_error_message

        raise RunFileError(
            os_error_message(
                error, "Writing the figure", "Pass --out PATH to write it somewhere writable"
            )
        ) from None
    _say(console, f"Wrote {written}")
    return 0


# --------------------------------------------------------------------------------------------
# The parser and main()
# --------------------------------------------------------------------------------------------

COMMANDS: tuple[Callable[[Subparsers], None], ...] = (
    add_train_command,
    add_test_command,
    add_plot_command,
    add_check_command,
    add_random_command,
)
"""Each adds one subcommand, in the order ``renshu --help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The ``renshu`` argument parser with every subcommand of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="renshu",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"renshu {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add_command in COMMANDS:
        add_command(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``renshu`` command; return its exit code.

    SIGTERM is handled from the first line: at any moment it ends the command with one line
    and exit code 143 (during training, after a checkpoint; see ``renshu train --help``).
    """
    previous = _handle_sigterm()
    try:
        return _main(argv)
    except Terminated:  # arrived before _main's handlers (e.g. while parsing)
        Console(stderr=True, highlight=False).print(Text(TERMINATED, style="bold"))
        return 143
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


TERMINATED = "Terminated by SIGTERM."


def _main(argv: Sequence[str] | None) -> int:
    console = Console(highlight=False)
    errors = Console(stderr=True, highlight=False)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 2
    args.argv = list(argv) if argv is not None else sys.argv[1:]
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    if handler in (run_train, run_test):
        _import_torch_holding_sigterm()
    with warnings.catch_warnings():
        warnings.showwarning = _warning_printer(errors)
        try:
            return handler(args, console)
        except KeyboardInterrupt:
            errors.print(Text("Interrupted.", style="bold"))
            return 130
        except Terminated:
            errors.print(Text(TERMINATED, style="bold"))
            return 143
        except RenshuError as error:
            errors.print(Text.assemble(("error: ", "bold red"), str(error)), soft_wrap=True)
            return 2
        except (OSError, UnicodeDecodeError) as error:
            # A file renshu could not read or write (a read-only or full disk, a damaged
            # file): the user's to fix, so one paragraph. Anything else is a bug and keeps its
            # traceback.
            if os.environ.get("RENSHU_DEBUG"):
                raise
            errors.print(
                Text.assemble(("error: ", "bold red"), _file_error_text(error, args)),
                soft_wrap=True,
            )
            return 2


def _handle_sigterm() -> Any:
    """Turn SIGTERM into :class:`Terminated`; the previous handler (None off the main thread)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def on_sigterm(signum: int, frame: Any) -> None:
        if _HOLDING[0]:
            _HELD.append(signum)
            return
        raise Terminated

    return signal.signal(signal.SIGTERM, on_sigterm)


_HELD: list[int] = []
"""SIGTERMs that arrived while torch was being imported (:func:`_import_torch_holding_sigterm`)."""
_HOLDING = [False]
"""True while torch is being imported: the SIGTERM handler then records instead of raising."""


def _import_torch_holding_sigterm() -> None:
    """Import torch with SIGTERM held back. Terminated raised by the handler while torch's C++
    start-up is calling into Python cannot unwind through it: the process aborts (SIGABRT)
    instead. A SIGTERM that arrives meanwhile is raised right after the import, where it ends
    the command cleanly. (Blocking the signal would not do: the handler runs in the main thread
    whichever thread the kernel hands the signal to.)"""
    _HOLDING[0] = True
    try:
        import torch  # noqa: F401
    finally:
        _HOLDING[0] = False
    if _HELD:
        _HELD.clear()
        raise Terminated


def _file_error_text(error: OSError | UnicodeDecodeError, args: argparse.Namespace) -> str:
    from renshu.errors import os_error_message

    command = "renshu " + (args.argv[0] if args.argv else "")
    debug = " (RENSHU_DEBUG=1 shows where.)"
    if isinstance(error, UnicodeDecodeError):
        return (
            f"{command} failed: a file it read is not UTF-8 text ({error.reason} at byte "
            f"{error.start}); it is probably damaged. Restore or remove it.{debug}"
        )
    return os_error_message(error, command) + debug


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _warning_printer(console: Console) -> Callable[..., None]:
    """A ``warnings.showwarning`` that prints one ``warning: ...`` paragraph, once per text:
    envs are built several times per command (check, training, test, GIF), and each build
    repeats the same warnings (the legacy adapter's, Gymnasium's Box precision)."""
    shown: set[str] = set()

    def show(message: Warning | str, *_: Any, **__: Any) -> None:
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(message)).removeprefix("WARN: ")
        if text in shown:
            return
        shown.add(text)
        console.print(Text.assemble(("warning: ", "bold yellow"), text), soft_wrap=True)

    return show


def _paragraph(text: str) -> str:
    """``text`` wrapped for a terminal (help texts use RawDescriptionHelpFormatter)."""
    import textwrap

    return textwrap.fill(text, width=90)


def _add_env_kwargs(parser: argparse.ArgumentParser, more: str = "") -> None:
    parser.add_argument(
        "--env-kwargs",
        metavar="KEY=VALUE",
        nargs="+",
        action="extend",
        type=_key_value,
        default=[],
        help=ENV_KWARGS_HELP + more,
    )


def _env_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """``--env-kwargs`` as a dict (values read as YAML)."""
    return {key: value for key, value, _ in getattr(args, "env_kwargs", [])}


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _say(console: Console, text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _num(value: float) -> str:
    return repr(round(float(value), 4))


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
