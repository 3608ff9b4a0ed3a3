"""Tests of renshu.actor_critic: shapes per observation and action space, architecture, init."""

from __future__ import annotations

import math
from typing import Any

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium import spaces
from torch import nn

from renshu.actor_critic import (
    POLICY_HEAD_GAIN,
    VALUE_HEAD_GAIN,
    ActorCritic,
    build_actor_critic,
)
from renshu.errors import ConfigError
from renshu.inputs import ObsEncoder
from renshu.nets import RunningNorm, summary

torch.set_num_threads(1)

F32, U8 = np.dtype(np.float32), np.dtype(np.uint8)

ACTION_SPACES: list[gymnasium.Space[Any]] = [
    spaces.Discrete(3),
    spaces.MultiDiscrete([2, 4, 3], start=[0, 1, -1]),
    spaces.MultiBinary(5),
    spaces.Box(-2, 2, (2, 3)),
]

DICT_OBS = spaces.Dict(
    {
        "frame": spaces.Box(0, 255, (16, 16), np.uint8),
        "goal": spaces.Discrete(4),
        "pos": spaces.Box(-1, 1, (3,)),
    }
)


def observations(kind: str) -> tuple[tuple[int, ...], np.dtype, dict[str, Any], torch.Tensor]:
    """obs_shape, obs_dtype, builder kwargs and a batch of 5 for a kind of observation."""
    gen = torch.Generator().manual_seed(0)
    if kind == "vector":
        return (4,), F32, {}, torch.randn(5, 4, generator=gen)
    if kind == "image":
        return (4, 48, 48), U8, {}, torch.randint(0, 256, (5, 4, 48, 48), generator=gen).byte()
    enc = ObsEncoder(DICT_OBS)
    batch = enc.encode_batch(
        {
            "frame": np.random.default_rng(0).integers(0, 256, (5, 16, 16), np.uint8),
            "goal": np.arange(5) % 4,
            "pos": np.zeros((5, 3), np.float32),
        },
        5,
    )
    kwargs = {"inputs": enc.parts, "normalize": True}
    return enc.space.shape, enc.dtype, kwargs, torch.as_tensor(batch)


@pytest.mark.parametrize("obs_kind", ["vector", "image", "dict"])
@pytest.mark.parametrize("action_space", ACTION_SPACES, ids=str)
def test_output_shapes_for_each_observation_and_action_space(
    obs_kind: str, action_space: gymnasium.Space[Any]
) -> None:
    shape, dtype, kwargs, obs = observations(obs_kind)
    ac = build_actor_critic(shape, dtype, action_space, **kwargs)
    assert ac.kind == {"vector": "mlp", "image": "cnn", "dict": "multi"}[obs_kind]
    params, value = ac(obs)
    assert params.shape == (5, ac.dist.n_outputs)
    assert value.shape == (5,)
    torch.testing.assert_close(ac.value(obs), value)
    for deterministic in (True, False):  # the sampled actions are evaluated below
        actions, log_prob, v = ac.act(obs, deterministic)
        assert actions.shape == (5, *action_space.shape)
        assert log_prob.shape == (5,) and v.shape == (5,)
        assert not log_prob.requires_grad and not v.requires_grad
        assert all(action_space.contains(a) for a in ac.dist.to_env(actions))
    log_prob_e, entropy, value_e = ac.evaluate(obs, actions)
    torch.testing.assert_close(log_prob_e, log_prob)
    torch.testing.assert_close(value_e, v)
    assert entropy.shape == (5,)
    (log_prob_e.mean() + entropy.mean() + value_e.mean()).backward()
    head = ac.policy_head.weight.grad
    assert head is not None and head.abs().sum() > 0


def test_deterministic_act_is_the_distribution_mode() -> None:
    ac = build_actor_critic((4,), F32, spaces.Discrete(3))
    obs = torch.randn(6, 4)
    with torch.no_grad():
        params, _ = ac(obs)
    assert torch.equal(ac.act(obs, deterministic=True)[0], params.argmax(1))


def test_act_samples_from_the_generator() -> None:
    ac = build_actor_critic((4,), F32, spaces.Box(-1, 1, (2,)))
    obs = torch.randn(6, 4)
    a = ac.act(obs, generator=torch.Generator().manual_seed(3))[0]
    b = ac.act(obs, generator=torch.Generator().manual_seed(3))[0]
    assert torch.equal(a, b)


def linear_layers(module: nn.Module) -> list[nn.Linear]:
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


def test_default_vector_network_is_separate_64x64_tanh_torsos() -> None:
    ac = build_actor_critic((4,), F32, spaces.Discrete(2))
    assert not ac.shared and ac.value_net is not None
    for torso in (ac.policy_net, ac.value_net):
        assert [m.out_features for m in linear_layers(torso)] == [64, 64]
        assert [type(m) for m in torso if not isinstance(m, nn.Linear)] == [nn.Tanh, nn.Tanh]
    # 2 torsos of 4*64+64 + 64*64+64, a policy head of 64*2+2 and a value head of 64+1.
    assert sum(p.numel() for p in ac.parameters()) == 2 * (320 + 4160) + 130 + 65


def test_shared_mlp_torso_has_one_set_of_hidden_layers() -> None:
    ac = build_actor_critic((4,), F32, spaces.Discrete(2), shared=True, net=[32])
    assert ac.shared and ac.value_net is None
    assert sum(p.numel() for p in ac.parameters()) == (4 * 32 + 32) + (32 * 2 + 2) + (32 + 1)
    params, value = ac(torch.randn(3, 4))
    torch.testing.assert_close(ac.value(torch.zeros(3, 4)), ac(torch.zeros(3, 4))[1])
    assert params.shape == (3, 2) and value.shape == (3,)


def test_image_network_is_the_shared_nature_cnn_with_relu() -> None:
    ac = build_actor_critic((4, 84, 84), U8, spaces.Discrete(6), shared=False)
    assert ac.kind == "cnn" and ac.shared
    convs = [m for m in ac.features if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size[0], c.stride[0]) for c in convs] == [
        (32, 8, 4),
        (64, 4, 2),
        (64, 3, 1),
    ]
    assert [m.out_features for m in linear_layers(ac.features)] == [512]
    assert all(not isinstance(m, nn.Tanh) for m in ac.modules())
    assert ac.policy_head.in_features == 512 and ac.value_head.in_features == 512


def test_activation_option_applies_to_mlp_layers() -> None:
    ac = build_actor_critic((4,), F32, spaces.Discrete(2), activation="relu")
    assert any(isinstance(m, nn.ReLU) for m in ac.policy_net)
    with pytest.raises(ConfigError, match="activation must be one of"):
        build_actor_critic((4,), F32, spaces.Discrete(2), activation="sigmoidish")


def assert_orthogonal(weight: torch.Tensor, gain: float) -> None:
    w = weight.detach().reshape(weight.shape[0], -1).double()
    gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    expected = gain**2 * torch.eye(len(gram), dtype=torch.double)
    torch.testing.assert_close(gram, expected, atol=1e-5 * gain**2, rtol=1e-5)


def test_orthogonal_init_gains_as_cleanrl() -> None:
    ac = build_actor_critic((4,), F32, spaces.Discrete(3))
    assert POLICY_HEAD_GAIN == 0.01 and VALUE_HEAD_GAIN == 1.0
    assert_orthogonal(ac.policy_head.weight, 0.01)
    assert_orthogonal(ac.value_head.weight, 1.0)
    assert ac.value_net is not None
    for layer in linear_layers(ac.policy_net) + linear_layers(ac.value_net):
        assert_orthogonal(layer.weight, math.sqrt(2))
    for layer in linear_layers(ac):
        assert torch.equal(layer.bias.detach(), torch.zeros_like(layer.bias))


def test_orthogonal_init_of_conv_layers_including_dict_image_parts() -> None:
    for shape, dtype, kwargs in [((4, 48, 48), U8, {}), observations("dict")[:3]]:
        ac = build_actor_critic(shape, dtype, spaces.Discrete(2), **kwargs)
        convs = [m for m in ac.modules() if isinstance(m, nn.Conv2d)]
        assert convs
        for conv in convs:
            assert_orthogonal(conv.weight, math.sqrt(2))
            assert torch.equal(conv.bias.detach(), torch.zeros_like(conv.bias))


def test_normalization_is_one_running_norm_shared_by_both_heads() -> None:
    ac = build_actor_critic((3,), F32, spaces.Discrete(2), normalize=True)
    norms = [m for m in ac.modules() if isinstance(m, RunningNorm)]
    assert len(norms) == 1 and ac.preprocess.norm is norms[0]
    ac.preprocess.norm.update(np.random.default_rng(0).normal(5.0, 2.0, (64, 3)))
    ac.preprocess.norm.flush()
    assert "preprocess.norm.mean" in ac.state_dict()
    assert ac.preprocess.norm.mean.abs().min() > 4


def test_summary_lists_layers_and_the_gaussian_log_std() -> None:
    ac = build_actor_critic((4,), F32, spaces.Box(-1, 1, (2,)))
    text = summary(ac, (1, 4))
    assert 'Model: "ActorCritic"' in text
    assert " policy_net.0 (Linear)       (None, 64)                320" in text
    assert " policy_head (Linear)        (None, 2)                 130" in text
    assert " value_head (Linear)         (None, 1)                 65" in text
    assert " dist (GaussianActions)      -                         2" in text
    assert "Total params: 9,157" in text
    image = summary(
        build_actor_critic((4, 48, 48), U8, spaces.Discrete(3)), (1, 4, 48, 48), torch.uint8
    )
    assert "features.0 (Conv2d)" in image and "dist" not in image


def test_log_std_is_a_parameter_of_the_actor_critic() -> None:
    ac = build_actor_critic((4,), F32, spaces.Box(-1, 1, (2,)))
    names = dict(ac.named_parameters())
    assert "dist.log_std" in names
    assert torch.equal(names["dist.log_std"].detach(), torch.zeros(2))


@pytest.mark.parametrize(
    ("space", "phrase"),
    [
        (spaces.Dict({"move": spaces.Discrete(2)}), "Dict('move': Discrete(2))"),
        (spaces.Tuple((spaces.Discrete(2),)), "Tuple(Discrete(2))"),
        (spaces.Text(4), "Text("),
    ],
)
def test_unsupported_action_space_raises_config_error_naming_it(
    space: gymnasium.Space[Any], phrase: str
) -> None:
    with pytest.raises(ConfigError) as info:
        build_actor_critic((4,), F32, space)
    assert phrase in str(info.value)
    assert "is not supported" in str(info.value)


def test_bad_net_options_raise_config_error() -> None:
    with pytest.raises(ConfigError, match="got a module"):
        build_actor_critic((4,), F32, spaces.Discrete(2), net=nn.Linear(4, 2))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="net='cnn' needs an image observation"):
        build_actor_critic((4,), F32, spaces.Discrete(2), net="cnn")
    with pytest.raises(ConfigError, match="net hidden sizes must be integers >= 1"):
        build_actor_critic((4,), F32, spaces.Discrete(2), net=[64, 0])
    shape, dtype, kwargs, _ = observations("dict")
    with pytest.raises(ConfigError, match="needs a single image observation"):
        build_actor_critic(shape, dtype, spaces.Discrete(2), net="cnn", **kwargs)


def test_hidden_sizes_apply_to_both_torsos() -> None:
    ac = build_actor_critic((4,), F32, spaces.Discrete(2), net=(32, 16, 8))
    assert isinstance(ac, ActorCritic) and ac.value_net is not None
    assert [m.out_features for m in linear_layers(ac.policy_net)] == [32, 16, 8]
    assert [m.out_features for m in linear_layers(ac.value_net)] == [32, 16, 8]
    assert ac.policy_head.in_features == 8
