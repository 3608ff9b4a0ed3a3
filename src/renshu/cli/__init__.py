"""The ``renshu`` command.

Each subcommand is one ``add_<name>_command(subparsers)`` function that declares its arguments
and sets ``handler``, a function ``(args, console) -> exit code``; :data:`COMMANDS` lists them in
the order ``renshu --help`` shows them. Handlers import what they need when they run, so the
command starts fast (no torch at import time). One module per command
(:mod:`~renshu.cli.train`, ``test``, ``plot``, ``check``, ``random``); the parser and
:func:`main` are in :mod:`~renshu.cli.main`, shared helpers in ``_text``.

Exit codes: 0 success, 1 the command ran and found problems (``renshu check``), 2 a usage error,
a :class:`renshu.errors.RenshuError`, or a file that cannot be read or written (each printed as
one paragraph, no traceback; ``RENSHU_DEBUG=1`` shows the traceback of a file error), 130 Ctrl+C,
143 SIGTERM (handled from the start of :func:`main`).
"""

from renshu.cli._text import _algorithms as _algorithms
from renshu.cli.check import _problem_table as _problem_table
from renshu.cli.check import add_check_command as add_check_command
from renshu.cli.check import run_check as run_check
from renshu.cli.main import COMMANDS, build_parser, main
from renshu.cli.main import TERMINATED as TERMINATED
from renshu.cli.main import Terminated as Terminated
from renshu.cli.main import _handle_sigterm as _handle_sigterm
from renshu.cli.main import _import_torch_holding_sigterm as _import_torch_holding_sigterm
from renshu.cli.plot import add_plot_command as add_plot_command
from renshu.cli.plot import run_plot as run_plot
from renshu.cli.random import add_random_command as add_random_command
from renshu.cli.random import run_random as run_random
from renshu.cli.test import add_test_command as add_test_command
from renshu.cli.test import run_test as run_test
from renshu.cli.train import add_train_command as add_train_command
from renshu.cli.train import run_train as run_train

__all__ = ["COMMANDS", "build_parser", "main"]
