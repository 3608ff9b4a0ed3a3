"""Tests of renshu.nets: network choice, shapes, uint8 scaling, dueling head, summary."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from renshu.errors import ConfigError
from renshu.nets import (
    NORM_BOUNDS_SPAN,
    NORM_CLIP,
    DuelingHead,
    ModuleNet,
    QNetwork,
    RunningNorm,
    bounds_scale_cap,
    build_q_network,
    input_norm,
    summary,
)

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


def test_user_module_gets_the_input_layer_in_front_when_normalizing() -> None:
    module = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    net = build_q_network((4,), F32, 2, net=module, normalize=True, obs_bounds=(-1.0, 1.0))
    assert isinstance(net, ModuleNet) and net.module is module and input_norm(net) is not None
    assert net.preprocess.layout == "as_is" and float(net.preprocess.norm.max_scale[0]) == 10.0
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    net.preprocess.norm.update(np.full((16, 4), 2.0) + np.arange(16)[:, None] % 2)  # mean 2.5
    assert torch.allclose(net(x), module(torch.tensor([[-3.0, -1.0, 1.0, 3.0]])), atol=1e-5)
    with pytest.raises(ConfigError, match=r"failed on a zero batch of shape \(2,\) \(float32"):
        build_q_network((), F32, 2, net=nn.Linear(1, 2), normalize=True)  # gets (B,), as is
    frames = build_q_network((4,), U8, 2, net=nn.Linear(4, 2), normalize=(4,))
    assert frames.preprocess.scale and frames.preprocess.norm is None


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


def test_float_observations_are_normalized_by_running_statistics() -> None:
    net = build_q_network((2,), np.dtype(np.float32), 3, normalize=True)
    norm = net.preprocess.norm
    assert isinstance(norm, RunningNorm)
    x = torch.tensor([[0.0, 5.0], [9.0, -7.0]])
    assert torch.equal(net.preprocess(x), x)  # before any update: the identity (within the clip)
    rng = np.random.default_rng(0)
    data = rng.normal([50.0, 0.0], [30.0, 0.01], size=(100, 2)).astype(np.float32)
    for i in range(0, 100, 3):
        norm.update(data[i : i + 3])
    norm.flush()
    np.testing.assert_allclose(norm.mean.numpy(), data.astype(np.float64).mean(0), rtol=1e-12)
    np.testing.assert_allclose(norm.var.numpy(), data.astype(np.float64).var(0), rtol=1e-10)
    out = net.preprocess(torch.from_numpy(data)).numpy()
    np.testing.assert_allclose(out.mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(out.std(0), 1.0, atol=1e-3)
    far = net.preprocess(torch.tensor([[50.0, 1.0]]))  # 100 standard deviations away
    assert far[0, 1].item() == NORM_CLIP


def test_running_norm_chunks_give_the_statistics_of_the_whole() -> None:
    """Folding 16 rows at a time (and a large batch at once) equals the two-pass mean and
    variance: the chunking does not bias the statistics."""
    data = np.random.default_rng(1).normal(3.0, 5.0, size=(1000, 4))
    for size in (1, 7, 40):
        norm = RunningNorm((4,))
        for i in range(0, 1000, size):
            norm.update(data[i : i + size])
        norm.flush()
        assert float(norm.count) == 1000
        np.testing.assert_allclose(norm.mean.numpy(), data.mean(0), rtol=1e-12)
        np.testing.assert_allclose(norm.var.numpy(), data.var(0), rtol=1e-10)


def test_running_norm_statistics_save_and_load_with_the_weights() -> None:
    net = build_q_network((3,), np.dtype(np.float32), 2, normalize=True)
    net.preprocess.norm.update(np.arange(30, dtype=np.float32).reshape(10, 3))
    state = net.state_dict()
    assert {"preprocess.norm.mean", "preprocess.norm.var", "preprocess.norm.count"} <= set(state)
    assert "preprocess.norm.shift" not in state  # derived, recomputed on load
    copy = build_q_network((3,), np.dtype(np.float32), 2, normalize=True)
    copy.load_state_dict(state)
    x = torch.randn(4, 3) * 10
    assert torch.equal(copy(x), net(x))


def test_running_norm_does_not_blow_up_a_dimension_a_random_policy_barely_moves() -> None:
    """CartPole's cart position spreads 0.07 of its declared +-4.8 under a random policy:
    scaled by that (x14) it drowned the pole angle and CartPole-v1 took a median 11,000 steps
    to solve instead of 3,000. Finite bounds cap the scale at NORM_BOUNDS_SPAN / half-range;
    unbounded dimensions, and bounds far wider than the values, leave the statistics in charge."""
    low = np.array([-4.8, -np.inf, -0.42, -1e6], np.float32)
    high = np.array([4.8, np.inf, 0.42, 1e6], np.float32)
    cap = bounds_scale_cap(low, high, (4,))
    np.testing.assert_allclose(
        cap, [NORM_BOUNDS_SPAN / 4.8, np.inf, NORM_BOUNDS_SPAN / 0.42, np.inf]
    )
    net = build_q_network((4,), np.dtype(np.float32), 2, normalize=True, obs_bounds=(low, high))
    norm = net.preprocess.norm
    data = np.random.default_rng(0).normal(0.0, [0.07, 0.07, 0.09, 0.07], size=(64, 4))
    norm.update(data.astype(np.float32))
    std = np.sqrt(norm.var.numpy())
    np.testing.assert_allclose(
        norm.scale.numpy(), [cap[0], 1 / std[1], 1 / std[2], 1 / std[3]], rtol=1e-5
    )
    x = torch.tensor([[2.4, 0.0, 0.2, 0.0]])
    expected = np.clip((2.4 - norm.mean[0].item()) * cap[0], -NORM_CLIP, NORM_CLIP)
    assert net.preprocess(x)[0, 0].item() == pytest.approx(expected, rel=1e-5)
    # the same cap after a save and load (it is rebuilt from the bounds, not stored)
    copy = build_q_network((4,), np.dtype(np.float32), 2, normalize=True, obs_bounds=(low, high))
    copy.load_state_dict(net.state_dict())
    assert "preprocess.norm.max_scale" not in net.state_dict()
    assert torch.equal(copy.preprocess.norm.scale, norm.scale)


def test_dqn_caps_the_normalization_by_the_observation_bounds() -> None:
    import renshu

    agent = renshu.DQN("CartPole-v1", seed=0)
    np.testing.assert_allclose(
        agent._obs_norm.max_scale.numpy(),
        [NORM_BOUNDS_SPAN / 4.8, np.inf, NORM_BOUNDS_SPAN / 0.41887903, np.inf],
        rtol=1e-6,
    )
    assert torch.equal(agent._target_norm.max_scale, agent._obs_norm.max_scale)


def test_uint8_observations_are_not_normalized() -> None:
    img = build_q_network((16, 16), np.dtype(np.uint8), 3, normalize=True)
    assert img.preprocess.norm is None
    plain = build_q_network((2,), np.dtype(np.float32), 3, normalize=False)
    assert plain.preprocess.norm is None


def test_frame_stack_shares_one_frame_of_statistics() -> None:
    net = build_q_network((4, 3), np.dtype(np.float32), 2, normalize=(3,))
    assert net.preprocess.norm.shape == (3,)
    net.preprocess.norm.update(np.ones((20, 3), np.float32) * 7)
    net.preprocess.norm.flush()
    out = net.preprocess(torch.full((1, 4, 3), 7.0))
    assert torch.equal(out, torch.zeros(1, 4, 3))


def test_discrete_dict_and_image_inputs_get_one_torso_each() -> None:
    from gymnasium import spaces

    from renshu.inputs import ObsEncoder

    space = spaces.Dict(
        {
            "cell": spaces.Discrete(5, start=1),
            "pos": spaces.Box(-1.0, 1.0, (2,), np.float32),
            "frame": spaces.Box(0, 255, (16, 16), np.uint8),
        }
    )
    encoder = ObsEncoder(space)
    assert encoder.dtype == np.float32  # a float part: float32 storage
    net = build_q_network(
        encoder.space.shape, encoder.dtype, 3, normalize=True, inputs=encoder.parts
    )
    assert net.kind == "multi"
    assert len(net.preprocess.image_torsos) == 1
    assert net.preprocess.norm.shape == (2,)  # only the float part is normalized
    obs = space.sample()
    flat = encoder.encode(obs)
    assert flat[0] == obs["cell"] - 1  # stored as value - start
    assert net(torch.from_numpy(flat[None])).shape == (1, 3)
    features = net.preprocess(torch.from_numpy(flat[None]))
    assert features.shape[1] == 2 + 5 + net.preprocess.features - 7


def test_discrete_observation_is_one_hot_inside_the_net() -> None:
    from gymnasium import spaces

    from renshu.inputs import ObsEncoder

    encoder = ObsEncoder(spaces.Discrete(16))
    assert encoder.dtype == np.uint8 and encoder.space.shape == (1,)
    net = build_q_network((1,), np.dtype(np.uint8), 4, inputs=encoder.parts)
    features = net.preprocess(torch.tensor([[3]], dtype=torch.uint8))
    assert torch.equal(features, torch.nn.functional.one_hot(torch.tensor([3]), 16).float())


def test_unsupported_observation_leaf_is_refused_with_its_name() -> None:
    from gymnasium import spaces

    from renshu.inputs import ObsEncoder

    with pytest.raises(ConfigError, match=r"observation a\.b is a Text space; DQN takes Box"):
        ObsEncoder(spaces.Dict({"a": spaces.Dict({"b": spaces.Text(5)})}))


def test_soft_update_lerps_parameters_and_copies_state_at_one() -> None:
    from renshu.nets import soft_update

    online, target = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    before = [p.detach().clone() for p in target.parameters()]
    soft_update(target, online, 0.5)
    for b, o, t in zip(before, online.parameters(), target.parameters(), strict=True):
        torch.testing.assert_close(t, b + 0.5 * (o - b))
    soft_update(target, online, 1.0)
    for o, t in zip(online.parameters(), target.parameters(), strict=True):
        assert torch.equal(o, t)
