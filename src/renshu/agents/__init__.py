"""Agents: one file per algorithm family, and the one list of algorithms renshu has.

:data:`ALGORITHMS` maps an algorithm's name (``--algo``, ``config.json``'s ``algo``, a preset's
section) to where its agent and config classes live and the metrics its training logs.
Checkpoints, presets, ``renshu check --algo``, ``renshu train --algo`` and run folders all read
it, so adding an algorithm means adding its file and one entry here. The classes are imported
only when asked for (this module stays light: the CLI builds its parser without torch).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from renshu.errors import ConfigError


@dataclass(frozen=True)
class Algorithm:
    """One algorithm: its name, where its classes live, what its training logs."""

    name: str
    """The name users type (``--algo dqn``) and saved files record."""
    agent: str
    """``module:Class`` of the agent (built lazily by :meth:`agent_class`)."""
    config: str
    """``module:Class`` of its dataclass config (built lazily by :meth:`config_class`)."""
    summary: str
    """One line for help texts."""
    metrics: tuple[str, ...]
    """The metric keys its training logs besides the shared ``charts/*`` ones."""

    def agent_class(self) -> Any:
        """The agent class (imports its module)."""
        return _import(self.agent)

    def config_class(self) -> Any:
        """The config dataclass (imports its module)."""
        return _import(self.config)


ALGORITHMS: dict[str, Algorithm] = {
    "dqn": Algorithm(
        name="dqn",
        agent="renshu.agents.dqn:DQN",
        config="renshu.agents.dqn:DQNConfig",
        summary="DQN with Double, Dueling, prioritized replay and n-step returns as options",
        metrics=("charts/epsilon", "losses/td_loss", "losses/q_values"),
    ),
    "ppo": Algorithm(
        name="ppo",
        agent="renshu.agents.ppo:PPO",
        config="renshu.agents.ppo:PPOConfig",
        summary="PPO (clipped surrogate, GAE) for every common action space",
        metrics=(
            "charts/learning_rate",
            "losses/policy_loss",
            "losses/value_loss",
            "losses/entropy",
            "losses/approx_kl",
            "losses/clip_fraction",
            "losses/explained_variance",
        ),
    ),
    "a2c": Algorithm(
        name="a2c",
        agent="renshu.agents.a2c:A2C",
        config="renshu.agents.a2c:A2CConfig",
        summary="A2C (synchronous advantage actor-critic) for every common action space",
        metrics=(
            "charts/learning_rate",
            "losses/policy_loss",
            "losses/value_loss",
            "losses/entropy",
            "losses/explained_variance",
        ),
    ),
}
"""Every algorithm renshu trains, by name."""

DEFAULT = "dqn"
"""The algorithm ``renshu train`` uses without ``--algo``."""


def get(name: str) -> Algorithm:
    """The algorithm called ``name``; ConfigError listing the known ones otherwise."""
    found = ALGORITHMS.get(name)
    if found is None:
        raise ConfigError(
            f"Unknown algorithm {name!r}: renshu trains {', '.join(sorted(ALGORITHMS))}. "
            "Pick one of those (--algo on the command line)."
        )
    return found


def space_verdict(
    agent_class: Any, observation_space: Any, action_space: Any
) -> list[tuple[str, str, str]]:
    """Why ``agent_class`` cannot train on these spaces (its ``space_problems``), the last fix
    naming the algorithms that can. ``Agent(env)`` refuses with these and ``renshu check
    --algo`` reports them."""
    problems = list(agent_class.space_problems(observation_space, action_space))
    # an agent that trains must save: a checkpoint describes both spaces (for every algorithm)
    unsaved = [] if problems else _unsaveable(observation_space, action_space)
    if not problems and not unsaved:
        return []
    able = [
        other
        for other, algorithm in ALGORITHMS.items()
        if other != agent_class.algo
        and not unsaved
        and not algorithm.agent_class().space_problems(observation_space, action_space)
    ]
    problems += unsaved
    tail = (
        f"Algorithms that can train on these spaces: {', '.join(able)} (--algo {able[0]})."
        if able
        else "No algorithm renshu has can train on these spaces."
    )
    code, message, fix = problems[-1]
    problems[-1] = (code, message, f"{fix} {tail}".strip())
    return problems


def _unsaveable(observation_space: Any, action_space: Any) -> list[tuple[str, str, str]]:
    from renshu.checkpoint import unsaveable  # torch: only once an agent is asked about

    problems = []
    for which, space in (("observation", observation_space), ("action", action_space)):
        why = unsaveable(space)
        if why is not None:
            problems.append(
                (
                    f"algo-{which}-space",
                    f"renshu cannot save an agent whose {which} space is {space}: {why}.",
                    f"Wrap the env so that its {which}s fit a simpler space.",
                )
            )
    return problems


def _import(target: str) -> Any:
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)
