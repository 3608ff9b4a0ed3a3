"""The one list of algorithms: every reader (checkpoints, presets, check, cli, runs) uses it."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gymnasium import spaces

import renshu
from renshu import agents
from renshu.envs.toy import ScriptedEnv
from renshu.errors import ConfigError


@pytest.mark.parametrize("name", sorted(agents.ALGORITHMS))
def test_every_algorithm_names_classes_that_exist(name: str) -> None:
    algorithm = agents.get(name)
    assert algorithm.name == name
    assert algorithm.agent_class().algo == name  # saved files record the same name
    assert dataclasses.is_dataclass(algorithm.config_class())
    assert all("/" in key for key in algorithm.metrics)  # namespaced like charts/SPS


@pytest.mark.parametrize("name", sorted(agents.ALGORITHMS))
def test_every_schedule_that_follows_the_total_names_options_of_its_algorithm(name: str) -> None:
    algorithm = agents.get(name)
    assert algorithm.keeps and algorithm.storage in ("replay buffer", "rollout")
    config = algorithm.config_class()()
    fields = {f.name for f in dataclasses.fields(config)}
    for schedule in algorithm.schedules:
        assert {key for key, _ in schedule.when} <= fields, schedule
        options = {**dataclasses.asdict(config), **dict(schedule.when)}
        algorithm.config_class()(**options)  # values the option accepts
        assert schedule.name in algorithm.schedules_following_total(options)
    by_default = ["epsilon"] if name in ("dqn", "drqn") else []  # eps over a fraction of the run
    assert algorithm.schedules_following_total(dataclasses.asdict(config)) == by_default


def test_unknown_algorithm_lists_the_known_ones() -> None:
    known = r"Unknown algorithm 'ppo2': renshu trains a2c, a3c, dqn, drqn, ppo\."
    with pytest.raises(ConfigError, match=known):
        agents.get("ppo2")


def test_readers_take_the_list_from_the_registry() -> None:
    from renshu import presets
    from renshu.cli import _algorithms
    from renshu.runs import METRIC_COLUMNS

    assert _algorithms() == sorted(agents.ALGORITHMS)
    assert agents.DEFAULT in agents.ALGORITHMS
    for name, algorithm in agents.ALGORITHMS.items():
        assert presets.config_class(name) is algorithm.config_class()
        assert set(algorithm.metrics) <= set(METRIC_COLUMNS)


def test_building_the_cli_parser_imports_no_torch() -> None:
    import subprocess
    import sys

    code = "import sys, renshu.cli; renshu.cli.build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_refused_space_names_the_algorithms_that_can_train_on_it() -> None:
    import gymnasium

    import renshu

    with pytest.raises(ConfigError) as info:
        renshu.DQN("Pendulum-v1")
    assert str(info.value).endswith(
        "Algorithms that can train on these spaces: ppo, a2c, a3c (--algo ppo)."
    )
    env = gymnasium.make("CartPole-v1")
    env.action_space = gymnasium.spaces.Dict({"a": gymnasium.spaces.Discrete(2)})
    with pytest.raises(ConfigError, match="No algorithm renshu has can train on these spaces"):
        renshu.PPO(env)


OBSERVATION_SPACES = {
    "box": spaces.Box(-1.0, 1.0, (3,), np.float32),
    "box-uint8-image": spaces.Box(0, 255, (8, 8), np.uint8),
    "box-scalar-float64": spaces.Box(-2.0, 2.0, (), np.float64),
    "discrete": spaces.Discrete(5, start=-2),
    "multibinary": spaces.MultiBinary([2, 3]),
    "dict": spaces.Dict({"pos": spaces.Box(-1.0, 1.0, (2,)), "goal": spaces.Discrete(3)}),
    "tuple": spaces.Tuple((spaces.Discrete(4), spaces.MultiBinary(2))),
}
ACTION_SPACES = {
    "discrete": spaces.Discrete(3),
    "box": spaces.Box(-1.0, 2.0, (2,), np.float32),
    "multidiscrete": spaces.MultiDiscrete([[2, 3], [4, 2]], start=[[0, 1], [-1, 5]]),
    "multibinary": spaces.MultiBinary(3),
}
ACCEPTED = {  # what each algorithm trains on; the test checks the verdicts agree
    "dqn": {"discrete"},
    "drqn": {"discrete"},
    "ppo": set(ACTION_SPACES),
    "a2c": set(ACTION_SPACES),
    "a3c": set(ACTION_SPACES),
}
SMALL = {
    "dqn": {"warmup_steps": 8, "batch_size": 8, "buffer_size": 64, "net": [8]},
    "drqn": {"warmup_steps": 8, "batch_size": 4, "buffer_size": 64, "net": [8], "lstm_size": 8},
    "ppo": {"n_steps": 8, "batch_size": 8, "n_epochs": 1, "net": [8]},
    "a2c": {"n_steps": 8, "net": [8]},
    "a3c": {"n_steps": 8, "net": [8]},
}
ON_RAY = {"a3c"}
"""Algorithms whose fit() runs on Ray: trained in their own tests (tests/agents/test_a3c.py, a
local Ray); here they save and load untrained (A3C's gradient is A2C's, trained above)."""


def _env(observation_space: spaces.Space[Any], action_space: spaces.Space[Any]) -> ScriptedEnv:
    """Random observations of the space; the reward counts the action's elements above 0.5."""

    def step(env: ScriptedEnv, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        reward = float(np.sum(np.asarray(action) > 0.5))
        return env.observation_space.sample(), reward, False, bool(env.np_random.random() < 0.2), {}

    env = ScriptedEnv(lambda env: (env.observation_space.sample(), {}), step)
    env.observation_space, env.action_space = observation_space, action_space
    return env


@pytest.mark.parametrize("name", sorted(agents.ALGORITHMS))
def test_every_algorithm_saves_and_loads_every_space_it_accepts(name: str, tmp_path: Path) -> None:
    algorithm = agents.get(name)
    cls = algorithm.agent_class()
    cases = dict.fromkeys(  # every action space on a Box, every observation space with Discrete
        [("box", act) for act in ACTION_SPACES] + [(obs, "discrete") for obs in OBSERVATION_SPACES]
    )
    accepted = {
        act
        for act, space in ACTION_SPACES.items()
        if not agents.space_verdict(cls, OBSERVATION_SPACES["box"], space)
    }
    assert accepted == ACCEPTED[name]
    for obs_name, act_name in cases:
        if act_name not in accepted:
            continue
        obs_space, act_space = OBSERVATION_SPACES[obs_name], ACTION_SPACES[act_name]
        assert agents.space_verdict(cls, obs_space, act_space) == [], (obs_name, act_name)
        agent = cls(_env(obs_space, act_space), seed=0, **SMALL[name])
        if name not in ON_RAY:
            agent.fit(40, progress=False)
        path = agent.save(tmp_path / f"{obs_name}-{act_name}")
        loaded = renshu.load(path, env=_env(obs_space, act_space))
        assert loaded.observation_space == obs_space and loaded.action_space == act_space
        obs_space.seed(1)
        batch = [obs_space.sample() for _ in range(16)]
        if isinstance(obs_space, spaces.Box):
            batch = np.stack(batch)
        expected, got = agent.act(batch), loaded.act(batch)
        if cls.recurrent:  # (actions, state): the actions from an episode's start
            expected, got = expected[0], got[0]
        assert np.array_equal(expected, got), (obs_name, act_name)
        assert all(act_space.contains(np.asarray(a, act_space.dtype)) for a in got)
