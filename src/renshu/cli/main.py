"""The ``renshu`` parser and :func:`main`: SIGTERM handling, error printing, exit codes."""

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
from rich.text import Text

from renshu import __version__
from renshu.cli._text import _file_error_text
from renshu.cli.check import add_check_command, run_check
from renshu.cli.plot import add_plot_command, run_plot
from renshu.cli.random import add_random_command
from renshu.cli.test import add_test_command, run_test
from renshu.cli.train import add_train_command, run_train
from renshu.cli.tune import add_tune_command, run_tune
from renshu.errors import RenshuError

if TYPE_CHECKING:
    from renshu.cli._text import Subparsers

Handler = Callable[[argparse.Namespace, Console], int]

DESCRIPTION = """\
renshu: deep reinforcement learning for people who write their own environments.

Train an agent into a run folder (config, metrics, TensorBoard, checkpoints, plots, GIF), sweep
its options on Ray Tune, test it, plot runs side by side, check an environment, or watch a random
agent play it."""

EPILOG = """\
examples:
  renshu train catch                        train with the preset; writes runs/catch-dqn-0
  renshu train shower --steps 5000 --set gamma=0.9 --set double=true
  renshu train --resume runs/catch-dqn-0    continue after Ctrl+C, from the last checkpoint
  renshu test runs/catch-dqn-0 --episodes 10 --gif
  renshu tune CartPole-v1 --algo ppo --search learning_rate=loguniform:1e-4:1e-2
                                            sweep on Ray Tune; writes runs/tune-CartPole-v1-ppo
  renshu plot runs/catch-dqn-0 runs/catch-dqn-1 --metric losses/td_loss
  renshu check my_env.py:ShowerEnv          explain what is wrong with an environment
  renshu check CartPole-v1 --algo dqn       ...and whether DQN can handle its actions
  renshu random shower --episodes 25        the tutorial's random-agent loop
  renshu random catch --episodes 1 --render ansi
  python -m renshu --version

Run `renshu COMMAND --help` for the options of one command."""

COMMANDS: tuple[Callable[[Subparsers], None], ...] = (
    add_train_command,
    add_tune_command,
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
    except KeyboardInterrupt:  # Ctrl+C as early (while torch loads): one line, as later
        Console(stderr=True, highlight=False).print(Text(INTERRUPTED, style="bold"))
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


TERMINATED = "Terminated by SIGTERM."
INTERRUPTED = "Interrupted."


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
    if _needs_torch(handler, args):
        _import_torch_holding_sigterm()
    with warnings.catch_warnings():
        warnings.showwarning = _warning_printer(errors)
        try:
            return handler(args, console)
        except KeyboardInterrupt:
            errors.print(Text(INTERRUPTED, style="bold"))
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


def _needs_torch(handler: Handler, args: argparse.Namespace) -> bool:
    """Whether the command imports torch (imported first, with signals held; see
    :func:`_import_torch_holding_sigterm`): train and test (not their help), plot (it reads
    run folders), check with --algo (it asks the algorithm)."""
    if getattr(args, "help", None) is not None:
        return False
    return handler in (run_train, run_tune, run_test, run_plot) or (
        handler is run_check and getattr(args, "algo", None) is not None
    )


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
"""SIGTERMs and SIGINTs that arrived while torch was being imported
(:func:`_import_torch_holding_sigterm`)."""
_HOLDING = [False]
"""True while torch is being imported: the SIGTERM handler then records instead of raising."""


def _import_torch_holding_sigterm() -> None:
    """Import torch with SIGTERM and SIGINT (Ctrl+C) held back. Terminated or
    KeyboardInterrupt raised while torch's C++ start-up is calling into Python cannot unwind
    through it cleanly (the process aborts with SIGABRT, or prints a traceback from inside
    torch). A signal that arrives meanwhile is raised right after the import, where it ends the
    command with one line. (Blocking the signal would not do: the handler runs in the main
    thread whichever thread the kernel hands the signal to.)"""
    import threading

    held_sigint = threading.current_thread() is threading.main_thread() and (
        signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )
    if held_sigint:
        signal.signal(signal.SIGINT, lambda signum, frame: _HELD.append(signum))
    _HOLDING[0] = True
    try:
        import torch  # noqa: F401
    finally:
        _HOLDING[0] = False
        if held_sigint:
            signal.signal(signal.SIGINT, signal.default_int_handler)
    if _HELD:
        first = _HELD[0]
        _HELD.clear()
        if first == signal.SIGINT:
            raise KeyboardInterrupt
        raise Terminated


class Terminated(BaseException):
    """SIGTERM arrived outside the training loop (inside it, training stops cleanly).

    A BaseException, like KeyboardInterrupt, so ``except Exception`` does not swallow it."""


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
