"""renshu: deep reinforcement learning for people who write their own environments.

Public API re-exports only. Heavy modules (torch) load on first use, so ``import renshu`` and the
``renshu`` command start fast; the built-in environments are registered with Gymnasium on import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from renshu.envs import register_envs
from renshu.errors import CheckpointError, ConfigError, EnvResolveError, RenshuError
from renshu.make import make, make_vec  # eager: `renshu.make` is the function, not the module

__version__ = "0.1.0"

register_envs()

_EXPORTS: dict[str, str] = {
    "check_env": "renshu.check",
    "EnvCheckError": "renshu.check",
    "DQN": "renshu.agents.dqn",
    "DQNConfig": "renshu.agents.dqn",
    "DRQN": "renshu.agents.drqn",
    "DRQNConfig": "renshu.agents.drqn",
    "PPO": "renshu.agents.ppo",
    "PPOConfig": "renshu.agents.ppo",
    "A2C": "renshu.agents.a2c",
    "A2CConfig": "renshu.agents.a2c",
    "A3C": "renshu.agents.a3c",
    "A3CConfig": "renshu.agents.a3c",
    "load": "renshu.checkpoint",
    "Callback": "renshu.callbacks",
    "History": "renshu.callbacks",
    "EpisodeLogger": "renshu.callbacks",
    "CheckpointEvery": "renshu.callbacks",
    "EarlyStopOnReward": "renshu.callbacks",
    "Evaluate": "renshu.callbacks",
    "RMSpropGraves": "renshu.optim",
    "Run": "renshu.runs",
    "plot_observations": "renshu.plots",
    "save_gif": "renshu.video",
    "train_seeds": "renshu.distributed.seeds",
}
_MODULES = ("presets", "envs", "compat")
"""Submodules reachable as attributes after ``import renshu`` (``renshu.presets.load(...)``)."""

__all__ = [
    "CheckpointError",
    "ConfigError",
    "EnvResolveError",
    "RenshuError",
    "__version__",
    "make",
    "make_vec",
    "register_envs",
    *_EXPORTS,
]

if TYPE_CHECKING:
    from renshu.agents.a2c import A2C as A2C
    from renshu.agents.a2c import A2CConfig as A2CConfig
    from renshu.agents.a3c import A3C as A3C
    from renshu.agents.a3c import A3CConfig as A3CConfig
    from renshu.agents.dqn import DQN as DQN
    from renshu.agents.dqn import DQNConfig as DQNConfig
    from renshu.agents.drqn import DRQN as DRQN
    from renshu.agents.drqn import DRQNConfig as DRQNConfig
    from renshu.agents.ppo import PPO as PPO
    from renshu.agents.ppo import PPOConfig as PPOConfig
    from renshu.callbacks import Callback as Callback
    from renshu.callbacks import CheckpointEvery as CheckpointEvery
    from renshu.callbacks import EarlyStopOnReward as EarlyStopOnReward
    from renshu.callbacks import EpisodeLogger as EpisodeLogger
    from renshu.callbacks import Evaluate as Evaluate
    from renshu.callbacks import History as History
    from renshu.check import EnvCheckError as EnvCheckError
    from renshu.check import check_env as check_env
    from renshu.checkpoint import load as load
    from renshu.distributed.seeds import train_seeds as train_seeds
    from renshu.optim import RMSpropGraves as RMSpropGraves
    from renshu.plots import plot_observations as plot_observations
    from renshu.runs import Run as Run
    from renshu.video import save_gif as save_gif


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(f"renshu.{name}")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'renshu' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
