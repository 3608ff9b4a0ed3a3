"""``renshu check``: explain what is wrong with an environment."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from renshu.cli._text import (
    ENV_HELP,
    _add_env_kwargs,
    _algorithms,
    _env_kwargs,
    _paragraph,
    _plural,
)

if TYPE_CHECKING:
    from renshu.check import Problem
    from renshu.cli._text import Subparsers


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
