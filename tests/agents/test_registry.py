"""The one list of algorithms: every reader (checkpoints, presets, check, cli, runs) uses it."""

from __future__ import annotations

import dataclasses

import pytest

from renshu import agents
from renshu.errors import ConfigError


@pytest.mark.parametrize("name", sorted(agents.ALGORITHMS))
def test_every_algorithm_names_classes_that_exist(name: str) -> None:
    algorithm = agents.get(name)
    assert algorithm.name == name
    assert algorithm.agent_class().algo == name  # saved files record the same name
    assert dataclasses.is_dataclass(algorithm.config_class())
    assert all("/" in key for key in algorithm.metrics)  # namespaced like charts/SPS


def test_unknown_algorithm_lists_the_known_ones() -> None:
    known = r"Unknown algorithm 'ppo2': renshu trains a2c, dqn, ppo\."
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
        "Algorithms that can train on these spaces: ppo, a2c (--algo ppo)."
    )
    env = gymnasium.make("CartPole-v1")
    env.action_space = gymnasium.spaces.Dict({"a": gymnasium.spaces.Discrete(2)})
    with pytest.raises(ConfigError, match="No algorithm renshu has can train on these spaces"):
        renshu.PPO(env)
