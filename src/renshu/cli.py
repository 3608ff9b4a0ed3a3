"""The ``renshu`` command.

Each subcommand is one ``add_<name>_command(subparsers)`` function that declares its arguments
and sets ``handler``, a function ``(args, console) -> exit code``; :data:`COMMANDS` lists them in
the order ``renshu --help`` shows them. Handlers import what they need when they run, so the
command starts fast (no torch at import time).

Exit codes: 0 success, 1 the command ran and found problems (``renshu check``), 2 a usage error
or a :class:`renshu.errors.RenshuError` (printed as one paragraph, no traceback), 130 Ctrl+C.
"""

from __future__ import annotations

import argparse
import re
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

DESCRIPTION = """\
renshu: deep reinforcement learning for people who write their own environments.

Check an environment, or watch a random agent play it."""

EPILOG = """\
examples:
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
    from renshu.check import ALGORITHMS

    parser = subparsers.add_parser(
        "check",
        help="explain what is wrong with an environment, with fixes",
        description=(
            "Run Gymnasium's checker and renshu's probes on ENV and print every problem with "
            "its fix. Exits 0 if there are no errors (warnings are fine), 1 if there are."
        ),
        epilog="example:\n  renshu check my_env.py:ShowerEnv --algo dqn",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("env", metavar="ENV", help=ENV_HELP)
    parser.add_argument(
        "--algo",
        choices=sorted(ALGORITHMS),
        help="also check that this algorithm can handle the action space",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the probe (default 0)")
    parser.set_defaults(handler=run_check)


def run_check(args: argparse.Namespace, console: Console) -> int:
    """Print the problems of ``args.env`` as a table; 1 if any is an error."""
    from renshu.check import EnvCheckError, check_env

    try:
        problems = check_env(args.env, algo=args.algo, seed=args.seed)
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


def _problem_table(problems: Sequence[Problem]) -> Table:
    table = Table(show_lines=True, header_style="bold")
    table.add_column("severity", no_wrap=True)
    table.add_column("problem", ratio=3)
    table.add_column("fix", ratio=2)
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
        description=(
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
    parser.set_defaults(handler=run_random)


def run_random(args: argparse.Namespace, console: Console) -> int:
    """Play random episodes and print one score line each, then a summary."""
    import numpy as np

    from renshu.make import make

    env = make(args.env, **({"render_mode": args.render} if args.render else {}))
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
# The parser and main()
# --------------------------------------------------------------------------------------------

COMMANDS: tuple[Callable[[Subparsers], None], ...] = (add_check_command, add_random_command)
"""Each adds one subcommand; append ``add_train_command`` and friends here."""


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
    """Run the ``renshu`` command; return its exit code."""
    console = Console(highlight=False)
    errors = Console(stderr=True, highlight=False)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 2
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    with warnings.catch_warnings():
        warnings.showwarning = _warning_printer(errors)
        try:
            return handler(args, console)
        except KeyboardInterrupt:
            errors.print(Text("Interrupted.", style="bold"))
            return 130
        except RenshuError as error:
            errors.print(Text.assemble(("error: ", "bold red"), str(error)), soft_wrap=True)
            return 2


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _warning_printer(console: Console) -> Callable[..., None]:
    """A ``warnings.showwarning`` that prints one ``warning: ...`` paragraph."""

    def show(message: Warning | str, *_: Any, **__: Any) -> None:
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(message)).removeprefix("WARN: ")
        console.print(Text.assemble(("warning: ", "bold yellow"), text), soft_wrap=True)

    return show


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
