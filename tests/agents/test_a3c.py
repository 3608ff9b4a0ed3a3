"""A3C on a local Ray (2 CPUs): training, staleness, save/load and resume, a worker that dies,
an env that raises, Ctrl+C, the CLI and bad ``workers`` values."""

from __future__ import annotations

import os
import signal
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

pytest.importorskip("ray", reason="needs the ray extra: pip install 'renshu[ray]'")

import renshu
from renshu.agents.a3c import A3C
from renshu.cli import main
from renshu.distributed import cluster
from renshu.errors import ConfigError
from renshu.runs import Run

SMALL: dict[str, Any] = {"workers": 2, "num_envs": 2, "n_steps": 5, "net": [16]}

ENVS = '''
import os
import signal
import sys
from pathlib import Path

from gymnasium.envs.classic_control import CartPoleEnv


class PoleBreaks(CartPoleEnv):
    """CartPole whose step() raises after 40 steps (in each process)."""

    steps = 0

    def step(self, action):
        PoleBreaks.steps += 1
        if PoleBreaks.steps > 40:
            raise ZeroDivisionError("the pole broke")
        return super().step(action)


class DiesOnce(CartPoleEnv):
    """CartPole whose process is killed at its 30th step, the first time only (of all the
    workers: the marker file is created atomically, so two workers at step 30 together do not
    both die)."""

    steps = 0

    def step(self, action):
        DiesOnce.steps += 1
        if DiesOnce.steps == 30:
            try:
                os.close(os.open(MARKER, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                pass
            else:
                os.kill(os.getpid(), signal.SIGKILL)
        return super().step(action)
'''


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    with cluster.connect(num_cpus=2, what="These tests"):
        yield


@pytest.fixture
def envs(tmp_path: Path) -> Path:
    path = tmp_path / "a3c_envs.py"
    path.write_text(f"MARKER = {str(tmp_path / 'killed')!r}\n{ENVS}")
    return path


class Logs(renshu.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, float]] = []
        self.episodes: list[dict[str, Any]] = []

    def on_log(self, step: int, logs: dict[str, float]) -> None:
        self.rows.append(logs)

    def on_episode_end(self, episode: int, logs: dict[str, Any] | None = None) -> None:
        self.episodes.append(dict(logs or {}))


def test_a3c_trains_with_two_workers_logs_staleness_and_saves(tmp_path: Path) -> None:
    agent = A3C("CartPole-v1", seed=0, **SMALL)
    logs = Logs()
    history = agent.fit(400, progress=False, callbacks=[logs], log_every=100)
    assert agent.num_steps >= 400
    assert agent.num_updates == agent.counters.iteration  # one gradient per arrival
    # n_steps * num_envs each, less the autoreset steps (not transitions)
    assert 9 * agent.num_updates <= agent.num_steps <= 10 * agent.num_updates
    assert {log["worker"] for log in logs.episodes} == {0, 1}  # both workers' episodes
    assert history.history["episode_reward"] == [log["episode_reward"] for log in logs.episodes]
    assert agent.num_episodes == len(logs.episodes)
    staleness = [row for row in logs.rows if "charts/staleness" in row]
    assert staleness and all(
        0 <= row["charts/staleness"] <= row["charts/staleness_max"] for row in staleness
    )
    assert max(row["charts/staleness_max"] for row in staleness) >= 1  # asynchronous
    assert all(np.isfinite(row["losses/value_loss"]) for row in staleness)
    loaded = renshu.load(agent.save(tmp_path / "agent"))
    assert isinstance(loaded, A3C) and loaded.config == agent.config
    assert torch.equal(loaded._flat.data, agent._flat.data)
    assert (loaded.num_steps, loaded.num_updates) == (agent.num_steps, agent.num_updates)
    assert loaded.rng.bit_generator.state == agent.rng.bit_generator.state
    obs = np.zeros((3, 4), np.float32)
    assert np.array_equal(loaded.act(obs), agent.act(obs))


def test_a3c_saves_loads_and_resumes_the_learner_after_ctrl_c(tmp_path: Path) -> None:
    run = Run.create(
        "CartPole-v1",
        algo="a3c",
        steps=200,
        runs_dir=tmp_path,
        name="a3c",
        check_env=False,
        seed=1,
        options=SMALL,
        checkpoint_every=100_000,
    )

    class CtrlCAt200(renshu.Callback):
        def on_tick(self, step: int) -> None:
            if 100 <= step < 110:
                os.kill(os.getpid(), signal.SIGINT)

    stopped = run.train(test=False, gif=False, progress=False, callbacks=[CtrlCAt200()])
    assert stopped.interrupted == "SIGINT" and 100 <= stopped.steps < 160
    saved = tmp_path / "a3c" / "checkpoints" / str(stopped.steps)
    agent = renshu.load(saved)
    assert isinstance(agent, A3C) and agent.num_steps == stopped.steps
    assert agent.num_updates >= stopped.steps // 10 and agent.config.workers == 2
    state = agent.optimizer.state_dict()["state"]
    assert state and all(torch.isfinite(v).all() for v in state[0].values() if torch.is_tensor(v))
    finished = run.train(test=False, gif=False, progress=False)
    assert finished.steps >= 200 and finished.start_step == stopped.steps
    resumed = renshu.load(tmp_path / "a3c" / "agent")
    assert resumed.num_updates > agent.num_updates


def test_a3c_worker_killed_is_restarted_and_training_completes(envs: Path) -> None:
    agent = A3C(f"{envs}:DiesOnce", seed=0, **SMALL)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        agent.fit(300, progress=False)
    said = [str(w.message) for w in caught if "A3C worker" in str(w.message)]
    assert len(said) == 1 and "died" in said[0] and "current weights" in said[0]
    assert (envs.parent / "killed").exists()
    assert agent.num_steps >= 300


def test_cli_train_a3c_with_two_workers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--algo", "a3c", "--workers", "2", "--num-envs", "2", "--steps", "200"]
    code = main(
        ["train", "CartPole-v1", *args, "--runs-dir", str(tmp_path), "--no-gif", "--no-check"]
    )
    assert code == 0
    run = tmp_path / "CartPole-v1-a3c-0"
    assert renshu.load(run / "agent").config.workers == 2
    header = (run / "metrics.csv").read_text().splitlines()[0]
    assert "charts/staleness" in header
    assert "Training A3C on CartPole-v1" in capsys.readouterr().out


def test_cli_train_a3c_env_that_raises_exits_with_the_env_error(
    envs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--algo", "a3c", "--workers", "1", "--steps", "1000", "--no-check"]
    code = main(["train", f"{envs}:PoleBreaks", *args, "--runs-dir", str(tmp_path), "--no-gif"])
    assert code == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "A3C worker " in err and "PoleBreaks" in err and "at training step" in err
    assert "step() raised ZeroDivisionError: the pole broke" in err
    assert "Traceback" not in err and "RayTaskError" not in err


@pytest.mark.parametrize("workers", [0, -1, 5000, 2.5, "two"])
def test_a3c_refuses_bad_workers(workers: Any) -> None:
    with pytest.raises(ConfigError, match="workers"):
        A3C("CartPole-v1", workers=workers)


def test_a3c_refuses_more_workers_than_the_ray_has_cpus() -> None:
    agent = A3C("CartPole-v1", workers=3, num_envs=1)
    with pytest.raises(ConfigError, match=r"workers=3 needs a CPU per worker.* offers 2"):
        agent.fit(100, progress=False)


def test_a3c_without_the_ray_extra_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    agent = A3C("CartPole-v1", workers=1, num_envs=1)
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    missing = r"A3C runs on Ray, which is not installed.*renshu\[ray\]"
    with pytest.raises(ConfigError, match=missing):
        agent.fit(100, progress=False)


def test_cli_refuses_workers_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "CartPole-v1", "--algo", "a3c", "--workers", "0"]) == 2
    assert "--workers: expected a positive integer, got '0'" in capsys.readouterr().err


@pytest.mark.slow
def test_a3c_learns_cartpole() -> None:
    # A3C is not deterministic (gradients arrive in the order the workers finish): the bar is a
    # greedy evaluation >= 475 over 20 episodes within the preset's steps, stopping at the first.
    preset = renshu.presets.load("CartPole-v1", "a3c")
    agent = A3C("CartPole-v1", seed=0, **preset.config)
    evaluate = renshu.Evaluate(25_000, episodes=20, stop_at=475)
    agent.fit(preset.steps, progress=False, callbacks=[evaluate])
    assert max(mean for _, mean, _ in evaluate.results) >= 475
