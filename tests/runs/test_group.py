"""Groups of seeds without Ray: seed specs, statistics against SciPy, group.yaml, the group plot
and ``renshu plot GROUP``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats as scipy_stats

from renshu.cli import main
from renshu.errors import ConfigError
from renshu.runs.group import (
    GROUP_FILE,
    PLOT_FILE,
    Group,
    SeedResult,
    check_seeds,
    mean_band,
    parse_seeds,
    reward_threshold,
    seeds_label,
    statistics,
)

SCORES = [120.0, 500.0, 480.0, 35.5, 499.0]
"""Final greedy test means of five made-up seeds."""


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")


def write_run(folder: Path, seed: int, rewards: list[float], test: float | None) -> None:
    """A run folder as far as a group reads it: config.yaml and metrics.csv (episode rows and
    the final greedy test row)."""
    folder.mkdir(parents=True)
    settings = {"env": "CartPole-v1", "algo": "ppo", "seed": seed, "steps": 1000}
    settings.update({"test_episodes": 10, "checkpoint_every": 1000, "config": {}})
    (folder / "config.yaml").write_text(yaml.safe_dump(settings))
    lines = ["step,charts/episode_reward,test/mean_reward,test/std_reward"]
    for number, reward in enumerate(rewards, start=1):
        lines.append(f"{100 * number},{reward},,")
    if test is not None:
        lines.append(f"{100 * len(rewards)},,{test},1.5")
    (folder / "metrics.csv").write_text("\n".join(lines) + "\n")


def make_group(runs_dir: Path, scores: list[float], threshold: float | None = 475.0) -> Group:
    seeds = list(range(len(scores)))
    group = Group.create(
        runs_dir,
        env_name="CartPole-v1",
        algo="ppo",
        seeds=seeds,
        settings={"env": "CartPole-v1", "steps": 1000, "reward_threshold": threshold},
    )
    rng = np.random.default_rng(0)
    for seed, score in zip(seeds, scores, strict=True):
        rewards = list(np.linspace(10, score, 10) + rng.normal(0, 5, 10))
        write_run(group.run_path(seed), seed, rewards, score)
    return group


# ---- seed specs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "seeds"),
    [
        ("0-4", [0, 1, 2, 3, 4]),
        ("0,2,5", [0, 2, 5]),
        ("0-3,7", [0, 1, 2, 3, 7]),
        ("7", [7]),
        (" 3 , 1-2 ", [3, 1, 2]),
    ],
)
def test_seeds_spec_names_ranges_and_lists(spec: str, seeds: list[int]) -> None:
    assert parse_seeds(spec) == seeds


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "",
            "--seeds takes seeds >= 0 and ranges, separated by commas: 0-4, 0,2,5 or 0-3,7; "
            "got an empty part in ''.",
        ),
        ("0-", "got '0-'."),
        ("a-b", "got 'a-b'."),
        ("-1", "got '-1'."),
        ("1,,2", "got an empty part in '1,,2'."),
        (
            "4-0",
            "The range '4-0' in --seeds 4-0 is empty (it counts down). Write it low-high: 0-4.",
        ),
        ("0-3,2", "--seeds 0-3,2 names seed 2 more than once"),
        ("0-20000", "names more than 10,000 seeds"),
    ],
)
def test_malformed_seeds_spec_says_what_is_accepted(spec: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_seeds(spec)
    assert message in str(caught.value)


def test_seeds_from_python_must_be_distinct_whole_numbers() -> None:
    assert check_seeds(range(3)) == [0, 1, 2]
    for bad, message in [
        ([], "names no seed"),
        ([1, 1], "names seed 1 more than once"),
        ([0.5], "each seed must be an integer >= 0, got 0.5"),
        ([True], "each seed must be an integer >= 0, got True"),
        ([-2], "got -2"),
    ]:
        with pytest.raises(ConfigError, match=message):
            check_seeds(bad)


def test_seeds_label_is_the_shortest_spec() -> None:
    assert seeds_label([0, 1, 2, 3, 4]) == "0-4"
    assert seeds_label([0, 2, 5]) == "0,2,5"
    assert seeds_label([7, 0, 1, 2, 3]) == "0-3,7"
    assert seeds_label([4]) == "4"


# ---- statistics --------------------------------------------------------------------------------


def test_statistics_match_scipy_bootstrap_and_trim_mean() -> None:
    got = statistics(SCORES, threshold=475.0)
    x = np.array(SCORES)
    expected = scipy_stats.bootstrap(
        (x,),
        np.mean,
        confidence_level=0.95,
        n_resamples=9_999,
        method="percentile",
        random_state=np.random.default_rng(0),
    ).confidence_interval
    assert got.mean == pytest.approx(x.mean())
    assert got.ci_low == pytest.approx(expected.low)
    assert got.ci_high == pytest.approx(expected.high)
    assert got.ci_low < got.mean < got.ci_high
    assert x.min() <= got.ci_low and got.ci_high <= x.max()
    assert got.iqm == pytest.approx(scipy_stats.trim_mean(x, 0.25))
    assert got.iqm == pytest.approx(np.mean([120.0, 480.0, 499.0]))  # middle half of 5
    assert got.reached == 3 and got.threshold_text() == "3 of 5 seeds reach 475"
    assert statistics(SCORES, threshold=475.0) == got  # seeded: the same summary every time


def test_statistics_of_one_seed_or_equal_scores_or_no_threshold() -> None:
    one = statistics([12.0])
    assert one.mean == 12.0 and one.iqm == 12.0 and one.ci_low is None
    assert one.interval_text() == "needs 2 or more seeds"
    assert one.threshold_text() == "no threshold"
    same = statistics([500.0, 500.0, 500.0], threshold=475.0)
    assert (same.ci_low, same.ci_high, same.reached) == (500.0, 500.0, 3)
    none = statistics([], threshold=475.0)
    assert np.isnan(none.mean) and none.threshold_text() == "475 (no seed has a final greedy test)"


def test_statistics_without_scipy_say_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "scipy", None)
    with pytest.raises(ConfigError, match=r"pip install scipy .*pip install 'renshu\[ray\]'"):
        statistics([1.0, 2.0])


def test_reward_threshold_of_gymnasium_ids_and_none_otherwise() -> None:
    assert reward_threshold("CartPole-v1") == 475.0
    assert reward_threshold("shower") is None  # renshu's envs register none
    assert reward_threshold("tests/fixtures/corridor.py:Corridor") is None
    import gymnasium

    assert reward_threshold(gymnasium.make("CartPole-v1")) == 475.0


# ---- the group folder --------------------------------------------------------------------------


def test_group_folder_is_never_reused(tmp_path: Path) -> None:
    first = Group.create(tmp_path, env_name="catch", algo="dqn", seeds=[0, 1, 2])
    second = Group.create(tmp_path, env_name="catch", algo="dqn", seeds=[0, 1, 2])
    assert first.path.name == "catch-dqn-seeds-0-2"
    assert second.path.name == "catch-dqn-seeds-0-2-1"
    assert first.run_path(1) == first.path / "catch-dqn-1"


def test_group_summary_records_each_seed_and_the_statistics(tmp_path: Path) -> None:
    group = make_group(tmp_path, SCORES)
    results = group.results()
    assert [r.test_mean for r in results] == SCORES
    assert [r.steps for r in results] == [1000] * 5
    results[3].status, results[3].error = "failed", "ZeroDivisionError: the corridor broke"
    group.write(results, group.statistics(results))
    summary = yaml.safe_load((group.path / GROUP_FILE).read_text())
    assert summary["seeds"] == [0, 1, 2, 3, 4] and summary["env"] == "CartPole-v1"
    assert summary["runs"][3]["status"] == "failed"
    assert summary["runs"][3]["error"] == "ZeroDivisionError: the corridor broke"
    assert summary["runs"][0]["test_mean"] == 120.0
    assert summary["statistics"]["mean"] == pytest.approx(np.mean(SCORES))
    assert summary["statistics"]["iqm"] == pytest.approx(scipy_stats.trim_mean(SCORES, 0.25))
    assert summary["statistics"]["reached"] == 3
    assert list(summary)[-2:] == ["runs", "statistics"]
    reopened = Group.open(group.path)
    assert [r.status for r in reopened.results()][3] == "failed"


def test_open_refuses_a_folder_that_is_not_a_group(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"is not a group of seeds: it has no group\.yaml"):
        Group.open(tmp_path)


def test_curves_are_averaged_on_the_steps_every_seed_has() -> None:
    curves = {
        0: (np.array([0.0, 10.0, 20.0]), np.array([0.0, 10.0, 20.0])),
        1: (np.array([5.0, 15.0, 30.0]), np.array([5.0, 15.0, 30.0])),
    }
    grid, mean, low, high = mean_band(curves)
    assert grid[0] == 5.0 and grid[-1] == 20.0  # latest first step .. earliest last step
    np.testing.assert_allclose(mean, grid)  # both curves are y = x
    assert low is not None and high is not None and np.all(low <= mean) and np.all(mean <= high)
    assert mean_band({0: curves[0]})[2] is None  # one seed: no band


def test_group_plot_is_written(tmp_path: Path) -> None:
    group = make_group(tmp_path, SCORES)
    out = group.plot()
    assert out == group.path / PLOT_FILE and out.stat().st_size > 10_000


def test_renshu_plot_group_draws_the_band_and_prints_the_statistics(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    group = make_group(tmp_path, SCORES)
    assert main(["plot", str(group.path)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert (group.path / PLOT_FILE).is_file()
    assert "IQM 366.33 over 5 seeds; 3 of 5 seeds reach 475" in out
    assert f"Wrote {group.path / PLOT_FILE}" in out
    other = make_group(tmp_path / "other", [10.0, 20.0], threshold=None)
    compare = tmp_path / "both.png"
    assert main(["plot", str(group.path), str(other.path), "--out", str(compare)]) == 0
    assert compare.is_file()
    assert "IQM 15.00 over 2 seeds; no threshold" in " ".join(capsys.readouterr().out.split())


def test_renshu_plot_refuses_a_group_mixed_with_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    group = make_group(tmp_path, SCORES[:2])
    run = group.run_path(0)
    assert main(["plot", str(group.path), str(run)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"renshu plot draws runs or groups of seeds, not both: {group.path} is a group" in err
    assert main(["plot", str(run)]) == 0  # a group's run is an ordinary run


def test_seed_result_defaults_to_not_started() -> None:
    result = SeedResult(3, "catch-dqn-3")
    assert result.status == "not started" and result.as_dict()["test_mean"] is None


def test_import_renshu_and_train_seeds_import_no_ray() -> None:
    code = (
        "import sys, renshu; renshu.train_seeds; import renshu.runs.group; "
        "print('ray' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
