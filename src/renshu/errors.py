"""The exceptions renshu raises for mistakes a user can make.

Every error says what was expected, what was found, and how to fix it. The CLI prints the
message of a :class:`RenshuError` as one paragraph and exits non-zero, without a traceback.
"""

from __future__ import annotations

import importlib.util
import os
import sysconfig
import traceback
from pathlib import Path


class RenshuError(Exception):
    """Base class of every error caused by user input (an env, a config, a file)."""


class EnvResolveError(RenshuError, ValueError):
    """An environment argument could not be turned into an environment."""


class ConfigError(RenshuError, ValueError):
    """A configuration option is unknown or out of its allowed range."""


class CheckpointError(RenshuError, OSError):
    """A saved agent or checkpoint is missing, incomplete, corrupt or foreign."""


class RunFileError(RenshuError, OSError):
    """A file or folder renshu reads or writes (a run folder, a figure, a GIF) is unusable:
    read-only, on a full disk, damaged, or a folder where a file belongs."""


_OS_REASONS = {
    "EROFS": ("the file system is read-only", "Make it writable, or write somewhere else"),
    "EACCES": ("permission denied", "Make it writable for you (chmod u+w), or write elsewhere"),
    "EPERM": ("the operation is not permitted", "Check its permissions, or write elsewhere"),
    "ENOSPC": ("the disk is full", "Free some space and try again"),
    "EDQUOT": ("the disk quota is exceeded", "Free some space and try again"),
    "EISDIR": ("it is a folder where a file belongs", "Move that folder out of the way"),
    "ENOTDIR": ("a part of the path is a file, not a folder", "Fix the path"),
    "ENOENT": ("it does not exist", "Check the path"),
}


def os_error_message(error: OSError, doing: str, fix: str | None = None) -> str:
    """One paragraph for an ``OSError``: what failed (``doing``), on which path, why, what to do.

    Example: ``Writing the GIF failed on 'runs/x/videos/test-1.gif': the file system is
    read-only (EROFS). Make it writable, or write somewhere else.``
    """
    import errno
    import os

    code = errno.errorcode.get(error.errno or -1, "")
    reason, default_fix = _OS_REASONS.get(code, (error.strerror or str(error), ""))
    where = f" on {os.fsdecode(error.filename)!r}" if error.filename else ""  # bytes too
    if getattr(error, "filename2", None):
        where += f" (and {os.fsdecode(error.filename2)!r})"
    tag = f" ({code})" if code else ""
    advice = fix or default_fix
    return f"{doing} failed{where}: {reason}{tag}." + (f" {advice}." if advice else "")


class EnvError(RenshuError):
    """The environment failed while renshu was using it: its ``step()`` or ``reset()`` raised
    (the original exception is the ``__cause__``), or it returned something it must not.

    A run (``renshu train``) saves a checkpoint of the state before the failing step and records
    it in ``checkpoint``, with the command that resumes from it in ``resume``.
    """

    doing: str = ""
    """What renshu was doing, e.g. ``"stepping env 0 at training step 1,234"``."""
    user_frames: tuple[traceback.FrameSummary, ...] = ()
    """The traceback entries in the user's own code (see :func:`user_frames`)."""
    checkpoint: Path | None = None
    """The checkpoint saved before the failing step, if one was saved."""
    resume: str | None = None
    """The command that resumes the run after the env is fixed, if there is a run."""
    cut_episodes: int = 0
    """Episodes under way that the saved checkpoint ended (not counted as episodes)."""
    cut_steps: int = 0
    """The steps those cut episodes had taken."""


class DivergenceError(RenshuError, ArithmeticError):
    """Training diverged: a loss, the weights or the actions became NaN or inf (see
    :mod:`renshu.train.divergence`). The message names what broke and the options to change
    (``learning_rate``, the reward scale, ``max_grad_norm``).

    Nothing diverged is saved: a run (``renshu train``) keeps its checkpoints, the newest of
    which is recorded in ``checkpoint``, with the command that resumes from it in ``resume``.
    """

    checkpoint: Path | None = None
    """The newest checkpoint of the run (written before the divergence), if there is one."""
    resume: str | None = None
    """The command that resumes the run from that checkpoint, if there is a run."""
    retry: str = ""
    """The option to change in a new run, as ``--set`` takes it (``learning_rate=0.0001``), or
    empty when the algorithm has no learning rate."""


def _package_dir(name: str) -> str | None:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:  # pragma: no cover - every one is a dependency
        return None
    return str(Path(spec.origin).resolve().parent)


_NOT_USER_DIRS = tuple(
    d + os.sep
    for d in (
        str(Path(__file__).resolve().parent),
        *(_package_dir(n) for n in ("gymnasium", "gym", "numpy", "torch")),
        str(Path(sysconfig.get_paths()["stdlib"]).resolve()),
    )
    if d
)


def user_frames(error: BaseException) -> tuple[traceback.FrameSummary, ...]:
    """The entries of ``error``'s traceback in the user's own code: outside renshu, Gymnasium,
    gym, NumPy, torch and the standard library (most recent call last)."""
    return tuple(
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if not frame.filename.startswith("<")
        and not str(Path(frame.filename).resolve()).startswith(_NOT_USER_DIRS)
    )
