"""Tests of renshu.distributions: log-probabilities, entropies, sampling, spaces, errors."""

from __future__ import annotations

import math
from typing import Any

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium import spaces
from torch import nn

from renshu.distributions import (
    CategoricalDist,
    GaussianActions,
    GaussianDist,
    for_space,
)
from renshu.errors import ConfigError

torch.set_num_threads(1)

B = 7

SPACES: list[gymnasium.Space[Any]] = [
    spaces.Discrete(5),
    spaces.Discrete(4, start=-2),
    spaces.MultiDiscrete([3, 5, 2]),
    spaces.MultiDiscrete([3, 5, 2], start=[1, -4, 10]),
    spaces.MultiDiscrete([[2, 3], [4, 2]]),
    spaces.MultiDiscrete([4, 4]),
    spaces.MultiBinary(4),
    spaces.MultiBinary([2, 3]),
    spaces.Box(-1, 1, (3,)),
    spaces.Box(-np.inf, np.inf, (2, 2)),
    spaces.Box(np.array([0.0, -np.inf]), np.array([1.0, np.inf]), dtype=np.float64),
]


def outputs(dist: nn.Module, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(B, dist.n_outputs, generator=gen) * 2


@pytest.mark.parametrize("space", SPACES, ids=str)
def test_samples_and_modes_lie_in_the_space(space: gymnasium.Space[Any]) -> None:
    dist = for_space(space)
    d = dist(outputs(dist))
    for actions in (d.sample(), d.mode()):
        assert actions.shape == (B, *space.shape)
        assert actions.cpu().numpy().dtype == dist.action_dtype
        env_actions = dist.to_env(actions)
        assert env_actions.dtype == space.dtype
        assert all(space.contains(a) for a in env_actions)
    assert d.log_prob(d.sample()).shape == (B,)
    assert d.entropy().shape == (B,)


def test_action_dtypes_are_what_the_env_expects() -> None:
    cases = [
        (spaces.Discrete(3), torch.int64, (B,)),
        (spaces.MultiDiscrete([2, 3]), torch.int64, (B, 2)),
        (spaces.MultiBinary(5), torch.int8, (B, 5)),
        (spaces.Box(-1, 1, (2,), np.float64), torch.float32, (B, 2)),
    ]
    for space, dtype, shape in cases:
        dist = for_space(space)
        actions = dist(outputs(dist)).sample()
        assert actions.dtype == dtype and tuple(actions.shape) == shape, space


def test_categorical_matches_torch_distributions() -> None:
    dist = for_space(spaces.Discrete(5))
    logits = outputs(dist)
    d = dist(logits)
    ref = torch.distributions.Categorical(logits=logits)
    actions = torch.arange(B) % 5
    torch.testing.assert_close(d.log_prob(actions), ref.log_prob(actions))
    torch.testing.assert_close(d.entropy(), ref.entropy())
    torch.testing.assert_close(d.mode(), logits.argmax(1))


def test_discrete_start_is_added_to_actions_and_removed_in_log_prob() -> None:
    dist = for_space(spaces.Discrete(4, start=-2))
    logits = outputs(dist)
    d = dist(logits)
    ref = torch.distributions.Categorical(logits=logits)
    index = torch.arange(B) % 4
    torch.testing.assert_close(d.log_prob(index - 2), ref.log_prob(index))
    assert torch.equal(d.mode(), logits.argmax(1) - 2)


def test_multidiscrete_is_independent_categoricals_with_offsets() -> None:
    nvec, start = [3, 5, 2], [1, -4, 10]
    dist = for_space(spaces.MultiDiscrete(nvec, start=start))
    assert dist.n_outputs == 10
    params = outputs(dist)
    d = dist(params)
    chunks = params.split(nvec, dim=1)
    refs = [torch.distributions.Categorical(logits=c) for c in chunks]
    index = torch.stack([torch.arange(B) % n for n in nvec], dim=1)
    actions = index + torch.tensor(start)
    expected = sum(r.log_prob(index[:, i]) for i, r in enumerate(refs))
    torch.testing.assert_close(d.log_prob(actions), expected)
    torch.testing.assert_close(d.entropy(), sum(r.entropy() for r in refs))
    mode = torch.stack([c.argmax(1) for c in chunks], dim=1) + torch.tensor(start)
    assert torch.equal(d.mode(), mode)
    samples = d.sample()
    low, high = torch.tensor(start), torch.tensor(start) + torch.tensor(nvec)
    assert ((samples >= low) & (samples < high)).all()


def test_multidiscrete_padding_is_never_sampled() -> None:
    # 2 and 6 values: the first dimension is padded to 6 logits inside.
    dist = for_space(spaces.MultiDiscrete([2, 6]))
    d = dist(torch.zeros(20_000, 8))
    samples = d.sample(torch.Generator().manual_seed(0))
    assert samples[:, 0].max() == 1
    assert samples[:, 1].max() == 5
    counts = torch.bincount(samples[:, 0], minlength=2).double() / len(samples)
    torch.testing.assert_close(
        counts, torch.tensor([0.5, 0.5], dtype=torch.double), atol=0.02, rtol=0
    )
    torch.testing.assert_close(d.entropy(), torch.full((20_000,), math.log(2) + math.log(6)))


def test_multidiscrete_2d_nvec_flattens_row_major() -> None:
    space = spaces.MultiDiscrete([[2, 3], [4, 2]])
    dist = for_space(space)
    params = outputs(dist)
    d = dist(params)
    chunks = params.split([2, 3, 4, 2], dim=1)
    mode = torch.stack([c.argmax(1) for c in chunks], dim=1).reshape(B, 2, 2)
    assert torch.equal(d.mode(), mode)
    refs = [torch.distributions.Categorical(logits=c) for c in chunks]
    expected = sum(r.log_prob(mode.reshape(B, 4)[:, i]) for i, r in enumerate(refs))
    torch.testing.assert_close(d.log_prob(mode), expected)


def test_categorical_sampling_follows_probabilities() -> None:
    dist = for_space(spaces.Discrete(3))
    probs = torch.tensor([0.2, 0.5, 0.3])
    d = dist(probs.log().expand(50_000, 3))
    samples = d.sample(torch.Generator().manual_seed(1))
    freq = torch.bincount(samples, minlength=3).float() / len(samples)
    torch.testing.assert_close(freq, probs, atol=0.01, rtol=0)


def test_sample_with_a_generator_is_reproducible() -> None:
    for space in (spaces.Discrete(4), spaces.MultiBinary(3), spaces.Box(-1, 1, (2,))):
        dist = for_space(space)
        params = outputs(dist)
        a = dist(params).sample(torch.Generator().manual_seed(5))
        b = dist(params).sample(torch.Generator().manual_seed(5))
        assert torch.equal(a, b)


def test_bernoulli_matches_torch_distributions() -> None:
    dist = for_space(spaces.MultiBinary([2, 3]))
    logits = outputs(dist)
    d = dist(logits)
    ref = torch.distributions.Bernoulli(logits=logits)
    actions = (torch.arange(B * 6).reshape(B, 2, 3) % 2).to(torch.int8)
    torch.testing.assert_close(
        d.log_prob(actions), ref.log_prob(actions.reshape(B, 6).float()).sum(1)
    )
    torch.testing.assert_close(d.entropy(), ref.entropy().sum(1))
    assert torch.equal(d.mode(), (logits > 0).reshape(B, 2, 3).to(torch.int8))


def test_bernoulli_sampling_follows_probabilities() -> None:
    dist = for_space(spaces.MultiBinary(2))
    logits = torch.tensor([[math.log(0.25 / 0.75), 0.0]]).expand(50_000, 2)
    freq = dist(logits).sample(torch.Generator().manual_seed(2)).float().mean(0)
    torch.testing.assert_close(freq, torch.tensor([0.25, 0.5]), atol=0.01, rtol=0)


def test_gaussian_matches_torch_distributions() -> None:
    dist = for_space(spaces.Box(-1, 1, (2, 2)))
    assert isinstance(dist, GaussianActions)
    with torch.no_grad():
        dist.log_std.copy_(torch.tensor([-0.5, 0.0, 0.3, 1.0]))
    mean = outputs(dist)
    d = dist(mean)
    assert isinstance(d, GaussianDist)
    ref = torch.distributions.Normal(mean, dist.log_std.exp())
    actions = torch.randn(B, 2, 2, generator=torch.Generator().manual_seed(3)) * 3  # beyond bounds
    torch.testing.assert_close(d.log_prob(actions), ref.log_prob(actions.reshape(B, 4)).sum(1))
    torch.testing.assert_close(d.entropy(), ref.entropy().sum(1))
    assert torch.equal(d.mode(), mean.reshape(B, 2, 2))


def test_gaussian_sampling_has_mean_and_std() -> None:
    dist = for_space(spaces.Box(-np.inf, np.inf, (2,)))
    with torch.no_grad():
        dist.log_std.copy_(torch.tensor([0.0, math.log(0.5)]))
    samples = dist(torch.tensor([[1.0, -2.0]]).expand(50_000, 2)).sample()
    torch.testing.assert_close(samples.mean(0), torch.tensor([1.0, -2.0]), atol=0.02, rtol=0)
    torch.testing.assert_close(samples.std(0), torch.tensor([1.0, 0.5]), atol=0.02, rtol=0)


def test_gaussian_log_std_is_a_learnable_parameter_initialised_at_zero() -> None:
    dist = for_space(spaces.Box(-1, 1, (3,)))
    params = dict(dist.named_parameters())
    assert list(params) == ["log_std"]
    assert torch.equal(params["log_std"].detach(), torch.zeros(3))
    assert "log_std" in dist.state_dict()
    mean = torch.zeros(B, 3, requires_grad=True)
    d = dist(mean)
    (-d.log_prob(torch.full((B, 3), 2.0)).mean() - d.entropy().mean()).backward()
    assert params["log_std"].grad is not None and (params["log_std"].grad != 0).all()
    assert mean.grad is not None and (mean.grad != 0).all()
    assert for_space(spaces.Box(-1, 1, (3,)), log_std_init=-1.0).log_std[0].item() == -1.0


def test_gaussian_log_prob_is_of_the_unclipped_action_and_to_env_clips() -> None:
    low, high = np.array([-1, -np.inf], np.float32), np.array([1, np.inf], np.float32)
    space = spaces.Box(low, high, dtype=np.float32)
    dist = for_space(space)
    d = dist(torch.zeros(2, 2))
    actions = torch.tensor([[3.0, -50.0], [-0.5, 80.0]])
    expected = torch.distributions.Normal(0.0, 1.0).log_prob(actions).sum(1)
    torch.testing.assert_close(d.log_prob(actions), expected)
    env = dist.to_env(actions)
    np.testing.assert_array_equal(env, [[1.0, -50.0], [-0.5, 80.0]])  # infinite bound: no clip
    assert env.dtype == np.float32


def test_to_env_of_unbounded_box_returns_actions_unchanged() -> None:
    dist = for_space(spaces.Box(-np.inf, np.inf, (2,), np.float64))
    actions = torch.tensor([[1e6, -1e6]])
    env = dist.to_env(actions)
    assert env.dtype == np.float64
    np.testing.assert_array_equal(env, [[1e6, -1e6]])


def test_categorical_dist_handles_large_logits() -> None:
    d = CategoricalDist(torch.tensor([[[1e4, 0.0, -1e4]]]), None, (), torch.int64)
    assert torch.isfinite(d.entropy()).all()
    assert d.sample().item() == 0


@pytest.mark.parametrize(
    ("space", "phrase"),
    [
        (spaces.Dict({"a": spaces.Discrete(2)}), "Dict("),
        (spaces.Tuple((spaces.Discrete(2), spaces.Discrete(3))), "Tuple("),
        (spaces.Text(5), "Text("),
        (spaces.Box(0, 5, (2,), np.int64), "Box(0, 5, (2,), int64)"),
    ],
)
def test_unsupported_action_spaces_raise_config_error_naming_the_space(
    space: gymnasium.Space[Any], phrase: str
) -> None:
    with pytest.raises(ConfigError) as info:
        for_space(space)
    assert phrase in str(info.value)
    assert "Discrete, MultiDiscrete" in str(info.value) or "float Box" in str(info.value)


def test_integer_box_error_suggests_discrete() -> None:
    with pytest.raises(ConfigError, match="Use Discrete or MultiDiscrete for integer actions"):
        for_space(spaces.Box(0, 5, (2,), np.int64))
