"""The search space of ``renshu tune``, read and checked without Ray."""

from __future__ import annotations

import pytest

from renshu.distributed import search
from renshu.errors import ConfigError
from renshu.presets import config_class

PPO = config_class("ppo")


def test_each_distribution_parses_with_its_bounds() -> None:
    assert search.parse("learning_rate=loguniform:1e-4:1e-2") == search.Dist(
        "learning_rate", "loguniform", (1e-4, 1e-2), "loguniform:1e-4:1e-2"
    )
    assert search.parse("gamma=uniform:0.9:0.99").values == (0.9, 0.99)
    assert search.parse("n_epochs=randint:4:11").values == (4, 11)


def test_choice_values_are_read_as_yaml() -> None:
    assert search.parse("batch_size=choice:64,128").values == (64, 128)
    assert search.parse("optimizer=choice:adam,rmsprop").values == ("adam", "rmsprop")
    assert search.parse("normalize_obs=choice:true,false").values == (True, False)


def test_randint_upper_bound_is_exclusive_as_in_ray() -> None:
    dist = search.parse("n_epochs=randint:4:11")
    assert dist.extremes() == (4, 10)
    with pytest.raises(ConfigError, match=r"B is exclusive.*got A=5, B=5.*randint:5:6"):
        search.parse("n_epochs=randint:5:5")


def test_unknown_distribution_lists_the_four() -> None:
    with pytest.raises(ConfigError) as info:
        search.parse("gamma=normal:0:1")
    assert str(info.value) == (
        "--search gamma=normal:0:1: unknown distribution 'normal'. The distributions are "
        "uniform:A:B, loguniform:A:B (A > 0), randint:A:B (B exclusive) or choice:X,Y,Z."
    )
    with pytest.raises(ConfigError, match=r"unknown distribution 'logunifrom'. Did you mean "):
        search.parse("learning_rate=logunifrom:1e-4:1e-2")


def test_loguniform_low_bound_must_be_positive() -> None:
    with pytest.raises(ConfigError, match=r"loguniform needs a low bound > 0 .*got 0\."):
        search.parse("learning_rate=loguniform:0:1")


def test_low_above_high_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"low bound must be below the high one, got low=0.99"):
        search.parse("gamma=uniform:0.99:0.9")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("gamma=uniform:a:1", r"bounds must be finite numbers .*got 'a'"),
        ("gamma=uniform:0.9", r"uniform needs two bounds.*got 1 value\b"),
        ("n_epochs=randint:1.5:4", r"randint's bounds must be integers, got '1.5'"),
        ("batch_size=choice:", r"choice needs values separated by commas"),
        ("batch_size=choice:64,,128", r"none of them empty"),
        ("gamma", r"is not KEY=DIST"),
    ],
)
def test_malformed_search_says_what_is_wrong(text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        search.parse(text)


def test_unknown_option_suggests_the_closest_and_lists_them() -> None:
    with pytest.raises(ConfigError) as info:
        search.check_space([search.parse("learning_rat=uniform:0.1:0.2")], PPO, "ppo")
    message = str(info.value)
    assert "'learning_rat' is not an option of --algo ppo. Did you mean: learning_rate?" in message
    assert "Its options: " in message and "gamma" in message and "seed" not in message


def test_seed_cannot_be_searched() -> None:
    with pytest.raises(ConfigError, match=r"seed cannot be searched; it is set by --seed"):
        search.check_space([search.parse("seed=randint:0:10")], PPO, "ppo")


def test_values_the_option_refuses_are_caught_before_any_trial() -> None:
    with pytest.raises(ConfigError) as info:
        search.check_space([search.parse("learning_rate=uniform:-1:1")], PPO, "ppo")
    assert str(info.value).startswith(
        "learning_rate=uniform:-1:1 can draw values the option refuses: learning_rate must be "
        "a number > 0, got -1.0."
    )


def test_choice_value_of_the_wrong_type_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"offers values the option refuses: normalize_obs"):
        search.check_space([search.parse("normalize_obs=choice:true,yes")], PPO, "ppo")


def test_uniform_on_an_int_option_points_at_randint() -> None:
    with pytest.raises(ConfigError, match=r"for an integer option use randint:A:B or choice"):
        search.check_space([search.parse("n_epochs=uniform:1.5:10")], PPO, "ppo")


def test_an_option_searched_twice_is_refused() -> None:
    dists = [search.parse("gamma=uniform:0.9:0.99"), search.parse("gamma=choice:0.9,0.95")]
    with pytest.raises(ConfigError, match=r"gamma is searched twice"):
        search.check_space(dists, PPO, "ppo")


def test_an_empty_search_says_how_to_give_one() -> None:
    with pytest.raises(ConfigError, match=r"A sweep needs a search space"):
        search.check_space([], PPO, "ppo")


def test_search_file_maps_options_to_distributions(tmp_path) -> None:
    path = tmp_path / "space.yaml"
    path.write_text("learning_rate: loguniform:1e-4:1e-2\nbatch_size: choice:64,128\n")
    dists = search.check_space(search.load_file(path), PPO, "ppo")
    assert [(d.key, d.kind, d.values) for d in dists] == [
        ("learning_rate", "loguniform", (1e-4, 1e-2)),
        ("batch_size", "choice", (64, 128)),
    ]


def test_missing_search_file_is_named_as_such(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"^Search file \(--search-file\) '.*nope.yaml' does not"):
        search.load_file(tmp_path / "nope.yaml")


def test_search_file_with_a_non_text_distribution_is_refused(tmp_path) -> None:
    path = tmp_path / "space.yaml"
    path.write_text("learning_rate: {uniform: [0.1, 0.2]}\n")
    with pytest.raises(ConfigError, match=r"must be a distribution written as text"):
        search.load_file(path)


def test_sampled_values_are_converted_as_the_option_takes_them() -> None:
    import numpy as np

    dists = [search.parse("n_epochs=randint:4:11")]
    options = search.as_options({"n_epochs": np.int64(7)}, dists, PPO)
    assert options == {"n_epochs": 7} and type(options["n_epochs"]) is int


def test_corners_cover_the_lowest_and_highest_values() -> None:
    dists = [search.parse("gamma=uniform:0.9:0.99"), search.parse("n_epochs=randint:4:11")]
    assert search.corners(dists) == [{"gamma": 0.9, "n_epochs": 4}, {"gamma": 0.99, "n_epochs": 10}]


def test_search_module_imports_without_ray() -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['ray'] = None\n"
        "import renshu.distributed.search, renshu.distributed.tune, renshu.cli.tune\n"
        "print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"
