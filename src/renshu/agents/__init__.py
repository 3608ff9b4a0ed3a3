"""Agents: one file per algorithm family, and the one list of algorithms renshu has.

:data:`ALGORITHMS` maps an algorithm's name (``--algo``, ``config.json``'s ``algo``, a preset's
section) to where its agent and config classes live and its words: the metrics its training
logs (``metrics.csv``'s columns, ``renshu plot``'s message for a metric it does not log), what
its checkpoint keeps (the resume message) and which of its schedules follow the length of
training. Checkpoints, presets, ``renshu check --algo``, ``renshu train --algo`` and run folders
all read it, so adding an algorithm means adding its file and one entry here. The classes are
imported only when asked for (this module stays light: the CLI builds its parser without torch).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from renshu.errors import ConfigError


@dataclass(frozen=True)
class Schedule:
    """A value that changes over training and ends with it: at the step ``fit(steps)`` trains to
    (``num_steps + steps``), which in a run is the run's total (``--steps``). Another ``fit``
    call, or a resume with a new total, re-defines that end: from then on the value is the one a
    training of the new length has at each step."""

    name: str
    """What it is, for messages ("learning rate")."""
    when: tuple[tuple[str, Any], ...]
    """The option values under which it follows the length of training (all must hold)."""

    def follows_total(self, options: Mapping[str, Any]) -> bool:
        """Whether the config ``options`` (a mapping of option: value) tie it to the length."""
        return all(key in options and options[key] == value for key, value in self.when)


@dataclass(frozen=True)
class Algorithm:
    """One algorithm: its name, where its classes live, and its words (metrics, what its
    checkpoint keeps, its schedules)."""

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
    keeps: tuple[str, ...] = ("weights", "optimizer state")
    """What its checkpoint holds besides the step and episode counters and random states."""
    storage: str = "replay buffer"
    """What its ``replay.npz`` holds ("replay buffer", "rollout")."""
    schedules: tuple[Schedule, ...] = ()
    """Its values that follow the length of training (see :class:`Schedule`)."""

    @property
    def label(self) -> str:
        """The name in messages ("PPO")."""
        return self.name.upper()

    def schedules_following_total(self, options: Mapping[str, Any]) -> list[str]:
        """The names of the schedules that end with training under the config ``options``."""
        return [s.name for s in self.schedules if s.follows_total(options)]

    def agent_class(self) -> Any:
        """The agent class (imports its module)."""
        return _import(self.agent)

    def config_class(self) -> Any:
        """The config dataclass (imports its module)."""
        return _import(self.config)


_ON_POLICY_KEEPS = ("policy and value weights", "optimizer state", "the rollout under way")

ALGORITHMS: dict[str, Algorithm] = {
    "dqn": Algorithm(
        name="dqn",
        agent="renshu.agents.dqn:DQN",
        config="renshu.agents.dqn:DQNConfig",
        summary="DQN with Double, Dueling, prioritized replay and n-step returns as options",
        metrics=("charts/epsilon", "losses/td_loss", "losses/q_values"),
        keeps=("weights", "target network", "optimizer state", "replay buffer"),
        storage="replay buffer",
        schedules=(
            Schedule("epsilon", (("policy", "eps_greedy"), ("eps_anneal_steps", None))),
            Schedule(
                "prioritized replay's beta", (("prioritized", True), ("per_beta_steps", None))
            ),
        ),
    ),
    "drqn": Algorithm(
        name="drqn",
        agent="renshu.agents.drqn:DRQN",
        config="renshu.agents.drqn:DRQNConfig",
        summary="DRQN: DQN with an LSTM, trained from sequence replay (burn-in, stored states)",
        metrics=("charts/epsilon", "losses/td_loss", "losses/q_values"),
        keeps=("weights", "target network", "optimizer state", "replay buffer of sequences"),
        storage="replay buffer",
        schedules=(
            Schedule("epsilon", (("policy", "eps_greedy"), ("eps_anneal_steps", None))),
            Schedule(
                "prioritized replay's beta", (("prioritized", True), ("per_beta_steps", None))
            ),
        ),
    ),
    "ppo": Algorithm(
        name="ppo",
        agent="renshu.agents.ppo:PPO",
        config="renshu.agents.ppo:PPOConfig",
        summary="PPO (clipped surrogate, GAE) for every common action space",
        metrics=(
            "losses/policy_loss",
            "losses/value_loss",
            "losses/entropy",
            "losses/approx_kl",
            "losses/clip_fraction",
            "losses/explained_variance",
            "charts/learning_rate",
        ),
        keeps=_ON_POLICY_KEEPS,
        storage="rollout",
        schedules=(
            Schedule("learning rate", (("lr_schedule", "linear"),)),
            Schedule("clip range", (("clip_range_schedule", "linear"),)),
        ),
    ),
    "a2c": Algorithm(
        name="a2c",
        agent="renshu.agents.a2c:A2C",
        config="renshu.agents.a2c:A2CConfig",
        summary="A2C (synchronous advantage actor-critic) for every common action space",
        metrics=(
            "losses/policy_loss",
            "losses/value_loss",
            "losses/entropy",
            "losses/explained_variance",
            "charts/learning_rate",
        ),
        keeps=_ON_POLICY_KEEPS,
        storage="rollout",
        schedules=(Schedule("learning rate", (("lr_schedule", "linear"),)),),
    ),
    "a3c": Algorithm(
        name="a3c",
        agent="renshu.agents.a3c:A3C",
        config="renshu.agents.a3c:A3CConfig",
        summary="A3C (asynchronous advantage actor-critic): A2C's gradients from Ray workers",
        metrics=(
            "losses/policy_loss",
            "losses/value_loss",
            "losses/entropy",
            "losses/explained_variance",
            "charts/learning_rate",
            "charts/staleness",
            "charts/staleness_max",
        ),
        keeps=(
            "policy and value weights",
            "optimizer state (the workers' rollouts under way are lost: they start new ones)",
        ),
        storage="rollout",
        schedules=(Schedule("learning rate", (("lr_schedule", "linear"),)),),
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
