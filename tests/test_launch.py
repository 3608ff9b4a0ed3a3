"""The ``renshu`` command's entry point (src/renshu_launch.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from importlib.metadata import entry_points

import pytest

SIGNAL_DURING_IMPORT = """
import os, signal, sys
class Finder:
    def find_spec(self, name, path=None, target=None):
        if name == "gymnasium":  # what `import renshu` loads first
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.{signal})
        return None
sys.meta_path.insert(0, Finder())
import renshu_launch
sys.argv = ["renshu", "--version"]
sys.exit(renshu_launch.main())
"""


def test_the_renshu_command_starts_at_the_launcher() -> None:
    (script,) = entry_points(group="console_scripts", name="renshu")
    assert script.value == "renshu_launch:main"


@pytest.mark.parametrize(
    ("name", "code", "line"),
    [("SIGINT", 130, "Interrupted.\n"), ("SIGTERM", 143, "Terminated by SIGTERM.\n")],
)
def test_a_signal_while_renshu_is_imported_is_one_line_not_a_traceback(
    name: str, code: int, line: str
) -> None:
    """Ctrl+C in the first tenths of a second (NumPy and Gymnasium loading inside `import
    renshu`) printed a traceback from inside their imports; SIGTERM exited silently."""
    out = subprocess.run(
        [sys.executable, "-c", SIGNAL_DURING_IMPORT.replace("{signal}", name)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        timeout=120,
    )
    assert (out.returncode, out.stderr, out.stdout) == (code, line, "")


def test_without_a_signal_the_command_runs() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, renshu_launch; sys.argv = ['renshu', '--version'];"
            " sys.exit(renshu_launch.main())",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0 and out.stdout.startswith("renshu ")
