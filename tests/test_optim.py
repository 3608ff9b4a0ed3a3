"""Tests of renshu.optim: RMSpropGraves against hand-computed and reference steps; by name."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
import torch

from renshu.errors import ConfigError
from renshu.optim import FastAdam, RMSpropGraves, make_optimizer

torch.set_num_threads(1)


def test_one_step_by_hand() -> None:
    """lr 0.1, alpha 0.95, eps 0.01, no momentum; w = (1, -2), g = (0.5, -1).

    w1 = 1, g = 0.5:  n = 0.05 * 0.25 = 0.0125;  g_bar = 0.05 * 0.5 = 0.025
        n - g_bar**2 + eps = 0.0125 - 0.000625 + 0.01 = 0.021875
        delta = -0.1 * 0.5 / sqrt(0.021875) = -0.338061701891...;  w1 = 0.661938298108...
    w2 = -2, g = -1:  n = 0.05;  g_bar = -0.05;  n - g_bar**2 + eps = 0.0575
        delta = 0.1 / sqrt(0.0575) = 0.417028828114...;  w2 = -1.582971171885...
    """
    for foreach in (True, False):
        w = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
        opt = RMSpropGraves([w], lr=0.1, foreach=foreach)
        w.grad = torch.tensor([0.5, -1.0], dtype=torch.float64)
        opt.step()
        torch.testing.assert_close(
            w.detach(), torch.tensor([0.6619382981085935, -1.5829711718858506], dtype=torch.float64)
        )
        state = opt.state[w]
        torch.testing.assert_close(state["square_avg"], torch.tensor([0.0125, 0.05]).double())
        torch.testing.assert_close(state["grad_avg"], torch.tensor([0.025, -0.05]).double())
        assert state["step"] == 1


def reference(
    ws: list[list[float]],
    grads: list[list[list[float]]],
    lr: float,
    alpha: float,
    momentum: float,
    eps: float,
) -> list[list[float]]:
    """Graves 2013, eqs. 38-41, in plain Python, element by element."""
    ws = [list(w) for w in ws]
    n = [[0.0] * len(w) for w in ws]
    gb = [[0.0] * len(w) for w in ws]
    d = [[0.0] * len(w) for w in ws]
    for step_grads in grads:
        for p, g_p in enumerate(step_grads):
            for i, g in enumerate(g_p):
                n[p][i] = alpha * n[p][i] + (1 - alpha) * g * g  # (38)
                gb[p][i] = alpha * gb[p][i] + (1 - alpha) * g  # (39)
                d[p][i] = momentum * d[p][i] - lr * g / math.sqrt(n[p][i] - gb[p][i] ** 2 + eps)
                ws[p][i] += d[p][i]  # (41)
    return ws


@pytest.mark.parametrize("foreach", [True, False])
@pytest.mark.parametrize(
    ("lr", "alpha", "momentum", "eps"), [(2.5e-4, 0.95, 0.0, 0.01), (1e-4, 0.95, 0.9, 1e-4)]
)
def test_several_steps_match_reference(
    foreach: bool, lr: float, alpha: float, momentum: float, eps: float
) -> None:
    gen = torch.Generator().manual_seed(0)
    shapes = [(3,), (2, 2), (1,)]
    params = [
        torch.randn(s, generator=gen, dtype=torch.float64, requires_grad=True) for s in shapes
    ]
    start = [p.detach().flatten().tolist() for p in params]
    opt = RMSpropGraves(params, lr=lr, alpha=alpha, momentum=momentum, eps=eps, foreach=foreach)
    grads = []
    for _ in range(6):
        step = [torch.randn(s, generator=gen, dtype=torch.float64) for s in shapes]
        for p, g in zip(params, step, strict=True):
            p.grad = g.clone()
        opt.step()
        grads.append([g.flatten().tolist() for g in step])
    want = reference(start, grads, lr, alpha, momentum, eps)
    for p, w in zip(params, want, strict=True):
        torch.testing.assert_close(p.detach().flatten(), torch.tensor(w, dtype=torch.float64))


def test_params_without_grad_are_left_alone() -> None:
    a = torch.ones(2, requires_grad=True)
    b = torch.ones(2, requires_grad=True)
    opt = RMSpropGraves([a, b], lr=0.1)
    a.grad = torch.ones(2)
    opt.step()
    assert (b == 1).all() and b not in opt.state and (a < 1).all()


def test_state_dict_round_trip() -> None:
    torch.manual_seed(0)
    net_a = torch.nn.Linear(3, 2)
    net_b = torch.nn.Linear(3, 2)
    net_b.load_state_dict(net_a.state_dict())
    opt_a = RMSpropGraves(net_a.parameters(), lr=0.01, momentum=0.5)
    x = torch.randn(8, 3)

    def step(net: torch.nn.Module, opt: torch.optim.Optimizer) -> None:
        opt.zero_grad()
        net(x).pow(2).sum().backward()
        opt.step()

    for _ in range(3):
        step(net_a, opt_a)
    net_b.load_state_dict(net_a.state_dict())
    opt_b = RMSpropGraves(net_b.parameters(), lr=0.01, momentum=0.5)
    opt_b.load_state_dict(copy.deepcopy(opt_a.state_dict()))  # as if saved to disk
    for _ in range(2):
        step(net_a, opt_a)
        step(net_b, opt_b)
    for pa, pb in zip(net_a.parameters(), net_b.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=0, atol=0)
    assert set(opt_b.state[net_b.weight]) == {"step", "square_avg", "grad_avg", "momentum_buffer"}


def test_defaults_are_dqn_settings() -> None:
    opt = RMSpropGraves([torch.zeros(1, requires_grad=True)])
    group = opt.param_groups[0]
    assert (group["lr"], group["alpha"], group["momentum"], group["eps"]) == (
        2.5e-4,
        0.95,
        0.0,
        0.01,
    )


def test_minimizes_a_quadratic() -> None:
    w = torch.tensor([3.0, -2.0], requires_grad=True)
    opt = RMSpropGraves([w], lr=0.05)
    for _ in range(300):
        opt.zero_grad()
        (w**2).sum().backward()
        opt.step()
    assert w.detach().abs().max() < 0.1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr": 0.0}, "lr must be a number in (0.0, inf), got 0.0"),
        ({"alpha": 1.0}, "alpha must be a number in [0.0, 1.0), got 1.0"),
        ({"momentum": -0.1}, "momentum must be a number in [0.0, 1.0), got -0.1"),
        ({"eps": 0.0}, "eps must be a number in (0.0, inf), got 0.0"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        RMSpropGraves([torch.zeros(1, requires_grad=True)], **kwargs)
    assert str(info.value) == message


def test_make_optimizer_by_name_and_factory() -> None:
    net = torch.nn.Linear(2, 2)
    adam = make_optimizer("adam", net.parameters(), 1e-3)
    assert isinstance(adam, torch.optim.Adam) and adam.param_groups[0]["lr"] == 1e-3
    rms = make_optimizer("rmsprop", net.parameters(), 1e-3)
    assert isinstance(rms, torch.optim.RMSprop)
    graves = make_optimizer("rmsprop_graves", net.parameters(), 1e-4)
    assert isinstance(graves, RMSpropGraves) and graves.param_groups[0]["lr"] == 1e-4
    sgd = make_optimizer(lambda ps: torch.optim.SGD(ps, lr=0.5), net.parameters(), 1e-3)
    assert isinstance(sgd, torch.optim.SGD) and sgd.param_groups[0]["lr"] == 0.5
    assert len(sgd.param_groups[0]["params"]) == 2  # a generator of params works


def test_make_optimizer_errors() -> None:
    net = torch.nn.Linear(2, 2)
    with pytest.raises(ConfigError) as info:
        make_optimizer("sgd", net.parameters(), 1e-3)
    assert str(info.value) == (
        "optimizer must be one of ['adam', 'rmsprop', 'rmsprop_graves'] or a callable "
        "factory(params), got 'sgd'"
    )
    with pytest.raises(ConfigError, match=r"factory must return a torch\.optim\.Optimizer"):
        make_optimizer(lambda ps: None, net.parameters(), 1e-3)  # type: ignore[arg-type,return-value]
    with pytest.raises(ConfigError, match=r"lr must be a number in \(0.0, inf\), got -1.0"):
        make_optimizer("adam", net.parameters(), -1.0)


# ----------------------------------------------------------------------------- FastAdam
def adam_pair(n: int = 3000, **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor, Any, Any]:
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(n, generator=gen).requires_grad_()
    b = a.detach().clone().requires_grad_()
    return a, b, FastAdam([a], **kwargs), torch.optim.Adam([b], foreach=False, **kwargs)


@pytest.mark.parametrize("kwargs", [{"lr": 1e-3}, {"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-6}])
def test_fast_adam_fused_step_equals_torch_adam(kwargs: dict[str, Any]) -> None:
    a, b, fast, reference = adam_pair(**kwargs)
    gen = torch.Generator().manual_seed(1)
    for _ in range(20):
        g = torch.randn(a.shape, generator=gen)
        a.grad, b.grad = g.clone(), g.clone()
        assert fast._fusable() is a  # the cheap path is the one under test
        fast.step()
        reference.step()
    torch.testing.assert_close(a.detach(), b.detach(), rtol=1e-5, atol=1e-6)
    for key in ("exp_avg", "exp_avg_sq"):
        torch.testing.assert_close(
            fast.state[a][key], reference.state[b][key], rtol=1e-5, atol=1e-7
        )
    assert fast.state[a]["step"].dtype == reference.state[b]["step"].dtype
    assert float(fast.state[a]["step"]) == float(reference.state[b]["step"]) == 20.0


def test_fast_adam_state_dict_round_trips_and_mixes_with_torch_steps() -> None:
    a, b, fast, reference = adam_pair()
    for i in range(6):
        g = torch.full(a.shape, float(i) - 2.5)
        a.grad, b.grad = g.clone(), g.clone()
        if i == 3:  # a closure forces torch's own step: the state stays interchangeable
            fast.step(lambda: 0.0)
        else:
            fast.step()
        reference.step()
    torch.testing.assert_close(a.detach(), b.detach(), rtol=1e-5, atol=1e-6)
    c = a.detach().clone().requires_grad_()
    restored = FastAdam([c])
    restored.load_state_dict(copy.deepcopy(fast.state_dict()))
    for target in (a, c):
        target.grad = torch.ones(a.shape)
    fast.step()
    restored.step()
    assert torch.equal(a, c)


@pytest.mark.parametrize(
    ("params", "kwargs"),
    [
        (2, {}),
        (1, {"amsgrad": True}),
        (1, {"weight_decay": 0.1}),
        (1, {"maximize": True}),
    ],
)
def test_fast_adam_falls_back_to_torch(params: int, kwargs: dict[str, Any]) -> None:
    gen = torch.Generator().manual_seed(0)
    ours = [torch.randn(5, generator=gen).requires_grad_() for _ in range(params)]
    theirs = [p.detach().clone().requires_grad_() for p in ours]
    fast, reference = FastAdam(ours, lr=0.01, **kwargs), torch.optim.Adam(theirs, lr=0.01, **kwargs)
    for _ in range(3):
        for p, q in zip(ours, theirs, strict=True):
            p.grad, q.grad = torch.ones(5), torch.ones(5)
        assert fast._fusable() is None
        fast.step()
        reference.step()
    for p, q in zip(ours, theirs, strict=True):
        torch.testing.assert_close(p, q)


def test_fast_adam_large_tensor_uses_the_fused_kernel() -> None:
    a, b, fast, reference = adam_pair(n=FastAdam.NUMPY_MAX_NUMEL + 10, lr=0.01)
    for i in range(3):
        g = torch.linspace(-1, 1, a.numel()) * (i + 1)
        a.grad, b.grad = g.clone(), g.clone()
        assert fast._fusable() is a
        fast.step()
        reference.step()
    torch.testing.assert_close(a.detach(), b.detach(), rtol=1e-5, atol=1e-6)
    assert float(fast.state[a]["step"]) == 3.0


def test_fast_adam_step_hooks_run_through_torch() -> None:
    a, _, fast, _ = adam_pair()
    calls: list[str] = []
    fast.register_step_pre_hook(lambda *_: calls.append("pre"))
    fast.register_step_post_hook(lambda *_: calls.append("post"))
    a.grad = torch.ones(a.shape)
    assert fast._fusable() is None
    fast.step()
    assert calls == ["pre", "post"] and float(fast.state[a]["step"]) == 1.0
