"""``renshu tune`` on a local Ray (2 CPUs): the sweep folder, the table, best.yaml and its
reproduction by ``renshu train``, failures, and bad input."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray", reason="needs the ray extra: pip install 'renshu[ray]'")

from renshu.cli.main import main
from renshu.distributed import cluster
from renshu.runs.metrics import read_metrics

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SWEEP = ["tune", "shower", "--algo", "ppo", "--trials", "2", "--steps", "500"]
SEARCH = ["--search", "learning_rate=loguniform:1e-4:1e-2"]


@pytest.fixture(autouse=True)
def _no_ray_address() -> Iterator[None]:
    """--ray-address sets RAY_ADDRESS for the process: none during a test, the one before
    after it."""
    before = os.environ.pop("RAY_ADDRESS", None)
    yield
    os.environ.pop("RAY_ADDRESS", None)
    if before is not None:
        os.environ["RAY_ADDRESS"] = before


# First in the file, before the shared local Ray starts: a Ray already running in the process
# is used whatever the address (renshu.distributed.cluster.connect).
def test_unreachable_ray_address_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import ray

    assert not ray.is_initialized()
    code = main([*SWEEP, *SEARCH, "--runs-dir", str(tmp_path), "--ray-address", "127.0.0.1:1"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Could not reach Ray at '127.0.0.1:1'" in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())  # no sweep folder for a sweep that never started


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    with cluster.connect(num_cpus=2):
        yield


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--search", "learnin_rate=loguniform:1e-4:1e-2"], "Did you mean: learning_rate?"),
        (["--search", "learning_rate=normal:0:1"], "unknown distribution 'normal'"),
        (["--search", "learning_rate=loguniform:0:1"], "loguniform needs a low bound > 0"),
        (["--search", "gamma=uniform:0.99:0.9"], "low bound must be below the high one"),
        (["--search", "gamma=uniform:x:1"], "bounds must be finite numbers"),
        (["--search", "learning_rate=uniform:-1:1"], "learning_rate must be a number > 0"),
        (["--search", "normalize_obs=choice:true,yes"], "offers values the option refuses"),
        ([], "A sweep needs a search space"),
    ],
)
def test_bad_search_exits_2_before_any_trial(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code = main([*SWEEP, *argv, "--runs-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())


def test_sweep_folder_table_and_best_preset_reproduced_by_train(
    ray_cluster: None, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # CartPole's PPO network starts from other weights (in their last bits) when torch has
    # another thread count: Ray starts its workers with one thread, this process has the
    # machine's, and the trial must be the run renshu train makes here.
    argv = ["tune", "CartPole-v1", "--algo", "ppo", "--trials", "2", "--steps", "600"]
    code = main([*argv, *SEARCH, "--runs-dir", str(tmp_path)])
    out, err = capfd.readouterr()
    assert code == 0, out + err
    for noise in ("INFO", "WARNING", "Traceback", "Trial ", "ray_results"):  # Ray kept quiet
        assert noise not in out + err, noise
    sweep = tmp_path / "tune-CartPole-v1-ppo"
    names = {p.name for p in sweep.iterdir()}
    assert {"trial-000", "trial-001", "best.yaml", "plots", "ray"} <= names
    assert (sweep / "plots" / "learning_curves.png").stat().st_size > 0
    assert list((sweep / "ray").glob("experiment_state-*.json"))  # Ray Tune's files kept here
    assert "tune-CartPole-v1-ppo: trials" in out and "learning_rate" in out and "finished" in out
    for trial in ("trial-000", "trial-001"):  # ordinary run folders (ASHA may stop one early)
        assert (sweep / trial / "config.yaml").is_file() and (
            sweep / trial / "metrics.csv"
        ).is_file()
    # The printed command trains the best trial again: same score, same training.
    line = next(line for line in out.splitlines() if line.startswith("Reproduce it: "))
    command = line.removeprefix("Reproduce it: ").split()
    best_yaml = str(sweep / "best.yaml")
    assert command[:7] == ["renshu", "train", "CartPole-v1", "--algo", "ppo", "--config", best_yaml]
    best_trial = int(out.split("Best: trial ")[1].split(",")[0])
    assert (sweep / f"trial-{best_trial:03d}" / "agent").is_dir()  # the best one finished
    again = tmp_path / "again"
    assert main([*command[1:], "--runs-dir", str(again), "--no-gif"]) == 0
    trial, reproduced = (
        read_metrics(sweep / f"trial-{best_trial:03d}"),
        read_metrics(next(again.iterdir())),
    )
    assert _final_test(reproduced) == _final_test(trial)
    for column in ("charts/episode_reward", "losses/policy_loss", "losses/value_loss"):
        assert np.array_equal(_series(trial, column), _series(reproduced, column)), column


def _final_test(metrics: dict[str, np.ndarray]) -> float:
    values = metrics["test/mean_reward"]
    values = values[~np.isnan(values)]
    assert len(values) == 1
    return float(values[0])


def _series(metrics: dict[str, np.ndarray], column: str) -> np.ndarray:
    """(step, value) pairs of one column where it has a value (evaluation rows have none)."""
    values = metrics[column]
    keep = ~np.isnan(values)
    assert keep.any()
    return np.stack([metrics["step"][keep], values[keep]])


def test_failing_trials_are_rows_with_their_message_and_exit_1(
    ray_cluster: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # the message on one line of the table
    env = f"{FIXTURES / 'broken_envs.py'}:StepRaises"
    argv = ["tune", env, "--algo", "ppo", "--trials", "2", "--steps", "300", *SEARCH]
    code = main([*argv, "--no-check", "--runs-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 1
    assert out.count("failed: ") == 2
    assert "step() raised ZeroDivisionError: the shower broke" in out
    assert "No trial finished" in out
    assert not list(tmp_path.glob("*/best.yaml"))


def test_interrupted_sweep_exits_130(tmp_path: Path) -> None:
    from rich.console import Console

    from renshu.cli.tune import _report
    from renshu.distributed.tune import SweepOutcome, Trial

    class _Sweep:
        folder, dists, seeds, trials, algo = tmp_path, (), (0,), 2, "ppo"

    trials = [Trial(0, {}, status="interrupted", score=math.nan)]
    console = Console(file=open(os.devnull, "w"))  # noqa: SIM115
    assert _report(console, _Sweep(), SweepOutcome(trials, interrupted=True), {}) == 130


@pytest.mark.slow
def test_cartpole_sweep_best_trial_reproduced_by_train(
    ray_cluster: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The bar: 8 PPO trials of 20,000 steps on CartPole-v1, then the best one trained again
    by renshu train from best.yaml, to the same final greedy test mean."""
    argv = ["tune", "CartPole-v1", "--algo", "ppo", "--trials", "8", "--steps", "20000"]
    assert main([*argv, *SEARCH, "--runs-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    sweep = tmp_path / "tune-CartPole-v1-ppo"
    best_trial = int(out.split("Best: trial ")[1].split(",")[0])
    assert (sweep / f"trial-{best_trial:03d}" / "agent").is_dir()  # the best one finished
    again = tmp_path / "again"
    train = ["train", "CartPole-v1", "--algo", "ppo", "--config", str(sweep / "best.yaml")]
    assert main([*train, "--seed", "0", "--steps", "20000", "--runs-dir", str(again)]) == 0
    trial = read_metrics(sweep / f"trial-{best_trial:03d}")
    assert _final_test(read_metrics(next(again.iterdir()))) == _final_test(trial)


@pytest.mark.slow
def test_trial_whose_worker_dies_is_a_failed_row(
    ray_cluster: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    env_file = tmp_path / "dying_env.py"
    env_file.write_text(
        "import os, sys\n"
        f"sys.path.insert(0, {str(FIXTURES)!r})\n"
        "from corridor import Corridor\n\n\n"
        "class Dies(Corridor):\n"
        "    def step(self, action):\n"
        "        os._exit(3)\n"
    )
    argv = ["tune", f"{env_file}:Dies", "--algo", "ppo", "--trials", "1", "--steps", "300"]
    code = main([*argv, *SEARCH, "--no-check", "--runs-dir", str(tmp_path / "runs")])
    out = capsys.readouterr().out
    assert code == 1
    assert "failed: ActorDiedError" in out
