"""renshu: deep reinforcement learning for people who write their own environments.

Public API re-exports only. Heavy modules (torch) load on first use, so ``import renshu`` and the
``renshu`` command start fast; the built-in environments are registered with Gymnasium on import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from renshu.envs import register_envs

__version__ = "0.1.0"

register_envs()

_EXPORTS: dict[str, str] = {
    "make": "renshu.make",
    "check_env": "renshu.check",
    "EnvCheckError": "renshu.check",
    "DQN": "renshu.agents.dqn",
    "DQNConfig": "renshu.agents.dqn",
    "load": "renshu.checkpoint",
    "Callback": "renshu.callbacks",
    "History": "renshu.callbacks",
    "EpisodeLogger": "renshu.callbacks",
    "CheckpointEvery": "renshu.callbacks",
    "EarlyStopOnReward": "renshu.callbacks",
    "Evaluate": "renshu.callbacks",
    "RMSpropGraves": "renshu.optim",
    "RenshuError": "renshu.errors",
    "ConfigError": "renshu.errors",
    "CheckpointError": "renshu.errors",
    "EnvResolveError": "renshu.errors",
}

__all__ = ["__version__", "register_envs", *_EXPORTS]

if TYPE_CHECKING:
    from renshu.agents.dqn import DQN, DQNConfig
    from renshu.callbacks import (
        Callback,
        CheckpointEvery,
        EarlyStopOnReward,
        EpisodeLogger,
        Evaluate,
        History,
    )
    from renshu.check import EnvCheckError, check_env
    from renshu.checkpoint import load
    from renshu.errors import CheckpointError, ConfigError, EnvResolveError, RenshuError
    from renshu.make import make
    from renshu.optim import RMSpropGraves


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'renshu' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
