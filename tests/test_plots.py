"""Plots: rolling means, learning curves, metric comparisons, Shower's observation trace."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from renshu.plots import (
    auto_window,
    learning_curve,
    plot_metric,
    plot_observations,
    rolling_mean,
    save_figure,
)


def is_png(path: Path) -> bool:
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rolling_mean_is_a_trailing_mean_that_skips_nans() -> None:
    np.testing.assert_allclose(rolling_mean([1, 2, 3, 4], 2), [1, 1.5, 2.5, 3.5])
    np.testing.assert_allclose(rolling_mean([1, np.nan, 3], 2), [1, 1, 3])
    np.testing.assert_allclose(rolling_mean([5, 6], 1), [5, 6])
    assert rolling_mean([], 5).size == 0
    assert auto_window(5) == 1 and auto_window(100) == 10 and auto_window(10_000) == 20


def test_learning_curve_has_raw_and_mean_lines_labels_and_legend(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    steps = np.arange(1, 201) * 50
    rewards = np.linspace(-1, 1, 200) + rng.normal(0, 0.3, 200)
    out = tmp_path / "plots" / "curve.png"
    fig = learning_curve(steps, rewards, out=out)
    assert is_png(out)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "step" and ax.get_ylabel() == "episode reward"
    assert len(ax.lines) == 2  # raw (faint) and rolling mean
    assert ax.lines[0].get_alpha() < 0.5
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["training episode (exploring)", "mean of last 20"]


def test_learning_curve_without_episodes_still_draws(tmp_path: Path) -> None:
    fig = learning_curve([], [], out=tmp_path / "empty.png")
    assert is_png(tmp_path / "empty.png")
    assert "no episode finished yet" in [t.get_text() for t in fig.axes[0].texts]


def test_plot_metric_draws_one_labelled_curve_per_run(tmp_path: Path) -> None:
    series = {
        "rmsprop": (np.arange(30) * 100, np.linspace(1, 0.1, 30)),
        "rmsprop_graves": (np.arange(30) * 100, np.linspace(0.8, 0.1, 30)),
    }
    fig = plot_metric(series, metric="losses/td_loss", window=5, out=tmp_path / "cmp.png")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["rmsprop", "rmsprop_graves"]
    assert ax.get_ylabel() == "td loss (rolling mean of 5)"
    assert is_png(tmp_path / "cmp.png")


def test_shower_observation_trace_with_the_target_band(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    observations = {
        episode: [np.array([38 + rng.integers(-2, 3)], dtype=np.float32) for _ in range(60)]
        for episode in range(3)
    }
    out = tmp_path / "obs.png"
    fig = plot_observations(observations, band=(37, 39), ylabel="temperature", out=out)
    assert is_png(out)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "step" and ax.get_ylabel() == "temperature"
    assert len(ax.lines) == 3 and len(ax.lines[0].get_xdata()) == 60
    assert len(ax.patches) == 1  # the shaded band
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["target 37–39", "episode 1", "episode 2", "episode 3"]


def test_plot_observations_takes_bare_floats_and_lists() -> None:
    fig = plot_observations([[37.0, 38.0, 39.0], [40.0, 41.0]])
    assert [len(line.get_xdata()) for line in fig.axes[0].lines] == [3, 2]


def test_save_figure_leaves_no_temporary_file(tmp_path: Path) -> None:
    fig = plot_observations([[1.0, 2.0]])
    save_figure(fig, tmp_path / "a.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


@pytest.mark.parametrize("window", [1, 3])
def test_few_points_are_drawn_with_markers_or_a_mean(window: int, tmp_path: Path) -> None:
    fig = plot_metric({"run": ([1, 2, 3], [1.0, 2.0, 3.0])}, window=window)
    assert len(fig.axes[0].lines) == (1 if window == 1 else 2)


def test_learning_curve_marks_greedy_evaluations_and_the_test(tmp_path: Path) -> None:
    # Training episodes explore and stay low; the greedy marks show how good the policy is.
    steps = np.arange(1, 101) * 100
    rewards = np.full(100, -5.0)
    evaluations = ([2500, 5000, 7500, 10000], [1.0, 4.0, 8.0, 9.5], [2.0, 1.5, 1.0, 0.5])
    out = tmp_path / "curve.png"
    fig = learning_curve(
        steps,
        rewards,
        evaluations=evaluations,
        test=([10000], [9.75], [0.25]),
        test_episodes=20,
        out=out,
    )
    assert is_png(out)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [
        "training episode (exploring)",
        "mean of last 10",
        "greedy evaluation (mean ± std)",
        "greedy test: 9.75 ± 0.25, 20 episodes",
    ]
    assert len(ax.containers) == 2  # the two error-bar series
    marks = [line for line in ax.lines if line.get_marker() == "D"]
    assert len(marks) == 1 and marks[0].get_xydata().tolist() == [[10000.0, 9.75]]
    low, high = ax.get_ylim()
    assert low < -5 and high > 10  # the greedy marks and their bars are in view


def test_learning_curve_with_a_test_and_no_episodes_still_says_so(tmp_path: Path) -> None:
    fig = learning_curve([], [], test=([50], [1.0], [0.0]), out=tmp_path / "t.png")
    ax = fig.axes[0]
    assert "no episode finished yet" in [t.get_text() for t in ax.texts]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["greedy test: 1 ± 0"]
