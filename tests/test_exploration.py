"""Tests of renshu.exploration: epsilon-greedy annealing, Boltzmann frequencies, greedy."""

from __future__ import annotations

import numpy as np
import pytest

from renshu.errors import ConfigError
from renshu.exploration import (
    Boltzmann,
    EpsilonGreedy,
    Exploration,
    Greedy,
    fraction_of_run,
    from_options,
    make_exploration,
)


def test_epsilon_anneal_endpoints_and_midpoint() -> None:
    policy = EpsilonGreedy(start=1.0, end=0.05, anneal_steps=10_000)
    assert policy.value(0) == 1.0
    assert policy.value(5_000) == pytest.approx(0.525)
    assert policy.value(2_500) == pytest.approx(0.7625)
    assert policy.value(10_000) == 0.05
    assert policy.value(1_000_000) == 0.05
    assert EpsilonGreedy(0.5, 0.1, anneal_steps=0).value(0) == 0.1


def test_epsilon_greedy_selects() -> None:
    rng = np.random.default_rng(0)
    q = np.tile(np.array([[0.0, 3.0, 1.0, 3.0]], np.float32), (4000, 1))
    greedy = EpsilonGreedy(0.0, 0.0, anneal_steps=1).select(q, 0, rng)
    assert greedy.dtype == np.int64 and greedy.shape == (4000,)
    assert (greedy == 1).all()  # ties: the first maximum
    random = EpsilonGreedy(1.0, 1.0, anneal_steps=1).select(q, 0, rng)
    freq = np.bincount(random, minlength=4) / len(random)
    np.testing.assert_allclose(freq, 0.25, atol=0.03)
    half = EpsilonGreedy(1.0, 0.0, anneal_steps=100).select(q, 50, rng)  # epsilon 0.5
    assert (half == 1).mean() == pytest.approx(0.5 + 0.5 / 4, abs=0.03)


def test_boltzmann_frequencies_match_softmax() -> None:
    q = np.array([1.0, 2.0, 0.0, 2.5], np.float32)
    tau = 0.8
    policy = Boltzmann(tau=tau)
    z = q.astype(np.float64) / tau
    p = np.exp(z) / np.exp(z).sum()
    np.testing.assert_allclose(policy.probabilities(q[None])[0], p, rtol=1e-12)
    actions = policy.select(np.tile(q, (20_000, 1)), 0, np.random.default_rng(0))
    counts = np.bincount(actions, minlength=4)
    expected = p * len(actions)
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 16.3  # 3 degrees of freedom, p = 0.001
    assert policy.value(123) == tau


def test_boltzmann_clips_like_keras_rl_without_overflow() -> None:
    policy = Boltzmann(tau=1.0, clip=(-500.0, 500.0))
    q = np.array([[1e6, 1e6 - 1.0, 0.0]])  # both large values clip to 500: equal odds
    p = policy.probabilities(q)
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p[0], [0.5, 0.5, 0.0], atol=1e-12)
    actions = policy.select(np.repeat(q, 1000, axis=0), 0, np.random.default_rng(1))
    assert set(actions.tolist()) == {0, 1}


def test_greedy() -> None:
    q = np.array([[1.0, 5.0, 5.0], [-1.0, -2.0, -3.0]])
    assert Greedy().select(q, 0, np.random.default_rng(0)).tolist() == [1, 0]
    assert Greedy().value(10) == 0.0


def test_make_exploration() -> None:
    eps = make_exploration("eps_greedy", start=0.5, end=0.1, anneal_steps=10)
    assert isinstance(eps, EpsilonGreedy) and eps.value(5) == pytest.approx(0.3)
    assert isinstance(make_exploration("boltzmann", tau=2.0), Boltzmann)
    assert isinstance(make_exploration("greedy"), Greedy)

    class Always0:
        def select(self, q_values: np.ndarray, step: int, rng: np.random.Generator) -> np.ndarray:
            return np.zeros(len(q_values), np.int64)

        def value(self, step: int) -> float:
            return 0.0

    custom = Always0()
    assert make_exploration(custom) is custom
    assert isinstance(custom, Exploration)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: EpsilonGreedy(start=1.5), "start must be a number in [0.0, 1.0], got 1.5"),
        (lambda: EpsilonGreedy(end=-0.1), "end must be a number in [0.0, 1.0], got -0.1"),
        (lambda: EpsilonGreedy(anneal_steps=-1), "anneal_steps must be an integer >= 0, got -1"),
        (lambda: Boltzmann(tau=0.0), "tau must be a number in (0.0, inf], got 0.0"),
        (
            lambda: Boltzmann(clip=(1.0, -1.0)),
            "clip must be a pair (low, high) with low < high, got (1.0, -1.0)",
        ),
        (
            lambda: make_exploration("softmax"),
            "policy must be one of ['boltzmann', 'eps_greedy', 'greedy'], got 'softmax'",
        ),
        (
            lambda: make_exploration("greedy", tau=1.0),
            "unknown option(s) ['tau'] for policy 'greedy'; allowed: none",
        ),
        (
            lambda: make_exploration("boltzmann", epsilon=0.1),
            "unknown option(s) ['epsilon'] for policy 'boltzmann'; allowed: ['tau', 'clip']",
        ),
        (
            lambda: make_exploration(42),  # type: ignore[arg-type]
            "policy must be one of ['boltzmann', 'eps_greedy', 'greedy'] or an object with "
            "select(q_values, step, rng) and value(step) methods, got 42",
        ),
        (
            lambda: Greedy().select(np.zeros(3), 0, np.random.default_rng(0)),
            "q_values must have shape (batch, n_actions), got (3,)",
        ),
    ],
)
def test_bad_values(make: object, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        make()  # type: ignore[operator]
    assert str(info.value) == message


def test_epsilon_greedy_one_row_path_draws_like_the_batched_path() -> None:
    """One env takes a plain-Python path: the same two draws, the same choice."""
    q = np.array([[0.0, 3.0, 1.0]], np.float32)
    policy = EpsilonGreedy(1.0, 0.0, anneal_steps=100)
    for seed in range(40):
        step = seed * 2
        x, y = np.random.default_rng(seed), np.random.default_rng(seed)
        u = y.random((2, 1))
        expected = int(u[1, 0] * 3) if u[0, 0] < policy.value(step) else 1
        one = policy.select(q, step, x)
        assert one.dtype == np.int64 and one.tolist() == [expected]
        assert x.random() == y.random()  # the generators are in step afterwards


def test_exploration_lasts_a_fraction_of_the_run_whatever_its_length() -> None:
    assert fraction_of_run(0.1, 20_000) == 2_000
    assert fraction_of_run(0.1, 50_000) == 5_000
    assert fraction_of_run(1.0, 7) == 7
    assert fraction_of_run(0.1, 3) == 1  # never 0 steps: epsilon still starts at eps_start


@pytest.mark.parametrize(
    ("fraction", "total", "message"),
    [
        (0.0, 100, "fraction must be a number in (0.0, 1.0], got 0.0"),
        (1.5, 100, "fraction must be a number in (0.0, 1.0], got 1.5"),
        (0.1, 0, "total_steps must be an integer >= 1, got 0"),
        (0.1, 2.5, "total_steps must be an integer >= 1, got 2.5"),
    ],
)
def test_fraction_of_run_refuses_bad_values(fraction: float, total: object, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        fraction_of_run(fraction, total)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_from_options_anneals_over_the_fraction_or_the_given_steps() -> None:
    from renshu.agents.dqn import DQNConfig

    by_fraction = DQNConfig(eps_start=1.0, eps_end=0.1, eps_anneal_steps=None, eps_fraction=0.2)
    policy = from_options(by_fraction, total_steps=1_000)  # 200 steps of annealing
    assert isinstance(policy, EpsilonGreedy) and policy.anneal_steps == 200
    assert policy.value(0) == 1.0 and policy.value(200) == 0.1
    assert policy.value(100) == pytest.approx(0.55)
    assert from_options(by_fraction).value(0) == 0.1  # no run yet: no length to explore over
    fixed = DQNConfig(eps_anneal_steps=300, eps_fraction=0.2)  # given steps: no fraction
    assert from_options(fixed, total_steps=1_000).anneal_steps == 300  # type: ignore[attr-defined]
