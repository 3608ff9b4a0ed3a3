"""One run folder trained by :func:`renshu.distributed.worker.train_run` (no Ray needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from renshu import presets
from renshu.distributed.tune import GreedyEval
from renshu.distributed.worker import train_run
from renshu.make import make


def _train(folder: Path, evaluate: bool) -> tuple[dict[str, np.ndarray], float, list[float]]:
    reported: list[float] = []
    callbacks = []
    if evaluate:
        callbacks = [
            GreedyEval(
                100,
                total=600,
                episodes=3,
                seed=10_007,
                make_env=lambda: make("CartPole-v1"),
                report=lambda step, score: reported.append(score),
            )
        ]
    preset = presets.load("CartPole-v1", "ppo").with_options({"threads": 1}, origin="test")
    run, result = train_run(
        "CartPole-v1",
        algo="ppo",
        seed=0,
        steps=600,
        preset=preset,
        runs_dir=folder,
        name="run",
        callbacks=callbacks,
    )
    return run.metrics(), result.test_mean, reported


def test_greedy_evaluations_do_not_change_training(tmp_path: Path) -> None:
    plain, plain_score, _ = _train(tmp_path / "plain", evaluate=False)
    evaluated, score, reported = _train(tmp_path / "evaluated", evaluate=True)
    assert len(reported) == 5  # at 100, 200, ..., 500: never at the end (the final test plays)
    assert score == plain_score
    for column in ("charts/episode_reward", "losses/policy_loss", "losses/value_loss"):
        a, b = plain[column], evaluated[column]
        keep_a, keep_b = ~np.isnan(a), ~np.isnan(b)
        assert np.array_equal(plain["step"][keep_a], evaluated["step"][keep_b]), column
        assert np.array_equal(a[keep_a], b[keep_b]), column
    assert np.count_nonzero(~np.isnan(evaluated["eval/mean_reward"])) == 5
