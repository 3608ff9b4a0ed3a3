"""What the replay samplers return: batches of transitions, as tensors or host arrays."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

__all__ = ["ArrayBatch", "Batch"]


class Batch(NamedTuple):
    """A sampled batch of transitions, as tensors on the buffer's device.

    ``obs`` and ``next_obs`` have shape ``(B, window, *frame_shape)`` when ``window > 1`` and
    ``(B, *frame_shape)`` otherwise, in the stored dtype (uint8 stays uint8).
    """

    obs: torch.Tensor
    """``(B, *obs_shape)`` observations at the start of each transition."""
    actions: torch.Tensor
    """``(B,)`` int64 actions taken."""
    rewards: torch.Tensor
    """``(B,)`` float32 n-step discounted reward sums ``r_t + g r_{t+1} + ...`` (stop at an end)."""
    next_obs: torch.Tensor
    """``(B, *obs_shape)`` observations after the last summed step (the final obs at an end)."""
    dones: torch.Tensor
    """``(B,)`` float32, 1.0 if the summed steps ended in a termination (do not bootstrap)."""
    discounts: torch.Tensor
    """``(B,)`` float32 bootstrap factors ``gamma ** k``, k = number of rewards summed."""
    weights: torch.Tensor
    """``(B,)`` float32 importance-sampling weights, max 1 (all ones without prioritization)."""
    indices: np.ndarray
    """``(B,)`` int64 flat slot indices, to pass back to ``update_priorities``."""


class ArrayBatch(NamedTuple):
    """A :class:`Batch` as NumPy arrays on the host (what :meth:`ReplayBuffer.sample_arrays`
    returns): same fields, same shapes, ``rewards``/``dones``/``discounts``/``weights`` float32."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    dones: np.ndarray
    discounts: np.ndarray
    weights: np.ndarray
    indices: np.ndarray
