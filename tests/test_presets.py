"""Presets: every built-in file loads and validates; lookup by name and id; user files; errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from renshu import presets
from renshu.agents.dqn import DQNConfig
from renshu.config import build
from renshu.errors import ConfigError

EXPECTED = [
    "Acrobot-v1",
    "CartPole-v1",
    "LunarLander-v3",
    "MountainCar-v0",
    "Pendulum-v1",
    "catch",
    "catch16",
    "cave",
    "shower",
]


def test_every_env_has_a_preset_file() -> None:
    assert presets.available() == sorted(EXPECTED)
    assert (presets.PRESETS_DIR / "default.yaml").is_file()


@pytest.mark.parametrize(
    "name",
    [
        "catch",
        "catch16",
        "cave",
        "shower",
        "CartPole-v1",
        "Acrobot-v1",
        "Pendulum-v1",
        "LunarLander-v3",
    ],
)
def test_every_built_in_env_and_the_classic_ones_have_ppo_and_a2c_presets(name: str) -> None:
    from renshu.config import load_yaml

    assert {"ppo", "a2c"} <= set(load_yaml(presets.PRESETS_DIR / f"{name}.yaml"))


@pytest.mark.parametrize("name", [*EXPECTED, "default"])
def test_every_preset_builds_a_valid_config(name: str) -> None:
    from renshu.agents import ALGORITHMS
    from renshu.config import load_yaml

    sections = load_yaml(presets.PRESETS_DIR / f"{name}.yaml")
    assert sections and set(sections) <= set(ALGORITHMS)
    for algo in sections:
        preset = presets.load(name, algo)
        assert preset.steps >= 1 and preset.test_episodes >= 1
        assert preset.source == presets.PRESETS_DIR / f"{name}.yaml"
        config_class = DQNConfig if algo == "dqn" else ALGORITHMS[algo].config_class()
        build(config_class, preset.config)  # raises on any unknown key or bad value


def test_floats_written_like_1e_3_are_floats(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("target_update: 1e-2\nlearning_rate: 3E-4\nbuffer_size: 50_000\n")
    preset = presets.load_file(path)
    assert preset.config["target_update"] == pytest.approx(0.01)
    assert preset.config["learning_rate"] == pytest.approx(3e-4)
    assert preset.config["buffer_size"] == 50_000


@pytest.mark.parametrize(
    ("env", "file"),
    [
        ("catch", "catch.yaml"),
        ("catch16", "catch16.yaml"),
        ("renshu/Catch-v0", "catch.yaml"),
        ("renshu/Shower-v0", "shower.yaml"),
        ("CartPole-v1", "CartPole-v1.yaml"),
        ("Pendulum-v1", "Pendulum-v1.yaml"),
        ("MountainCarContinuous-v0", "default.yaml"),
        ("my_env.py:ShowerEnv", "default.yaml"),
        ("package.module:Env", "default.yaml"),
        ("../catch", "default.yaml"),
    ],
)
def test_find_by_short_name_or_id(env: str, file: str) -> None:
    assert presets.find(env).name == file


def test_unknown_key_in_a_preset_names_the_key_the_file_and_close_matches(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("dqn:\n  steps: 100\n  config:\n    gama: 0.9\n")
    with pytest.raises(ConfigError) as info:
        presets.load_file(path)
    text = str(info.value)
    assert "'gama'" in text and str(path) in text and "Did you mean: gamma?" in text


def test_bad_value_in_a_preset_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("gamma: 2\n")
    with pytest.raises(ConfigError, match=r"gamma must be a number in \[0, 1\], got 2") as info:
        presets.load_file(path)
    assert str(path) in str(info.value)


def test_flat_file_overlays_the_base_preset(tmp_path: Path) -> None:
    path = tmp_path / "flat.yaml"
    path.write_text("steps: 123\ngamma: 0.5\nnet: [8, 8]\n")
    base = presets.load("catch")
    preset = presets.load_file(path, base=base)
    assert preset.steps == 123 and preset.test_episodes == base.test_episodes
    assert preset.config["gamma"] == 0.5 and preset.config["net"] == [8, 8]
    assert preset.config["target_update"] == base.config["target_update"]
    assert preset.source == path


def test_sectioned_file_and_its_mistakes(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("dqn:\n  test_episodes: 3\n  config: {double: false}\n")
    preset = presets.load_file(good)
    assert preset.test_episodes == 3 and preset.config["double"] is False

    misplaced = tmp_path / "misplaced.yaml"
    misplaced.write_text("dqn:\n  gamma: 0.9\n")
    with pytest.raises(ConfigError, match="'gamma' is a dqn option: move it under 'config:'"):
        presets.load_file(misplaced)

    mixed = tmp_path / "mixed.yaml"
    mixed.write_text("dqn: {steps: 5}\ngamma: 0.9\n")
    with pytest.raises(ConfigError, match="mixes algorithm sections with other keys"):
        presets.load_file(mixed)

    steps = tmp_path / "steps.yaml"
    steps.write_text("steps: 0\n")
    with pytest.raises(ConfigError, match=r"steps in preset file .* must be an int >= 1, got 0"):
        presets.load_file(steps)


def test_seed_belongs_to_the_seed_flag(tmp_path: Path) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text("seed: 3\n")
    with pytest.raises(ConfigError, match="sets 'seed', which renshu train sets from --seed"):
        presets.load_file(path)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        presets.load_file(tmp_path / "nope.yaml")


def test_with_options_checks_and_names_the_origin() -> None:
    preset = presets.load("shower").with_options({"gamma": 0.5}, origin="--set gamma=0.5")
    assert preset.config["gamma"] == 0.5
    with pytest.raises(
        ConfigError, match=r"In --set gamma=2: gamma must be a number in \[0, 1\], got 2"
    ):
        preset.with_options({"gamma": 2}, origin="--set gamma=2")


def test_unknown_algorithm() -> None:
    with pytest.raises(ConfigError, match="Unknown algorithm 'sarsa'"):
        presets.load("catch", algo="sarsa")


def test_gamma_as_a_string_in_a_preset_names_the_file_and_the_type(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("gamma: abc\n")
    with pytest.raises(ConfigError) as info:
        presets.load_file(path)
    assert str(info.value) == (
        f"In preset file '{path}': gamma must be a number in [0, 1], got 'abc' (a str). "
        "Fix it there and run again."
    )


def test_preset_file_of_binary_garbage_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "garbage.yaml"
    path.write_bytes(b"\xff\xfe\x00\x81binary\x9c" * 50)
    with pytest.raises(ConfigError, match=rf"Config file '{path}' is not a text file"):
        presets.load_file(path)


def test_preset_path_that_is_a_folder_says_it_is_a_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder, not a file"):
        presets.load_file(tmp_path)


def test_yes_is_not_a_boolean_in_a_preset(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("double: yes\n")
    with pytest.raises(ConfigError, match=r"double must be true or false, got 'yes' \(a str\)"):
        presets.load_file(path)


def test_steps_in_a_preset_are_type_checked_and_1e5_is_an_int(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("steps: 1e5\n")
    assert presets.load_file(path).steps == 100_000
    path.write_text("steps: abc\n")
    with pytest.raises(
        ConfigError, match=r"steps in preset file .* must be an int >= 1, got 'abc' \(a str\)"
    ):
        presets.load_file(path)


def test_max_grad_norm_null_in_a_preset_means_no_clipping(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("max_grad_norm: null\n")
    preset = presets.load_file(path)
    assert build(DQNConfig, preset.config).max_grad_norm is None


@pytest.mark.parametrize("algo", ["dqn", "ppo", "a2c"])
def test_env_without_a_preset_trains_with_the_config_defaults(algo: str, tmp_path: Path) -> None:
    """`renshu train` on an env without a preset once trained Double DQN while `renshu.DQN(env)`
    trained plain DQN: the fallback must be the config dataclass's defaults, nothing else."""
    import dataclasses

    from renshu.runs import Run

    config_class = presets.config_class(algo)
    preset = presets.load("FrozenLake-v1", algo)
    assert preset.source == presets.PRESETS_DIR / "default.yaml"
    assert dataclasses.asdict(build(config_class, preset.config)) == dataclasses.asdict(
        config_class()
    )
    # the route `renshu train` takes (a run folder) records the same config as renshu.<ALGO>(env)
    import yaml

    from renshu.config import to_plain

    run = Run.create("FrozenLake-v1", algo=algo, runs_dir=tmp_path, check_env=False)
    recorded = yaml.safe_load((run.path / "config.yaml").read_text())["config"]
    expected = to_plain(config_class(seed=0))
    recorded.pop("per_beta_steps", None)  # renshu train anneals it over the run's steps
    expected.pop("per_beta_steps", None)
    assert recorded == expected
