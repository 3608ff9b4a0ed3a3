"""Refuse storage or networks that cannot fit, with the figures, before allocating either.

NumPy or torch would otherwise fail deep inside, or the machine swap to a halt. Networks on a
GPU are held to its memory; everything else to the memory this machine has available.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from renshu.config import check, format_bytes, memory_available
from renshu.errors import ConfigError
from renshu.nets import MLP_HIDDEN, is_image

OPTIMIZER_COPIES = 5
"""Copies of every network parameter training keeps: online and target networks (or policy and
value), the gradient and Adam's two moments (an estimate for the memory check)."""


def mlp_size(
    net: Any, obs_dtype: np.dtype[Any], obs_shape: tuple[int, ...], n_outputs: int
) -> tuple[int, int]:
    """(parameters, inputs) of the MLP option ``net`` builds (``"auto"``/``"mlp"`` or hidden
    sizes); (0, 0) for a CNN or a module (a CNN's size is bounded by its frame, a module exists
    already)."""
    if isinstance(net, str):
        if net == "cnn" or (net == "auto" and is_image(obs_shape, obs_dtype)):
            return 0, 0
        hidden: Sequence[int] = MLP_HIDDEN
    elif isinstance(net, list | tuple):
        hidden = net
    else:
        return 0, 0
    inputs = math.prod(obs_shape)
    sizes = [inputs, *hidden]
    params = sum(a * b + b for a, b in itertools.pairwise(sizes))
    params += (sizes[-1] + 1) * n_outputs
    return params, inputs


ENV_COPY_BYTES = 16 * 1024
"""Memory one copy of an env takes in a vector env (an estimate for the up-front check: a small
Python env measured 2.4-3.3 KiB in ``SyncVectorEnv``, before its observations and infos)."""


def check_env_copies(num_envs: int) -> None:
    """Refuse ``num_envs`` copies of an env that would not fit in memory, before building any."""
    need = num_envs * ENV_COPY_BYTES
    limit = memory_available()
    if limit is not None and need > limit:
        raise ConfigError(
            f"num_envs={num_envs} needs about {format_bytes(need)} for the env copies (about "
            f"{format_bytes(ENV_COPY_BYTES)} each for a small env, more for a large one); this "
            f"machine has {format_bytes(limit)} of memory available. Lower num_envs."
        )


def check_buffer_size(buffer_size: int, batch_size: int, n_step: int, num_envs: int) -> None:
    """Refuse a replay capacity that cannot hold one batch, or the n_step + 1 transitions each
    env keeps at least."""
    check(
        "buffer_size",
        buffer_size >= batch_size,
        f"an int >= batch_size ({batch_size})",
        buffer_size,
    )
    slots = (n_step + 1) * num_envs
    check(
        "buffer_size",
        buffer_size >= slots,
        f"an int >= (n_step + 1) * num_envs = {slots} (each env keeps n_step + 1 "
        "transitions at least)",
        buffer_size,
    )


def check_replay_memory(
    *,
    buffer_size: int,
    num_envs: int,
    frame_space: Any,
    window: int,
    prioritized: bool,
    net: Any,
    obs_shape: tuple[int, ...],
    n_outputs: int,
    device: torch.device,
) -> None:
    """:func:`check_memory` for an agent with a replay buffer (:class:`renshu.replay.ReplayBuffer`
    of these options) and the MLP option ``net`` with ``n_outputs`` outputs."""
    from renshu.replay import replay_bytes

    total, per_slot = replay_bytes(buffer_size, num_envs, frame_space, window, prioritized)
    params, inputs = mlp_size(net, frame_space.dtype, obs_shape, n_outputs)
    check_memory(
        storage=(
            total,
            f"buffer_size={buffer_size} needs {format_bytes(total)} for the replay buffer "
            f"({per_slot:,} bytes per transition)",
            "lower buffer_size",
        ),
        network_params=params,
        network_inputs=inputs,
        network_what=f"net={net!r}{'' if isinstance(net, list) else ' (an MLP)'}",
        network_fix="use smaller hidden sizes"
        + (" or a smaller window" if window > 1 else "")
        + (" or net='cnn'" if len(obs_shape) >= 2 else ""),
        device=device,
    )


def check_memory(
    *,
    storage: tuple[int, str, str],
    network_params: int,
    network_inputs: int,
    network_what: str,
    network_fix: str,
    device: torch.device,
) -> None:
    """Raise ConfigError naming what needs how much when the storage (``(bytes, what needs
    them, how to need less)``: a replay buffer or rollout) and a network of ``network_params``
    parameters do not fit together."""
    parts = [storage]
    networks = network_params * 4 * OPTIMIZER_COPIES
    if network_params:
        parts.append(
            (
                networks,
                f"{network_what} needs {format_bytes(networks)} for the networks "
                f"({network_params:,} parameters over {network_inputs:,} inputs, each kept "
                f"{OPTIMIZER_COPIES} times: online, target, gradient, two optimizer moments)",
                network_fix,
            )
        )
    if device.type == "cuda" and network_params:
        gpu = torch.cuda.get_device_properties(device).total_memory
        if networks > gpu:
            _, text, net_fix = parts[1]
            raise ConfigError(
                f"{text}; the GPU {device} has {format_bytes(gpu)}. {net_fix.capitalize()}."
            )
        parts = parts[:1]
    limit = memory_available()
    total = sum(size for size, _, _ in parts)
    if limit is None or total <= limit:
        return
    parts = sorted((part for part in parts if part[0] >= total / 20), key=lambda part: -part[0])
    text = " and ".join(what for _, what, _ in parts)
    if len(parts) > 1:
        text += f", {format_bytes(total)} in all"
    raise ConfigError(
        f"{text}; this machine has {format_bytes(limit)} of memory available. "
        f"{' or '.join(f for _, _, f in parts).capitalize()}."
    )
