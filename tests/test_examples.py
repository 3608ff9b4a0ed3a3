"""Smoke tests of examples/: each script runs end to end on a tiny budget and writes its files.

The scripts are loaded from their files and their ``main(argv)`` is called in this process (no
new interpreter per script), with ``--out`` in a temporary folder.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

torch.set_num_threads(1)
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*Box bound precision:UserWarning", "ignore::renshu.compat.LegacyEnvWarning"
)


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` as a module (its ``main`` is not run on import)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_example(name: str, out: Path, *args: str) -> dict[str, Any]:
    result: dict[str, Any] = load_example(name).main([*args, "--seed", "0", "--out", str(out)])
    return result


def assert_written(out: Path, *names: str) -> None:
    for name in names:
        path = out / name
        assert path.exists(), f"{name} was not written into {out}"
        if path.is_file():
            assert path.stat().st_size > 0, f"{name} is empty"


def assert_saved_agent(path: Path) -> None:
    assert path.is_dir()
    assert_written(path, "config.json", "state.json", "weights.safetensors")


def test_shower_kerasrl_writes_its_plot_and_weights(tmp_path: Path) -> None:
    result = run_example("shower_kerasrl", tmp_path, "--steps", "600")
    assert_written(tmp_path, "observations.png")
    assert_saved_agent(tmp_path / "dqn_weights.h5f")
    assert result["loaded_acts_the_same"] is True
    assert result["steps"] == 600


def test_shower_writes_plots_gif_and_agent(tmp_path: Path) -> None:
    result = run_example("shower", tmp_path, "--steps", "300", "--episodes", "3")
    assert_written(tmp_path, "learning_curve.png", "observations.png", "shower.gif")
    assert_saved_agent(tmp_path / "agent")
    assert result["loaded_acts_the_same"] is True
    assert set(result["scores"]) >= {"DQN agent", "move toward 38 (scripted)", "random"}


def test_catch_writes_curve_gif_and_agent(tmp_path: Path) -> None:
    result = run_example("catch", tmp_path, "--steps", "300", "--episodes", "3")
    assert_written(tmp_path, "learning_curve.png", "catch.gif")
    assert_saved_agent(tmp_path / "agent")
    assert result["loaded_acts_the_same"] is True
    assert set(result["scores"]) == {"DQN agent", "scripted controller", "random actions"}


def test_catch16_writes_curve_comparison_gif_and_agent(tmp_path: Path) -> None:
    result = run_example(
        "catch16", tmp_path, "--steps", "300", "--compare-steps", "200", "--episodes", "2"
    )
    assert_written(tmp_path, "learning_curve.png", "optimizers.png", "catch16.gif")
    assert_saved_agent(tmp_path / "agent")
    assert set(result["comparison"]) == {"RMSprop", "RMSpropGraves"}


def test_catch16_tests_a_saved_agent_without_training(tmp_path: Path) -> None:
    trained = tmp_path / "trained"
    run_example("catch16", trained, "--steps", "100", "--compare-steps", "0", "--episodes", "1")
    out = tmp_path / "again"
    result = run_example(
        "catch16", out, "--agent", str(trained / "agent"), "--compare-steps", "0", "--episodes", "1"
    )
    assert result["train_seconds"] == 0.0
    assert_written(out, "catch16.gif")
    assert not (out / "learning_curve.png").exists()
    assert not (out / "optimizers.png").exists()


def test_cave_writes_curve_gif_and_agent(tmp_path: Path) -> None:
    result = run_example("cave", tmp_path, "--steps", "300", "--episodes", "1")
    assert_written(tmp_path, "learning_curve.png", "cave.gif")
    assert_saved_agent(tmp_path / "agent")
    assert result["medians"]["look-ahead planner"] == 2000.0
