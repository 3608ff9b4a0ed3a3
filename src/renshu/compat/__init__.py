"""Adapters for environments written against older APIs.

:mod:`renshu.compat.legacy` turns an object with the old gym API (``reset() -> obs``,
``step() -> (obs, reward, done, info)``, ``gym.spaces``, bare int/float observations) into a
:class:`gymnasium.Env`. :func:`renshu.make` applies it automatically.
"""

from __future__ import annotations

from renshu.compat.legacy import (
    ApiReport,
    LegacyEnv,
    LegacyEnvWarning,
    adapt,
    inspect_api,
    is_legacy,
    to_gymnasium_space,
)

__all__ = [
    "ApiReport",
    "LegacyEnv",
    "LegacyEnvWarning",
    "adapt",
    "inspect_api",
    "is_legacy",
    "to_gymnasium_space",
]
