"""Optimizers: RMSpropGraves (DQN's optimizer) and optimizers by name.

Example:
    >>> import torch
    >>> layer = torch.nn.Linear(2, 1)
    >>> type(make_optimizer("rmsprop_graves", layer.parameters(), lr=2.5e-4)).__name__
    'RMSpropGraves'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
from torch.optim import optimizer as _torch_optimizer

from renshu.errors import ConfigError

__all__ = ["OPTIMIZERS", "FastAdam", "RMSpropGraves", "make_optimizer"]


def _check(
    name: str, value: Any, low: float, high: float, *, open_low: bool, open_high: bool
) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = (value > low if open_low else value >= low) and (
            value < high if open_high else value <= high
        )
    if not ok:
        interval = f"{'(' if open_low else '['}{low}, {high}{')' if open_high else ']'}"
        raise ConfigError(f"{name} must be a number in {interval}, got {value!r}")
    return float(value)


class RMSpropGraves(torch.optim.Optimizer):
    """RMSprop as in Graves 2013 (arXiv:1308.0850, eqs. 38-41), with DQN's settings as defaults.

    For each parameter ``w`` with gradient ``g``::

        n     = alpha * n     + (1 - alpha) * g**2                      (38)
        g_bar = alpha * g_bar + (1 - alpha) * g                         (39)
        delta = momentum * delta - lr * g / sqrt(n - g_bar**2 + eps)    (40)
        w     = w + delta                                               (41)

    ``n - g_bar**2`` estimates the variance of the gradient, so steps are scaled by its standard
    deviation rather than by its root mean square (torch's ``RMSprop(centered=True)`` is the
    same idea with ``eps`` outside the square root).

    Defaults are the Nature DQN settings (Mnih et al. 2015; DeepMind's ``NeuralQLearner.lua``):
    ``lr=2.5e-4``, squared-gradient and gradient momentum ``alpha=0.95``, min squared gradient
    ``eps=0.01`` inside the square root, and **no momentum on delta** (``momentum=0``).
    Graves' paper itself used ``momentum=0.9``, ``lr=1e-4``, ``eps=1e-4`` (and alpha 0.95).

    Args:
        params: parameters or parameter groups.
        lr: learning rate, > 0.
        alpha: decay of both running averages, in [0, 1).
        momentum: momentum on the update ``delta``, in [0, 1).
        eps: added inside the square root, > 0.
        foreach: update all parameters of a group with torch's multi-tensor ``_foreach_*`` ops
            (one fused pass; the default), or one parameter at a time (``False``).

    State per parameter (saved by ``state_dict``): ``step``, ``square_avg`` (n), ``grad_avg``
    (g_bar) and, when ``momentum > 0``, ``momentum_buffer`` (delta).
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float = 2.5e-4,
        alpha: float = 0.95,
        momentum: float = 0.0,
        eps: float = 0.01,
        *,
        foreach: bool = True,
    ) -> None:
        defaults = {
            "lr": _check("lr", lr, 0.0, float("inf"), open_low=True, open_high=True),
            "alpha": _check("alpha", alpha, 0.0, 1.0, open_low=False, open_high=True),
            "momentum": _check("momentum", momentum, 0.0, 1.0, open_low=False, open_high=True),
            "eps": _check("eps", eps, 0.0, float("inf"), open_low=True, open_high=True),
            "foreach": bool(foreach),
        }
        super().__init__(params, defaults)

    def _init_state(self, p: torch.Tensor, momentum: float) -> dict[str, Any]:
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["square_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["grad_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        if momentum > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return state

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """One update of every parameter that has a gradient."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, alpha, momentum, eps = group["lr"], group["alpha"], group["momentum"], group["eps"]
            params, grads, ns, gbars, deltas = [], [], [], [], []
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("RMSpropGraves does not support sparse gradients")
                state = self._init_state(p, momentum)
                state["step"] += 1
                params.append(p)
                grads.append(p.grad)
                ns.append(state["square_avg"])
                gbars.append(state["grad_avg"])
                if momentum > 0:
                    deltas.append(state["momentum_buffer"])
            if not params:
                continue
            if group["foreach"]:
                _graves_foreach(params, grads, ns, gbars, deltas, lr, alpha, momentum, eps)
            else:
                _graves_single(params, grads, ns, gbars, deltas, lr, alpha, momentum, eps)
        return loss


def _graves_foreach(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    ns: list[torch.Tensor],
    gbars: list[torch.Tensor],
    deltas: list[torch.Tensor],
    lr: float,
    alpha: float,
    momentum: float,
    eps: float,
) -> None:
    """Eqs. 38-41 for all tensors at once with multi-tensor ops."""
    torch._foreach_mul_(ns, alpha)
    torch._foreach_addcmul_(ns, grads, grads, value=1 - alpha)  # (38)
    torch._foreach_lerp_(gbars, grads, 1 - alpha)  # (39) alpha * g_bar + (1 - alpha) * g
    denom = torch._foreach_addcmul(ns, gbars, gbars, value=-1)  # n - g_bar**2
    torch._foreach_add_(denom, eps)
    torch._foreach_sqrt_(denom)
    if momentum > 0:
        torch._foreach_mul_(deltas, momentum)
        torch._foreach_addcdiv_(deltas, grads, denom, value=-lr)  # (40)
        torch._foreach_add_(params, deltas)  # (41)
    else:
        torch._foreach_addcdiv_(params, grads, denom, value=-lr)  # (40) + (41)


def _graves_single(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    ns: list[torch.Tensor],
    gbars: list[torch.Tensor],
    deltas: list[torch.Tensor],
    lr: float,
    alpha: float,
    momentum: float,
    eps: float,
) -> None:
    """Eqs. 38-41 one parameter at a time."""
    for i, (p, g, n, gbar) in enumerate(zip(params, grads, ns, gbars, strict=True)):
        n.mul_(alpha).addcmul_(g, g, value=1 - alpha)
        gbar.lerp_(g, 1 - alpha)
        denom = n.addcmul(gbar, gbar, value=-1).add_(eps).sqrt_()
        if momentum > 0:
            delta = deltas[i]
            delta.mul_(momentum).addcdiv_(g, denom, value=-lr)
            p.add_(delta)
        else:
            p.addcdiv_(g, denom, value=-lr)


def _torch_adam_step() -> Callable[..., Any]:
    """``torch.optim.Adam.step`` with torch's step hooks and profiler label, wrapped once."""
    step: Callable[..., Any] = torch.optim.Adam.step
    if getattr(step, "hooked", False):  # torch already wrapped it (an Adam was built)
        return step
    return torch.optim.Optimizer.profile_hook_step(step)


_ADAM_STEP = _torch_adam_step()
_FUSED_ADAM: Callable[..., Any] | None = getattr(torch, "_fused_adam_", None)
_GLOBAL_STEP_HOOKS = (
    getattr(_torch_optimizer, "_global_optimizer_pre_hooks", {}),
    getattr(_torch_optimizer, "_global_optimizer_post_hooks", {}),
)


class FastAdam(torch.optim.Adam):
    """``torch.optim.Adam`` with a cheap step for one float32 CPU tensor.

    For a small network's flat parameters (see :class:`renshu.fastpath.FlatParams`) torch's
    optimizer machinery -- the profiler wrapper, per-group bookkeeping, the multi-tensor
    dispatch -- costs ten times the arithmetic of the update. :meth:`step` then updates that one
    tensor itself, with torch's formulas and the same state (``step``, ``exp_avg``,
    ``exp_avg_sq``) and ``state_dict`` as torch's Adam: in NumPy, on the same memory, up to
    :attr:`NUMPY_MAX_NUMEL` elements (a torch call between NumPy operations costs more than the
    update itself at that size), with torch's fused Adam kernel above it. Any other case --
    several tensors, a GPU, a closure, step hooks, ``amsgrad``, weight decay, ``maximize``, a
    tensor learning rate -- is torch's own step.
    """

    NUMPY_MAX_NUMEL = 1 << 16
    """Largest tensor updated in NumPy (a dozen passes); above it, one fused-kernel pass wins."""

    _views: tuple[tuple[torch.Tensor | None, ...], tuple[np.ndarray, ...]] | None = None

    def _fusable(self) -> torch.Tensor | None:
        """The one parameter, if the cheap step applies to it."""
        if len(self.param_groups) != 1:
            return None
        group = self.param_groups[0]
        if len(group["params"]) != 1:
            return None
        p: torch.Tensor = group["params"][0]
        grad = p.grad
        if (
            grad is None
            or p.device.type != "cpu"
            or p.dtype != torch.float32
            or grad.dtype != torch.float32
            or grad.is_sparse
            or not (p.is_contiguous() and grad.is_contiguous())
            or group["amsgrad"]
            or group["weight_decay"] != 0
            or group["maximize"]
            or group["capturable"]
            or group["differentiable"]
            or group.get("decoupled_weight_decay", False)
            or isinstance(group["lr"], torch.Tensor)
            or self._optimizer_step_pre_hooks
            or self._optimizer_step_post_hooks
            or any(_GLOBAL_STEP_HOOKS)
            or (p.numel() > self.NUMPY_MAX_NUMEL and _FUSED_ADAM is None)
        ):
            return None
        return p

    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """One Adam update: the cheap step on the one tensor, or torch's own step."""
        p = self._fusable() if closure is None else None
        if p is None:
            return _ADAM_STEP(self, closure)
        group, state = self.param_groups[0], self.state[p]
        if not state:  # what torch's Adam creates on its first step
            state["step"] = torch.tensor(0.0, dtype=torch.float32)
            state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        beta1, beta2 = group["betas"]
        tensors = (p, p.grad, state["exp_avg"], state["exp_avg_sq"], state["step"])
        if p.numel() > self.NUMPY_MAX_NUMEL and _FUSED_ADAM is not None:
            state["step"].add_(1)
            _FUSED_ADAM(
                [p.data],
                [p.grad],
                [state["exp_avg"]],
                [state["exp_avg_sq"]],
                [],
                [state["step"]],
                amsgrad=False,
                lr=float(group["lr"]),
                beta1=float(beta1),
                beta2=float(beta2),
                weight_decay=0.0,
                eps=float(group["eps"]),
                maximize=False,
            )
            return None
        views = self._views
        if views is None or any(a is not b for a, b in zip(views[0], tensors, strict=True)):
            arrays = [t.detach().numpy() for t in tensors if t is not None]
            views = self._views = tensors, (*arrays, np.empty_like(arrays[0]))
        w, g, m, v, step_array, tmp = views[1]
        step_array += 1
        step = float(step_array)
        np.subtract(g, m, out=tmp)  # exp_avg.lerp_(grad, 1 - beta1)
        tmp *= 1 - beta1
        m += tmp
        np.multiply(g, g, out=tmp)  # exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2)
        tmp *= 1 - beta2
        v *= beta2
        v += tmp
        # param -= lr / (1 - beta1**t) * exp_avg / (sqrt(exp_avg_sq) / c2 + eps), c2 being
        # sqrt(1 - beta2**t); the same with c2 multiplied through, one operation fewer.
        c2 = math.sqrt(1 - beta2**step)
        np.sqrt(v, out=tmp)
        tmp += group["eps"] * c2
        np.divide(m, tmp, out=tmp)
        tmp *= group["lr"] * c2 / (1 - beta1**step)
        w -= tmp
        return None

    step.hooked = True  # type: ignore[attr-defined]  # no profiler wrapper around the cheap step


OPTIMIZERS = ("adam", "rmsprop", "rmsprop_graves")
"""Optimizer names accepted by :func:`make_optimizer`."""


def make_optimizer(
    spec: str | Callable[[Iterable[torch.nn.Parameter]], torch.optim.Optimizer],
    params: Iterable[torch.nn.Parameter],
    lr: float,
) -> torch.optim.Optimizer:
    """An optimizer over ``params`` by name, or from a factory.

    Args:
        spec: ``"adam"`` (torch Adam; fused kernels on CUDA, elsewhere :class:`FastAdam`),
            ``"rmsprop"`` (torch RMSprop, its defaults), ``"rmsprop_graves"``
            (:class:`RMSpropGraves`, DQN's settings), or a callable ``factory(params)`` returning
            an optimizer (``lr`` is not passed to it).
        params: the parameters to optimize.
        lr: learning rate for the named optimizers.
    """
    params = list(params)
    if callable(spec) and not isinstance(spec, str):
        optimizer = spec(params)
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise ConfigError(
                f"optimizer factory must return a torch.optim.Optimizer, got "
                f"{type(optimizer).__name__}"
            )
        return optimizer
    if spec not in OPTIMIZERS:
        raise ConfigError(
            f"optimizer must be one of {list(OPTIMIZERS)} or a callable factory(params), "
            f"got {spec!r}"
        )
    lr = _check("lr", lr, 0.0, float("inf"), open_low=True, open_high=True)
    if spec == "adam":
        on_cuda = bool(params) and all(p.is_cuda for p in params)
        if on_cuda:
            return torch.optim.Adam(params, lr=lr, fused=True)
        return FastAdam(params, lr=lr, foreach=True)
    if spec == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, foreach=True)
    return RMSpropGraves(params, lr=lr)
