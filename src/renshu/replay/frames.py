"""Frame storage shared by every replay sampler: each frame once, windows rebuilt by index.

:class:`FrameStorage` holds the steps of ``num_envs`` envs in preallocated ring arrays; the
samplers (:class:`~renshu.replay.transitions.ReplayBuffer` for transitions,
:class:`~renshu.replay.sequences.SequenceBuffer` for sequences) subclass it and add which slots
can be sampled and how. :class:`FrameStack` is the acting side of the same frame-window convention,
so the windows an agent acts on are exactly the windows it later learns from.

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
episode early (end of a training segment) calls :meth:`FrameStorage.end_episodes`, which turns
the running episodes into truncated ones.

A window of ``W`` frames is rebuilt at sample time by index (``W - 1`` frames back, oldest first,
newest last). It never crosses an episode start: frames from before the episode's first frame are
zeros, the same convention as :class:`FrameStack`. So memory per transition is one frame plus a few
scalars, whatever ``W`` is.

"""

from __future__ import annotations

import json
from typing import Any

import gymnasium
import numpy as np
import numpy.typing as npt
import torch

from renshu.errors import ConfigError
from renshu.replay._checks import _check_frame_space, _check_int

__all__ = ["FrameStack", "FrameStorage"]

IntArray = npt.NDArray[np.int64]

# What a slot holds.
_EMPTY = 0  # never written
_NEXT = 1  # the newest frame of a running episode: next obs of the last transition, no action yet
_PAD = 2  # the final observation of an episode (terminated or truncated)
_START = 3  # a transition start (frame, action, reward, flags) whose episode goes on
_LAST = 4  # a transition start whose step ended the episode (terminated or truncated)


class FrameStorage:
    """Ring arrays ``(T, E, ...)`` of frames, actions, rewards and flags, one write head per env.

    Not used on its own: a sampler subclasses it, checks its own options, then calls
    :meth:`_allocate` with the number of slots per env it needs.
    """

    def __init__(
        self,
        capacity: int,
        frame_space: gymnasium.spaces.Box,
        *,
        num_envs: int,
        window: int,
        device: str | torch.device,
        seed: int | None,
    ) -> None:
        self.capacity = _check_int("capacity", capacity, 1)
        self.num_envs = _check_int("num_envs", num_envs, 1)
        self.window = _check_int("window", window, 1)
        self.frame_shape, self.frame_dtype = _check_frame_space(frame_space)
        self.obs_shape: tuple[int, ...] = (
            (self.window, *self.frame_shape) if self.window > 1 else self.frame_shape
        )
        self.device = torch.device(device)
        self.seed = seed

    def _allocate(self, slots_per_env: int) -> None:
        T, E = slots_per_env, self.num_envs
        self.slots_per_env = T
        self._frames = np.zeros((T, E, *self.frame_shape), dtype=self.frame_dtype)
        self._actions = np.zeros((T, E), dtype=np.int64)
        self._rewards = np.zeros((T, E), dtype=np.float32)
        self._terminated = np.zeros((T, E), dtype=bool)
        self._truncated = np.zeros((T, E), dtype=bool)
        self._kind = np.zeros((T, E), dtype=np.uint8)
        # Real frames before this one within its episode, capped at window - 1.
        self._back = np.zeros((T, E), dtype=np.min_scalar_type(self.window - 1))
        # Per env, counted in "stamps" (slots written since the start, never wrapping):
        # head = stamp of the next obs, written = number of stamps written. Slot = stamp % T.
        # head == written at an episode start; head == written - 1 while an episode runs (the
        # newest frame, kind _NEXT, is the obs of the next call).
        self._head = np.zeros(E, dtype=np.int64)
        self._written = np.zeros(E, dtype=np.int64)
        self._ep_pos = np.zeros(E, dtype=np.int64)  # position in its episode of the next obs
        self._len = 0
        self._all_envs = np.arange(E)
        self._batch_frame_shape = (E, *self.frame_shape)
        self._rng = np.random.default_rng(self.seed)

    def __len__(self) -> int:
        """Number of stored transitions (pad slots and the newest, action-less frame excluded)."""
        return self._len

    def _storage_nbytes(self) -> int:
        arrays = (
            self._frames,
            self._actions,
            self._rewards,
            self._terminated,
            self._truncated,
            self._kind,
            self._back,
        )
        return int(sum(a.nbytes for a in arrays))

    # ------------------------------------------------------------------ writing
    def _check_step(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_obs: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
    ) -> tuple[np.ndarray, ...]:
        """The arguments of ``add`` checked and shaped: frames ``(E, *frame_shape)``, vectors
        ``(E,)`` (flags as bool)."""
        return (
            self._check_frames("obs", obs),
            self._check_vector("actions", actions),
            self._check_vector("rewards", rewards),
            self._check_frames("next_obs", next_obs),
            self._check_vector("terminated", terminated).astype(bool, copy=False),
            self._check_vector("truncated", truncated).astype(bool, copy=False),
        )

    def _masked_envs(self, mask: np.ndarray | None) -> tuple[IntArray, slice | IntArray]:
        """The envs a ``mask`` selects, and how to index per-env arguments for them."""
        if mask is None:
            return self._all_envs, slice(None)
        envs = np.flatnonzero(self._check_vector("mask", mask).astype(bool))
        return envs, envs

    def _write_steps(
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
        """Write one step of ``envs``: the obs slot at the head, the next_obs slot after it."""
        T = self.slots_per_env
        s = self._head[envs]
        t, t1 = s % T, (s + 1) % T
        done = term[sel] | trunc[sel]
        ep = self._ep_pos[envs]
        self._len -= int(np.count_nonzero(self._kind[t, envs] >= _START))
        self._len -= int(np.count_nonzero(self._kind[t1, envs] >= _START))

        # The obs slot (mid-episode it already holds this frame, as the last call's next_obs).
        self._frames[t, envs] = obs[sel]
        self._actions[t, envs] = actions[sel]
        self._rewards[t, envs] = rewards[sel]
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

    def _running_envs(self, frames: np.ndarray, mask: np.ndarray | None) -> IntArray:
        """The envs in ``mask`` whose episode runs (the newest frame awaits an action)."""
        envs = np.arange(self.num_envs)
        if mask is not None:
            envs = np.flatnonzero(self._check_vector("mask", mask).astype(bool))
        return envs[self._head[envs] == self._written[envs] - 1]

    def _end_slots(self, frames: np.ndarray, envs: IntArray) -> None:
        """End the running episodes of ``envs`` as truncations, ``frames`` as final obs."""
        T = self.slots_per_env
        s = self._head[envs]
        t, t_prev = s % T, (s - 1) % T
        self._frames[t, envs] = frames[envs]
        self._kind[t, envs] = _PAD
        self._kind[t_prev, envs] = _LAST
        self._truncated[t_prev, envs] = True
        self._head[envs] = s + 1
        self._ep_pos[envs] = 0

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

    # ------------------------------------------------------------------ reading
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

    # ------------------------------------------------------------------ state
    def _config(self) -> dict[str, Any]:
        """What must match for a saved state to load (subclasses add their options)."""
        return {
            "capacity": self.capacity,
            "num_envs": self.num_envs,
            "window": self.window,
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
            "head": self._head,
            "written": self._written,
            "ep_pos": self._ep_pos,
        }

    def _extra_state(self) -> dict[str, np.ndarray]:
        """Entries of :meth:`state_dict` besides the arrays (counters, priorities)."""
        return {}

    def _load_extra_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`_extra_state` saved."""

    def state_dict(self) -> dict[str, np.ndarray]:
        """Everything needed to restore the buffer exactly, as arrays (``np.savez``-ready).

        The storage arrays are returned as they are, not copied (a large buffer is not doubled in
        memory): save them before adding more. Configuration and the RNG state are 0-d string
        arrays (JSON), so ``np.load(..., allow_pickle=False)`` reads the file back.
        """
        state = dict(self._arrays())
        state.update(self._extra_state())
        state["config"] = np.array(json.dumps(self._config(), sort_keys=True))
        state["rng_state"] = np.array(json.dumps(self._rng.bit_generator.state))
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore a :meth:`state_dict` taken from a buffer with the same configuration."""
        name = type(self).__name__
        try:
            saved = json.loads(str(np.asarray(state["config"])))
        except KeyError:
            raise ConfigError(f"replay state has no 'config' entry; not a {name} state") from None
        ours = self._config()
        diff = {k: (saved.get(k), v) for k, v in ours.items() if saved.get(k) != v}
        if diff:
            details = ", ".join(
                f"{k}: saved {a!r}, this buffer {b!r}" for k, (a, b) in diff.items()
            )
            raise ConfigError(
                f"replay state does not match this buffer's configuration ({details})"
            )
        for key, array in self._arrays().items():
            value = np.asarray(state[key])
            if value.shape != array.shape or value.dtype != array.dtype:
                raise ConfigError(
                    f"replay state entry {key!r} must be {array.dtype}{array.shape}, "
                    f"got {value.dtype}{value.shape}"
                )
            array[...] = value
        self._load_extra_state(state)
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
