"""The ``renshu`` command's entry point, outside the ``renshu`` package so that it runs before
anything heavy is imported.

``import renshu`` loads NumPy and Gymnasium, which takes a few tenths of a second; a Ctrl+C or
SIGTERM in that time would otherwise be a traceback from inside their imports. Here both are
held from the first instant until the command's own handlers take over (:func:`renshu.cli.main`),
and a signal that arrived meanwhile ends the command with the same one line and exit code as
later (130 for Ctrl+C, 143 for SIGTERM).
"""

from __future__ import annotations

import signal
import sys
from typing import Any


def main() -> int:
    """Import the command while holding SIGINT and SIGTERM, then run it."""
    arrived: list[int] = []

    def hold(signum: int, frame: Any) -> None:
        arrived.append(signum)

    previous = {s: signal.signal(s, hold) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        from renshu.cli import main as run_command
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if arrived:
        interrupted = arrived[0] == signal.SIGINT
        print("Interrupted." if interrupted else "Terminated by SIGTERM.", file=sys.stderr)
        return 130 if interrupted else 143
    return run_command()


if __name__ == "__main__":  # pragma: no cover - the console script calls main()
    sys.exit(main())
