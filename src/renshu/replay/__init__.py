"""Replay for off-policy agents: frames stored once, sampled as transitions or as sequences.

- :mod:`~renshu.replay.frames`: the ring storage every sampler shares (:class:`FrameStorage`) and
  its acting twin :class:`FrameStack`.
- :mod:`~renshu.replay.transitions`: :class:`ReplayBuffer`, uniform or prioritized transitions with
  n-step returns (DQN).
- :mod:`~renshu.replay.sequences`: :class:`SequenceBuffer`, fixed-length sequences with stored
  recurrent states, burn-in and n-step targets (DRQN, R2D2-style).
- :mod:`~renshu.replay.sumtree`: :class:`SumTree`, the priorities behind prioritized sampling.
"""

from __future__ import annotations

from renshu.replay.batches import ArrayBatch, Batch
from renshu.replay.frames import _START as _START  # what a slot holds (checkpoint checks read it)
from renshu.replay.frames import FrameStack, FrameStorage
from renshu.replay.sequences import SequenceBatch, SequenceBuffer, sequence_priorities
from renshu.replay.sumtree import SumTree
from renshu.replay.transitions import ReplayBuffer, replay_bytes

__all__ = [
    "ArrayBatch",
    "Batch",
    "FrameStack",
    "FrameStorage",
    "ReplayBuffer",
    "SequenceBatch",
    "SequenceBuffer",
    "SumTree",
    "replay_bytes",
    "sequence_priorities",
]
