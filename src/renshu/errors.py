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
