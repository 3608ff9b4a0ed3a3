"""The exceptions renshu raises for mistakes a user can make.

Every error says what was expected, what was found, and how to fix it. The CLI prints the
message of a :class:`RenshuError` as one paragraph and exits non-zero, without a traceback.
"""

from __future__ import annotations


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

    code = errno.errorcode.get(error.errno or -1, "")
    reason, default_fix = _OS_REASONS.get(code, (error.strerror or str(error), ""))
    where = f" on {str(error.filename)!r}" if error.filename else ""
    if getattr(error, "filename2", None):
        where += f" (and {str(error.filename2)!r})"
    tag = f" ({code})" if code else ""
    advice = fix or default_fix
    return f"{doing} failed{where}: {reason}{tag}." + (f" {advice}." if advice else "")
