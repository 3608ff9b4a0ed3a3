"""Divergence: training whose loss, weights or actions stopped being finite numbers.

A learning rate too large, rewards too large for float32 or unclipped gradients make the
weights overflow to inf and then NaN, after which every update and every action is garbage.
Training checks what it computes anyway, at the cheapest place for each:

* every update's loss where it is a Python float (the NumPy fast paths), and the logged losses
  at each periodic log (the torch paths keep their losses as tensors, to avoid a device sync
  per update; NaN weights make NaN losses);
* the weights after each on-policy update (one reduction over the flat parameter tensor, once
  per rollout);
* every batch of continuous actions before it reaches the env (one reduction), so the env is
  never blamed for the agent's NaN;
* every network and the optimizer's state before anything is saved, so a checkpoint never
  holds NaN and the last finite one is kept.

Each raises :class:`~renshu.errors.DivergenceError` naming what broke and the options to change.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import torch

from renshu.errors import DivergenceError


def actions_finite(actions: np.ndarray) -> bool:
    """True for integer actions, else whether every one is finite (one reduction)."""
    return actions.dtype.kind not in "fc" or math.isfinite(float(np.add.reduce(actions, None)))


def not_finite_tensor(
    networks: Mapping[str, torch.nn.Module], optimizer: torch.optim.Optimizer | None = None
) -> str | None:
    """The name of the first floating tensor of ``networks`` (parameters and buffers) or of the
    optimizer's state that holds NaN or inf, or None when all are finite."""
    for prefix, module in networks.items():
        for name, tensor in module.state_dict().items():
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                return f"the tensor {prefix}.{name}"
    if optimizer is not None:
        for index, state in enumerate(optimizer.state.values()):
            for name, value in state.items():
                if (
                    isinstance(value, torch.Tensor)
                    and value.is_floating_point()
                    and not bool(torch.isfinite(value).all())
                ):
                    return f"the optimizer's {name} (of parameter {index})"
    return None


NAN_BY_DEFINITION = ("losses/explained_variance",)
"""Logged figures that are NaN by definition at times (the returns of a rollout did not vary)."""


def losses_not_finite(metrics: Mapping[str, float]) -> Iterable[str]:
    """The logged losses (``losses/...``) that are NaN or inf."""
    return [
        k
        for k, v in metrics.items()
        if k.startswith("losses/") and not math.isfinite(v) and k not in NAN_BY_DEFINITION
    ]


def divergence_error(agent: Any, what: str, *, saving: bool = False) -> DivergenceError:
    """The error for ``agent``'s training having diverged: ``what`` became NaN or inf (e.g.
    ``"the TD loss"``). Names the likely causes and the options that fix them."""
    cfg = agent.config
    algo = type(agent).__name__
    lr = getattr(cfg, "learning_rate", None)
    clip = getattr(cfg, "max_grad_norm", None)
    rewards = "scale the rewards down in the env (divide them by their typical size)"
    if hasattr(cfg, "normalize_reward") and not cfg.normalize_reward:
        rewards += " or set normalize_reward=true"
    fixes = [f"lower learning_rate (try {lr / 10:g} or less)"] if lr is not None else []
    fixes.append(rewards)
    if hasattr(cfg, "max_grad_norm"):
        fixes.append(
            f"set max_grad_norm (it is None: gradients are not clipped; {algo}'s default "
            "clips them)"
            if clip is None
            else f"lower max_grad_norm (now {clip:g})"
        )
    stopped = (
        "Nothing was saved: a checkpoint of these weights would not load."
        if saving
        else "Training stopped here; no checkpoint of these weights is written."
    )
    rate = f" (learning_rate={lr:g})" if lr is not None else ""
    todo = f"{', '.join(fixes[:-1])}, or {fixes[-1]}" if len(fixes) > 1 else fixes[0]
    error = DivergenceError(
        f"{algo} diverged at training step {agent.num_steps:,} (update {agent.num_updates:,}): "
        f"{what} became NaN or inf: the weights or the values computed from them overflowed "
        "float32, and training cannot recover from that. The likely causes: a learning rate "
        f"too large{rate}, rewards too large for the network, or gradients too large. "
        f"{todo[0].upper()}{todo[1:]}. {stopped}"
    )
    if isinstance(lr, float | int):
        error.retry = f"learning_rate={lr / 10:g}"
    return error
