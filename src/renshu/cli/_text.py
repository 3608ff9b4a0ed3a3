"""Small pieces the ``renshu`` commands share: argument types, help texts, printing."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from rich.console import Console

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

ENV_HELP = (
    "the environment: a short name (shower, catch, catch16, cave), a Gymnasium id "
    "(CartPole-v1), path/to/file.py:ClassName or package.module:ClassName"
)
ENV_KWARGS_HELP = (
    "constructor arguments of the environment, e.g. --env-kwargs size=12 walls=true "
    "(values are YAML, as with --set)"
)


def _algorithms() -> list[str]:
    """The algorithms renshu has: the keys of :data:`renshu.agents.ALGORITHMS` (a light module:
    building the parser imports no torch)."""
    from renshu.agents import ALGORITHMS

    return sorted(ALGORITHMS)


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
    return _whole(text, 1, "a positive integer")


def _say(console: Console, text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _num(value: float) -> str:
    return repr(round(float(value), 4))


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _natural_int(text: str) -> int:
    return _whole(text, 0, "an integer >= 0")


def _whole(text: str, minimum: int, what: str) -> int:
    """``text`` as an int >= ``minimum``: ``30000``, ``3e4`` or ``30_000``."""
    from renshu.config import whole_number

    value = whole_number(text)
    if value is None or value < minimum:
        why = " (not a whole number)" if value is None and _is_float(text) else ""
        raise argparse.ArgumentTypeError(
            f"expected {what}, got {text!r}{why}; 30000, 3e4 and 30_000 are accepted"
        )
    return value


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _key_value(text: str) -> tuple[str, Any, str]:
    """``KEY=VALUE`` -> (key, the value read as YAML, the text as typed)."""
    from renshu.config import parse_value

    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE (e.g. gamma=0.95), got {text!r}")
    return key.replace("-", "_"), parse_value(value.strip()), text


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
