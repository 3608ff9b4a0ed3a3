"""``renshu train``, ``renshu test`` and ``renshu plot``: run folders, bad input, resume, signals.

Most tests call ``main([...])`` in process on Shower with a tiny config (a few hundred steps);
exact resume and Ctrl+C/SIGTERM use real subprocesses.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import renshu
from renshu import checkpoint
from renshu.agents import ALGORITHMS
from renshu.agents.dqn import DQNConfig
from renshu.cli import main
from renshu.config import field_names
from renshu.runs import read_metrics

ROOT = Path(__file__).resolve().parents[1]
TINY = """\
steps: 120
test_episodes: 2
warmup_steps: 50
buffer_size: 500
batch_size: 16
net: [16]
eps_anneal_steps: 200
"""

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("preset") / "tiny.yaml"
    path.write_text(TINY)
    return path


@pytest.fixture(scope="module")
def trained(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One finished Shower run (with its GIF), shared by the tests that only read it."""
    runs = tmp_path_factory.mktemp("runs")
    args = ["--config", str(tiny), "--runs-dir", str(runs), "--checkpoint-every", "60"]
    code = main(["train", "shower", *args])
    assert code == 0
    return runs / "shower-dqn-0"


def train(tiny: Path, runs: Path, *args: str) -> int:
    return main(
        ["train", "shower", "--config", str(tiny), "--runs-dir", str(runs), "--no-gif", *args]
    )


def subprocess_env() -> dict[str, str]:
    return {**os.environ, "COLUMNS": "200", "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}


def renshu_process(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "renshu", *args],
        cwd=cwd,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


# ---- help ------------------------------------------------------------------------------------


def test_top_level_help_lists_the_commands_with_examples(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for command in ("train", "test", "plot", "check", "random"):
        assert f"\n    {command} " in text
    assert "renshu train --resume runs/catch-dqn-0" in text
    assert "renshu plot runs/catch-dqn-0 runs/catch-dqn-1 --metric losses/td_loss" in text


def test_train_help_lists_presets_and_every_option_with_its_doc(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["train", "--help"]) == 0
    text = capsys.readouterr().out
    assert (
        "Presets: Acrobot-v1, CartPole-v1, LunarLander-v3, MountainCar-v0, Pendulum-v1, catch, "
        "catch16, cave, shower" in text
    )
    for name in field_names(DQNConfig):
        assert f"\n  {name}" in text
    assert "  gamma=0.99\n      Discount factor in [0, 1]." in text
    assert "  double=true\n" in text and "  warmup_steps=1000\n" in text
    for flag in ("--set KEY=VALUE", "--resume RUN", "--no-gif", "--checkpoint-every"):
        assert flag in text


@pytest.mark.parametrize("algo", sorted(ALGORITHMS))
@pytest.mark.parametrize("where", ["before", "after"])
def test_train_help_lists_the_options_of_the_algo_asked_for(
    algo: str, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import dataclasses

    from renshu.config import field_docs

    args = ["--algo", algo, "--help"] if where == "before" else ["--help", "--algo", algo]
    assert main(["train", *args]) == 0
    text = capsys.readouterr().out
    config = ALGORITHMS[algo].config_class()
    assert f"options of --algo {algo}, " in text
    docs: dict[str, str] = {}
    for cls in reversed(config.__mro__):  # the docstring of each field, inherited ones too
        if dataclasses.is_dataclass(cls):
            docs.update(field_docs(cls))
    names = field_names(config)
    for name in names:
        assert re.search(rf"^  {name}(=|$)", text, re.MULTILINE), name
        if name != "seed":
            first = " ".join(docs[name].replace("``", "`").split()).split()[:4]
            assert " ".join(first) in " ".join(text.split()), name
    options = text.split("for --set KEY=VALUE")[1]
    listed = re.findall(r"^  ([a-z_]+)(?:=|$)", options, re.MULTILINE)
    assert listed == names  # every option of the algorithm, none of another's
    others = [name for name in ALGORITHMS if name != algo]
    assert f"The other algorithms ({', '.join(others)})" in " ".join(text.split())


def test_plain_train_help_lists_dqn_and_says_how_to_see_the_others(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["train", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "options of --algo dqn, " in text
    first_other = next(name for name in ALGORITHMS if name != "dqn")
    assert f"`renshu train --algo {first_other} --help` lists them." in text
    assert "clip_range=" not in text


@pytest.mark.parametrize("command", ["test", "plot"])
def test_test_and_plot_have_help_with_examples(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, "--help"]) == 0
    assert f"examples:\n  renshu {command} runs/" in capsys.readouterr().out


# ---- a run folder ------------------------------------------------------------------------------


def test_train_writes_the_whole_run_folder(
    trained: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("config.yaml", "metrics.csv", "plots/learning_curve.png", "videos/test.gif"):
        assert (trained / name).is_file(), name
    assert list((trained / "tb").glob("events.out.tfevents.*"))
    assert checkpoint.latest(trained / "checkpoints") == trained / "checkpoints" / "120"
    assert sorted(int(p.name) for p in (trained / "checkpoints").iterdir()) == [60, 120]
    assert not (trained / "checkpoints" / "60" / "replay.npz").exists()  # only the newest
    assert (trained / "checkpoints" / "120" / "replay.npz").is_file()
    metrics = read_metrics(trained)
    episodes = ~np.isnan(metrics["episode"])
    assert metrics["step"][episodes].tolist() == [60, 120]
    assert metrics["charts/episode_length"][episodes].tolist() == [60, 60]
    assert "losses/td_loss" in metrics and "test/mean_reward" in metrics
    agent = renshu.load(trained / "agent")
    assert agent.num_steps == 120

    settings = yaml.safe_load((trained / "config.yaml").read_text())
    assert settings["env"] == "shower" and settings["algo"] == "dqn"
    assert (settings["seed"], settings["steps"], settings["test_episodes"]) == (0, 120, 2)
    assert settings["renshu_version"] == renshu.__version__
    assert list(settings["config"]) == field_names(DQNConfig)
    assert settings["config"]["net"] == [16] and settings["config"]["gamma"] == 0.9
    assert settings["command"].startswith("renshu train shower --config ")


def test_train_prints_a_results_table(tiny: Path, tmp_path: Path, capsys) -> None:
    assert train(tiny, tmp_path, "--steps", "60") == 0
    out = capsys.readouterr().out
    assert f"Training DQN on shower for 60 steps, seed 0 -> {tmp_path}/shower-dqn-0" in out
    for row in ("test reward", "(greedy, 2 episodes)", "steps/s", "wall time", "learning curve"):
        assert row in out
    assert f"tensorboard --logdir {tmp_path}/shower-dqn-0/tb" in out
    assert "GIF" not in out  # --no-gif


def test_a_second_run_never_overwrites_the_first(tiny: Path, tmp_path: Path) -> None:
    assert train(tiny, tmp_path, "--steps", "60") == 0
    first = (tmp_path / "shower-dqn-0" / "metrics.csv").read_bytes()
    assert train(tiny, tmp_path, "--steps", "60", "--set", "gamma=0.5") == 0
    assert train(tiny, tmp_path, "--steps", "60", "--name", "shower-dqn-0") == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "shower-dqn-0",
        "shower-dqn-0-1",
        "shower-dqn-0-2",
    ]
    assert (tmp_path / "shower-dqn-0" / "metrics.csv").read_bytes() == first
    settings = yaml.safe_load((tmp_path / "shower-dqn-0-1" / "config.yaml").read_text())
    assert settings["config"]["gamma"] == 0.5


# ---- bad input: one paragraph, exit 2, nothing made or lost ------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "gamma=2"], "In --set gamma=2: gamma must be a number in [0, 1], got 2."),
        (["--set", "gama=0.9"], "Unknown option 'gama' for DQNConfig. Did you mean: gamma?"),
        (["--set", "seed=3"], "sets 'seed', which renshu train sets from --seed"),
        (["--set", "target_update=0"], "target_update must be an int >= 1"),
        (["--steps", "0"], "expected a positive integer, got '0'"),
        (["--set", "gamma"], "expected KEY=VALUE (e.g. gamma=0.95), got 'gamma'"),
        (["--config", "nowhere.yaml"], "Config file 'nowhere.yaml' does not exist."),
        (["--device", "cuda:7"], "device 'cuda:7'"),
        (["--name", "a/b"], "A run name must be one folder name (no slashes), got 'a/b'."),
    ],
)
def test_bad_options_exit_2_with_one_paragraph_and_no_folder(
    args: list[str], message: str, tiny: Path, tmp_path: Path, capsys
) -> None:
    if args[0] == "--device" and torch.cuda.is_available():
        pytest.skip("CUDA present")
    runs = tmp_path / "runs"
    assert train(tiny, runs, *args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert not runs.exists() or not any(runs.iterdir())


def test_unknown_key_in_a_preset_file_names_it(tmp_path: Path, capsys) -> None:
    preset = tmp_path / "bad.yaml"
    preset.write_text("dqn:\n  config:\n    learning_rat: 0.01\n")
    assert main(["train", "shower", "--config", str(preset), "--runs-dir", str(tmp_path)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"In preset file '{preset}': Unknown option 'learning_rat'" in err
    assert "Did you mean: learning_rate?" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


def test_an_env_that_fails_the_check_prints_the_problems_and_trains_nothing(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    env = "tests/fixtures/broken_envs.py:RewardNaN"
    assert main(["train", env, "--runs-dir", str(tmp_path / "runs")]) == 2
    captured = capsys.readouterr()
    assert "severity" in captured.out and "error" in captured.out  # the problems table
    err = " ".join(captured.err.split())
    assert f"{env} failed the environment check with 1 error (see the table above)" in err
    assert f"renshu check {ROOT / env} --algo dqn" in err and "or pass --no-check" in err
    assert not (tmp_path / "runs").exists()
    # --no-check skips the check before training; training's own guard still stops at the NaN
    args = ["--runs-dir", str(tmp_path / "runs"), "--steps", "30", "--no-gif", "--no-check"]
    assert main(["train", env, *args]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "reward-not-finite: step() returned reward nan at training step 0 (env 0)" in err
    assert not (tmp_path / "runs" / "RewardNaN-dqn-0" / "agent").exists()


def test_observations_a_little_out_of_bounds_train_with_a_warning(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tutorial 000's shower drifts outside Box(0, 100): train warns and trains anyway."""
    monkeypatch.chdir(ROOT)
    env = "tests/fixtures/broken_envs.py:ObsOutOfBounds"
    args = ["--runs-dir", str(tmp_path / "runs"), "--steps", "30", "--no-gif"]
    assert main(["train", env, *args]) == 0
    assert "check: 1 warning (obs-out-of-bounds)" in capsys.readouterr().out
    assert (tmp_path / "runs" / "ObsOutOfBounds-dqn-0" / "agent").is_dir()


def test_runs_dir_that_is_a_file(tiny: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "file").write_text("keep me")
    assert train(tiny, tmp_path / "file") == 2
    assert "it (or a parent) is a file, not a folder" in capsys.readouterr().err
    assert (tmp_path / "file").read_text() == "keep me"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ("NoSuchEnv-v0", "error: "),
        ("nowhere/my_env.py:ShowerEnv", "Environment file 'nowhere/my_env.py' does not exist"),
    ],
)
def test_an_unknown_env_is_a_clear_error(env: str, message: str, tmp_path: Path, capsys) -> None:
    assert main(["train", env, "--runs-dir", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_train_without_env_or_resume(capsys) -> None:
    assert main(["train"]) == 2
    assert "renshu train needs an environment" in capsys.readouterr().err


def test_resume_of_a_missing_folder(tmp_path: Path, capsys) -> None:
    (tmp_path / "shower-dqn-0").mkdir()
    assert main(["train", "--resume", str(tmp_path / "shower-dqn-1")]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"No run at '{tmp_path}/shower-dqn-1': it does not exist." in err
    assert f"Did you mean: {tmp_path}/shower-dqn-0?" in err


def test_resume_refuses_flags_that_would_change_the_run(trained: Path, capsys) -> None:
    before = (trained / "config.yaml").read_text()
    assert main(["train", "--resume", str(trained), "--seed", "3", "--set", "gamma=0.5"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "--set, --seed cannot be changed" in err
    assert main(["train", "catch", "--resume", str(trained)]) == 2
    assert "trains 'shower', not 'catch'" in capsys.readouterr().err
    assert (trained / "config.yaml").read_text() == before


def test_resume_with_only_a_half_written_checkpoint_is_refused(
    tiny: Path, tmp_path: Path, capsys
) -> None:
    assert train(tiny, tmp_path, "--steps", "60", "--checkpoint-every", "1000") == 0
    run = tmp_path / "shower-dqn-0"
    final = run / "checkpoints" / "60"
    for file in final.iterdir():
        file.unlink()  # as if cut off while being written
    metrics = (run / "metrics.csv").read_bytes()
    assert main(["train", "--resume", str(run), "--steps", "120"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"'{final}' is not a complete checkpoint (missing config.json" in err
    assert "Delete the incomplete folder" in err
    assert final.is_dir() and (run / "metrics.csv").read_bytes() == metrics


def test_resume_skips_a_newer_half_written_checkpoint(tiny: Path, tmp_path: Path, capsys) -> None:
    assert train(tiny, tmp_path, "--steps", "60", "--checkpoint-every", "30") == 0
    run = tmp_path / "shower-dqn-0"
    (run / "checkpoints" / "90").mkdir()
    assert main(["train", "--resume", str(run), "--steps", "120", "--no-gif"]) == 0
    captured = capsys.readouterr()
    assert "checkpoints/90' is an incomplete checkpoint and is ignored" in captured.err
    assert "Resuming" in captured.out and "from step 60, up to 120 steps" in captured.out
    assert checkpoint.latest(run / "checkpoints") == run / "checkpoints" / "120"


def test_resume_of_a_finished_run_has_nothing_to_do(trained: Path, capsys) -> None:
    assert main(["train", "--resume", str(trained)]) == 0
    assert "already at step 120 of 120; nothing to train" in capsys.readouterr().out


def test_damaged_newest_checkpoint_is_skipped_and_checkpoint_step_is_accepted(
    tiny: Path, tmp_path: Path, capsys
) -> None:
    assert train(tiny, tmp_path, "--steps", "60", "--checkpoint-every", "30") == 0
    run = tmp_path / "shower-dqn-0"
    newest = run / "checkpoints" / "60"
    data = bytearray((newest / "weights.safetensors").read_bytes())
    data[len(data) // 2] ^= 0x10
    (newest / "weights.safetensors").write_bytes(bytes(data))
    shutil.rmtree(run / "agent")
    capsys.readouterr()

    assert main(["test", str(run), "--episodes", "1"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert f"'{newest}' cannot be used ('{newest}/weights.safetensors' changed since" in err
    assert f"using '{run / 'checkpoints' / '30'}'" in err
    assert main(["test", str(run), "--episodes", "1", "--checkpoint", "30"]) == 0
    assert main(["test", str(run), "--episodes", "1", "--checkpoint", "60"]) == 2
    assert "changed since it was saved" in capsys.readouterr().err
    assert main(["test", str(run), "--checkpoint", "45"]) == 2
    assert "no checkpoint at step 45" in " ".join(capsys.readouterr().err.split())

    assert main(["train", "--resume", str(run), "--checkpoint", "0", "--steps", "90"]) == 2
    assert "no checkpoint at step 0" in " ".join(capsys.readouterr().err.split())
    assert main(["train", "--resume", str(run), "--steps", "90", "--no-gif"]) == 0
    captured = capsys.readouterr()
    assert "from step 30, up to 90 steps" in captured.out and "cannot be used" in captured.err
    assert (run / "checkpoints" / "60.unused").is_dir()
    assert main(["train", "--resume", str(run), "--checkpoint", "60", "--steps", "120"]) == 0
    assert "from step 60, up to 120 steps" in capsys.readouterr().out
    assert main(["train", "shower", "--checkpoint", "60"]) == 2
    assert "use it with --resume RUN" in " ".join(capsys.readouterr().err.split())


def test_resume_names_the_checkpoint_it_loaded_when_the_newest_replay_is_damaged(
    tiny: Path, tmp_path: Path, capsys
) -> None:
    """The resume message named the newest checkpoint, whose replay was refused only later."""
    assert train(tiny, tmp_path, "--steps", "60", "--checkpoint-every", "30") == 0
    run = tmp_path / "shower-dqn-0"
    newest = run / "checkpoints" / "60"
    with np.load(newest / "replay.npz") as data:
        arrays = {k: data[k] for k in data.files}
    arrays[next(k for k in arrays if arrays[k].dtype.kind == "f")].flat[0] = np.nan
    np.savez(newest / "replay.npz", **arrays)
    manifest = json.loads((newest / "manifest.json").read_text())
    manifest["sha256"]["replay.npz"] = hashlib.sha256(
        (newest / "replay.npz").read_bytes()
    ).hexdigest()
    (newest / "manifest.json").write_text(json.dumps(manifest))
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--steps", "90", "--no-gif"]) == 0
    captured = capsys.readouterr()
    assert "from step 30, up to 90 steps" in captured.out, captured.out
    assert "from step 60" not in captured.out
    assert f"'{newest}' cannot be used" in " ".join(captured.err.split())


# ---- exact resume across processes -----------------------------------------------------------


def test_resume_in_a_fresh_process_matches_a_straight_run(tiny: Path, tmp_path: Path) -> None:
    # Straight: 240 steps with a checkpoint at 120. Split: 120 steps, then a new process
    # resumes from the checkpoint at 120 up to 240. The weights must be identical.
    common = ["--config", str(tiny), "--runs-dir", "runs", "--no-gif", "--checkpoint-every", "120"]
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert main(["train", "shower", "--steps", "240", "--name", "a", *common]) == 0
        assert main(["train", "shower", "--steps", "120", "--name", "b", *common]) == 0
    finally:
        os.chdir(cwd)
    resumed = renshu_process(
        "train", "--resume", "runs/b", "--steps", "240", "--no-gif", cwd=tmp_path
    )
    out, _ = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, out
    assert "Resuming runs/b from step 120, up to 240 steps." in out

    a, b = tmp_path / "runs" / "a", tmp_path / "runs" / "b"
    for name in ("agent/weights.safetensors", "checkpoints/240/weights.safetensors"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    # The same episodes were played, so the per-episode metrics agree row for row.
    ra, rb = read_metrics(a), read_metrics(b)
    rewards_a = ra["charts/episode_reward"][~np.isnan(ra["episode"])]
    rewards_b = rb["charts/episode_reward"][~np.isnan(rb["episode"])]
    assert len(rewards_a) == 4 and rewards_a.tolist() == rewards_b.tolist()
    assert yaml.safe_load((b / "config.yaml").read_text())["steps"] == 240


# ---- Ctrl+C and SIGTERM ------------------------------------------------------------------------


def test_ctrl_c_and_sigterm_save_a_checkpoint_and_the_run_resumes(
    tiny: Path, tmp_path: Path, capsys
) -> None:
    signals = {"int": (signal.SIGINT, 130), "term": (signal.SIGTERM, 143)}
    args = ["--config", str(tiny), "--steps", "1000000", "--runs-dir", "runs"]
    processes = {
        name: renshu_process("train", "shower", *args, "--name", name, cwd=tmp_path)
        for name in signals
    }
    waiting = dict(processes)
    deadline = time.monotonic() + 90
    while waiting and time.monotonic() < deadline:  # signal once an episode has finished
        for name, process in list(waiting.items()):
            metrics = tmp_path / "runs" / name / "metrics.csv"
            if metrics.is_file() and len(metrics.read_text().splitlines()) >= 2:
                process.send_signal(signals[name][0])
                del waiting[name]
        time.sleep(0.05)
    for process in waiting.values():
        process.kill()
    assert not waiting, "training did not start"

    for name, process in processes.items():
        sig, code = signals[name]
        out, _ = process.communicate(timeout=60)
        assert process.returncode == code, out
        run = tmp_path / "runs" / name
        latest = checkpoint.latest(run / "checkpoints")
        assert latest is not None and (latest / "replay.npz").is_file()
        step = int(latest.name)
        assert f"Stopped by {sig.name} at step {step:,} of 1,000,000" in out
        assert f"Resume with: renshu train --resume {run}" in out
        assert (run / "plots" / "learning_curve.png").is_file()
        assert not (run / "agent").exists()

    run = tmp_path / "runs" / "int"
    step = int(checkpoint.latest(run / "checkpoints").name)  # type: ignore[union-attr]
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--steps", str(step + 60), "--no-gif"]) == 0
    assert f"from step {step:,}, up to {step + 60:,} steps" in capsys.readouterr().out
    assert renshu.load(run / "agent").num_steps == step + 60
    rows = read_metrics(run)["step"]
    assert rows.max() == step + 60 and (rows[1:] >= rows[:-1]).all()


# ---- renshu test ---------------------------------------------------------------------------------


def test_test_prints_scores_and_writes_numbered_gifs(trained: Path, capsys) -> None:
    assert main(["test", str(trained), "--episodes", "2", "--gif"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Episode:1 Score:") and lines[1].startswith("Episode:2 Score:")
    assert lines[2].startswith("Summary: mean=") and lines[2].endswith("episodes=2")
    assert lines[3] == f"GIF: {trained}/videos/test-1.gif"
    assert main(["test", str(trained), "--episodes", "1", "--gif", "--seed", "5"]) == 0
    assert (trained / "videos" / "test-2.gif").is_file()
    assert (trained / "videos" / "test.gif").is_file()  # the one train wrote is kept


def test_test_renders_ansi_and_loads_an_agent_folder(trained: Path, capsys) -> None:
    assert main(["test", str(trained / "agent"), "--episodes", "1", "--render", "ansi"]) == 0
    out = capsys.readouterr().out
    assert out.count("Episode:1 Score:") == 1 and len(out.splitlines()) > 60


def test_test_uses_the_latest_checkpoint_without_an_agent(
    tiny: Path, tmp_path: Path, capsys
) -> None:
    assert train(tiny, tmp_path, "--steps", "60") == 0
    run = tmp_path / "shower-dqn-0"
    os.rename(run / "agent", tmp_path / "moved")
    assert main(["test", str(run), "--episodes", "1"]) == 0
    assert "Episode:1 Score:" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["test", "runs/nope"], "No run at 'runs/nope': it does not exist."),
        (["test", "{run}", "--gif", "--render", "ansi"], "--gif and --render cannot be combined"),
        (["test", "{run}/plots"], "is not a run folder: it has no config.yaml"),
    ],
)
def test_test_errors(args: list[str], message: str, trained: Path, capsys) -> None:
    assert main([a.replace("{run}", str(trained)) for a in args]) == 2
    assert message in " ".join(capsys.readouterr().err.split())


# ---- renshu plot --------------------------------------------------------------------------------


def test_plot_compares_runs_on_one_figure(
    trained: Path, tiny: Path, tmp_path: Path, capsys
) -> None:
    assert train(tiny, tmp_path, "--steps", "240", "--set", "optimizer=rmsprop_graves") == 0
    other = tmp_path / "shower-dqn-0"
    out = tmp_path / "loss.png"
    capsys.readouterr()
    assert (
        main(["plot", str(trained), str(other), "--metric", "losses/td_loss", "--out", str(out)])
        == 0
    )
    assert capsys.readouterr().out.strip() == f"Wrote {out}"
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert main(["plot", str(trained), "--window", "3"]) == 0
    assert (trained / "plots" / "charts_episode_reward.png").is_file()


def test_plot_names_the_metrics_a_run_has(trained: Path, capsys) -> None:
    assert main(["plot", str(trained), "--metric", "losses/td_los"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "has no column 'losses/td_los'. Did you mean: losses/td_loss" in err
    assert "Its metrics: charts/episode_reward," in err


# ---- a failed start leaves nothing behind --------------------------------------------------------

FIXTURES = ROOT / "tests" / "fixtures"
NEEDS_LENGTH = f"{FIXTURES / 'needs_length.py'}:NeedsLength"


def read_only(path: object) -> OSError:
    """The error a write into a read-only file system raises (tests run as root, where chmod
    does not stop writes, so the write is replaced by one that raises this)."""
    return OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "net=foo"], "net must be"),
        (["--set", "net=cnn"], "net='cnn' needs an image observation"),
        (["--no-check", "--steps", "100"], "DQN needs a Discrete action space"),
    ],
)
def test_a_failed_start_leaves_no_folder_and_the_next_run_gets_the_plain_name(
    args: list[str], message: str, tiny: Path, tmp_path: Path, capsys
) -> None:
    env = "Pendulum-v1" if "--no-check" in args else "shower"
    base = ["--config", str(tiny), "--runs-dir", str(tmp_path), "--no-gif"]
    assert main(["train", env, *base, *args]) == 2
    err = capsys.readouterr().err
    assert message in " ".join(err.split()) and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []
    assert train(tiny, tmp_path, "--steps", "60") == 0
    assert [p.name for p in tmp_path.iterdir()] == ["shower-dqn-0"]


def test_a_start_that_fails_before_training_removes_only_what_it_made(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from renshu.runs import TensorBoardLogger

    def fail(self: TensorBoardLogger, logs: dict[str, object]) -> None:
        (self.log_dir.parent / "notes.txt").write_text("mine")  # not renshu's: must stay
        raise read_only(self.log_dir)

    monkeypatch.setattr(TensorBoardLogger, "on_train_begin", fail)
    assert train(tiny, tmp_path) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "the file system is read-only (EROFS)" in err and "Traceback" not in err
    run = tmp_path / "shower-dqn-0"
    assert [p.name for p in run.iterdir()] == ["notes.txt"]


def test_a_read_only_runs_folder_is_one_paragraph_and_leaves_nothing(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import renshu.runs.run

    def dump(data: object, path: Path) -> None:
        raise read_only(path)

    monkeypatch.setattr(renshu.runs.run, "dump_yaml", dump)
    assert train(tiny, tmp_path) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert err.startswith(
        f"error: Creating a run folder failed on '{tmp_path}/shower-dqn-0/config.yaml': the "
        "file system is read-only (EROFS). No run was started."
    )
    assert "Traceback" not in err and err.count("error:") == 1
    assert list(tmp_path.iterdir()) == []


# ---- file errors on resume, test --gif and plot --------------------------------------------------


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    ("code", "phrase"),
    [
        (errno.EROFS, "the file system is read-only (EROFS). Nothing already written was removed."),
        (errno.ENOSPC, "the disk is full (ENOSPC). Nothing already written was removed. Free"),
    ],
)
def test_resume_on_a_read_only_or_full_disk_is_one_paragraph_and_loses_nothing(
    code: int, phrase: str, tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from renshu.runs import MetricsCSV

    assert train(tiny, tmp_path, "--steps", "60") == 0
    run = tmp_path / "shower-dqn-0"
    before = snapshot(run)

    def refuse(self: MetricsCSV, mode: str) -> None:
        raise OSError(code, os.strerror(code), str(self.path))

    monkeypatch.setattr(MetricsCSV, "_open", refuse)
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--steps", "120", "--no-gif"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"Training the run '{run}' failed on '{run}/metrics.csv': {phrase}" in err
    assert f"then continue with renshu train --resume {run}" in err
    assert "Traceback" not in err and err.count("error:") == 1
    after = snapshot(run)
    assert {k: v for k, v in after.items() if k != "config.yaml"} == {
        k: v for k, v in before.items() if k != "config.yaml"
    }


def test_test_gif_and_plot_into_a_read_only_folder_are_one_paragraph(
    trained: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import renshu.plots
    import renshu.video

    def refuse(_: object, path: Path, *args: object, **kwargs: object) -> None:
        raise read_only(path)

    monkeypatch.setattr(renshu.video, "save_gif", refuse)
    monkeypatch.setattr(renshu.plots, "save_figure", refuse)
    assert main(["test", str(trained), "--episodes", "1", "--gif"]) == 2
    out, err = capsys.readouterr()
    assert out.startswith("Episode:1 Score:")  # the scores still come
    err = " ".join(err.split())
    assert re.fullmatch(
        re.escape(f"error: Writing the GIF failed on '{trained}/videos/test-")
        + r"\d+"
        + re.escape(
            ".gif': the file system is read-only (EROFS). Pass --gif PATH to write it somewhere "
            "writable."
        ),
        err,
    ), err
    assert main(["plot", str(trained)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert err == (
        f"error: Writing the figure failed on '{trained}/plots/charts_episode_reward.png': the "
        "file system is read-only (EROFS). Pass --out PATH to write it somewhere writable."
    )


def test_damaged_metrics_are_plotted_and_resumed_without_losing_a_byte(
    tiny: Path, tmp_path: Path, capsys
) -> None:
    assert train(tiny, tmp_path, "--steps", "120", "--checkpoint-every", "120") == 0
    run = tmp_path / "shower-dqn-0"
    metrics = run / "metrics.csv"
    lines = metrics.read_bytes().split(b"\n")
    lines[2] = lines[2][:6] + b"\xff\xfe\x00" + lines[2][6:]  # damaged bytes in row 2
    metrics.write_bytes(b"\n".join(lines))
    damaged = metrics.read_bytes()
    capsys.readouterr()
    assert main(["plot", str(run)]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert (
        f"warning: '{metrics}' has bytes that are not text on line 3 (the file is damaged)" in err
    )
    assert main(["train", "--resume", str(run), "--steps", "180", "--no-gif"]) == 0
    assert metrics.read_bytes().startswith(damaged)  # kept as it was, new rows after it
    with pytest.warns(UserWarning, match="not text on line 3"):
        assert read_metrics(run)["step"].max() == 180


def test_a_folder_in_place_of_metrics_csv_is_a_clear_error(
    tiny: Path, tmp_path: Path, capsys
) -> None:
    assert train(tiny, tmp_path, "--steps", "60") == 0
    run = tmp_path / "shower-dqn-0"
    (run / "metrics.csv").unlink()
    (run / "metrics.csv").mkdir()
    (run / "metrics.csv" / "keep.txt").write_text("mine")
    capsys.readouterr()
    assert main(["plot", str(run)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"'{run}/metrics.csv' is a folder, but a run keeps its metrics in a file" in err
    assert main(["train", "--resume", str(run), "--steps", "120", "--no-gif"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"failed on '{run}/metrics.csv': it is a folder where a file belongs (EISDIR)" in err
    assert "Move that folder out of the way" in err and "Traceback" not in err
    assert (run / "metrics.csv" / "keep.txt").read_text() == "mine"


def test_an_unexpected_file_error_is_one_paragraph_and_a_bug_keeps_its_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import importlib

    make_module = importlib.import_module("renshu.make")

    def unreadable(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", "/srv/envs/shower.py")

    monkeypatch.setattr(make_module, "make", unreadable)
    assert main(["random", "shower"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert err == (
        "error: renshu random failed on '/srv/envs/shower.py': permission denied (EACCES). "
        "Make it writable for you (chmod u+w), or write elsewhere. (RENSHU_DEBUG=1 shows where.)"
    )
    monkeypatch.setenv("RENSHU_DEBUG", "1")
    with pytest.raises(PermissionError):
        main(["random", "shower"])

    def bug(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(make_module, "make", bug)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["random", "shower"])


# ---- what a checkpoint cuts, and what resume keeps -----------------------------------------------


def test_resume_says_what_it_keeps_and_the_cut_episodes_add_up(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    # Shower episodes are 60 steps; Ctrl+C at step 95 cuts the second one after 35 steps.
    import renshu.runs

    class CtrlCAt95(renshu.runs.LineProgress):
        def on_tick(self, step: int) -> None:
            if step == 95:
                os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(renshu.runs, "LineProgress", CtrlCAt95)
    assert train(tiny, tmp_path, "--steps", "1000", "--checkpoint-every", "1000") == 130
    out = " ".join(capsys.readouterr().out.split())
    run = tmp_path / "shower-dqn-0"
    assert "Stopped by SIGINT at step 95 of 1,000." in out
    assert (
        "1 episode (35 steps) under way there was cut: not counted as episodes (metrics.csv "
        "marks the cut); a resume starts new episodes." in out
    )
    monkeypatch.undo()
    assert main(["train", "--resume", str(run), "--steps", "240", "--no-gif"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"Resuming {run} from step 95, up to 240 steps." in out
    assert (
        "Kept from the checkpoint: weights, target network, optimizer state, replay buffer, "
        "step and episode counters, random states. Restarted: the environments, with new "
        "episodes from step 95; 1 episode (35 steps) under way there was cut (not counted as "
        "episodes)." in out
    )
    # Every step is in an episode or in a cut: the figures agree.
    data = read_metrics(run)
    episodes = ~np.isnan(data["episode"])
    cuts = ~np.isnan(data["checkpoint/cut_episodes"])
    assert data["step"][cuts].tolist() == [95, 240]
    assert data["checkpoint/cut_steps"][cuts][0] == 35
    assert (
        np.nansum(data["charts/episode_length"][episodes]) + np.nansum(data["checkpoint/cut_steps"])
        == 240
    )
    assert (
        int(episodes.sum()) + int(np.nansum(data["checkpoint/cut_episodes"]))
        == renshu.load(run / "agent").num_episodes
    )


def test_an_env_error_mid_episode_cuts_that_episode_and_the_steps_still_add_up(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    # step() raises after step 95: the checkpoint before it cuts the second 60-step episode
    # after 35 steps, as Ctrl+C there would (the stop and resume messages and metrics.csv).
    import renshu.runs
    from renshu.envs.shower import ShowerEnv

    broken: list[int] = []

    class BreakAt95(renshu.runs.LineProgress):
        def on_tick(self, step: int) -> None:
            if step == 95:
                broken.append(step)

    real_step = ShowerEnv.step

    def step(self: ShowerEnv, action: object) -> object:
        if broken:
            raise ZeroDivisionError("the heater broke")
        return real_step(self, action)  # type: ignore[arg-type]

    monkeypatch.setattr(ShowerEnv, "step", step)
    monkeypatch.setattr(renshu.runs, "LineProgress", BreakAt95)
    assert train(tiny, tmp_path, "--steps", "1000", "--checkpoint-every", "1000") == 1
    err = " ".join(capsys.readouterr().err.split())
    run = tmp_path / "shower-dqn-0"
    assert "step() raised ZeroDivisionError: the heater broke" in err
    assert f"Saved {run / 'checkpoints' / '95'} (the state before the failing step)." in err
    assert (
        "1 episode (35 steps) under way there was cut: not counted as episodes (metrics.csv "
        "marks the cut); a resume starts new episodes." in err
    )
    monkeypatch.undo()
    assert main(["train", "--resume", str(run), "--steps", "240", "--no-gif"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert (
        "Restarted: the environments, with new episodes from step 95; 1 episode (35 steps) "
        "under way there was cut (not counted as episodes)." in out
    )
    data = read_metrics(run)
    episodes = ~np.isnan(data["episode"])
    cuts = ~np.isnan(data["checkpoint/cut_episodes"])
    assert data["step"][cuts].tolist() == [95, 240]
    assert data["checkpoint/cut_steps"][cuts][0] == 35
    assert (
        np.nansum(data["charts/episode_length"][episodes]) + np.nansum(data["checkpoint/cut_steps"])
        == 240
    )
    assert (
        int(episodes.sum()) + int(np.nansum(data["checkpoint/cut_episodes"]))
        == renshu.load(run / "agent").num_episodes
    )


# ---- no GIF for an env without an rgb_array render ---------------------------------------------


def test_no_gif_for_an_env_without_rgb_array_says_why_and_how_to_add_one(
    tiny: Path, tmp_path: Path, capsys
) -> None:
    base = ["--config", str(tiny), "--runs-dir", str(tmp_path), "--steps", "60"]
    assert main(["train", NEEDS_LENGTH, *base, "--env-kwargs", "length=5"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert (
        f"No GIF: {NEEDS_LENGTH} has no rgb_array render (its metadata['render_modes'] lists "
        "ansi), so there is no GIF of it. A run is fine without one. To get one, accept "
        "`render_mode=None` in the env's __init__" in out
    )
    assert "list 'rgb_array' in metadata['render_modes']" in out
    assert "or pass --no-gif to skip the GIF." in out
    assert "Pass one of those, or leave render_mode out" not in out
    run = tmp_path / "NeedsLength-dqn-0"
    assert (run / "agent").is_dir() and not (run / "videos").exists()
    # renshu test --gif: the GIF was the point, so the same explanation and exit 2 (the run
    # names a Python file as its env: the user says it is theirs with --trust-env).
    assert main(["test", str(run), "--gif", "--trust-env"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"error: {NEEDS_LENGTH} has no rgb_array render" in err
    assert "A run is fine without one." in err


def test_no_gif_for_an_old_gym_env_does_not_blame_the_user() -> None:
    from renshu.errors import ConfigError
    from renshu.runs import rgb_array_env

    env = f"{FIXTURES / 'tutorial000_gym.py'}:ShowEnv"
    with pytest.raises(ConfigError) as caught:
        rgb_array_env(env)
    message = str(caught.value)
    assert message.startswith(
        f"{env} has no rgb_array render (its metadata['render_modes'] lists none and its "
        "__init__ takes no render_mode argument), so there is no GIF of it."
    )
    assert "Remove it" not in message and "got an unknown argument" not in message


# ---- --threads ---------------------------------------------------------------------------------


def test_threads_flag_reaches_the_agent_in_train_resume_and_test(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import contextlib

    import renshu.train.agent
    import renshu.train.evaluate

    seen: list[int | None] = []
    real = renshu.train.agent.limit_threads

    @contextlib.contextmanager
    def spy(threads: int | None) -> object:
        seen.append(threads)
        with real(threads):
            yield

    monkeypatch.setattr(renshu.train.agent, "limit_threads", spy)  # fit
    monkeypatch.setattr(renshu.train.evaluate, "limit_threads", spy)  # test
    assert train(tiny, tmp_path, "--steps", "60", "--threads", "2") == 0
    run = tmp_path / "shower-dqn-0"
    assert yaml.safe_load((run / "config.yaml").read_text())["config"]["threads"] == 2
    assert seen and set(seen) == {2}  # fit and the greedy test
    seen.clear()
    assert (
        main(["train", "--resume", str(run), "--steps", "120", "--no-gif", "--threads", "3"]) == 0
    )
    assert seen and set(seen) == {3}
    seen.clear()
    assert main(["test", str(run), "--episodes", "1", "--threads", "4"]) == 0
    assert seen == [4]


def test_threads_help_tells_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "torch's choice" not in text
    assert "the threads option (default 1, fastest for small networks" in text


# ---- --env-kwargs ------------------------------------------------------------------------------


def test_env_kwargs_reach_the_env_in_train_resume_test_random_and_check(
    tiny: Path, tmp_path: Path, capsys
) -> None:
    base = ["--config", str(tiny), "--runs-dir", str(tmp_path), "--no-gif"]
    assert main(["train", NEEDS_LENGTH, *base, "--steps", "60", "--env-kwargs", "length=5"]) == 0
    run = tmp_path / "NeedsLength-dqn-0"
    assert yaml.safe_load((run / "config.yaml").read_text())["env_kwargs"] == {"length": 5}
    lengths = read_metrics(run)["charts/episode_length"]
    assert set(lengths[~np.isnan(lengths)]) == {5}
    # resume and test build the env with the saved arguments (it has no default)
    # (the env is a Python file: a resume or test imports it only when the user names it)
    assert main(["train", NEEDS_LENGTH, "--resume", str(run), "--steps", "120", "--no-gif"]) == 0
    lengths = read_metrics(run)["charts/episode_length"]
    assert set(lengths[~np.isnan(lengths)]) == {5}
    capsys.readouterr()
    test_args = ["--episodes", "1", "--render", "ansi", "--trust-env"]
    assert main(["test", str(run), *test_args]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1 + 5 + 2  # reset, 5 steps, score, summary
    agent_args = ["--episodes", "1", "--env-kwargs", "length=7", "--trust-env"]
    assert main(["test", str(run / "agent"), *agent_args]) == 0
    assert main(["random", NEEDS_LENGTH, "--episodes", "1", "--env-kwargs", "length=3"]) == 0
    assert main(["check", NEEDS_LENGTH, "--env-kwargs", "length=3"]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--env-kwargs", "length=6"]) == 2
    assert "--env-kwargs cannot be changed" in " ".join(capsys.readouterr().err.split())


def test_env_kwargs_are_checked_against_the_constructor(tmp_path: Path, capsys) -> None:
    args = ["train", NEEDS_LENGTH, "--runs-dir", str(tmp_path), "--env-kwargs", "size=5"]
    assert main(args) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "got an unknown argument 'size'" in err
    assert list(tmp_path.iterdir()) == []


# ---- SIGTERM at any moment -----------------------------------------------------------------------

READY = "import sys, renshu.cli as c; print('ready', flush=True); sys.exit(c.main(sys.argv[1:]))"


def started(*args: str, cwd: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", READY, *args],
        cwd=cwd,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline() == "ready\n"
    return process


def test_sigterm_at_any_moment_of_train_and_test_exits_143_with_a_line(
    trained: Path, tiny: Path, tmp_path: Path
) -> None:
    delays = (0.02, 0.2, 0.6, 1.5)
    args = ["--config", str(tiny), "--steps", "1000000", "--runs-dir", "runs"]
    runs = {d: started("train", "shower", *args, "--name", f"d{d}", cwd=tmp_path) for d in delays}
    tests = {
        d: started("test", str(trained), "--episodes", "100000", cwd=tmp_path) for d in delays[:2]
    }
    began = time.monotonic()
    for delay, process in sorted([*runs.items(), *tests.items()], key=lambda item: item[0]):
        time.sleep(max(0.0, began + delay - time.monotonic()))
        process.send_signal(signal.SIGTERM)
    for delay, process in [*runs.items(), *tests.items()]:
        out, _ = process.communicate(timeout=120)
        assert process.returncode == 143, (delay, out)
        assert "Traceback" not in out, out
        assert "Terminated by SIGTERM." in out or "Stopped by SIGTERM" in out, out
    for delay in delays:  # a run stopped before training left nothing, or a checkpoint
        run = tmp_path / "runs" / f"d{delay}"
        assert not run.exists() or checkpoint.latest(run / "checkpoints") is not None, delay


# ---- every option checked the same way: --set, --config and a run's config.yaml -------------


@contextlib.contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Fail (instead of hanging) when the block runs longer than ``seconds``."""

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "gamma=abc"], "gamma must be a number in [0, 1], got 'abc' (a str)."),
        (["--set", "gamma=[1]"], "gamma must be a number in [0, 1], got [1] (a list)."),
        (["--set", "gamma=null"], "gamma must be a number in [0, 1], got None."),
        (["--set", "learning_rate=x"], "learning_rate must be a number > 0, got 'x' (a str)."),
        (["--set", "eps_start=[1]"], "eps_start must be a number in [0, 1], got [1] (a list)."),
        (["--set", "tau=null"], "tau must be a number > 0, got None."),
        (["--set", "per_alpha=x"], "per_alpha must be a number in [0, 1], got 'x' (a str)."),
        (
            ["--set", "max_grad_norm=x"],
            "max_grad_norm must be a number > 0 or None, got 'x' (a str).",
        ),
        (["--set", "double=maybe"], "double must be true or false, got 'maybe' (a str)."),
        (["--set", "dueling=no"], "dueling must be true or false, got 'no' (a str)."),
        (["--set", "prioritized=yes"], "prioritized must be true or false, got 'yes' (a str)."),
        (["--set", "window=100000"], "window must be an int in [1, 1000], got 100000."),
        (["--set", "batch_size=1.5"], "batch_size must be an int >= 1, got 1.5 (a float)."),
        (["--set", "net=foo"], 'net must be "auto", "mlp", "cnn", a list of ints >= 1'),
        (["--set", "device=tpu"], "device 'tpu' is not a device name torch knows."),
        (["--device", "tpu"], "In --device tpu: device 'tpu' is not a device name torch knows."),
    ],
)
def test_set_bad_values_name_the_option_the_type_and_the_value(
    args: list[str], message: str, tiny: Path, tmp_path: Path, capsys
) -> None:
    runs = tmp_path / "runs"
    with deadline(60):
        assert train(tiny, runs, *args) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert message in err
    assert "Traceback" not in err
    assert not runs.exists()


def test_set_true_false_and_null_are_read_as_yaml(tiny: Path, tmp_path: Path) -> None:
    args = ["--steps", "30", "--set", "double=true", "--set", "max_grad_norm=null"]
    assert train(tiny, tmp_path, *args, "--set", "buffer_size=1e3") == 0
    settings = yaml.safe_load((tmp_path / "shower-dqn-0" / "config.yaml").read_text())
    assert settings["config"]["double"] is True and settings["config"]["max_grad_norm"] is None
    assert settings["config"]["buffer_size"] == 1000  # 1e3 read as a float, stored as an int


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (
            "buffer_size=1e12",
            "buffer_size=1000000000000 needs 19 TiB for the replay buffer (21 bytes per "
            "transition)",
        ),
        ("net=[100000,100000]", "net=[100000, 100000] needs 186 GiB for the networks"),
    ],
)
def test_set_too_big_for_memory_is_refused_with_the_figure(
    option: str, message: str, tiny: Path, tmp_path: Path, capsys
) -> None:
    with deadline(60):
        assert train(tiny, tmp_path, "--set", option) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert message in err
    assert "of memory available." in err and "Traceback" not in err


def test_config_that_is_a_folder_says_so(tiny: Path, tmp_path: Path, capsys) -> None:
    folder = tmp_path / "presets"
    folder.mkdir()
    args = ["train", "shower", "--config", str(folder), "--runs-dir", str(tmp_path / "runs")]
    assert main(args) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"Config file '{folder}' is a folder, not a file." in err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "is not a text file: byte 0 is not UTF-8"),
        (b"gamma: [1\n", "is not valid YAML"),
        (b"\x00\x01\x02\x03", "is not valid YAML"),
        (b"gamma: abc\n", "gamma must be a number in [0, 1], got 'abc' (a str)."),
        (b"double: no\n", "double must be true or false, got 'no' (a str)."),
        (b"seed: -1\n", "sets 'seed', which renshu train sets from --seed"),
    ],
)
def test_bad_config_file_names_the_file_and_makes_no_folder(
    content: bytes, message: str, tmp_path: Path, capsys
) -> None:
    preset = tmp_path / "bad.yaml"
    preset.write_bytes(content)
    args = ["train", "shower", "--config", str(preset), "--runs-dir", str(tmp_path / "runs")]
    assert main(args) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert str(preset) in err and message in err
    assert "Traceback" not in err
    assert not (tmp_path / "runs").exists()


@pytest.fixture()
def damaged(trained: Path, tmp_path: Path) -> Path:
    """A copy of the trained run whose config.yaml a test may damage."""
    copy = tmp_path / "shower-dqn-0"
    shutil.copytree(trained, copy)
    return copy


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ("checkpoint_every: 60", "checkpoint_every: 0"),
            "checkpoint_every must be an int >= 1, got 0.",
        ),
        (("steps: 120", "steps: abc"), "steps must be an int >= 1, got 'abc' (a str)."),
        (("seed: 0", "seed: -3"), "seed must be an int >= 0, got -3."),
        (
            ("test_episodes: 2", "test_episodes: [2]"),
            "test_episodes must be an int >= 1, got [2] (a list).",
        ),
    ],
)
@pytest.mark.parametrize("command", ["resume", "test", "plot"])
def test_bad_entry_in_a_runs_config_yaml_is_one_paragraph(
    edit: tuple[str, str], message: str, command: str, damaged: Path, capsys
) -> None:
    config = damaged / "config.yaml"
    text = config.read_text()
    assert edit[0] in text
    config.write_text(text.replace(edit[0], edit[1]))
    args = {
        "resume": ["train", "--resume", str(damaged), "--steps", "240", "--no-gif"],
        "test": ["test", str(damaged), "--episodes", "1"],
        "plot": ["plot", str(damaged)],
    }[command]
    assert main(args) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"'{config}' has a bad entry: {message}" in err
    assert "restore that entry" in err and "Traceback" not in err
    assert checkpoint.latest(damaged / "checkpoints") == damaged / "checkpoints" / "120"


@pytest.mark.parametrize("command", ["resume", "test"])
def test_runs_config_yaml_with_undecodable_bytes_is_one_paragraph(
    command: str, damaged: Path, capsys
) -> None:
    config = damaged / "config.yaml"
    config.write_bytes(config.read_bytes()[:40] + b"\xff\xfe\xfd" + config.read_bytes()[40:])
    args = {
        "resume": ["train", "--resume", str(damaged), "--steps", "240", "--no-gif"],
        "test": ["test", str(damaged), "--episodes", "1"],
    }[command]
    assert main(args) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"Config file '{config}' is not a text file: byte 40 is not UTF-8" in err
    assert "Restore it from a copy, or start a new run" in err and "Traceback" not in err


def test_huge_steps_start_training_at_once(tiny: Path, tmp_path: Path) -> None:
    """--steps 10**12 trains (and stops on SIGTERM) like any other total: nothing before the
    first step grows with the total."""
    args = ["--config", str(tiny), "--steps", str(10**12), "--runs-dir", "runs", "--no-gif"]
    process = renshu_process("train", "shower", *args, cwd=tmp_path)
    lines: list[str] = []
    started = time.monotonic()
    assert process.stdout is not None
    try:
        for line in process.stdout:
            lines.append(line)
            if line.startswith("step "):
                break
            assert time.monotonic() - started < 90, "".join(lines)
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    text = "".join(lines) + out
    assert "step 1,000/1,000,000,000,000" in text
    assert process.returncode == 143, text
    assert "Stopped by SIGTERM at step" in text


def test_bad_option_in_a_runs_config_yaml_names_the_file(
    tiny: Path, tmp_path: Path, capsys
) -> None:
    assert train(tiny, tmp_path, "--steps", "30", "--checkpoint-every", "1000") == 0
    run = tmp_path / "shower-dqn-0"
    shutil.rmtree(run / "checkpoints")  # resume builds the agent from config.yaml
    config = run / "config.yaml"
    config.write_text(config.read_text().replace("  gamma: 0.9", "  gamma: abc"))
    assert main(["train", "--resume", str(run), "--steps", "60", "--no-gif"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"'{config}' has a bad entry under config: gamma must be a number in [0, 1], got" in err
    assert "restore that entry" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("device", "message"),
    [
        ("tpu", "device 'tpu' is not a device name torch knows. Use 'auto', 'cpu'"),
        ("mps", "device 'mps' needs Apple's Metal (MPS), which this torch"),
    ],
)
def test_test_on_a_device_torch_cannot_use_names_the_device(
    device: str, message: str, trained: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert main(["test", str(trained), "--device", device, "--episodes", "1"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert message in err
    assert "another version" not in err and "Traceback" not in err


# ---- commands renshu prints ----------------------------------------------------------------------


def _printed(out: str, pattern: str) -> list[str]:
    """The argv of the command ``pattern`` finds in ``out`` (shell words, as pasted)."""
    import shlex

    found = re.search(pattern, out)
    assert found is not None, out
    return shlex.split(found.group(1))


def test_printed_test_and_resume_commands_work_as_printed_from_another_folder(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    # The user's env file in a project folder whose path has a space; training runs there with
    # relative paths, the printed commands are pasted in another folder.
    monkeypatch.setenv("COLUMNS", "60")  # a narrow terminal: no command is cut into pieces
    project, elsewhere = tmp_path / "my project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    shutil.copy(FIXTURES / "corridor.py", project / "my_env.py")
    monkeypatch.chdir(project)
    args = ["--config", str(tiny), "--steps", "60", "--no-gif"]
    assert main(["train", "my_env.py:Corridor", *args]) == 0
    out = capsys.readouterr().out
    resume = _printed(out, r"resume with: (renshu train .*)")
    test = _printed(out, r"Test it: (renshu test [^\n]*)")
    run = project / "runs" / "Corridor-dqn-0"
    assert test == ["renshu", "test", str(run), "--trust-env"]
    assert resume == ["renshu", "train", "--resume", str(run), "--trust-env"]
    monkeypatch.chdir(elsewhere)
    assert main([*test[1:], "--episodes", "1"]) == 0
    assert re.search(r"^Episode:1 Score:", capsys.readouterr().out, re.MULTILINE)
    assert main([*resume[1:], "--steps", "120", "--no-gif"]) == 0
    assert "Resuming" in capsys.readouterr().out


def test_run_records_its_env_file_so_it_loads_from_another_folder(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    shutil.copy(FIXTURES / "corridor.py", project / "my_env.py")
    monkeypatch.chdir(project)
    args = ["--config", str(tiny), "--steps", "60", "--no-gif"]
    assert main(["train", "my_env.py:Corridor", *args]) == 0
    run = project / "runs" / "Corridor-dqn-0"
    recorded = yaml.safe_load((run / "config.yaml").read_text())["env"]
    assert recorded == f"{project / 'my_env.py'}:Corridor"
    monkeypatch.chdir(elsewhere)
    assert renshu.load(run, trust_env=True).env_spec == recorded
    assert main(["test", str(run), "--trust-env", "--episodes", "1"]) == 0


def test_relative_env_file_of_an_older_run_is_found_from_another_folder(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    # A run folder written before paths were recorded absolute names the file relative to the
    # folder training ran in: found from the current folder, else the folders above the run.
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    shutil.copy(FIXTURES / "corridor.py", project / "my_env.py")
    monkeypatch.chdir(project)
    args = ["--config", str(tiny), "--steps", "60", "--no-gif"]
    assert main(["train", "my_env.py:Corridor", *args]) == 0
    run = project / "runs" / "Corridor-dqn-0"
    for file in (run / "config.yaml", run / "agent" / "config.json"):
        file.write_text(file.read_text().replace(str(project / "my_env.py"), "my_env.py"))
    manifest = json.loads((run / "agent" / "manifest.json").read_text())
    digest = hashlib.sha256((run / "agent" / "config.json").read_bytes()).hexdigest()
    manifest["sha256"]["config.json"] = digest
    (run / "agent" / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.chdir(elsewhere)
    assert main(["test", str(run), "--trust-env", "--episodes", "1"]) == 0
    found = f"{project / 'my_env.py'}:Corridor"
    assert renshu.load(run, trust_env=True).env_spec == found
    (project / "my_env.py").rename(project / "moved.py")
    capsys.readouterr()
    assert main(["test", str(run), "--trust-env", "--episodes", "1"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "Environment file 'my_env.py'" in err and "was not found" in err
    assert f"Tried: {elsewhere / 'my_env.py'}, {project / 'runs' / 'my_env.py'}, " in err
    assert str(project / "my_env.py") in err
    # moved: named where it is now, it tests and resumes
    (project / "sub").mkdir()
    (project / "moved.py").rename(project / "sub" / "my_env.py")
    moved = f"{project / 'sub' / 'my_env.py'}:Corridor"
    assert main(["test", str(run), "--env", moved, "--episodes", "1"]) == 0
    assert main(["train", moved, "--resume", str(run), "--steps", "120", "--no-gif"]) == 0


# ---- Ctrl+C -------------------------------------------------------------------------------------


def ctrl_c_able(*args: str, cwd: Path) -> subprocess.Popen[str]:
    """``started``, with SIGINT handled as in a terminal (a background job ignores it)."""
    process = subprocess.Popen(
        [sys.executable, "-c", READY, *args],
        cwd=cwd,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert process.stdout is not None and process.stdout.readline() == "ready\n"
    return process


def test_ctrl_c_while_torch_loads_exits_130_with_one_line() -> None:
    """Ctrl+C in the first second (torch still loading) printed a 17-line traceback from
    inside torch's import."""
    code = """
import os, signal, sys
from renshu.cli import main
assert "torch" not in sys.modules
class Finder:
    def find_spec(self, name, path=None, target=None):
        if name == "torch":
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)  # arrives while torch is being imported
        return None
sys.meta_path.insert(0, Finder())
sys.exit(main(["test", "runs/none"]))
"""
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert (out.returncode, out.stderr, out.stdout) == (130, "Interrupted.\n", "")


@pytest.mark.slow
def test_ctrl_c_at_any_moment_of_train_and_test_exits_130_with_a_line(
    trained: Path, tiny: Path, tmp_path: Path
) -> None:
    delays = (0.02, 0.3, 1.0)
    args = ["--config", str(tiny), "--steps", "1000000", "--runs-dir", "runs"]
    processes = [
        *(ctrl_c_able("train", "shower", *args, "--name", f"d{d}", cwd=tmp_path) for d in delays),
        *(ctrl_c_able("test", str(trained), "--episodes", "100000", cwd=tmp_path) for d in delays),
    ]
    began = time.monotonic()
    for delay, process in zip(delays * 2, processes, strict=True):
        time.sleep(max(0.0, began + delay - time.monotonic()))
        process.send_signal(signal.SIGINT)
    for process in processes:
        out, _ = process.communicate(timeout=120)
        assert process.returncode == 130, out
        assert "Traceback" not in out, out
        assert "Interrupted." in out or "Stopped by SIGINT" in out, out


def test_ctrl_c_during_renshu_test_shows_the_episodes_it_played(
    trained: Path, tmp_path: Path
) -> None:
    process = ctrl_c_able("test", str(trained), "--episodes", "100000", cwd=tmp_path)
    assert process.stdout is not None
    lines = [process.stdout.readline() for _ in range(3)]  # three episodes played
    process.send_signal(signal.SIGINT)
    out = "".join(lines) + process.communicate(timeout=60)[0]
    assert process.returncode == 130, out
    played = re.findall(r"^Episode:(\d+) Score:", out, re.MULTILINE)
    assert len(played) >= 3 and played == [str(n) for n in range(1, len(played) + 1)], out
    assert re.search(rf"^Summary: mean=.* episodes={len(played)} \(of 100000\)$", out, re.M), out
    assert out.rstrip().endswith("Interrupted."), out


def test_ctrl_c_during_the_final_test_keeps_the_results_and_curve(
    tmp_path: Path,
) -> None:
    """Ctrl+C during renshu train's greedy test printed only `Interrupted.`: no results, no
    learning curve, and --resume then had nothing to train."""
    preset = tmp_path / "long_test.yaml"
    preset.write_text(TINY.replace("test_episodes: 2", "test_episodes: 100000"))
    args = ["--config", str(preset), "--runs-dir", "runs", "--name", "r"]
    process = ctrl_c_able("train", "shower", *args, cwd=tmp_path)
    run = tmp_path / "runs" / "r"
    deadline = time.monotonic() + 60
    while not (run / "agent" / "manifest.json").is_file() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # the greedy test is under way (100,000 episodes)
    process.send_signal(signal.SIGINT)
    out = " ".join(process.communicate(timeout=60)[0].split())
    assert process.returncode == 130, out
    found = re.search(r"SIGINT during the final greedy test, after (\d+) of 100,000", out)
    assert found is not None and int(found.group(1)) >= 1, out
    episodes = int(found.group(1))
    assert f"episode{'s' if episodes > 1 else ''} of 100,000, stopped by SIGINT)" in out, out
    assert "Traceback" not in out and (run / "plots" / "learning_curve.png").is_file()
    tested = read_metrics(run)["test/mean_reward"]
    assert np.count_nonzero(~np.isnan(tested)) == 1


def test_steps_take_1e5_style_counts_on_the_command_line(
    tiny: Path, tmp_path: Path, capsys
) -> None:
    """--steps 1e5 was refused though README says int values accept 1e5."""
    assert train(tiny, tmp_path, "--steps", "1.2e2", "--checkpoint-every", "6e1") == 0
    settings = yaml.safe_load((tmp_path / "shower-dqn-0" / "config.yaml").read_text())
    assert (settings["steps"], settings["checkpoint_every"]) == (120, 60)
    capsys.readouterr()
    assert train(tiny, tmp_path, "--steps", "1.5e0") == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "argument --steps: expected a positive integer, got '1.5e0' (not a whole number)" in err


# ---- read-only run folders and leftovers -------------------------------------------------------


def test_read_only_run_folder_is_one_clean_paragraph(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """A read-only run folder printed TensorBoard's writer-thread traceback first, then
    renshu's message with the file name as b'...'."""
    from tensorboard.summary.writer import record_writer

    assert train(tiny, tmp_path, "--steps", "60") == 0
    run = tmp_path / "shower-dqn-0"
    event_file = run / "tb" / "events.out.tfevents.1.host"

    def refuse(self: object, data: bytes) -> None:  # as the writer thread meets a chmod a-w
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsencode(event_file))

    monkeypatch.setattr(record_writer.RecordWriter, "write", refuse)
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--steps", "120", "--no-gif"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert err == (
        f"error: Training the run '{run}' failed on '{event_file}': permission denied (EACCES). "
        "Nothing already written was removed. Make the run folder writable, then continue with "
        f"renshu train --resume {run}."
    ), err


def test_resume_removes_the_leftovers_of_an_interrupted_save(
    tiny: Path, tmp_path: Path, capsys
) -> None:
    """A .N.tmp-* folder of a checkpoint cut off while being written survived the resumed run
    (it was younger than the minute other saves wait)."""
    assert train(tiny, tmp_path, "--steps", "60") == 0
    run = tmp_path / "shower-dqn-0"
    saved = run / "checkpoints" / "60"
    leftovers = [
        run / "checkpoints" / ".120.tmp-0123abcd",
        run / ".agent.old-89abcdef",
        run / ".config.yaml.tmp-00ff00ff",
        run / "plots" / ".learning_curve.png.tmp-12345678",
    ]
    for folder in leftovers[:2]:
        folder.mkdir()
        shutil.copy(saved / "weights.safetensors", folder / "weights.safetensors")
    leftovers[2].write_text("steps: 1")
    leftovers[3].write_bytes(b"png")
    kept = [
        run / "checkpoints" / ".90.tmp-0123abcd",  # holds a file renshu never writes there
        run / ".notes.tmp-later",  # not renshu's naming
        run / "my.config.yaml.tmp-00ff00ff",
    ]
    kept[0].mkdir()
    (kept[0] / "mine.txt").write_text("mine")
    kept[1].mkdir()
    kept[2].write_text("mine")
    assert main(["train", "--resume", str(run), "--steps", "120", "--no-gif"]) == 0
    assert [p for p in leftovers if p.exists()] == []
    assert all(p.exists() for p in kept)
    assert checkpoint.latest(run / "checkpoints") == run / "checkpoints" / "120"


# ---- PPO runs: MultiDiscrete actions, their own words, schedules over a new total ---------------

LEVERS = '''\
import gymnasium
import numpy as np
from gymnasium import spaces


class Levers(gymnasium.Env):
    """Set three levers (3, 2 and 4 positions) to the target shown; 8 steps an episode."""

    def __init__(self):
        self.observation_space = spaces.Box(0.0, 1.0, (3,), np.float32)
        self.action_space = spaces.MultiDiscrete([3, 2, 4])

    def _obs(self):
        self._target = self.np_random.integers(0, 2, 3)
        return self._target.astype(np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._t = 0
        return self._obs(), {}

    def step(self, action):
        self._t += 1
        reward = float(np.mean(np.asarray(action) == self._target))
        return self._obs(), reward, False, self._t >= 8, {}
'''
PPO_SMALL = [
    *("--set", "n_steps=16", "--set", "batch_size=16", "--set", "n_epochs=1"),
    *("--set", "lr_schedule=linear", "--set", "clip_range_schedule=linear"),
]


def test_multidiscrete_ppo_run_checkpoints_resumes_and_speaks_ppo(tmp_path: Path, capsys) -> None:
    (tmp_path / "levers.py").write_text(LEVERS)
    env = f"{tmp_path / 'levers.py'}:Levers"
    runs = tmp_path / "runs"
    common = ["--runs-dir", str(runs), "--no-gif", "--checkpoint-every", "32"]
    assert main(["train", env, "--algo", "ppo", "--steps", "96", *common, *PPO_SMALL]) == 0
    run = runs / "Levers-ppo-0"
    assert sorted(int(p.name) for p in (run / "checkpoints").iterdir()) == [32, 64, 96]
    agent = renshu.load(run / "checkpoints" / "64", env=env)
    assert agent.action_space == renshu.make(env).action_space
    capsys.readouterr()
    assert main(["train", env, "--resume", str(run), "--steps", "192", "--no-gif"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert (
        "Kept from the checkpoint: policy and value weights, optimizer state, the rollout under "
        "way, step and episode counters, random states." in out
    )
    assert (
        "Schedules stretched from 96 to 192 steps (learning rate, clip range): from here on "
        "each has the value a 192-step run has at the same step." in out
    )
    assert "target network" not in out and "replay buffer" not in out
    columns = set(read_metrics(run))
    assert {"losses/policy_loss", "charts/learning_rate"} <= columns
    assert not columns & {"losses/td_loss", "losses/q_values", "charts/epsilon"}
    assert main(["plot", str(run), "--metric", "losses/td_loss"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert (
        "PPO does not log losses/td_loss; it logs: losses/policy_loss, losses/value_loss, "
        "losses/entropy, losses/approx_kl, losses/clip_fraction, losses/explained_variance, "
        "charts/learning_rate (and charts/episode_reward, charts/episode_length, charts/SPS)."
    ) in err


def test_plot_of_a_dqn_run_names_dqn_metrics_for_a_ppo_metric(trained: Path, capsys) -> None:
    assert main(["plot", str(trained), "--metric", "losses/policy_loss"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "DQN does not log losses/policy_loss; it logs: charts/epsilon, losses/td_loss" in err
