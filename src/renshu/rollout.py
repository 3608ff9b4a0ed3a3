"""On-policy storage: ``n_steps x num_envs`` transitions, GAE advantages, minibatches.

An on-policy agent (PPO, A2C) fills a :class:`Rollout` with ``n_steps`` calls of
:meth:`Rollout.add` (one per vector-env step), computes advantages and returns with
:meth:`Rollout.compute_returns_and_advantages`, moves the whole rollout to the device once
(:meth:`Rollout.as_tensors`) and trains on :meth:`Rollout.minibatches` of indices into it.

Episode ends (the traps):

- **terminated** steps do not bootstrap: the return after them is 0.
- **truncated** steps (a time limit) bootstrap from the value of the final observation, as
  Stable-Baselines3 does: the reward becomes ``r + gamma * V(final_obs)``. Pass that value as
  ``final_values`` to :meth:`Rollout.add` (Gymnasium's SAME_STEP autoreset, where the final
  observation is ``info["final_obs"]``). Where it is not given, the value stored at the next step
  is used, which is right under NEXT_STEP autoreset: there the next observation *is* the final
  one, and the next step is the reset step.
- **reset steps** of Gymnasium's NEXT_STEP autoreset (the step after an episode end, whose action
  the env ignores) are not transitions: pass ``valid=False`` for them. They get advantage 0 and
  never appear in :meth:`Rollout.minibatches`.

GAE (Schulman et al. 2016) runs backwards over time, vectorized over envs::

    delta_t = r_t + gamma * (bootstrap_t + (1 - done_t) * V_{t+1}) - V_t
    A_t     = delta_t + gamma * lambda * (1 - done_t) * A_{t+1}

with ``done_t = terminated_t or truncated_t`` and ``bootstrap_t = V(final_obs_t)`` for truncated
(not terminated) steps, 0 otherwise; returns are ``A_t + V_t``.

Memory (recurrent PPO/A2C): built with ``seq_len`` and ``hidden_size``, the rollout also stores
the episode-start flags of every step and the LSTM state ``(h, c)`` each env carried into the
first step of every sequence (steps ``0, seq_len, 2 * seq_len, ...``; ``n_steps`` a multiple of
``seq_len``). :meth:`Rollout.sequence_minibatches` then yields whole sequences of envs, and
:func:`gather_sequences` turns one into time-major tensors ``(seq_len, B, ...)`` with the stored
initial states ``(1, B, hidden_size)`` and the starts mask that
:class:`renshu.recurrent.LSTMCore` takes: unrolling the core over them from the stored state
gives the outputs the agent had while acting. Without ``seq_len`` none of this is stored or done.

Example:
    >>> import numpy as np
    >>> r = Rollout(2, 1, (3,), np.dtype(np.float32), (), np.dtype(np.int64))
    >>> for _ in range(2):
    ...     r.add(np.zeros((1, 3)), [0], [1.0], [False], [False], [0.0], [0.0])
    >>> r.compute_returns_and_advantages(np.array([0.0]), gamma=0.5, gae_lambda=1.0)
    >>> r.returns[:, 0].tolist()
    [1.5, 1.0]
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np
import torch

from renshu.errors import CheckpointError, ConfigError

__all__ = ["Rollout", "RolloutBatch", "SequenceBatch", "SequenceIndex", "gather_sequences"]


class RolloutBatch(NamedTuple):
    """The whole rollout as tensors, flattened to ``N = steps * num_envs`` samples (sample
    ``t * num_envs + e`` is env ``e`` at step ``t``); index them with
    :meth:`Rollout.minibatches`."""

    obs: torch.Tensor
    """``(N, *obs_shape)``, the observation dtype (uint8 stays uint8)."""
    actions: torch.Tensor
    """``(N, *action_shape)``, the action dtype."""
    log_probs: torch.Tensor
    """``(N,)`` float32: log-probabilities of the actions under the policy that acted."""
    values: torch.Tensor
    """``(N,)`` float32: value estimates made while acting."""
    advantages: torch.Tensor
    """``(N,)`` float32: GAE advantages (0 for invalid steps)."""
    returns: torch.Tensor
    """``(N,)`` float32: ``advantages + values``, the value targets."""
    valid: torch.Tensor
    """``(N,)`` bool: real transitions (False for NEXT_STEP autoreset steps)."""
    episode_starts: torch.Tensor | None = None
    """``(N,)`` bool: an episode starts at this step (recurrent rollouts only, else None)."""
    state_h: torch.Tensor | None = None
    """``(sequences begun * num_envs, hidden_size)`` float32: ``h`` carried into the first step
    of each sequence, row ``k * num_envs + e`` for env ``e``'s sequence ``k`` (recurrent only)."""
    state_c: torch.Tensor | None = None
    """The same for ``c``."""


class SequenceIndex(NamedTuple):
    """One minibatch of whole sequences: ``B`` pairs (env ``e``, sequence ``k``)."""

    steps: np.ndarray
    """``(seq_len, B)`` int64: flat sample indices ``(k * seq_len + t) * num_envs + e`` into a
    :class:`RolloutBatch`; column ``b`` is one sequence, in time order."""
    sequences: np.ndarray
    """``(B,)`` int64: flat sequence indices ``k * num_envs + e`` into ``state_h``/``state_c``."""


class SequenceBatch(NamedTuple):
    """One minibatch of whole sequences, time-major: what a recurrent policy is trained on."""

    obs: torch.Tensor
    """``(T, B, *obs_shape)``."""
    actions: torch.Tensor
    """``(T, B, *action_shape)``."""
    log_probs: torch.Tensor
    """``(T, B)``."""
    values: torch.Tensor
    """``(T, B)``."""
    advantages: torch.Tensor
    """``(T, B)``."""
    returns: torch.Tensor
    """``(T, B)``."""
    valid: torch.Tensor
    """``(T, B)`` bool: weight the losses by it (NEXT_STEP autoreset steps are False)."""
    starts: torch.Tensor
    """``(T, B)`` bool: an episode starts at this step (the core zeroes the state before it)."""
    state: tuple[torch.Tensor, torch.Tensor]
    """``(h, c)``, each ``(1, B, hidden_size)``: the state carried into the first step."""


def gather_sequences(batch: RolloutBatch, minibatch: SequenceIndex) -> SequenceBatch:
    """The sequences of ``minibatch`` from ``batch`` (:meth:`Rollout.as_tensors` of a recurrent
    rollout), one gather per tensor."""
    if batch.episode_starts is None or batch.state_h is None or batch.state_c is None:
        raise ValueError(
            "gather_sequences needs the tensors of a recurrent rollout (built with seq_len and "
            "hidden_size); this one stores no episode starts or states"
        )
    device = batch.obs.device
    idx = torch.as_tensor(minibatch.steps, device=device)
    seq = torch.as_tensor(minibatch.sequences, device=device)
    return SequenceBatch(
        batch.obs[idx],
        batch.actions[idx],
        batch.log_probs[idx],
        batch.values[idx],
        batch.advantages[idx],
        batch.returns[idx],
        batch.valid[idx],
        batch.episode_starts[idx],
        (batch.state_h[seq].unsqueeze(0), batch.state_c[seq].unsqueeze(0)),
    )


def _host(x: Any, dtype: np.dtype[Any] | type | None = None) -> np.ndarray:
    """A NumPy array of ``x`` (a torch tensor is copied to the host)."""
    if dtype is None and type(x) is np.ndarray:
        return x
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


class Rollout:
    """Preallocated storage for ``n_steps`` steps of ``num_envs`` envs.

    Arrays (first two axes ``(n_steps, num_envs)``, public for reading): ``obs`` (``obs_dtype``),
    ``actions`` (``action_dtype``), ``rewards``, ``values``, ``log_probs``, ``final_values``
    (NaN where not given), ``advantages``, ``returns`` (float32), ``terminated``, ``truncated``,
    ``valid`` (bool). ``pos`` counts the steps added since :meth:`reset`.

    Args:
        n_steps: steps per env in one rollout.
        num_envs: envs stepped together.
        obs_shape: shape of one observation.
        obs_dtype: dtype observations are stored in.
        action_shape: shape of one action (:attr:`renshu.distributions.ActionDist.action_shape`).
        action_dtype: dtype actions are stored in (``ActionDist.action_dtype``).
        seq_len: for a recurrent policy, the length of the sequences it trains on: a divisor
            of ``n_steps``. Then the rollout also stores ``episode_starts`` (``(n_steps,
            num_envs)`` bool) and ``state_h``, ``state_c`` (``(n_steps // seq_len, num_envs,
            hidden_size)`` float32, the state carried into each sequence's first step).
        hidden_size: the LSTM's state size; given with ``seq_len``.
    """

    FLOAT_FIELDS = ("rewards", "values", "log_probs", "final_values", "advantages", "returns")
    BOOL_FIELDS = ("terminated", "truncated", "valid")

    def __init__(
        self,
        n_steps: int,
        num_envs: int,
        obs_shape: tuple[int, ...],
        obs_dtype: np.dtype[Any],
        action_shape: tuple[int, ...],
        action_dtype: np.dtype[Any],
        *,
        seq_len: int | None = None,
        hidden_size: int | None = None,
    ) -> None:
        memory = {"seq_len": seq_len, "hidden_size": hidden_size}
        sizes = {"n_steps": n_steps, "num_envs": num_envs}
        sizes.update({name: value for name, value in memory.items() if value is not None})
        for name, value in sizes.items():
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
        self.n_steps, self.num_envs = int(n_steps), int(num_envs)
        self.obs_shape = tuple(int(d) for d in obs_shape)
        self.action_shape = tuple(int(d) for d in action_shape)
        size = (self.n_steps, self.num_envs)
        self.obs = np.zeros((*size, *self.obs_shape), np.dtype(obs_dtype))
        self.actions = np.zeros((*size, *self.action_shape), np.dtype(action_dtype))
        self.rewards = np.zeros(size, np.float32)
        self.values = np.zeros(size, np.float32)
        self.log_probs = np.zeros(size, np.float32)
        self.final_values = np.full(size, np.nan, np.float32)
        self.advantages = np.zeros(size, np.float32)
        self.returns = np.zeros(size, np.float32)
        self.terminated = np.zeros(size, bool)
        self.truncated = np.zeros(size, bool)
        self.valid = np.ones(size, bool)
        self.pos = 0
        self.seq_len: int | None = None
        if seq_len is not None or hidden_size is not None:
            self._init_sequences(seq_len, hidden_size)

    def _init_sequences(self, seq_len: int | None, hidden_size: int | None) -> None:
        if seq_len is None or hidden_size is None:
            given, other = ("seq_len", "hidden_size")[:: 1 if hidden_size is None else -1]
            raise ConfigError(
                f"a recurrent rollout needs both seq_len and hidden_size; {given} was given "
                f"without {other}"
            )
        if self.n_steps % seq_len:
            divisors = [d for d in range(1, self.n_steps + 1) if self.n_steps % d == 0]
            raise ConfigError(
                f"seq_len must divide n_steps so that every sequence is whole: n_steps "
                f"{self.n_steps} is not a multiple of seq_len {seq_len}; choose one of "
                f"{divisors} (or change n_steps)"
            )
        self.seq_len, self.hidden_size = int(seq_len), int(hidden_size)
        n_seq = self.n_steps // self.seq_len
        self.episode_starts = np.zeros((self.n_steps, self.num_envs), bool)
        self.state_h = np.zeros((n_seq, self.num_envs, self.hidden_size), np.float32)
        self.state_c = np.zeros((n_seq, self.num_envs, self.hidden_size), np.float32)

    @property
    def full(self) -> bool:
        """Whether ``n_steps`` steps have been added."""
        return self.pos == self.n_steps

    @property
    def n_valid(self) -> int:
        """Valid samples among the steps added."""
        return int(self.valid[: self.pos].sum())

    def reset(self) -> None:
        """Start a new rollout (the arrays are overwritten as steps are added)."""
        self.pos = 0

    def add(
        self,
        obs: Any,
        actions: Any,
        rewards: Any,
        terminated: Any,
        truncated: Any,
        values: Any,
        log_probs: Any,
        valid: Any = None,
        final_values: Any = None,
        *,
        episode_starts: Any = None,
        state: tuple[Any, Any] | None = None,
    ) -> None:
        """Store one vector-env step: each argument has a leading axis ``num_envs`` (NumPy
        arrays, sequences or torch tensors, which are copied to the host: the actions go there for
        the env step anyway, so the values and log-probabilities come with them).

        Args:
            obs: the observations the actions were chosen on.
            actions: the actions as the policy gave them (unclipped).
            rewards, terminated, truncated: what the env returned for them.
            values: value estimates of ``obs``, or None to fill in ``values`` before computing
                the returns (all at once).
            log_probs: log-probabilities of ``actions``.
            valid: False for Gymnasium NEXT_STEP autoreset steps (default: all True).
            final_values: value of the final observation for envs truncated at this step
                (entries of other envs are ignored); see the module docstring for when to omit.
            episode_starts: recurrent rollouts only (required there): True for envs whose
                episode starts at ``obs`` (the core zeroes their state before this step).
            state: recurrent rollouts only: the LSTM state ``(h, c)``, each ``(1, num_envs,
                hidden_size)``, carried into this step (before the reset of ``episode_starts``).
                Kept where a sequence begins (``pos % seq_len == 0``), required there; pass it
                at every step or only there.
        """
        if self.pos >= self.n_steps:
            raise ValueError(f"the rollout is full ({self.n_steps} steps); call reset() first")
        t = self.pos
        if self.seq_len is not None:
            self._add_memory(t, episode_starts, state)
        elif episode_starts is not None or state is not None:
            raise ValueError(
                "episode_starts and state are stored by a recurrent rollout only; build it with "
                "seq_len and hidden_size"
            )
        self.obs[t] = _host(obs)
        self.actions[t] = _host(actions)
        self.rewards[t] = _host(rewards)
        self.terminated[t] = _host(terminated)
        self.truncated[t] = _host(truncated)
        self.values[t] = np.nan if values is None else _host(values)
        self.log_probs[t] = _host(log_probs)
        self.valid[t] = True if valid is None else _host(valid)
        self.final_values[t] = np.nan if final_values is None else _host(final_values)
        self.pos += 1

    def _add_memory(self, t: int, episode_starts: Any, state: tuple[Any, Any] | None) -> None:
        assert self.seq_len is not None
        if episode_starts is None:
            raise ValueError("a recurrent rollout needs episode_starts at every add()")
        self.episode_starts[t] = _host(episode_starts)
        k, offset = divmod(t, self.seq_len)
        if offset:
            return
        if state is None:
            raise ValueError(
                f"step {t} begins sequence {k} (seq_len {self.seq_len}): pass the LSTM state "
                "(h, c) carried into it as state="
            )
        expected = (1, self.num_envs, self.hidden_size)
        for name, part, out in zip("hc", state, (self.state_h, self.state_c), strict=True):
            array = _host(part)
            if array.shape != expected:
                raise ValueError(
                    f"state {name} must have shape (1, num_envs, hidden_size) = {expected}, got "
                    f"{tuple(array.shape)}"
                )
            out[k] = array[0]

    def compute_returns_and_advantages(
        self, last_values: Any, gamma: float, gae_lambda: float
    ) -> None:
        """Fill ``advantages`` and ``returns`` of the steps added (GAE, module docstring).

        Args:
            last_values: ``(num_envs,)`` values of the observations after the last step.
            gamma: discount factor.
            gae_lambda: GAE's lambda (1: Monte-Carlo returns, 0: one-step TD).

        Raises:
            ValueError: a truncated step has no final value and the next step is a valid
                transition (SAME_STEP autoreset without ``final_values``).
        """
        n = self.pos
        last = _host(last_values, np.float32).reshape(self.num_envs)
        values, valid = self.values[:n], self.valid[:n]
        done = self.terminated[:n] | self.truncated[:n]
        next_values = np.concatenate([values[1:], last[None]])
        # Value of the final observation of truncated (not terminated) steps: the one given, or
        # the next step's (NEXT_STEP autoreset: the next observation is the final one).
        cut = self.truncated[:n] & ~self.terminated[:n]
        final = self.final_values[:n]
        missing = cut & np.isnan(final)
        if (missing[:-1] & valid[1:]).any():
            t, e = np.argwhere(missing[:-1] & valid[1:])[0]
            raise ValueError(
                f"env {e} was truncated at step {t} without a final value, and step {t + 1} is a "
                "valid transition (SAME_STEP autoreset): pass final_values to add()"
            )
        bootstrap = np.where(cut, np.where(missing, next_values, final), 0.0)
        not_done = ~done
        # delta and the decay of the next advantage are known for every step at once; an invalid
        # step gets 0 for both, so its advantage is 0 and nothing flows through it.
        delta = self.rewards[:n] + gamma * (bootstrap + not_done * next_values) - values
        delta *= valid
        decay = (gamma * gae_lambda) * (not_done & valid).astype(np.float32)
        advantage = np.zeros(self.num_envs, np.float32)
        out = self.advantages
        for t in range(n - 1, -1, -1):
            advantage = delta[t] + decay[t] * advantage
            out[t] = advantage
        self.returns[:n] = self.advantages[:n] + values

    def minibatches(self, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
        """One epoch of minibatches: the valid samples (flat indices ``t * num_envs + e``) in the
        order of ``rng.permutation``, split into ``ceil(n_valid / batch_size)`` parts of as equal
        sizes as possible (``batch_size`` or a little less), so that every valid sample appears
        exactly once and no minibatch is a small remainder."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
            raise ConfigError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        valid = self.valid[: self.pos].reshape(-1)
        index = rng.permutation(np.flatnonzero(valid) if not valid.all() else valid.size)
        n = len(index)
        if n == 0:
            return
        # np.array_split's parts (the first n % parts one longer), without its Python overhead
        parts = -(-n // int(batch_size))
        size, longer = divmod(n, parts)
        start = 0
        for part in range(parts):
            end = start + size + (part < longer)
            yield index[start:end]
            start = end

    def sequence_minibatches(
        self, batch_size: int, rng: np.random.Generator
    ) -> Iterator[SequenceIndex]:
        """One epoch of minibatches of whole sequences (recurrent rollouts; the rollout full).

        The ``n_steps // seq_len * num_envs`` sequences (env ``e``, sequence ``k``: steps
        ``k * seq_len`` to ``(k + 1) * seq_len - 1`` of env ``e``) in the order of
        ``rng.permutation``, split like :meth:`minibatches` into ``ceil(steps / batch_size)``
        parts of as equal sizes as possible; ``batch_size`` counts steps, so a minibatch holds
        about ``batch_size / seq_len`` sequences (at least one). Every sequence appears exactly
        once; invalid steps stay in their sequence (the core must see them to keep time) and are
        masked by ``valid``. Pass each to :func:`gather_sequences`.
        """
        if self.seq_len is None:
            raise ValueError(
                "sequence_minibatches needs a recurrent rollout: build it with seq_len and "
                "hidden_size"
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
            raise ConfigError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        if not self.full:
            raise ValueError(
                f"sequence_minibatches needs a full rollout: {self.pos} of {self.n_steps} steps "
                "added"
            )
        count = self.n_steps // self.seq_len * self.num_envs
        order = rng.permutation(count)
        parts = min(count, -(-count * self.seq_len // int(batch_size)))
        size, longer = divmod(count, parts)
        # sample (t, b) of sequence q = k * num_envs + e is step k * seq_len + t of env e
        k, e = np.divmod(order, self.num_envs)
        first = k * (self.seq_len * self.num_envs) + e
        index = first[None, :] + (np.arange(self.seq_len) * self.num_envs)[:, None]
        start = 0
        for part in range(parts):
            end = start + size + (part < longer)
            yield SequenceIndex(index[:, start:end], order[start:end])
            start = end

    def flat_arrays(self) -> dict[str, np.ndarray]:
        """The steps added, flattened to ``N = pos * num_envs`` samples like :meth:`as_tensors`
        (views, no copies): obs, actions, log_probs, values, advantages, returns, valid."""
        n = self.pos * self.num_envs
        names = ("obs", "actions", "log_probs", "values", "advantages", "returns", "valid")
        return {
            name: getattr(self, name)[: self.pos].reshape(n, *getattr(self, name).shape[2:])
            for name in names
        }

    def as_tensors(self, device: torch.device | str = "cpu") -> RolloutBatch:
        """The steps added as one :class:`RolloutBatch` on ``device`` (copies: one transfer per
        array)."""
        n = self.pos * self.num_envs

        def tensor(array: np.ndarray) -> torch.Tensor:
            flat = array[: self.pos].reshape(n, *array.shape[2:])
            return torch.tensor(flat, device=device)

        batch = RolloutBatch(
            tensor(self.obs),
            tensor(self.actions),
            tensor(self.log_probs),
            tensor(self.values),
            tensor(self.advantages),
            tensor(self.returns),
            tensor(self.valid),
        )
        if self.seq_len is None:
            return batch
        n_seq = -(-self.pos // self.seq_len)  # the sequences begun
        return batch._replace(
            episode_starts=tensor(self.episode_starts),
            state_h=torch.tensor(self.state_h[:n_seq].reshape(-1, self.hidden_size), device=device),
            state_c=torch.tensor(self.state_c[:n_seq].reshape(-1, self.hidden_size), device=device),
        )

    def _arrays(self) -> dict[str, np.ndarray]:
        names: tuple[str, ...] = ("obs", "actions", *self.FLOAT_FIELDS, *self.BOOL_FIELDS)
        if self.seq_len is not None:
            names += ("episode_starts",)
        return {name: getattr(self, name) for name in names}

    def _sequence_arrays(self) -> dict[str, np.ndarray]:
        if self.seq_len is None:
            return {}
        return {"state_h": self.state_h, "state_c": self.state_c}

    def _begun(self, pos: int) -> int:
        """Sequences begun after ``pos`` steps (recurrent rollouts)."""
        assert self.seq_len is not None
        return -(-pos // self.seq_len)

    def state_dict(self) -> dict[str, Any]:
        """The steps added (copies of the arrays' first ``pos`` rows; for a recurrent rollout
        also the episode starts and the states of the sequences begun) and ``pos``, ``n_steps``,
        ``num_envs``: everything an exact resume in the middle of a rollout needs."""
        state: dict[str, Any] = {k: v[: self.pos].copy() for k, v in self._arrays().items()}
        for name, array in self._sequence_arrays().items():
            state[name] = array[: self._begun(self.pos)].copy()
        state.update(pos=self.pos, n_steps=self.n_steps, num_envs=self.num_envs)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned.

        Raises:
            CheckpointError: missing entries, or sizes, shapes or dtypes that differ from this
                rollout's.
        """
        arrays, sequence_arrays = self._arrays(), self._sequence_arrays()
        missing = sorted({*arrays, *sequence_arrays, "pos", "n_steps", "num_envs"} - set(state))
        if missing:
            raise CheckpointError(f"the saved rollout lacks {', '.join(missing)}")
        sizes = (int(state["n_steps"]), int(state["num_envs"]))
        if sizes != (self.n_steps, self.num_envs):
            raise CheckpointError(
                f"the saved rollout holds n_steps x num_envs = {sizes[0]} x {sizes[1]}, this one "
                f"{self.n_steps} x {self.num_envs}; resume with the settings it was saved with"
            )
        pos = int(state["pos"])
        if not 0 <= pos <= self.n_steps:
            raise CheckpointError(f"the saved rollout's pos {pos} is not in [0, {self.n_steps}]")
        rows = {name: pos for name in arrays}
        rows.update({name: self._begun(pos) for name in sequence_arrays})
        arrays.update(sequence_arrays)
        for name, array in arrays.items():
            saved = np.asarray(state[name])
            expected = (rows[name], *array.shape[1:])
            if saved.shape != expected or saved.dtype != array.dtype:
                raise CheckpointError(
                    f"the saved rollout's {name} is {saved.dtype} {saved.shape}, expected "
                    f"{array.dtype} {expected}"
                )
        for name, array in arrays.items():
            array[: rows[name]] = state[name]
        self.pos = pos
