"""Tests of renshu.nets: network choice, shapes, uint8 scaling, dueling head, summary."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from renshu.errors import ConfigError
from renshu.nets import DuelingHead, QNetwork, build_q_network, summary

torch.set_num_threads(1)

F32, U8 = np.dtype(np.float32), np.dtype(np.uint8)


def qnet(*args: Any, **kwargs: Any) -> QNetwork:
    q = build_q_network(*args, **kwargs)
    assert isinstance(q, QNetwork)
    return q


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_tutorial_keras_model_has_723_params() -> None:
    q = build_q_network((1,), F32, 3, net=(24, 24))
    assert n_params(q) == 723  # 1*24+24 + 24*24+24 + 24*3+3
    text = summary(q, (1, 1))
    assert "Total params: 723" in text
    assert "Trainable params: 723" in text
    assert "Non-trainable params: 0" in text
    assert " torso.1 (Linear)            (None, 24)                48" in text
    assert " head (Linear)               (None, 3)                 75" in text


@pytest.mark.parametrize(
    ("shape", "dtype", "kind"),
    [
        ((1,), F32, "mlp"),
        ((4,), F32, "mlp"),
        ((8, 8), U8, "mlp"),  # too small for "auto" to pick a CNN
        ((16, 16), U8, "cnn"),
        ((48, 48), U8, "cnn"),
        ((4, 48, 48), U8, "cnn"),
        ((4, 84, 84), U8, "cnn"),
        ((84, 84, 3), U8, "cnn"),
        ((48, 48), F32, "mlp"),  # floats are features unless net="cnn"
        ((4, 8, 8), U8, "mlp"),
        ((20, 30, 30), U8, "mlp"),  # 20 leading channels is not an image layout
    ],
)
def test_auto_choice(shape: tuple[int, ...], dtype: np.dtype, kind: str) -> None:
    q = qnet(shape, dtype, 3)
    assert q.kind == kind
    if kind == "mlp":
        hidden = [m.out_features for m in q.torso if isinstance(m, nn.Linear)]
        assert hidden == [64, 64]
    x = torch.zeros((2, *shape), dtype=torch.uint8 if dtype == U8 else torch.float32)
    assert q(x).shape == (2, 3)


@pytest.mark.parametrize(
    "shape",
    [(8, 8), (16, 16), (48, 48), (84, 84), (4, 8, 8), (4, 16, 16), (4, 48, 48), (4, 84, 84)],
)
def test_cnn_sizes(shape: tuple[int, ...]) -> None:
    q = qnet(shape, U8, 5, net="cnn")
    convs = [m for m in q.modules() if isinstance(m, nn.Conv2d)]
    dense = [m for m in q.torso if isinstance(m, nn.Linear)]
    assert len(convs) == (3 if min(shape[-2:]) >= 64 else 2) and len(dense) == 1
    assert convs[0].in_channels == (shape[0] if len(shape) == 3 else 1)
    if min(shape[-2:]) >= 64:  # Nature DQN
        assert [c.kernel_size[0] for c in convs] == [8, 4, 3]
        assert [c.stride[0] for c in convs] == [4, 2, 1]
        assert dense[0].out_features == 512
    elif min(shape[-2:]) >= 32:  # Cave's 48x48: 8/4, 4/2
        assert [(c.kernel_size[0], c.stride[0]) for c in convs] == [(8, 4), (4, 2)]
    x = torch.randint(0, 256, (3, *shape), dtype=torch.uint8)
    out = q(x)
    assert out.shape == (3, 5) and torch.isfinite(out).all()
    out.sum().backward()
    assert all(p.grad is not None for p in q.parameters())


def test_uint8_is_scaled_inside() -> None:
    torch.manual_seed(0)
    q = qnet((4, 16, 16), U8, 3)
    x = torch.randint(0, 256, (2, 4, 16, 16), dtype=torch.uint8)
    by_hand = q.head(q.torso(x.float() / 255.0))
    torch.testing.assert_close(q(x), by_hand)
    mlp = qnet((6,), U8, 2, net="mlp")
    xs = torch.randint(0, 256, (2, 6), dtype=torch.uint8)
    torch.testing.assert_close(mlp(xs), mlp.head(mlp.torso(xs.float() / 255.0)))
    float_net = qnet((3,), F32, 2)
    xf = torch.randn(4, 3)
    torch.testing.assert_close(float_net(xf), float_net.head(float_net.torso(xf)))  # as is


def test_dueling_head() -> None:
    torch.manual_seed(0)
    q = qnet((4,), F32, 3, net=(16,), dueling=True)
    x = torch.randn(5, 4)
    features = q.torso(q.preprocess(x))
    assert isinstance(q.head, DuelingHead)
    value, advantage = q.head.value(features), q.head.advantage(features)
    torch.testing.assert_close(q(x), value + advantage - advantage.mean(dim=1, keepdim=True))
    torch.testing.assert_close(q(x).mean(dim=1, keepdim=True), value)
    # same torso, head: V (16 + 1) and A (16 * 3 + 3) instead of Q (16 * 3 + 3)
    plain = build_q_network((4,), F32, 3, net=(16,))
    assert n_params(q) == n_params(plain) + 17
    cnn = build_q_network((4, 48, 48), U8, 2, dueling=True)
    assert cnn(torch.zeros(1, 4, 48, 48, dtype=torch.uint8)).shape == (1, 2)


def test_hidden_sizes_and_activation() -> None:
    q = qnet((3,), F32, 2, net=(8, 4), activation="tanh")
    assert [m.out_features for m in q.torso if isinstance(m, nn.Linear)] == [8, 4]
    assert sum(isinstance(m, nn.Tanh) for m in q.torso) == 2
    linear = build_q_network((3,), F32, 2, net=())
    assert n_params(linear) == 3 * 2 + 2
    scalar = build_q_network((), F32, 2)
    assert scalar(torch.zeros(4)).shape == (4, 2)


def test_user_module_used_as_is() -> None:
    module = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    assert build_q_network((4,), F32, 2, net=module) is module
    with pytest.raises(ConfigError) as info:
        build_q_network((4,), F32, 3, net=module)
    assert str(info.value) == (
        "net module must map (B, *obs_shape) to (B, n_actions) = (B, 3); on a batch of 2 it "
        "returned (2, 2)"
    )
    with pytest.raises(ConfigError, match="dueling must be False when net is a module"):
        build_q_network((4,), F32, 2, net=module, dueling=True)
    with pytest.raises(ConfigError, match="net module failed on a zero batch of shape"):
        build_q_network((5,), F32, 2, net=module)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"net": "transformer"},
            "net must be 'auto', 'mlp', 'cnn', a sequence of hidden sizes or an nn.Module, "
            "got 'transformer'",
        ),
        (
            {"activation": "sigmoidish"},
            "activation must be one of ['elu', 'gelu', 'leaky_relu', 'relu', 'silu', 'tanh'], "
            "got 'sigmoidish'",
        ),
        ({"net": (16, 0)}, "net hidden sizes must be integers >= 1, got (16, 0)"),
        ({"n_actions": 0}, "n_actions must be an integer >= 1, got 0"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    args = {"obs_shape": (4,), "obs_dtype": F32, "n_actions": 2, **kwargs}
    with pytest.raises(ConfigError) as info:
        build_q_network(**args)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_cnn_needs_an_image() -> None:
    with pytest.raises(
        ConfigError, match=r"net='cnn' needs an image observation .* got obs_shape \(5,\)"
    ):
        build_q_network((5,), F32, 2, net="cnn")


def test_summary_of_a_cnn() -> None:
    q = build_q_network((4, 48, 48), U8, 2, dueling=True)
    text = summary(q, (1, 4, 48, 48), torch.uint8)
    assert text.startswith('Model: "QNetwork"')
    assert "torso.0 (Conv2d)            (None, 16, 11, 11)" in text
    assert "head.value (Linear)         (None, 1)" in text
    assert f"Total params: {n_params(q):,}" in text
    assert q.training  # mode restored


def test_summary_counts_shared_and_frozen_params_once() -> None:
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    model[0].bias.requires_grad_(False)
    text = summary(model, (2, 3))
    assert "Total params: 12" in text
    assert "Trainable params: 9" in text
    assert "Non-trainable params: 3" in text


def test_bounded_float_observations_are_scaled_to_minus_one_one() -> None:
    low, high = np.array([0.0, -np.inf], np.float32), np.array([100.0, np.inf], np.float32)
    net = build_q_network((2,), np.dtype(np.float32), 3, obs_bounds=(low, high))
    pre = net.preprocess
    out = pre(torch.tensor([[0.0, 5.0], [50.0, -7.0], [100.0, 0.0]]))
    assert torch.allclose(out, torch.tensor([[-1.0, 5.0], [0.0, -7.0], [1.0, 0.0]]))


def test_uint8_and_unbounded_observations_are_not_rescaled_by_bounds() -> None:
    big = (np.full(2, -1e6, np.float32), np.full(2, 1e6, np.float32))
    net = build_q_network((2,), np.dtype(np.float32), 3, obs_bounds=big)
    assert not net.preprocess.normalize
    pixels = (np.zeros(1), np.full(1, 255))
    img = build_q_network((16, 16), np.dtype(np.uint8), 3, obs_bounds=pixels)
    assert not img.preprocess.normalize
