"""Sequence replay for recurrent agents (R2D2, Kapturowski et al. 2019) on the shared frames.

A sequence is ``burn_in + seq_len`` consecutive steps of one env, plus the frame after the last
one (to bootstrap from). Sequences start at every ``seq_stride``-th stamp an env writes (stamps
count the slots of :class:`~renshu.replay.frames.FrameStorage`, pads included), so they overlap
when ``seq_stride < burn_in + seq_len``. The recurrent state ``(h, c)`` the agent had before the
frame at each start stamp is stored with it (zeros where an episode starts), and the learner
unrolls from it; the first ``burn_in`` steps only warm the state up (no loss).

Episode boundaries: a sequence may run past the end of an episode into the next one. Where it
does, the step after the episode's final frame is marked in ``starts`` (the learner zeroes the
state there, as :class:`~renshu.recurrent.LSTMCore` does), the final frame itself is kept (it is
what a truncated episode bootstraps from) but has no loss, and n-step returns stop at the episode
end. So no loss term ever sees a state carried over from another episode, and no frame is wasted.

n-step targets stay inside the sequence: step ``i`` sums the rewards of steps ``i .. i + k - 1``
with ``k = min(n_step, steps to the episode end, L - i)`` and bootstraps from the frame at ``i + k``
(``boot``), discounted by ``gamma ** k``. Prioritized sampling gives each sequence the priority
``eta * max|td| + (1 - eta) * mean|td|`` over its trained steps (R2D2's mix, ``eta = 0.9``).

Sampling is index arithmetic over ``(B, L + 1)`` grids: no Python loop over sequences or steps.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import gymnasium
import numpy as np
import numpy.typing as npt
import torch

from renshu.errors import ConfigError
from renshu.replay._checks import _check_float, _check_int
from renshu.replay.frames import _PAD, _START, FrameStorage
from renshu.replay.sumtree import SumTree

__all__ = ["SequenceBatch", "SequenceBuffer", "sequence_priorities"]

IntArray = npt.NDArray[np.int64]

_STATE_VERSION = 1


class SequenceBatch(NamedTuple):
    """Sampled sequences, **time-major** (``L = burn_in + seq_len`` steps, ``B`` sequences)."""

    obs: torch.Tensor
    """``(L + 1, B, *obs_shape)`` frames (windows) of the steps and the frame after the last."""
    starts: torch.Tensor
    """``(L + 1, B)`` bool, an episode starts at this frame (zero the state before it)."""
    actions: torch.Tensor
    """``(L, B)`` int64 actions taken."""
    rewards: torch.Tensor
    """``(L, B)`` float32 n-step discounted reward sums (stopping at an episode end)."""
    dones: torch.Tensor
    """``(L, B)`` float32, 1.0 where the summed steps ended in a termination."""
    discounts: torch.Tensor
    """``(L, B)`` float32 bootstrap factors ``gamma ** k``."""
    boot: torch.Tensor
    """``(L, B)`` int64 position ``i + k`` in ``0 .. L`` of the frame to bootstrap from."""
    mask: torch.Tensor
    """``(L, B)`` float32, 1.0 on the trained steps: past the burn-in and not a final frame."""
    state: tuple[torch.Tensor, torch.Tensor]
    """``(h, c)``, each ``(1, B, state_size)``: the stored state before the first frame."""
    weights: torch.Tensor
    """``(B,)`` float32 importance-sampling weights, max 1 (ones without prioritization)."""
    indices: np.ndarray
    """``(B,)`` int64 sequence indices, to pass back to ``update_priorities``."""


def sequence_priorities(td: torch.Tensor, mask: torch.Tensor, eta: float = 0.9) -> torch.Tensor:
    """R2D2's priority of each sequence: ``eta * max + (1 - eta) * mean`` of ``|td|`` over the
    masked steps (``td`` and ``mask`` ``(L, B)``; a sequence with no trained step gets 0)."""
    abs_td = td.detach().abs() * mask
    count = mask.sum(dim=0)
    mean = abs_td.sum(dim=0) / count.clamp(min=1)
    return eta * abs_td.max(dim=0).values + (1 - eta) * mean


class SequenceBuffer(FrameStorage):
    """Ring-buffer replay of fixed-length sequences with stored recurrent states.

    Args:
        capacity: total number of slots over all envs (pads included); each env gets
            ``ceil(capacity / num_envs)`` slots, rounded up to a multiple of ``seq_stride``.
        frame_space: the Box of **one** frame, as the environment returns it.
        state_size: units of the recurrent state stored per sequence (``h`` and ``c`` each).
        num_envs: number of envs whose steps are added together.
        window: frames per observation (1, DRQN's default: the memory replaces stacking).
        seq_len: trained steps per sequence.
        burn_in: steps before them that only warm the state up.
        seq_stride: stamps between two sequence starts (default: half of ``burn_in + seq_len``,
            R2D2's overlap).
        n_step: rewards summed per target (within the sequence).
        gamma: discount for the n-step sums and the returned ``discounts``.
        prioritized: sample sequences in proportion to their priority (a :class:`SumTree`).
        alpha: priority exponent; eps: added to priorities so none is zero.
        device: where sampled tensors are put; seed: seed of the buffer's own generator.
    """

    def __init__(
        self,
        capacity: int,
        frame_space: gymnasium.spaces.Box,
        *,
        state_size: int,
        num_envs: int = 1,
        window: int = 1,
        seq_len: int = 20,
        burn_in: int = 0,
        seq_stride: int | None = None,
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
        self.state_size = _check_int("state_size", state_size, 1)
        self.seq_len = _check_int("seq_len", seq_len, 1)
        self.burn_in = _check_int("burn_in", burn_in, 0)
        self.length = L = self.burn_in + self.seq_len
        stride = max(L // 2, 1) if seq_stride is None else seq_stride
        self.seq_stride = _check_int("seq_stride", stride, 1)
        self.n_step = _check_int("n_step", n_step, 1)
        self.gamma = _check_float("gamma", gamma, 0.0, 1.0)
        self.prioritized = bool(prioritized)
        self.alpha = _check_float("alpha", alpha, 0.0, math.inf)
        self.eps = _check_float("eps", eps, 0.0, math.inf, open_low=True)

        E, S = self.num_envs, self.seq_stride
        per_env = -(-self.capacity // E)
        T = -(-per_env // S) * S
        need = L + self.window + 1
        if need > T:
            raise ConfigError(
                f"capacity (buffer_size) must give each env room for a whole sequence: "
                f"burn_in + seq_len + window + 1 = {need} slots, i.e. capacity >= {need * E} "
                f"with num_envs={E}, got {capacity}"
            )
        self._allocate(T)
        self.rows = R = T // S  # sequence starts per env in the ring: one stored state each
        self._h = np.zeros((R, E, self.state_size), dtype=np.float32)
        self._c = np.zeros((R, E, self.state_size), dtype=np.float32)
        # Sampleable starts of env e are k * seq_stride for k in [lo[e], hi[e]).
        self._lo = np.zeros(E, dtype=np.int64)
        self._hi = np.zeros(E, dtype=np.int64)
        self._max_priority = 1.0
        self._tree = SumTree(R * E) if self.prioritized else None
        self._steps = np.arange(L + 1)

    # ------------------------------------------------------------------ properties
    @property
    def num_sampleable(self) -> int:
        """Number of sequences :meth:`sample` can return right now."""
        return int((self._hi - self._lo).sum())

    @property
    def nbytes(self) -> int:
        """Bytes held by the storage arrays, the stored states and the sum tree."""
        tree = self._tree.nbytes if self._tree is not None else 0
        return self._storage_nbytes() + int(self._h.nbytes + self._c.nbytes) + tree

    # ------------------------------------------------------------------ adding
    def add(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_obs: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
        states: tuple[np.ndarray | torch.Tensor, np.ndarray | torch.Tensor],
        next_states: tuple[np.ndarray | torch.Tensor, np.ndarray | torch.Tensor],
        mask: np.ndarray | None = None,
    ) -> None:
        """Store one step of every env, as :meth:`ReplayBuffer.add`, with recurrent states.

        ``states`` is ``(h, c)``, each ``(E, state_size)``: the state the agent had before acting
        on ``obs``; ``next_states`` the state after it (before ``next_obs``). Where a sequence
        starts at one of the two frames, its state is kept (zeros at an episode's first frame).
        """
        frames = self._check_step(obs, actions, rewards, next_obs, terminated, truncated)
        h, c = (self._check_state("states", x) for x in states)
        h1, c1 = (self._check_state("next_states", x) for x in next_states)
        envs, sel = self._masked_envs(mask)
        if envs.size == 0:
            return
        s, first = self._head[envs], self._ep_pos[envs] == 0
        self._write_steps(envs, sel, *frames)
        keep = ~first[:, None]  # an episode's first frame starts from the zero state
        self._keep_states(envs, s, h[sel] * keep, c[sel] * keep)
        self._keep_states(envs, s + 1, h1[sel], c1[sel])
        self._update_ranges(envs)

    def end_episodes(self, frames: np.ndarray, mask: np.ndarray | None = None) -> None:
        """End the running episodes of the envs in ``mask`` here, as time-limit truncations
        (see :meth:`ReplayBuffer.end_episodes`); the state stored with the final frame, where a
        sequence starts there, is the one the last :meth:`add` gave as ``next_states``."""
        frames = self._check_frames("frames", frames)
        envs = self._running_envs(frames, mask)
        if envs.size:
            self._end_slots(frames, envs)
            self._update_ranges(envs)

    def _check_state(self, name: str, x: np.ndarray | torch.Tensor) -> np.ndarray:
        if isinstance(x, torch.Tensor):
            x = x.detach().to("cpu", torch.float32).numpy()
        x = np.asarray(x, dtype=np.float32)
        expected = (self.num_envs, self.state_size)
        if x.size != math.prod(expected):
            raise ConfigError(
                f"{name} must be (h, c), each of shape (num_envs, state_size) = {expected}, "
                f"got shape {x.shape}"
            )
        return x.reshape(expected)

    def _keep_states(self, envs: IntArray, stamps: IntArray, h: np.ndarray, c: np.ndarray) -> None:
        """Store the states of the envs whose stamp starts a sequence."""
        at = stamps % self.seq_stride == 0
        if at.any():
            rows = (stamps[at] // self.seq_stride) % self.rows
            self._h[rows, envs[at]] = h[at]
            self._c[rows, envs[at]] = c[at]

    def _ranges(self, envs: IntArray) -> tuple[IntArray, IntArray]:
        """``[lo, hi)``: the sequence starts (in units of ``seq_stride``) sampleable now: every
        frame from the window before the start to the frame after the last step is written and
        still in the ring."""
        S, T, W = self.seq_stride, self.slots_per_env, self.window
        written = self._written[envs]
        oldest = np.maximum(written - T + W - 1, 0)
        lo = -(-oldest // S)
        hi = np.maximum((written - 1 - self.length) // S + 1, lo)
        return lo, hi

    def _update_ranges(self, envs: IntArray) -> None:
        lo, hi = self._ranges(envs)
        if self._tree is not None:
            E, R = self.num_envs, self.rows
            old_lo, old_hi = self._lo[envs], self._hi[envs]
            span = np.arange(max(int((lo - old_lo).max()), int((hi - old_hi).max()), 0))
            ks = old_lo[:, None] + span  # starts that stop being sampleable
            gone = ks < np.minimum(lo, old_hi)[:, None]
            ks_new = np.maximum(old_hi, lo)[:, None] + span  # starts that become sampleable
            new = ks_new < hi[:, None]
            rows = np.broadcast_to(envs[:, None], ks.shape)
            self._tree.update((ks[gone] % R) * E + rows[gone], 0.0)
            self._tree.update((ks_new[new] % R) * E + rows[new], self._max_priority)
        self._lo[envs], self._hi[envs] = lo, hi

    # ------------------------------------------------------------------ sampling
    def sample(self, batch_size: int, beta: float = 0.4) -> SequenceBatch:
        """Sample ``batch_size`` sequences (with replacement): uniformly over the sampleable
        ones, or in proportion to priority (stratified) when prioritized."""
        available = self.num_sampleable
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise ConfigError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        if available == 0:
            raise ConfigError(
                f"no whole sequence can be sampled yet: each needs burn_in + seq_len + 1 = "
                f"{self.length + 1} frames of one env written; store more steps before sampling "
                "(warmup_steps)"
            )
        beta = _check_float("beta", beta, 0.0, 1.0)
        E, R, B = self.num_envs, self.rows, int(batch_size)
        if self._tree is not None:
            flat = self._tree.sample(B, self._rng)
            row, es = np.divmod(flat, E)
            ks = self._lo[es] + (row - self._lo[es]) % R
            weights = (self._tree.get(flat) / self._tree.min) ** -beta
        else:
            counts = self._hi - self._lo
            ends = np.cumsum(counts)
            u = self._rng.integers(0, available, B)
            es = np.searchsorted(ends, u, side="right")
            ks = self._lo[es] + u - (ends[es] - counts[es])
            flat = (ks % R) * E + es
            weights = np.ones(B)
        return self._gather(ks, es, flat, weights)

    def _gather(
        self, ks: IntArray, es: IntArray, flat: IntArray, weights: np.ndarray
    ) -> SequenceBatch:
        T, L, gamma = self.slots_per_env, self.length, self.gamma
        B = ks.size
        slots = (ks[:, None] * self.seq_stride + self._steps) % T  # (B, L + 1)
        env = np.broadcast_to(es[:, None], slots.shape)
        frames = self._gather_window(slots.reshape(-1), env.reshape(-1))
        obs = frames.reshape(B, L + 1, *self.obs_shape).swapaxes(0, 1)
        kind = self._kind[slots, env]
        starts = np.zeros((L + 1, B), dtype=bool)
        starts[1:] = (kind[:, :-1] == _PAD).T
        steps, env_steps = slots[:, :L], env[:, :L]
        kind_steps = kind[:, :L]
        rewards = self._rewards[steps, env_steps]
        terminated = self._terminated[steps, env_steps]
        # n-step sums: k grows while the episode goes on and the sequence has steps left.
        i = self._steps[:L]
        alive = kind_steps >= _START
        returns = np.zeros((B, L))
        k = np.zeros((B, L), dtype=np.int64)
        dones = np.zeros((B, L), dtype=bool)
        for j in range(self.n_step):
            pos = np.minimum(i + j, L - 1)
            returns += np.where(alive, gamma**j * rewards[:, pos], 0.0)
            k += alive
            dones |= alive & terminated[:, pos]
            alive &= (kind_steps[:, pos] == _START) & (i + j + 1 < L)
        mask = (kind_steps >= _START) & (i >= self.burn_in)
        rows = (ks % self.rows, es)
        state = tuple(self._put(np.ascontiguousarray(x[rows])[None]) for x in (self._h, self._c))
        return SequenceBatch(
            obs=self._put(np.ascontiguousarray(obs)),
            starts=self._put(starts),
            actions=self._put(np.ascontiguousarray(self._actions[steps, env_steps].T)),
            rewards=self._put(np.ascontiguousarray(returns.T, dtype=np.float32)),
            dones=self._put(np.ascontiguousarray(dones.T, dtype=np.float32)),
            discounts=self._put(np.ascontiguousarray((gamma**k).T, dtype=np.float32)),
            boot=self._put(np.ascontiguousarray((i + k).T)),
            mask=self._put(np.ascontiguousarray(mask.T, dtype=np.float32)),
            state=(state[0], state[1]),
            weights=self._put(weights.astype(np.float32)),
            indices=flat.astype(np.int64),
        )

    def _put(self, array: np.ndarray) -> torch.Tensor:
        tensor = torch.from_numpy(array)
        return tensor if self.device.type == "cpu" else tensor.to(self.device, non_blocking=True)

    def update_priorities(self, indices: np.ndarray, priorities: np.ndarray | torch.Tensor) -> None:
        """Set the priorities of sampled sequences to ``(|p| + eps) ** alpha`` (``p`` from
        :func:`sequence_priorities`). Sequences no longer sampleable are left alone; no-op when
        not prioritized."""
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
        if not np.isfinite(p).all():
            raise ConfigError(f"priorities must be finite, got {p[~np.isfinite(p)][:4].tolist()}")
        p = (np.abs(p) + self.eps) ** self.alpha
        _, last = np.unique(idx[::-1], return_index=True)  # the last priority given a slot wins
        take = idx.size - 1 - last
        idx, p = idx[take], p[take]
        keep = self._tree.get(idx) > 0
        self._tree.update(idx[keep], p[keep])
        if p.size:
            self._max_priority = max(self._max_priority, float(p.max()))

    # ------------------------------------------------------------------ state
    def _config(self) -> dict[str, Any]:
        return {
            "version": _STATE_VERSION,
            **super()._config(),
            "state_size": self.state_size,
            "seq_len": self.seq_len,
            "burn_in": self.burn_in,
            "seq_stride": self.seq_stride,
            "n_step": self.n_step,
            "gamma": self.gamma,
            "prioritized": self.prioritized,
            "alpha": self.alpha,
            "eps": self.eps,
        }

    def _arrays(self) -> dict[str, np.ndarray]:
        return {**super()._arrays(), "h": self._h, "c": self._c, "lo": self._lo, "hi": self._hi}

    def _extra_state(self) -> dict[str, np.ndarray]:
        state = {
            "counters": np.array([self._len], dtype=np.int64),
            "max_priority": np.array(self._max_priority, dtype=np.float64),
        }
        if self._tree is not None:
            state["priorities"] = self._tree.values()
        return state

    def _load_extra_state(self, state: dict[str, np.ndarray]) -> None:
        self._len = int(np.asarray(state["counters"])[0])
        self._max_priority = float(np.asarray(state["max_priority"]))
        if self._tree is not None:
            self._tree = SumTree(self.rows * self.num_envs)
            self._tree.update(np.arange(self._tree.size), np.asarray(state["priorities"]))
