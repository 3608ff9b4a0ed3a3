"""``renshu train ENV --seeds`` and ``renshu.train_seeds`` on a local Ray (2 CPUs): one group
folder of ordinary run folders, the summary and the plot; a failing seed; an unreachable
cluster; Ctrl+C (slow)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

pytest.importorskip("ray", reason="needs the ray extra: pip install 'renshu[ray]'")
pytest.importorskip("scipy", reason="needs the ray extra: pip install 'renshu[ray]'")

from renshu.cli import main
from renshu.distributed import cluster
from renshu.runs import Run

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TINY = """\
steps: 300
test_episodes: 2
warmup_steps: 50
buffer_size: 500
batch_size: 16
net: [16]
eps_anneal_steps: 200
"""


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("RAY_ADDRESS", "local")  # so that teardown restores what was there
    monkeypatch.delenv("RAY_ADDRESS")  # --ray-address sets it; restored after


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("preset") / "tiny.yaml"
    path.write_text(TINY)
    return path


def test_unreachable_ray_address_exits_2_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # First in this file: while the module's Ray runs, connect() uses it whatever the address.
    args = ["--runs-dir", str(tmp_path / "runs"), "--ray-address", "127.0.0.1:1"]
    assert main(["train", "shower", "--seeds", "0-1", *args]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "Could not reach Ray at '127.0.0.1:1'" in err
    assert "or leave --ray-address out to use a local Ray" in err
    assert not (tmp_path / "runs").exists()


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[cluster.ClusterInfo]:
    with cluster.connect(num_cpus=2) as info:
        yield info


def test_seeds_train_in_parallel_into_one_group_folder(
    ray_cluster: cluster.ClusterInfo,
    tiny: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    runs = tmp_path / "runs"
    args = ["--config", str(tiny), "--runs-dir", str(runs), "--no-gif"]
    assert main(["train", "shower", "--seeds", "0-1", *args]) == 0
    out = " ".join(capsys.readouterr().out.split())
    group = runs / "shower-dqn-seeds-0-1"
    assert sorted(p.name for p in group.iterdir()) == [
        "group.yaml",
        "plots",
        "shower-dqn-0",
        "shower-dqn-1",
    ]
    for seed in (0, 1):  # each an ordinary, finished run folder
        run = Run.open(group / f"shower-dqn-{seed}")
        assert run.settings["seed"] == seed and run.settings["group"] == group.name
        assert (run.path / "agent").is_dir() and (run.path / "metrics.csv").is_file()
        assert (run.path / "plots" / "learning_curve.png").is_file()
    assert (group / "plots" / "learning_curves.png").stat().st_size > 10_000
    summary = yaml.safe_load((group / "group.yaml").read_text())
    assert summary["env"] == "shower" and summary["algo"] == "dqn"
    assert summary["seeds"] == [0, 1] and summary["steps"] == 300
    assert summary["command"].startswith("renshu train shower --seeds 0-1 --config")
    assert summary["config"]["buffer_size"] == 500 and "seed" not in summary["config"]
    assert [summary["runs"][s]["status"] for s in (0, 1)] == ["done", "done"]
    scores = [summary["runs"][s]["test_mean"] for s in (0, 1)]
    assert summary["statistics"]["scores"] == scores
    assert summary["statistics"]["threshold"] is None
    for text in ("95% CI of the mean", "IQM", "threshold no threshold", "2 seeds"):
        assert text in out
    assert f"Redraw it: renshu plot {group}" in out
    assert main(["plot", str(group)]) == 0  # the printed command works


def test_a_failing_seed_exits_1_and_the_other_seed_completes(
    ray_cluster: cluster.ClusterInfo,
    tiny: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = f"{FIXTURES / 'fails_on_seed.py'}:FailsOnSeed"
    args = ["--config", str(tiny), "--runs-dir", str(tmp_path), "--no-gif", "--no-check"]
    assert main(["train", env, "--seeds", "0-1", "--env-kwargs", "fail_seed=1", *args]) == 1
    captured = capsys.readouterr()
    out, err = " ".join(captured.out.split()), " ".join(captured.err.split())
    group = tmp_path / "FailsOnSeed-dqn-seeds-0-1"
    assert (group / "FailsOnSeed-dqn-0" / "agent").is_dir()  # the other seed finished
    assert not (group / "FailsOnSeed-dqn-1" / "agent").exists()
    summary = yaml.safe_load((group / "group.yaml").read_text())
    assert summary["runs"][0]["status"] == "done"
    assert summary["runs"][1]["status"] == "failed"
    assert "ZeroDivisionError: the corridor broke" in summary["runs"][1]["error"]
    assert "failed: " in out and "error: seed 1:" in err and "the corridor broke" in err
    assert "Traceback" not in captured.out + captured.err
    resume = f"renshu train --resume {group / 'FailsOnSeed-dqn-1'} --trust-env"
    assert f"Fix the cause, then resume seed 1 with: {resume}" in out
    assert summary["statistics"]["scores"] == [summary["runs"][0]["test_mean"]]


def test_an_env_that_fails_the_check_leaves_no_group_folder(
    ray_cluster: cluster.ClusterInfo, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = f"{FIXTURES / 'broken_envs.py'}:RewardNaN"
    assert main(["train", env, "--seeds", "0-1", "--runs-dir", str(tmp_path / "runs")]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "RewardNaN failed the environment check with 1 error" in err
    assert not (tmp_path / "runs").exists()


def test_train_seeds_refuses_more_threads_than_the_cluster_has(
    ray_cluster: cluster.ClusterInfo, tiny: Path, tmp_path: Path
) -> None:
    from renshu import presets, train_seeds
    from renshu.errors import ConfigError

    preset = presets.load_file(tiny, "dqn", base=presets.load("shower", "dqn"))
    with pytest.raises(ConfigError, match=r"threads=4 CPUs, but the Ray it runs on has 2"):
        train_seeds(
            "shower", seeds=[0, 1], preset=preset, options={"threads": 4}, runs_dir=tmp_path
        )
    assert list(tmp_path.iterdir()) == []  # no group folder left behind


@pytest.mark.slow
def test_ctrl_c_stops_the_seeds_with_checkpoints_and_exits_130(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "200", "PYTHONWARNINGS": "ignore"}
    args = ["--algo", "ppo", "--seeds", "0-2", "--steps", "2000000", "--checkpoint-every", "5000"]
    process = subprocess.Popen(
        [sys.executable, "-m", "renshu", "train", "shower", *args, "--runs-dir", str(tmp_path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    group = tmp_path / "shower-ppo-seeds-0-2"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(group.glob("*/checkpoints/*")):
        time.sleep(0.5)
    os.killpg(process.pid, signal.SIGINT)  # as Ctrl+C in a terminal
    out, _ = process.communicate(timeout=120)
    assert process.returncode == 130, out
    text = " ".join(out.split())
    assert "Stopped by SIGINT" in text and "Traceback" not in text
    summary = yaml.safe_load((group / "group.yaml").read_text())
    statuses = {seed: entry["status"] for seed, entry in summary["runs"].items()}
    assert "stopped" in statuses.values(), statuses
    for seed, status in statuses.items():
        run = Run.open(group / f"shower-ppo-{seed}")
        assert f"Resume seed {seed} with: {run.resume_command}" in text
        if status == "stopped":  # its checkpoint is at the step it stopped at
            assert int(run.resume_point().name) == summary["runs"][seed]["steps"]
