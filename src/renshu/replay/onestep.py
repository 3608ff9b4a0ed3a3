"""The fast path of transition replay for its common case: one-step returns, uniform sampling.

A start is sampleable unless its window reaches into what the ring overwrote (with one frame per
observation: exactly when it holds a start), so ``add`` knows which slots to re-check without the
general search, and ``sample`` reads the next observation from the next slot. It gives exactly what
the general path of :class:`~renshu.replay.transitions.ReplayBuffer` gives (tests compare them).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from renshu.replay.batches import ArrayBatch
from renshu.replay.frames import _LAST, _NEXT, _PAD, _START, FrameStorage

__all__ = ["OneStepPath"]

IntArray = npt.NDArray[np.int64]


class OneStepPath(FrameStorage):
    """Adding and sampling one-step transitions uniformly; :class:`ReplayBuffer` builds on it."""

    gamma: float
    _valid: npt.NDArray[np.bool_]
    _n_valid: int
    _ahead: IntArray
    _positions: IntArray
    _ones: np.ndarray
    _gammas: np.ndarray

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
