"""Transition replay: uniform or prioritized, with a frame window and n-step returns.

One buffer class, :class:`ReplayBuffer`, covers plain DQN replay, stacked frames (``window``),
n-step returns (``n_step``) and prioritized replay (``prioritized=True``, a :class:`SumTree`), on
the frame storage of :mod:`renshu.replay.frames` (each frame once, windows rebuilt by index).

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

import math
from typing import Any

import gymnasium
import numpy as np
import numpy.typing as npt
import torch

from renshu.errors import ConfigError
from renshu.replay._checks import _check_float, _check_int
from renshu.replay.batches import ArrayBatch, Batch
from renshu.replay.frames import _LAST, _START
from renshu.replay.onestep import OneStepPath
from renshu.replay.sumtree import SumTree

__all__ = ["ReplayBuffer", "replay_bytes"]

IntArray = npt.NDArray[np.int64]

_STATE_VERSION = 1


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


class ReplayBuffer(OneStepPath):
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
        super().__init__(
            capacity, frame_space, num_envs=num_envs, window=window, device=device, seed=seed
        )
        self.n_step = _check_int("n_step", n_step, 1)
        self.gamma = _check_float("gamma", gamma, 0.0, 1.0)
        self.prioritized = bool(prioritized)
        self.alpha = _check_float("alpha", alpha, 0.0, math.inf)
        self.eps = _check_float("eps", eps, 0.0, math.inf, open_low=True)

        T, E = -(-self.capacity // self.num_envs), self.num_envs
        if self.n_step + 1 > T:
            raise ConfigError(
                f"capacity must give each env at least n_step + 1 = {self.n_step + 1} slots, "
                f"i.e. capacity >= {(self.n_step + 1) * E} with num_envs={E}, got {capacity}"
            )
        self._allocate(T)
        self._valid = np.zeros((T, E), dtype=bool)
        self._n_valid = 0
        self._max_priority = 1.0
        self._tree = SumTree(T * E) if self.prioritized else None
        # Slot offsets from the obs slot to re-check after each add (all slots in a tiny ring, so
        # that no slot is listed twice), and which of them are the two slots written.
        span = np.arange(-(self.n_step - 1), self.window + 1)
        self._offsets = span if span.size <= T else np.arange(T)
        self._overwritten = (self._offsets == 0) | (self._offsets == 1)
        # One-step returns with uniform sampling -- the common case -- have a fast path: a start
        # is sampleable unless its window reaches into what the ring overwrote (with one frame
        # per observation: exactly when it holds a start), so add() knows which slots to
        # re-check without the general search, and sample() reads the next observation from
        # the next slot. It gives exactly what the general path gives (tests compare them) and
        # needs W + 2 slots per env.
        self._one_step = self.n_step == 1 and not self.prioritized and self.window + 2 <= T
        self._ahead = np.arange(2, self.window + 1)  # slots t + 2 .. t + W, re-checked by add
        self._positions = np.arange(self.window + 1)  # of the W + 1 frames sample() gathers
        self._ones: np.ndarray = np.ones(0, np.float32)
        self._gammas: np.ndarray = np.ones(0, np.float32)

    # ------------------------------------------------------------------ properties
    @property
    def num_sampleable(self) -> int:
        """Number of transitions :meth:`sample` can return right now."""
        return self._n_valid

    @property
    def nbytes(self) -> int:
        """Bytes held by the storage arrays (and the sum tree when prioritized)."""
        tree = self._tree.nbytes if self._tree is not None else 0
        return self._storage_nbytes() + int(self._valid.nbytes) + tree

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
        obs, actions_, rewards_, next_obs, term, trunc = self._check_step(
            obs, actions, rewards, next_obs, terminated, truncated
        )
        if self._one_step and E == 1 and (mask is None or mask[0]):
            self._add_one(obs, actions_, rewards_, next_obs, bool(term[0]), bool(trunc[0]))
            return
        envs, sel = self._masked_envs(mask)
        if envs.size == 0:
            return
        if self._one_step:
            self._add_one_step(envs, sel, obs, actions_, rewards_, next_obs, term, trunc)
            return

        t = self._head[envs] % T
        # Slots whose validity may change: the n - 1 starts before this one (their look-ahead
        # may now be complete), the two slots written now, and the window - 1 oldest slots after
        # them (their window may reach back into what is overwritten now).
        grid_t = ((t[:, None] + self._offsets) % T).reshape(-1)
        grid_e = np.repeat(envs, self._offsets.size)
        flat = grid_t * E + grid_e
        old = self._valid.reshape(-1)[flat]
        self._write_steps(envs, sel, obs, actions_, rewards_, next_obs, term, trunc)
        # A slot that was valid and is overwritten now gets a fresh priority even if valid again.
        self._refresh(grid_t, grid_e, flat, old, np.tile(self._overwritten, envs.size))

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
        envs = self._running_envs(frames, mask)
        if envs.size == 0:
            return
        t = self._head[envs] % self.slots_per_env
        offsets = np.arange(-self.n_step, 0)
        grid_t = ((t[:, None] + offsets) % self.slots_per_env).reshape(-1)
        grid_e = np.repeat(envs, offsets.size)
        flat = grid_t * self.num_envs + grid_e
        old = self._valid.reshape(-1)[flat]
        self._end_slots(frames, envs)
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
            **super()._config(),
            "n_step": self.n_step,
            "gamma": self.gamma,
            "prioritized": self.prioritized,
            "alpha": self.alpha,
            "eps": self.eps,
        }

    def _arrays(self) -> dict[str, np.ndarray]:
        return {**super()._arrays(), "valid": self._valid}

    def _extra_state(self) -> dict[str, np.ndarray]:
        state = {
            "counters": np.array([self._len, self._n_valid], dtype=np.int64),
            "max_priority": np.array(self._max_priority, dtype=np.float64),
        }
        if self._tree is not None:
            state["priorities"] = self._tree.values()
        return state

    def _load_extra_state(self, state: dict[str, np.ndarray]) -> None:
        self._len, self._n_valid = (int(v) for v in np.asarray(state["counters"]))
        self._max_priority = float(np.asarray(state["max_priority"]))
        if self._tree is not None:
            self._tree = SumTree(self.slots_per_env * self.num_envs)
            self._tree.update(np.arange(self._tree.size), np.asarray(state["priorities"]))
