"""Replay buffers: uniform or prioritized, with a frame window and n-step returns.

One buffer class, :class:`ReplayBuffer`, covers plain DQN replay, stacked frames (``window``),
n-step returns (``n_step``) and prioritized replay (``prioritized=True``, a :class:`SumTree`).
:class:`FrameStack` is the acting side of the same frame-window convention, so the windows an agent
acts on are exactly the windows it later learns from.

Storage layout
--------------
Arrays are preallocated with shape ``(T, E, ...)``: ``T = ceil(capacity / num_envs)`` slots per env
and a write head per env. Each frame is stored **once**. Slot ``t`` of env ``e`` holds the
observation of one step together with the action taken, the reward received and the
``terminated``/``truncated`` flags of that step; the next observation of the transition is the frame
in slot ``t + 1``. When an episode ends, its final observation is written to the following slot as
a *pad* slot (it is never the start of a sampled transition, but it is there to bootstrap from after
a truncation), and the reset observation of the next episode goes to the slot after the pad::

    slot:   0      1      2      3            4      5      6
    frame:  o0     o1     o2     o3 (final)   o0'    o1'    o2'
    kind:   start  start  last   pad          start  start  next

(``last``: the start whose step ended the episode, where ``terminated``/``truncated`` is stored;
``next``: the newest frame, whose action comes with the next call.) An agent that stops an
episode early (end of a training segment) calls :meth:`ReplayBuffer.end_episodes`, which turns
the running episodes into truncated ones.

A window of ``W`` frames is rebuilt at sample time by index (``W - 1`` frames back, oldest first,
newest last). It never crosses an episode start: frames from before the episode's first frame are
zeros, the same convention as :class:`FrameStack`. So memory per transition is one frame plus a few
scalars, whatever ``W`` is.

Which slots can be sampled
--------------------------
A slot is sampleable when it starts a transition (not a pad, not the newest frame still waiting
for its action), its n-step look-ahead is complete (``n_step`` steps written, or the episode ended
earlier), and no frame it needs (its window back, its look-ahead forward) has been overwritten by
the ring. Validity is kept up to date incrementally in :meth:`ReplayBuffer.add` (a handful of
slots per env per call), so sampling never scans the buffer.

Example:
    >>> import numpy as np, gymnasium
    >>> space = gymnasium.spaces.Box(0, 255, (4, 4), np.uint8)
    >>> buffer = ReplayBuffer(100, space, window=2, seed=0)
    >>> frame = np.zeros((1, 4, 4), np.uint8)
    >>> for _ in range(10):
    ...     buffer.add(frame, np.array([1]), np.array([1.0]), frame, np.array([False]),
    ...                np.array([False]))
    >>> batch = buffer.sample(4)
    >>> tuple(batch.obs.shape), batch.obs.dtype
    ((4, 2, 4, 4), torch.uint8)
"""

from __future__ import annotations

import json
import math
from typing import Any, NamedTuple

import gymnasium
import numpy as np
import numpy.typing as npt
import torch

from renshu.errors import ConfigError

__all__ = ["ArrayBatch", "Batch", "FrameStack", "ReplayBuffer", "SumTree"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

# What a slot holds.
_EMPTY = 0  # never written
_NEXT = 1  # the newest frame of a running episode: next obs of the last transition, no action yet
_PAD = 2  # the final observation of an episode (terminated or truncated)
_START = 3  # a transition start (frame, action, reward, flags) whose episode goes on
_LAST = 4  # a transition start whose step ended the episode (terminated or truncated)

_STATE_VERSION = 1


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


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _check_float(
    name: str, value: Any, low: float, high: float, *, open_low: bool = False
) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = (value > low if open_low else value >= low) and value <= high
    if not ok:
        interval = f"({low}, {high}]" if open_low else f"[{low}, {high}]"
        raise ConfigError(f"{name} must be a number in {interval}, got {value!r}")
    return float(value)


def _check_frame_space(frame_space: Any) -> tuple[tuple[int, ...], np.dtype[Any]]:
    if not isinstance(frame_space, gymnasium.spaces.Box):
        raise ConfigError(
            f"frame_space must be a gymnasium.spaces.Box (one frame), got {frame_space!r}"
        )
    return tuple(int(d) for d in frame_space.shape), np.dtype(frame_space.dtype)


class SumTree:
    """Sums and minimum of ``size`` non-negative priorities, with vectorised updates and search.

    A sum tree with ``branching`` children per node (32 by default, so a million slots take four
    levels and an update or a search costs a few numpy calls per level, whatever the batch).
    Every level is an array padded to a multiple of ``branching``, so any ``size`` works (no
    power-of-two requirement, no large padding). Alongside the sums each node keeps the minimum
    over its **positive** leaves (a zero leaf means "absent"), which is what prioritized replay
    needs for the largest importance weight.

    Example:
        >>> tree = SumTree(3, branching=2)
        >>> tree.update(np.array([0, 1, 2]), np.array([1.0, 0.0, 3.0]))
        >>> tree.total, tree.min
        (4.0, 1.0)
        >>> tree.find(np.array([0.5, 1.0, 3.9])).tolist()
        [0, 2, 2]
    """

    def __init__(self, size: int, branching: int = 32) -> None:
        self.size = _check_int("size", size, 1)
        self.branching = K = _check_int("branching", branching, 2)
        counts = [self.size]  # nodes per level, leaves first
        while counts[-1] > 1:
            counts.append(-(-counts[-1] // K))
        counts.reverse()  # root first
        self._depth = len(counts) - 1
        # Level d + 1 is padded to a multiple of K so that reshape(-1, K)[i] are the children of i.
        lengths = [1] + [-(-c // K) * K for c in counts[1:]]
        self._sums = [np.zeros(n, dtype=np.float64) for n in lengths]
        self._mins = [np.full(n, np.inf, dtype=np.float64) for n in lengths]

    @property
    def total(self) -> float:
        """Sum of all priorities."""
        return float(self._sums[0][0])

    @property
    def min(self) -> float:
        """Smallest positive priority (``inf`` when every priority is zero)."""
        return float(self._mins[0][0])

    @property
    def nbytes(self) -> int:
        """Bytes held by the tree arrays."""
        return int(sum(a.nbytes for a in self._sums) + sum(a.nbytes for a in self._mins))

    def get(self, indices: npt.ArrayLike) -> FloatArray:
        """The priorities stored at ``indices``."""
        return self._sums[-1][np.asarray(indices, dtype=np.int64)]

    def values(self) -> FloatArray:
        """A copy of all ``size`` priorities."""
        return self._sums[-1][: self.size].copy()

    def update(self, indices: npt.ArrayLike, values: npt.ArrayLike) -> None:
        """Set the priorities at distinct ``indices`` (non-negative, finite); refresh ancestors."""
        node = np.asarray(indices, dtype=np.int64).reshape(-1)
        if node.size == 0:
            return
        vals = np.broadcast_to(np.asarray(values, dtype=np.float64), node.shape)
        self._sums[-1][node] = vals
        self._mins[-1][node] = np.where(vals > 0, vals, np.inf)
        K = self.branching
        for d in range(self._depth - 1, -1, -1):
            # Repeated parents are recomputed from the same (already final) children: harmless.
            node = node // K
            self._sums[d][node] = self._sums[d + 1].reshape(-1, K)[node].sum(axis=1)
            self._mins[d][node] = self._mins[d + 1].reshape(-1, K)[node].min(axis=1)

    def find(self, mass: npt.ArrayLike) -> IntArray:
        """Leaf indices ``i`` with ``prefix_sum(i) <= mass < prefix_sum(i + 1)``, all at once.

        Only leaves with a positive priority are returned (given ``total > 0``), even when
        floating-point rounding puts ``mass`` at or past the total.
        """
        u = np.array(mass, dtype=np.float64).reshape(-1)
        node = np.zeros(u.shape, dtype=np.int64)
        rows = np.arange(u.size)
        K = self.branching
        for d in range(1, self._depth + 1):
            below = np.cumsum(self._sums[d].reshape(-1, K)[node], axis=1)  # (B, K) prefix sums
            # Keep u strictly inside this node's mass (rounding can put it at or past the end):
            # then the child it falls in has a positive sum.
            u = np.minimum(u, np.nextafter(below[:, -1], 0.0))
            j = (u[:, None] >= below).sum(axis=1)  # children wholly below u
            u = u - below[rows, j - 1] * (j > 0)
            node = node * K + j
        return node

    def sample(self, batch_size: int, rng: np.random.Generator) -> IntArray:
        """Stratified sampling: one uniform draw in each of ``batch_size`` equal slices of mass."""
        total = self.total
        if not total > 0:
            raise ConfigError("cannot sample from a sum tree whose priorities are all zero")
        mass = (np.arange(batch_size) + rng.random(batch_size)) * (total / batch_size)
        return self.find(mass)


def replay_bytes(
    buffer_size: int,
    num_envs: int,
    frame_space: gymnasium.spaces.Box,
    window: int,
    prioritized: bool,
) -> tuple[int, int]:
    """(total, per transition) bytes a :class:`ReplayBuffer` of these options allocates: one
    frame per slot (stored once), action int64, reward float32, four flag bytes, the window's
    back count, and the sum tree's two float64 nodes (with its upper levels)."""
    frame = math.prod(frame_space.shape) * frame_space.dtype.itemsize
    slots = -(-buffer_size // num_envs) * num_envs
    per_slot = frame + 8 + 4 + 4 + np.min_scalar_type(window - 1).itemsize
    per_slot += 17 if prioritized else 0
    return slots * per_slot, per_slot


class ReplayBuffer:
    """Ring-buffer replay for off-policy agents: frame window, n-step returns, optional PER.

    Args:
        capacity: total number of slots over all envs (pads included); each env gets
            ``ceil(capacity / num_envs)`` slots.
        frame_space: the Box of **one** frame, as the environment returns it.
        num_envs: number of envs whose steps are added together (leading axis of ``add``).
        window: frames per observation (1 = no stacking). Observations come out as
            ``(window, *frame_shape)``; missing frames before an episode start are zeros.
        n_step: number of rewards summed per transition (1 = plain one-step DQN).
        gamma: discount used for the n-step sum and the returned ``discounts``.
        prioritized: proportional prioritized replay (Schaul et al. 2016) with a sum tree.
        alpha: priority exponent: stored priority is ``(|p| + eps) ** alpha``.
        eps: added to ``|p|`` so that no transition gets zero probability.
        device: where sampled tensors are put.
        seed: seed of the buffer's own ``np.random.Generator``.

    Transitions are added one step at a time for all envs with :meth:`add`; the agent passes single
    frames (never stacked windows). Within an episode, ``obs`` of a call must be the ``next_obs`` of
    the previous call for that env (it is stored in the same slot); after an episode ends the next
    ``obs`` starts a new episode.
    """

    def __init__(
        self,
        capacity: int,
        frame_space: gymnasium.spaces.Box,
        *,
        num_envs: int = 1,
        window: int = 1,
        n_step: int = 1,
        gamma: float = 0.99,
        prioritized: bool = False,
        alpha: float = 0.6,
        eps: float = 1e-6,
        device: str | torch.device = "cpu",
        seed: int | None = None,
    ) -> None:
        self.capacity = _check_int("capacity", capacity, 1)
        self.num_envs = _check_int("num_envs", num_envs, 1)
        self.window = _check_int("window", window, 1)
        self.n_step = _check_int("n_step", n_step, 1)
        self.gamma = _check_float("gamma", gamma, 0.0, 1.0)
        self.prioritized = bool(prioritized)
        self.alpha = _check_float("alpha", alpha, 0.0, math.inf)
        self.eps = _check_float("eps", eps, 0.0, math.inf, open_low=True)
        self.frame_shape, self.frame_dtype = _check_frame_space(frame_space)
        self.obs_shape: tuple[int, ...] = (
            (self.window, *self.frame_shape) if self.window > 1 else self.frame_shape
        )
        self.device = torch.device(device)
        self.seed = seed

        T, E = -(-self.capacity // self.num_envs), self.num_envs
        if self.n_step + 1 > T:
            raise ConfigError(
                f"capacity must give each env at least n_step + 1 = {self.n_step + 1} slots, "
                f"i.e. capacity >= {(self.n_step + 1) * E} with num_envs={E}, got {capacity}"
            )
        self.slots_per_env = T
        self._frames = np.zeros((T, E, *self.frame_shape), dtype=self.frame_dtype)
        self._actions = np.zeros((T, E), dtype=np.int64)
        self._rewards = np.zeros((T, E), dtype=np.float32)
        self._terminated = np.zeros((T, E), dtype=bool)
        self._truncated = np.zeros((T, E), dtype=bool)
        self._kind = np.zeros((T, E), dtype=np.uint8)
        # Real frames before this one within its episode, capped at window - 1.
        self._back = np.zeros((T, E), dtype=np.min_scalar_type(self.window - 1))
        self._valid = np.zeros((T, E), dtype=bool)
        # Per env, counted in "stamps" (slots written since the start, never wrapping):
        # head = stamp of the next obs, written = number of stamps written. Slot = stamp % T.
        # head == written at an episode start; head == written - 1 while an episode runs (the
        # newest frame, kind _NEXT, is the obs of the next call).
        self._head = np.zeros(E, dtype=np.int64)
        self._written = np.zeros(E, dtype=np.int64)
        self._ep_pos = np.zeros(E, dtype=np.int64)  # position in its episode of the next obs
        self._len = 0
        self._n_valid = 0
        self._max_priority = 1.0
        self._tree = SumTree(T * E) if self.prioritized else None
        self._all_envs = np.arange(E)
        # Slot offsets from the obs slot to re-check after each add (all slots in a tiny ring, so
        # that no slot is listed twice), and which of them are the two slots written.
        span = np.arange(-(self.n_step - 1), self.window + 1)
        self._offsets = span if span.size <= T else np.arange(T)
        self._overwritten = (self._offsets == 0) | (self._offsets == 1)
        self._rng = np.random.default_rng(seed)
        # One-step returns with uniform sampling -- the common case -- have a fast path: a start
        # is sampleable unless its window reaches into what the ring overwrote (with one frame
        # per observation: exactly when it holds a start), so add() knows which slots to
        # re-check without the general search, and sample() reads the next observation from
        # the next slot. It gives exactly what the general path gives (tests compare them) and
        # needs W + 2 slots per env.
        self._one_step = self.n_step == 1 and not self.prioritized and self.window + 2 <= T
        self._ahead = np.arange(2, self.window + 1)  # slots t + 2 .. t + W, re-checked by add
        self._positions = np.arange(self.window + 1)  # of the W + 1 frames sample() gathers
        self._batch_frame_shape = (self.num_envs, *self.frame_shape)
        self._ones: np.ndarray = np.ones(0, np.float32)
        self._gammas: np.ndarray = np.ones(0, np.float32)

    # ------------------------------------------------------------------ properties
    def __len__(self) -> int:
        """Number of stored transitions (pad slots and the newest, action-less frame excluded)."""
        return self._len

    @property
    def num_sampleable(self) -> int:
        """Number of transitions :meth:`sample` can return right now."""
        return self._n_valid

    @property
    def nbytes(self) -> int:
        """Bytes held by the storage arrays (and the sum tree when prioritized)."""
        arrays = (
            self._frames,
            self._actions,
            self._rewards,
            self._terminated,
            self._truncated,
            self._kind,
            self._back,
            self._valid,
        )
        tree = self._tree.nbytes if self._tree is not None else 0
        return int(sum(a.nbytes for a in arrays)) + tree

    # ------------------------------------------------------------------ adding
    def add(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_obs: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
        mask: np.ndarray | None = None,
    ) -> None:
        """Store one step of every env (leading axis ``num_envs``).

        Args:
            obs: ``(E, *frame_shape)`` frames the actions were taken on.
            actions: ``(E,)`` actions taken.
            rewards: ``(E,)`` rewards received.
            next_obs: ``(E, *frame_shape)`` frames after the step (the final obs at an episode end).
            terminated: ``(E,)`` true ends: no bootstrap.
            truncated: ``(E,)`` time-limit cut-offs: bootstrap from the final obs.
            mask: ``(E,)`` bool, which envs to store this call (``False`` skips that env, e.g. on
                Gymnasium's ``NEXT_STEP`` autoreset step); all envs when ``None``.
        """
        E, T = self.num_envs, self.slots_per_env
        obs = self._check_frames("obs", obs)
        next_obs = self._check_frames("next_obs", next_obs)
        actions_ = self._check_vector("actions", actions)
        rewards_ = self._check_vector("rewards", rewards)
        term = self._check_vector("terminated", terminated).astype(bool, copy=False)
        trunc = self._check_vector("truncated", truncated).astype(bool, copy=False)
        if self._one_step and E == 1 and (mask is None or mask[0]):
            self._add_one(obs, actions_, rewards_, next_obs, bool(term[0]), bool(trunc[0]))
            return
        sel: slice | IntArray
        if mask is None:
            envs, sel = self._all_envs, slice(None)
        else:
            envs = sel = np.flatnonzero(self._check_vector("mask", mask).astype(bool))
            if envs.size == 0:
                return
        if self._one_step:
            self._add_one_step(envs, sel, obs, actions_, rewards_, next_obs, term, trunc)
            return

        s = self._head[envs]
        t, t1 = s % T, (s + 1) % T
        done = term[sel] | trunc[sel]
        ep = self._ep_pos[envs]
        # Slots whose validity may change: the n - 1 starts before this one (their look-ahead
        # may now be complete), the two slots written now, and the window - 1 oldest slots after
        # them (their window may reach back into what is overwritten now).
        grid_t = ((t[:, None] + self._offsets) % T).reshape(-1)
        grid_e = np.repeat(envs, self._offsets.size)
        flat = grid_t * E + grid_e
        old = self._valid.reshape(-1)[flat]
        self._len -= int(np.count_nonzero(self._kind[t, envs] >= _START))
        self._len -= int(np.count_nonzero(self._kind[t1, envs] >= _START))

        # The obs slot (mid-episode it already holds this frame, as the last call's next_obs).
        self._frames[t, envs] = obs[sel]
        self._actions[t, envs] = actions_[sel]
        self._rewards[t, envs] = rewards_[sel]
        self._terminated[t, envs] = term[sel]
        self._truncated[t, envs] = trunc[sel]
        self._kind[t, envs] = np.where(done, _LAST, _START)
        self._back[t, envs] = np.minimum(ep, self.window - 1)
        # The next_obs slot: a pad after an episode end. Its scalar fields are never read.
        self._frames[t1, envs] = next_obs[sel]
        self._kind[t1, envs] = np.where(done, _PAD, _NEXT)
        self._back[t1, envs] = np.minimum(ep + 1, self.window - 1)

        self._len += envs.size
        self._written[envs] = s + 2
        self._head[envs] = s + 1 + done
        self._ep_pos[envs] = np.where(done, 0, ep + 1)

        # A slot that was valid and is overwritten now gets a fresh priority even if valid again.
        self._refresh(grid_t, grid_e, flat, old, np.tile(self._overwritten, envs.size))

    def _add_one(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_obs: np.ndarray,
        term: bool,
        trunc: bool,
    ) -> None:
        """:meth:`_add_one_step` for one env, with scalar indexing (the common laptop case)."""
        T, W, kind, valid = self.slots_per_env, self.window, self._kind, self._valid
        s = int(self._head[0])
        t = s % T
        t1 = t + 1 if t + 1 < T else 0
        done = term or trunc
        ep = int(self._ep_pos[0])
        self._len += 1 - int(kind[t, 0] >= _START) - int(kind[t1, 0] >= _START)
        n_valid = self._n_valid + 1 - int(valid[t, 0]) - int(valid[t1, 0])
        self._frames[t, 0] = obs[0]
        self._actions[t, 0] = actions[0]
        self._rewards[t, 0] = rewards[0]
        self._terminated[t, 0] = term
        self._truncated[t, 0] = trunc
        kind[t, 0] = _LAST if done else _START
        self._frames[t1, 0] = next_obs[0]
        kind[t1, 0] = _PAD if done else _NEXT
        valid[t, 0] = True
        valid[t1, 0] = False
        if W > 1:  # the oldest starts lose their window as the ring overwrites it
            back = self._back
            back[t, 0] = min(ep, W - 1)
            back[t1, 0] = min(ep + 1, W - 1)
            for j in range(2, W + 1):
                u = (t + j) % T
                if valid[u, 0] and back[u, 0] >= j - 1:
                    valid[u, 0] = False
                    n_valid -= 1
        self._n_valid = n_valid
        self._written[0] = s + 2
        self._head[0] = s + 1 + done
        self._ep_pos[0] = 0 if done else ep + 1

    def _add_one_step(
        self,
        envs: IntArray,
        sel: slice | IntArray,
        obs: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_obs: np.ndarray,
        term: npt.NDArray[np.bool_],
        trunc: npt.NDArray[np.bool_],
    ) -> None:
        """:meth:`add` when ``n_step == 1`` and uniform. The new start at ``t`` is valid (its
        window fits: W + 2 slots or more), the slot ``t + 1`` written after it is not, and a
        start ``t + j`` (j = 2 .. W, the oldest slots) stays valid while its window does not
        reach back into them: ``back < j - 1``. No other slot changes."""
        T, W = self.slots_per_env, self.window
        kind, back, valid = self._kind, self._back, self._valid
        s = self._head[envs]
        t = s % T
        t1 = t + 1
        t1[t1 == T] = 0
        done = term[sel] | trunc[sel]
        ep = self._ep_pos[envs]
        stored_before = int(np.count_nonzero(kind[t, envs] >= _START)) + int(
            np.count_nonzero(kind[t1, envs] >= _START)
        )
        valid_before = int(np.count_nonzero(valid[t, envs])) + int(
            np.count_nonzero(valid[t1, envs])
        )
        self._len += envs.size - stored_before
        self._frames[t, envs] = obs[sel]
        self._actions[t, envs] = actions[sel]
        self._rewards[t, envs] = rewards[sel]
        self._terminated[t, envs] = term[sel]
        self._truncated[t, envs] = trunc[sel]
        kind[t, envs] = np.where(done, _LAST, _START)
        self._frames[t1, envs] = next_obs[sel]
        kind[t1, envs] = np.where(done, _PAD, _NEXT)
        valid[t, envs] = True
        valid[t1, envs] = False
        valid_after = envs.size
        if W > 1:
            back[t, envs] = np.minimum(ep, W - 1)
            back[t1, envs] = np.minimum(ep + 1, W - 1)
            ahead = (t[:, None] + self._ahead) % T
            rows = envs[:, None]
            valid_before += int(np.count_nonzero(valid[ahead, rows]))
            still = (kind[ahead, rows] >= _START) & (back[ahead, rows] < self._ahead - 1)
            valid[ahead, rows] = still
            valid_after += int(np.count_nonzero(still))
        self._n_valid += valid_after - valid_before
        self._written[envs] = s + 2
        self._head[envs] = s + 1 + done
        self._ep_pos[envs] = np.where(done, 0, ep + 1)

    def end_episodes(self, frames: np.ndarray, mask: np.ndarray | None = None) -> None:
        """End the running episodes of the envs in ``mask`` here, as time-limit truncations.

        For an agent that stops stepping an env mid-episode (end of a training segment, an
        evaluation on the training env): the last stored transition of each running episode
        becomes ``truncated``, and ``frames`` (``(E, *frame_shape)``, the current observations)
        becomes that episode's final observation, so it is bootstrapped from and the next
        :meth:`add` starts a new episode. Envs whose episode already ended, or that never
        stored a step, are left alone.
        """
        frames = self._check_frames("frames", frames)
        envs = np.arange(self.num_envs)
        if mask is not None:
            envs = np.flatnonzero(self._check_vector("mask", mask).astype(bool))
        envs = envs[self._head[envs] == self._written[envs] - 1]  # newest frame awaits an action
        if envs.size == 0:
            return
        T = self.slots_per_env
        s = self._head[envs]
        t, t_prev = s % T, (s - 1) % T
        offsets = np.arange(-self.n_step, 0)
        grid_t = ((t[:, None] + offsets) % T).reshape(-1)
        grid_e = np.repeat(envs, offsets.size)
        flat = grid_t * self.num_envs + grid_e
        old = self._valid.reshape(-1)[flat]
        self._frames[t, envs] = frames[envs]
        self._kind[t, envs] = _PAD
        self._kind[t_prev, envs] = _LAST
        self._truncated[t_prev, envs] = True
        self._head[envs] = s + 1
        self._ep_pos[envs] = 0
        self._refresh(grid_t, grid_e, flat, old, None)

    def _refresh(
        self,
        ts: IntArray,
        es: IntArray,
        flat: IntArray,
        old: npt.NDArray[np.bool_],
        renewed: npt.NDArray[np.bool_] | None,
    ) -> None:
        """Recompute validity of distinct slots ``flat`` (valid before: ``old``); keep the count
        and the priorities in step. ``renewed`` marks slots that now hold new content."""
        new = self._compute_valid(ts, es, flat)
        changed = old != new
        if renewed is not None:
            changed |= old & renewed
        if changed.any():
            self._n_valid += int(np.count_nonzero(new)) - int(np.count_nonzero(old))
            self._valid.reshape(-1)[flat] = new
            if self._tree is not None:
                self._tree.update(flat[changed], np.where(new[changed], self._max_priority, 0.0))

    def _check_frames(self, name: str, frames: np.ndarray) -> np.ndarray:
        frames = np.asarray(frames)
        expected = self._batch_frame_shape
        if frames.shape != expected:
            raise ConfigError(
                f"{name} must have shape (num_envs, *frame_shape) = {expected} (single frames, "
                f"not stacked windows), got {frames.shape}"
            )
        return frames

    def _check_vector(self, name: str, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values)
        if values.size != self.num_envs:
            raise ConfigError(
                f"{name} must hold one value per env ({self.num_envs}), got shape {values.shape}"
            )
        return values if values.ndim == 1 else values.reshape(self.num_envs)

    def _compute_valid(self, ts: IntArray, es: IntArray, flat: IntArray) -> npt.NDArray[np.bool_]:
        """Whether slots ``(ts, es)`` (flat index ``flat``) can be sampled, from kinds and counters.

        Stamps count the slots an env has written; slot ``t`` holds the newest stamp congruent to
        ``t`` modulo ``T``, whose age is ``(last - t) % T``. A start is sampleable when it was
        written (``age <= last``), its window (``back`` frames before it) is still in the ring
        (``age + back < T``) and its n-step look-ahead is complete. Frames ahead of a start are
        newer than it, so they are never overwritten while it is not.
        """
        T, size = self.slots_per_env, self.slots_per_env * self.num_envs
        kind = self._kind.reshape(-1)
        last = self._written[es] - 1
        age = (last - ts) % T
        ok = (age <= last) & (age + self._back.reshape(-1)[flat] < T)
        # Look-ahead: complete when n starts follow in a row, or a start ends the episode earlier.
        alive = ok
        complete = np.zeros_like(ok)
        for j in range(self.n_step):
            k = kind[(flat + j * self.num_envs) % size] if j else kind[flat]
            alive = alive & (k >= _START)
            complete |= alive & (k == _LAST)
            alive = alive & (k == _START)
        return complete | alive

    # ------------------------------------------------------------------ sampling
    def sample(self, batch_size: int, beta: float = 0.4) -> Batch:
        """Sample ``batch_size`` transitions (with replacement), as tensors on ``device``.

        Uniform over sampleable transitions, or proportional to priority (stratified) when
        prioritized; ``beta`` is the importance-sampling exponent (ignored when uniform).
        ``batch_size`` may be at most ``len(self)``; at least one transition must be sampleable
        (see :attr:`num_sampleable`: the newest ``n_step - 1`` steps of a running episode wait
        for their look-ahead).
        """
        arrays = self.sample_arrays(batch_size, beta)
        device = self.device

        def put(array: np.ndarray) -> torch.Tensor:
            tensor = torch.from_numpy(array)
            return tensor if device.type == "cpu" else tensor.to(device, non_blocking=True)

        return Batch(
            obs=put(arrays.obs),
            actions=put(arrays.actions),
            rewards=put(arrays.rewards),
            next_obs=put(arrays.next_obs),
            dones=put(arrays.dones),
            discounts=put(arrays.discounts),
            weights=put(arrays.weights),
            indices=arrays.indices,
        )

    def sample_arrays(self, batch_size: int, beta: float = 0.4) -> ArrayBatch:
        """:meth:`sample` as NumPy arrays on the host (same draws, same values)."""
        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, (int, np.integer))
            or not 1 <= batch_size <= self._len
        ):
            raise ConfigError(
                f"batch_size must be an integer in [1, {self._len}] (the number of transitions "
                f"stored in the replay buffer), got {batch_size!r}; store more transitions "
                f"before sampling (warmup_steps >= batch_size)"
            )
        if self._n_valid == 0:
            raise ConfigError(
                f"none of the {self._len} stored transitions can be sampled yet: each needs its "
                f"{self.n_step}-step look-ahead (n_step={self.n_step}) written or its episode ended"
            )
        beta = _check_float("beta", beta, 0.0, 1.0)
        B, E, T, gamma = int(batch_size), self.num_envs, self.slots_per_env, self.gamma
        if self._one_step:
            return self._sample_one_step(B)

        if self._tree is not None:
            flat = self._tree.sample(B, self._rng)
        else:
            flat = self._sample_uniform(B)
        ts, es = np.divmod(flat, E)

        # n-step sum, stopping at the episode end (the look-ahead is complete for valid slots).
        returns = np.zeros(B, dtype=np.float64)
        k = np.zeros(B, dtype=np.int64)
        alive = np.ones(B, dtype=bool)
        dones = np.zeros(B, dtype=bool)
        size = T * E
        for j in range(self.n_step):
            x = (flat + j * E) % size
            returns += np.where(alive, gamma**j * self._rewards.reshape(-1)[x], 0.0)
            k += alive
            dones |= alive & self._terminated.reshape(-1)[x]
            alive &= self._kind.reshape(-1)[x] == _START  # _LAST: the episode ended here
            if not alive.any():
                break
        next_ts = (ts + k) % T

        if self._tree is not None:
            priorities = self._tree.get(flat)
            weights = (priorities / self._tree.min) ** -beta
        else:
            weights = np.ones(B)

        return ArrayBatch(
            obs=np.ascontiguousarray(self._gather_window(ts, es)),
            actions=self._actions[ts, es],
            rewards=returns.astype(np.float32),
            next_obs=np.ascontiguousarray(self._gather_window(next_ts, es)),
            dones=dones.astype(np.float32),
            discounts=(gamma ** k.astype(np.float64)).astype(np.float32),
            weights=weights.astype(np.float32),
            indices=flat.astype(np.int64),
        )

    def _sample_one_step(self, batch_size: int) -> ArrayBatch:
        """:meth:`sample_arrays` when ``n_step == 1`` and uniform: the return is the stored
        reward and the next observation ends at the next slot, so with a window both windows
        come from one gather of W + 1 frames."""
        flat = self._sample_uniform(batch_size)
        E, T, W = self.num_envs, self.slots_per_env, self.window
        size = T * E
        frames = self._frames.reshape(size, *self.frame_shape)
        if W == 1:
            after = (flat + E) % size
            obs, next_obs = frames[flat], frames[after]
        else:
            ts, es = np.divmod(flat, E)
            slots = ((ts[:, None] + (self._positions - (W - 1))) % T) * E + es[:, None]
            both = np.take(frames, slots, axis=0)  # frames t - W + 1 .. t + 1
            # Frames before the episode's first are zeros: positions below W - 1 - back.
            before_start = self._positions < (W - 1 - self._back[ts, es].astype(np.int64))[:, None]
            if before_start.any():
                both[before_start] = 0
            obs, next_obs = np.ascontiguousarray(both[:, :W]), np.ascontiguousarray(both[:, 1:])
        if self._ones.size != batch_size:
            self._ones = np.ones(batch_size, np.float32)
            self._gammas = np.full(batch_size, self.gamma, np.float32)
        return ArrayBatch(
            obs=obs,
            actions=self._actions.reshape(size)[flat],
            rewards=self._rewards.reshape(size)[flat],
            next_obs=next_obs,
            dones=self._terminated.reshape(size)[flat].astype(np.float32),
            discounts=self._gammas.copy(),
            weights=self._ones.copy(),
            indices=flat,
        )

    def _sample_uniform(self, batch_size: int) -> IntArray:
        """Uniform flat indices over valid slots: draw over the filled rows, redraw the invalid."""
        written = int(self._written[0]) if self.num_envs == 1 else int(self._written.max())
        high = min(written, self.slots_per_env) * self.num_envs
        valid = self._valid.reshape(-1)
        # Raw 64-bit draws modulo ``high`` (bias below 1e-9) cost a third of rng.integers.
        flat = (self._rng.bit_generator.random_raw(batch_size) % high).view(np.int64)
        ok = valid[flat]
        for _ in range(64):
            n_bad = batch_size - int(np.count_nonzero(ok))
            if not n_bad:
                return flat
            bad = ~ok
            flat[bad] = (self._rng.bit_generator.random_raw(n_bad) % high).view(np.int64)
            ok = valid[flat]
        bad = ~ok
        if bad.any():  # a very sparse buffer: choose among the valid slots directly
            flat[bad] = self._rng.choice(np.flatnonzero(valid[:high]), size=int(bad.sum()))
        return flat

    def _gather_window(self, ts: IntArray, es: IntArray) -> np.ndarray:
        """Frames ending at slots ``ts`` (oldest first), zeros before the episode's first frame."""
        E = self.num_envs
        frames = self._frames.reshape(-1, *self.frame_shape)  # flat slots: one take, one copy
        if self.window == 1:
            return np.take(frames, ts * E + es, axis=0)
        dist = np.arange(self.window - 1, -1, -1)
        slots = ((ts[:, None] - dist) % self.slots_per_env) * E + es[:, None]
        out = np.take(frames, slots, axis=0)
        before_start = dist > self._back[ts, es].astype(np.int64)[:, None]
        if before_start.any():
            out[before_start] = 0
        return out

    def update_priorities(self, indices: np.ndarray, priorities: np.ndarray | torch.Tensor) -> None:
        """Set the priorities of sampled slots to ``(|p| + eps) ** alpha``.

        ``priorities`` may be a tensor on any device (typically the TD errors). Slots that stopped
        being sampleable since they were sampled are left alone. No-op when not prioritized.
        """
        if self._tree is None:
            return
        if isinstance(priorities, torch.Tensor):
            priorities = priorities.detach().to("cpu", torch.float64).numpy()
        p = np.asarray(priorities, dtype=np.float64).reshape(-1)
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.shape != p.shape:
            raise ConfigError(
                f"indices and priorities must have the same length, got {idx.size} and {p.size}"
            )
        size = self.slots_per_env * self.num_envs
        if idx.size and (idx.min() < 0 or idx.max() >= size):
            raise ConfigError(f"indices must be in [0, {size - 1}], got {idx.min()}..{idx.max()}")
        if not np.isfinite(p).all():
            raise ConfigError(f"priorities must be finite, got {p[~np.isfinite(p)][:4].tolist()}")
        p = (np.abs(p) + self.eps) ** self.alpha
        if idx.size > 1:  # sampled with replacement: the last priority given to a slot wins
            _, last = np.unique(idx[::-1], return_index=True)
            take = idx.size - 1 - last
            idx, p = idx[take], p[take]
        keep = self._valid.reshape(-1)[idx]
        self._tree.update(idx[keep], p[keep])
        if p.size:
            self._max_priority = max(self._max_priority, float(p.max()))

    # ------------------------------------------------------------------ state
    def _config(self) -> dict[str, Any]:
        return {
            "version": _STATE_VERSION,
            "capacity": self.capacity,
            "num_envs": self.num_envs,
            "window": self.window,
            "n_step": self.n_step,
            "gamma": self.gamma,
            "prioritized": self.prioritized,
            "alpha": self.alpha,
            "eps": self.eps,
            "frame_shape": list(self.frame_shape),
            "frame_dtype": self.frame_dtype.str,
        }

    def _arrays(self) -> dict[str, np.ndarray]:
        return {
            "frames": self._frames,
            "actions": self._actions,
            "rewards": self._rewards,
            "terminated": self._terminated,
            "truncated": self._truncated,
            "kind": self._kind,
            "back": self._back,
            "valid": self._valid,
            "head": self._head,
            "written": self._written,
            "ep_pos": self._ep_pos,
        }

    def state_dict(self) -> dict[str, np.ndarray]:
        """Everything needed to restore the buffer exactly, as arrays (``np.savez``-ready).

        The storage arrays are returned as they are, not copied (a large buffer is not doubled in
        memory): save them before adding more. Configuration and the RNG state are 0-d string
        arrays (JSON), so ``np.load(..., allow_pickle=False)`` reads the file back.
        """
        state = dict(self._arrays())
        state["counters"] = np.array([self._len, self._n_valid], dtype=np.int64)
        state["max_priority"] = np.array(self._max_priority, dtype=np.float64)
        if self._tree is not None:
            state["priorities"] = self._tree.values()
        state["config"] = np.array(json.dumps(self._config(), sort_keys=True))
        state["rng_state"] = np.array(json.dumps(self._rng.bit_generator.state))
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore a :meth:`state_dict` taken from a buffer with the same configuration."""
        try:
            saved = json.loads(str(np.asarray(state["config"])))
        except KeyError:
            raise ConfigError(
                "replay state has no 'config' entry; not a ReplayBuffer state"
            ) from None
        ours = self._config()
        diff = {k: (saved.get(k), v) for k, v in ours.items() if saved.get(k) != v}
        if diff:
            details = ", ".join(
                f"{k}: saved {a!r}, this buffer {b!r}" for k, (a, b) in diff.items()
            )
            raise ConfigError(
                f"replay state does not match this buffer's configuration ({details})"
            )
        for name, array in self._arrays().items():
            value = np.asarray(state[name])
            if value.shape != array.shape or value.dtype != array.dtype:
                raise ConfigError(
                    f"replay state entry {name!r} must be {array.dtype}{array.shape}, "
                    f"got {value.dtype}{value.shape}"
                )
            array[...] = value
        self._len, self._n_valid = (int(v) for v in np.asarray(state["counters"]))
        self._max_priority = float(np.asarray(state["max_priority"]))
        if self._tree is not None:
            self._tree = SumTree(self.slots_per_env * self.num_envs)
            self._tree.update(np.arange(self._tree.size), np.asarray(state["priorities"]))
        self._rng.bit_generator.state = json.loads(str(np.asarray(state["rng_state"])))


class FrameStack:
    """The last ``window`` frames per env while acting, with the replay buffer's convention.

    At an episode start the window is ``zeros, ..., zeros, first_frame``; each step shifts it by
    one and appends the newest frame (oldest first, newest last). Windows never mix episodes, so
    they equal what :class:`ReplayBuffer` rebuilds for the same steps.

    Example:
        >>> import numpy as np, gymnasium
        >>> stack = FrameStack(1, 3, gymnasium.spaces.Box(0, 9, (1,), np.int64))
        >>> stack.reset(np.array([[5]]))[0, :, 0].tolist()
        [0, 0, 5]
        >>> stack.push(np.array([[6]]))[0, :, 0].tolist()
        [0, 5, 6]
    """

    def __init__(self, num_envs: int, window: int, frame_space: gymnasium.spaces.Box) -> None:
        self.num_envs = _check_int("num_envs", num_envs, 1)
        self.window = _check_int("window", window, 1)
        self.frame_shape, self.frame_dtype = _check_frame_space(frame_space)
        self._stack = np.zeros((self.num_envs, self.window, *self.frame_shape), self.frame_dtype)

    def _check(self, frames: np.ndarray) -> np.ndarray:
        frames = np.asarray(frames)
        expected = (self.num_envs, *self.frame_shape)
        if frames.shape != expected:
            raise ConfigError(
                f"frames must have shape (num_envs, *frame_shape) = {expected}, got {frames.shape}"
            )
        return frames

    def _out(self) -> np.ndarray:
        return self._stack.copy() if self.window > 1 else self._stack[:, 0].copy()

    def reset(self, frames: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Start new episodes for the envs in ``mask`` (all when ``None``) from ``frames``.

        ``frames`` holds one frame per env (``(E, *frame_shape)``); only the masked rows are used.
        Returns the windows of all envs: ``(E, window, *frame_shape)``, or ``(E, *frame_shape)``
        when ``window == 1``.
        """
        frames = self._check(frames)
        if mask is None:
            self._stack[:] = 0
            self._stack[:, -1] = frames
        else:
            rows = np.asarray(mask, dtype=bool).reshape(self.num_envs)
            self._stack[rows] = 0
            self._stack[rows, -1] = frames[rows]
        return self._out()

    def push(self, frames: np.ndarray) -> np.ndarray:
        """Append the newest frame of every env; returns the windows as :meth:`reset` does."""
        frames = self._check(frames)
        if self.window > 1:
            self._stack[:, :-1] = self._stack[:, 1:].copy()
        self._stack[:, -1] = frames
        return self._out()
