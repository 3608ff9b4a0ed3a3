"""The ``renshu`` command: main([...]) in process, and a few real subprocesses."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import renshu
from renshu.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
TUTORIAL = "tests/fixtures/tutorial000_gymnasium.py:ShowEnv"
CORRIDOR = "tests/fixtures/corridor.py:Corridor"
EPISODE_LINE = re.compile(r"^Episode:(\d+) Score:(-?\d+\.\d+)$")
SUMMARY_LINE = re.compile(
    r"^Summary: mean=-?\d+\.\d\d std=\d+\.\d\d min=-?\d+\.\d+ max=-?\d+\.\d+ episodes=(\d+)$"
)


@pytest.fixture(autouse=True)
def _wide_terminal_at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COLUMNS", "200")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, "-m", "renshu", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


# ---- the parser -------------------------------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"renshu {renshu.__version__}\n"


def test_help_has_description_commands_and_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    assert "deep reinforcement learning for people who write their own environments" in text
    assert re.search(r"check\s+explain what is wrong with an environment", text)
    assert re.search(r"random\s+play ENV with random actions", text)
    assert "renshu check my_env.py:ShowerEnv" in text
    assert "renshu random shower --episodes 25" in text


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: renshu" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["random", "shower", "--episodes", "0"]) == 2
    assert "expected a positive integer, got '0'" in capsys.readouterr().err
    assert main(["check", "shower", "--algo", "sarsa"]) == 2


def test_every_command_has_help() -> None:
    parser = build_parser()
    for command in ("check", "random"):
        args = parser.parse_args([command, "shower"])
        assert callable(args.handler)


# ---- renshu check -----------------------------------------------------------------------------


def test_check_clean_env_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", CORRIDOR]) == 0
    assert capsys.readouterr().out == f"✓ {CORRIDOR} passed the check.\n"


def test_check_prints_a_table_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    env = "tests/fixtures/broken_envs.py:LegacyNaNObs"
    assert main(["check", env]) == 1
    out = capsys.readouterr().out
    for word in ("severity", "problem", "fix", "obs-not-finite", "np.nan_to_num", "step-4-tuple"):
        assert word in out
    assert out.rstrip().endswith(f"✗ {env}: 1 error, 4 warnings.")


def test_tutorial_show_env_passes_check_with_warnings_as_train_trains_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One severity for one problem: the shower's drift outside Box(0, 100) is a warning in
    `renshu check` (exit 0) as in `renshu train` (which trains)."""
    assert main(["check", TUTORIAL, "--algo", "dqn"]) == 0
    out = capsys.readouterr().out
    assert "obs-out-of-bounds" in out and "warning" in out
    assert out.rstrip().endswith(f"✓ {TUTORIAL} passed the check (5 warnings).")


def test_check_with_algo(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "tests/fixtures/broken_envs.py:BoxActions", "--algo", "dqn"]) == 1
    out = capsys.readouterr().out
    assert "algo-action-space" in out
    assert "DQN needs a Discrete action space, got Box(-1.0, 1.0, (1,), float32)." in out


def test_check_warnings_only_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "tests/fixtures/broken_envs.py:OldStepApi"]) == 0
    out = capsys.readouterr().out
    assert "step-4-tuple" in out
    assert "passed the check (1 warning)." in out


# ---- renshu random ----------------------------------------------------------------------------


def test_random_prints_one_line_per_episode_then_a_summary(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["random", TUTORIAL, "--episodes", "4", "--seed", "3"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert [int(EPISODE_LINE.match(line).group(1)) for line in lines[:4]] == [1, 2, 3, 4]  # type: ignore[union-attr]
    assert SUMMARY_LINE.match(lines[4]) and lines[4].endswith("episodes=4")
    assert len(lines) == 5
    assert "warning: renshu adapted ShowEnv to the Gymnasium API" in captured.err


def test_random_is_reproducible_with_a_seed(capsys: pytest.CaptureFixture[str]) -> None:
    main(["random", CORRIDOR, "--episodes", "3", "--seed", "5"])
    first = capsys.readouterr().out
    main(["random", CORRIDOR, "--episodes", "3", "--seed", "5"])
    assert capsys.readouterr().out == first


def test_random_renders_ansi(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["random", CORRIDOR, "--episodes", "1", "--render", "ansi", "--seed", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    frames = [line for line in lines if re.fullmatch(r"[.o]{11}", line)]
    assert len(frames) == 11  # the reset frame and one per step of a 10-step episode
    assert EPISODE_LINE.match(lines[-2])


def test_random_max_steps(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["random", "tests/fixtures/broken_envs.py:NeverEnds", "--episodes", "2"]
    assert main([*args, "--max-steps", "5"]) == 0
    assert capsys.readouterr().out.count("Episode:") == 2


def test_random_builtin_env(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["random", "shower", "--episodes", "2", "--seed", "0"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3


# ---- errors -----------------------------------------------------------------------------------


def test_renshu_error_is_one_paragraph_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["random", "cath"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(
        "error: Unknown environment 'cath'. Did you mean: catch, catch16? Use a short name"
    )
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err


def test_check_of_an_unknown_env_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "nope.py:Env"]) == 2
    assert "error: Environment file 'nope.py' does not exist" in capsys.readouterr().err


def test_ctrl_c_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(importlib.import_module("renshu.make"), "make", interrupted)
    assert main(["random", "shower"]) == 130
    assert capsys.readouterr().err == "Interrupted.\n"


# ---- real processes ---------------------------------------------------------------------------


def test_subprocess_check_exit_codes() -> None:
    assert run("check", CORRIDOR).returncode == 0
    failed = run("check", "tests/fixtures/broken_envs.py:ObsNaN")
    assert failed.returncode == 1
    assert "obs-not-finite" in failed.stdout
    assert run("check", TUTORIAL).returncode == 0  # warnings only


def test_subprocess_random_output_format() -> None:
    result = run("random", TUTORIAL, "--episodes", "3", "--seed", "0")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert all(EPISODE_LINE.match(line) for line in lines[:3])
    assert SUMMARY_LINE.match(lines[3])


def test_subprocess_error_has_no_traceback() -> None:
    result = run("random", "cath")
    assert result.returncode == 2
    assert result.stderr.startswith("error: Unknown environment 'cath'.")
    assert "Traceback" not in result.stderr


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("renshu")
    if not script.exists():
        pytest.skip("the renshu console script is not installed next to this Python")
    result = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.stdout == f"renshu {renshu.__version__}\n"


def test_cli_module_does_not_import_torch() -> None:
    code = "import sys, renshu.cli; print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"


# ---- env faults, step bounds, noise -------------------------------------------------------------


def test_check_fixes_wrap_in_a_narrow_console_never_cut() -> None:
    from rich.console import Console

    from renshu.check import Problem
    from renshu.cli import _problem_table

    fix = (
        "Return truncated=True after a step limit, or wrap the env: "
        "gymnasium.wrappers.TimeLimit(env, max_episode_steps=N)."
    )
    console = Console(width=60, record=True, highlight=False)
    console.print(_problem_table([Problem("warning", "no-episode-end", "Never ends.", fix)]))
    text = console.export_text()
    assert "…" not in text
    cells = "".join(
        line.split("│")[3].strip() for line in text.splitlines() if line.count("│") == 4
    )
    assert "".join(fix.split()) in "".join(cells.split())


def test_check_algo_offers_the_algorithms_renshu_has(capsys: pytest.CaptureFixture[str]) -> None:
    from renshu.agents import ALGORITHMS

    assert main(["check", CORRIDOR, "--algo", "sac"]) == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'sac'" in err
    assert f"choose from {', '.join(repr(a) for a in sorted(ALGORITHMS))}" in err


def test_train_prints_each_warning_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = "tests/fixtures/tutorial000_gym.py:ShowEnv"
    args = ["--runs-dir", str(tmp_path), "--steps", "200", "--no-gif"]
    assert main(["train", env, *args]) == 0
    err = capsys.readouterr().err
    assert err.count("renshu adapted ShowEnv") == 1
    assert err.count("Box bound precision lowered") <= 1


def test_env_error_in_training_saves_a_checkpoint_prints_frames_and_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = "tests/fixtures/broken_envs.py:StepRaisesAt"
    monkeypatch.setenv("RAISE_AT_STEP", "150")
    args = ["--runs-dir", str(tmp_path), "--steps", "400", "--no-gif", "--no-check"]
    assert main(["train", env, *args]) == 1
    err = " ".join(capsys.readouterr().err.split())
    run = tmp_path / "StepRaisesAt-dqn-0"
    assert "step() raised ZeroDivisionError: the shower broke" in err
    found = re.search(r"\(renshu was stepping env 0 at training step (\d+)\)\.", err)
    assert found is not None, err
    step = found.group(1)  # ~149: make() probes one step() before training
    assert 140 < int(step) < 150
    assert 'broken_envs.py", line' in err and 'raise ZeroDivisionError("the shower broke")' in err
    assert f"Saved {run / 'checkpoints' / step} (the state before the failing step)." in err
    assert f"resume with: renshu train --resume {run} --trust-env" in err
    assert (run / "checkpoints" / step / "replay.npz").is_file()
    monkeypatch.delenv("RAISE_AT_STEP")
    assert main(["train", env, "--resume", str(run), "--no-gif"]) == 0
    assert f"from step {step}" in capsys.readouterr().out
    assert (run / "agent").is_dir()


def test_test_max_steps_bounds_a_never_ending_env(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = "tests/fixtures/broken_envs.py:NeverEnds"
    args = ["--runs-dir", str(tmp_path), "--steps", "100", "--no-gif", "--name", "x"]
    assert main(["train", env, *args]) == 0  # its greedy test ends at the default cap
    err = " ".join(capsys.readouterr().err.split())
    assert err.count("did not end within 10,000 steps") == 1 and "--max-steps N" in err
    test_args = ["--episodes", "2", "--max-steps", "7", "--env", env]
    assert main(["test", str(tmp_path / "x"), *test_args]) == 0
    out = capsys.readouterr().out
    assert len([line for line in out.splitlines() if EPISODE_LINE.match(line)]) == 2


def test_sigterm_during_the_torch_import_is_delivered_after_it() -> None:
    """A SIGTERM raised as an exception inside torch's C++ start-up aborted the process
    (SIGABRT, exit -6) instead of exiting 143: train and test import torch with it held."""
    code = """
import os, signal, sys
from renshu.cli import Terminated, _handle_sigterm, _import_torch_holding_sigterm
assert "torch" not in sys.modules
_handle_sigterm()
class Finder:
    def find_spec(self, name, path=None, target=None):
        if name == "torch":
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGTERM)  # arrives while torch is being imported
        return None
sys.meta_path.insert(0, Finder())
try:
    _import_torch_holding_sigterm()
except Terminated:
    print("terminated after the import:", "torch" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "terminated after the import: True"
