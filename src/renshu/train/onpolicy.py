"""What PPO and A2C share: the options, the actor-critic, collecting a rollout, saving it.

:class:`OnPolicyAgent` acts with a stochastic policy (:mod:`renshu.actor_critic`), stores every
step of the shared training loop in a :class:`~renshu.rollout.Rollout` together with the values
and log-probabilities it acted with, and every ``n_steps`` loop steps computes GAE advantages and
calls the algorithm's ``_update`` (agents/ppo.py, agents/a2c.py) on the whole rollout.

With ``recurrent=True`` the policy has memory (:class:`~renshu.actor_critic.RecurrentActorCritic`):
acting carries one LSTM state per env, reset where the loop's step says an episode starts (both
autoreset modes); the rollout keeps the state each env carried into every sequence of ``seq_len``
steps, and the update unrolls the core over whole sequences from those states
(:meth:`~renshu.rollout.Rollout.sequence_minibatches`). GAE is the same. The NumPy fast path is
for the memoryless MLP only.

Episodes that end by a time limit bootstrap from the value of their final observation (SB3's
handling of truncation); episodes cut by a checkpoint or a test on the training env are treated
alike, so a resumed run continues exactly as an uninterrupted one.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch
from gymnasium import spaces

from renshu import checkpoint
from renshu.actor_critic import (
    ActorCritic,
    RecurrentActorCritic,
    build_actor_critic,
    build_recurrent_actor_critic,
)
from renshu.config import (
    MAX_ENVS,
    MAX_THREADS,
    Note,
    OneOf,
    Range,
    Satisfies,
    check_device,
    format_bytes,
    validate,
)
from renshu.distributions import for_space
from renshu.errors import ConfigError
from renshu.fastpath import FlatParams, numpy_actor_critic, numpy_recurrent_actor
from renshu.inputs import observation_problems
from renshu.nets import RunningNorm, input_norm
from renshu.optim import OPTIMIZERS, make_optimizer
from renshu.recurrent import State, reset_state
from renshu.rollout import Rollout, RolloutBatch, SequenceIndex, gather_sequences
from renshu.train.agent import Agent
from renshu.train.divergence import actions_finite
from renshu.train.loop import MAX_WINDOW, Step
from renshu.train.memory import check_memory, mlp_size

ACTION_SPACES = (spaces.Discrete, spaces.Box, spaces.MultiDiscrete, spaces.MultiBinary)

MAX_SEQ_LEN = 32
"""The longest training sequence a recurrent policy gets by default (see ``seq_len``)."""


@dataclass
class OnPolicyConfig:
    """Options PPO and A2C share (Stable-Baselines3's names). Defaults are PPO's; A2C's config
    sets its own."""

    learning_rate: Annotated[float, Range(gt=0)] = 3e-4
    """Optimizer step size, > 0."""
    lr_schedule: Annotated[str, OneOf("constant", "linear")] = "constant"
    """"linear": the learning rate falls linearly to 0 at the step fit() trains to (a run's
    total); another fit() call, or a resume with a new total, moves that end: from then on the
    rate is the one a training of the new length has at each step."""
    n_steps: Annotated[int, Range(ge=1)] = 2048
    """Steps per env in each rollout (a rollout holds n_steps * num_envs transitions), >= 1."""
    gamma: Annotated[float, Range(0, 1)] = 0.99
    """Discount factor in [0, 1]."""
    gae_lambda: Annotated[float, Range(0, 1)] = 0.95
    """GAE's lambda in [0, 1] (1: Monte-Carlo returns, 0: one-step TD errors)."""
    ent_coef: Annotated[float, Range(ge=0)] = 0.0
    """Weight of the entropy bonus in the loss, >= 0."""
    vf_coef: Annotated[float, Range(ge=0)] = 0.5
    """Weight of the value loss, >= 0."""
    max_grad_norm: Annotated[float, Range(gt=0)] | None = 0.5
    """Clip the gradient norm to this, > 0 (None: no clipping)."""
    normalize_advantage: bool = True
    """Normalize the advantages of each minibatch to mean 0, std 1."""
    optimizer: (
        Annotated[str, OneOf(*OPTIMIZERS)]
        | Annotated[Any, Satisfies("a factory params -> torch.optim.Optimizer", callable)]
    ) = "adam"
    """"adam", "rmsprop", "rmsprop_graves", or a factory ``params -> torch.optim.Optimizer``."""
    net: Annotated[str, OneOf("auto", "mlp", "cnn")] | list[Annotated[int, Range(ge=1)]] = "auto"
    """"auto" (CNN for images, else separate 64x64 tanh MLPs for policy and value), "mlp",
    "cnn", or hidden sizes like [64, 64]."""
    shared: bool = False
    """One MLP torso for policy and value instead of one each (a CNN is always shared)."""
    log_std_init: Annotated[float, Range(-20, 2)] = 0.0
    """Initial log standard deviation of the Gaussian policy of a Box action space, in
    [-20, 2] (a standard deviation from 2e-9 to 7.4; NaN and infinities are refused)."""
    window: Annotated[int, Range(1, MAX_WINDOW)] = 1
    """Frames per observation, in [1, 1000]: the last W frames, stacked by the agent."""
    num_envs: Annotated[
        int, Range(1, MAX_ENVS), Note("copies are built one by one: 1e7 take hours")
    ] = 1
    """Environments stepped together (a vector env), in [1, 65536]."""
    normalize_obs: bool = True
    """Normalize non-uint8 observations by their running mean and standard deviation (kept in
    the network, updated while fit() runs, frozen in test and act)."""
    normalize_reward: bool = False
    """Scale rewards by the running standard deviation of each env's discounted return (SB3's
    VecNormalize reward scaling), clipped to +-10; the statistics are saved with the agent.
    Episode rewards in logs and tests stay the env's own."""
    device: str = "auto"
    """"auto" (CUDA when available), "cpu", "cuda", "cuda:1", ...: one torch can use here."""
    threads: Annotated[int, Range(1, MAX_THREADS), Note("more only wait for each other")] | None = 1
    """CPU threads for torch and NumPy's BLAS while fit/test run, in [1, 256], or None to leave
    them."""
    seed: Annotated[int, Range(ge=0)] | None = None
    """Seeds the network, action sampling, minibatches and envs, >= 0; None draws one."""
    recurrent: bool = False
    """Give the policy memory: an LSTM of lstm_size units between the torso and the heads, shared
    by policy and value, whose state is carried from step to step in each env and reset where an
    episode starts; trained on whole sequences of seq_len steps. act() then takes and returns
    the state (``action, state = agent.act(obs, state, episode_start)``)."""
    lstm_size: Annotated[int, Range(1, 65536)] = 128
    """Units of the LSTM of a recurrent policy, in [1, 65536]."""
    seq_len: Annotated[int, Range(ge=1)] | None = None
    """Steps per training sequence of a recurrent policy (recurrent=True), a divisor of n_steps;
    the core is unrolled over each from the state stored at its start. None: the largest divisor
    of n_steps up to 32 (n_steps itself when it is 32 or less)."""

    def __post_init__(self) -> None:
        validate(self)  # every field's type, then its range, from the annotations above
        check_device(self.device)
        if self.seq_len is not None and not self.recurrent:
            raise ConfigError(
                f"seq_len={self.seq_len} is the training sequence of a recurrent policy; this one "
                "has no memory. Set recurrent=True too, or leave seq_len out."
            )
        if self.seq_len is not None and self.n_steps % self.seq_len:
            raise ConfigError(
                f"seq_len must divide n_steps (a rollout is cut into whole sequences): "
                f"n_steps={self.n_steps} is not a multiple of seq_len={self.seq_len}. Choose a "
                f"divisor of {self.n_steps}, or leave seq_len out."
            )

    @property
    def sequence_length(self) -> int:
        """``seq_len``, or its default: the largest divisor of ``n_steps`` up to 32."""
        if self.seq_len is not None:
            return self.seq_len
        return max(d for d in range(1, min(self.n_steps, MAX_SEQ_LEN) + 1) if self.n_steps % d == 0)


def space_problems(
    observation_space: Any, action_space: Any, name: str
) -> list[tuple[str, str, str]]:
    """Why the on-policy algorithm ``name`` cannot train on these spaces (``renshu check --algo``
    and the agent ask the same)."""
    problems: list[tuple[str, str, str]] = []
    if not isinstance(action_space, ACTION_SPACES):
        problems.append(
            (
                "algo-action-space",
                f"{name} needs a Discrete, Box, MultiDiscrete or MultiBinary action space, got "
                f"{action_space}.",
                "Wrap the env so that its actions are one of those (a Dict or Tuple of actions "
                "can be flattened into a Box or MultiDiscrete).",
            )
        )
    else:
        try:
            for_space(action_space)
        except ConfigError as error:
            problems.append(
                ("algo-action-space", f"{name} cannot act in {action_space}: {error}.", "")
            )
    return problems + observation_problems(observation_space, name)


class RewardScale(torch.nn.Module):
    """Rewards divided by the running standard deviation of the discounted return, clipped to
    +-REWARD_CLIP. The per-env returns and the statistics are buffers (saved with the agent, so
    a resumed run scales alike)."""

    REWARD_CLIP = 10.0

    returns: torch.Tensor

    def __init__(self, num_envs: int, gamma: float) -> None:
        super().__init__()
        self.gamma = gamma
        self.norm = RunningNorm(())
        self.register_buffer("returns", torch.zeros(num_envs, dtype=torch.float64))

    def forward(
        self, rewards: np.ndarray, done: np.ndarray, valid: np.ndarray | None
    ) -> np.ndarray:
        returns = self.returns.numpy()
        live = slice(None) if valid is None else valid
        returns[live] = returns[live] * self.gamma + rewards[live]
        self.norm.update(returns[live])
        returns[done] = 0.0
        scale = float(self.norm.scale)
        return np.clip(rewards * scale, -self.REWARD_CLIP, self.REWARD_CLIP)


_LOSS_FIELDS = ("log_probs", "values", "advantages", "returns")
"""The rollout fields the losses read besides the network's outputs."""


def _shapes(state: Any) -> str:
    """The shapes of what was passed as a state, for messages."""
    try:
        return "shapes " + ", ".join(str(tuple(np.shape(x))) for x in state)
    except TypeError:
        return f"{type(state).__name__} {state!r:.40}"


def normalized(x: np.ndarray) -> np.ndarray:
    """``(x - mean) / (std + 1e-8)`` with the sample std, as torch's ``std()`` (NumPy's
    ``mean``/``std`` wrappers cost more than the arithmetic at minibatch sizes)."""
    centered = x - np.add.reduce(x) / len(x)
    return centered / np.float32(math.sqrt(np.dot(centered, centered) / (len(x) - 1)) + 1e-8)


class RecurrentOption:
    """``agent.recurrent`` of PPO and A2C: the ``recurrent`` option of the agent (memory is an
    option of theirs, not a class of its own); False on the class, as the default."""

    def __get__(self, agent: Any, owner: type | None = None) -> bool:
        return False if agent is None else bool(agent.config.recurrent)


class OnPolicyAgent(Agent):
    """The part of PPO and A2C that is not their update (see the module docstring)."""

    @classmethod
    def space_problems(
        cls, observation_space: Any, action_space: Any
    ) -> list[tuple[str, str, str]]:
        """The one verdict on spaces (``renshu check --algo ppo`` asks it too)."""
        return space_problems(observation_space, action_space, cls.algo.upper())

    def __init__(self, env: Any, config: Any, options: dict[str, Any]) -> None:
        super().__init__(env, config, options)  # config, env, spaces, device, seeds, counters
        cfg = self.config
        params, inputs = mlp_size(cfg.net, self._frame_space.dtype, self.obs_shape, 1)
        storage = (
            cfg.n_steps
            * cfg.num_envs
            * (int(np.prod(self.obs_shape)) * self._frame_space.dtype.itemsize + 64)
        )
        check_memory(
            storage=(
                storage,
                f"n_steps={cfg.n_steps} with num_envs={cfg.num_envs} needs "
                f"{format_bytes(storage)} for the rollout",
                "lower n_steps or num_envs",
            ),
            network_params=2 * params,
            network_inputs=inputs,
            network_what=f"net={cfg.net!r}",
            network_fix="use smaller hidden sizes",
            device=self.device,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self._seeds[0].generate_state(1)[0]))
            net_options: dict[str, Any] = {
                "net": cfg.net,
                "normalize": self._frame_space.shape if cfg.normalize_obs else False,
                "inputs": self._encoder.parts if self._encoder else None,
                "obs_bounds": (self._frame_space.low, self._frame_space.high),
                "shared": cfg.shared,
                "log_std_init": cfg.log_std_init,
            }
            shape, dtype = self.obs_shape, self._frame_space.dtype
            self.policy: ActorCritic | RecurrentActorCritic = (
                build_recurrent_actor_critic(
                    shape, dtype, self.action_space, lstm_size=cfg.lstm_size, **net_options
                )
                if cfg.recurrent
                else build_actor_critic(shape, dtype, self.action_space, **net_options)
            ).to(self.device)
        self._obs_norm = input_norm(self.policy)
        # All parameters in one flat tensor (fastpath.FlatParams): a named optimizer steps one
        # tensor, and gradient clipping is one op (eager torch's per-tensor overhead dominates at
        # this size).
        self._flat = FlatParams(self.policy)
        self.optimizer = make_optimizer(
            cfg.optimizer,
            [self._flat.leaf] if isinstance(cfg.optimizer, str) else self.policy.parameters(),
            cfg.learning_rate,
        )
        # The default MLP on the CPU acts in NumPy on the same memory (fastpath.py), chosen here
        # once; anything else acts with torch.
        self._fast = (
            numpy_actor_critic(self.policy) if isinstance(self.policy, ActorCritic) else None
        )
        self._fast_memory = (  # a recurrent MLP acts in NumPy too (its update stays torch's)
            numpy_recurrent_actor(self.policy)
            if isinstance(self.policy, RecurrentActorCritic)
            else None
        )
        self._float_actions = isinstance(self.action_space, spaces.Box)
        dist = self.policy.dist
        self.rollout = Rollout(
            cfg.n_steps,
            cfg.num_envs,
            self.obs_shape,
            self._frame_space.dtype,
            dist.action_shape,
            dist.action_dtype,
            seq_len=cfg.sequence_length if cfg.recurrent else None,
            hidden_size=cfg.lstm_size if cfg.recurrent else None,
        )
        # Memory: one state per env; _starts marks the envs whose next window starts an episode
        # (all at first, and after every cut: the envs restart).
        self._state: State | None = None
        self._starts = np.ones(cfg.num_envs, dtype=bool)
        if cfg.recurrent:
            self._state = self._state_before = self._initial_state(cfg.num_envs)
        # Actions are sampled from a torch generator seeded from the agent's RNG every step, so
        # the RNG's saved state is all a resumed run needs to sample alike.
        self._generator = torch.Generator(device=self.device)
        self._acted: tuple[np.ndarray, Any, Any, Any] | None = None
        self._window: np.ndarray | None = None  # the windows the next actions are taken on
        self.reward_scale = RewardScale(cfg.num_envs, cfg.gamma) if cfg.normalize_reward else None
        self._sums: dict[str, float] = {}
        self._updates_since_log = 0

    recurrent = RecurrentOption()
    """Whether the policy has memory (the ``recurrent`` option): act() then takes and returns
    the state, test() carries it through each episode."""

    # ---- acting ------------------------------------------------------------------------------
    def _tensor(self, obs: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(obs, device=self.device)

    def _initial_state(self, n: int) -> State:
        assert isinstance(self.policy, RecurrentActorCritic)
        return self.policy.initial_state(n)

    def _memory_step(
        self, window: np.ndarray, state: Any, starts: np.ndarray | None
    ) -> tuple[Any, torch.Tensor, State, State]:
        """The recurrent policy on one step: distributions, values, the state used (``state``
        reset where ``starts``) and the next state."""
        assert isinstance(self.policy, RecurrentActorCritic)
        size = self.config.lstm_size
        try:
            h, c = (torch.as_tensor(x, dtype=torch.float32, device=self.device) for x in state)
        except (TypeError, ValueError):
            h = c = torch.zeros(0)
        if h.shape != (1, len(window), size) or c.shape != h.shape:
            raise ConfigError(
                f"state must be the (h, c) pair act() returned, each of shape (1, {len(window)}, "
                f"{size}) for {len(window)} observation(s), got {_shapes(state)}; pass "
                "state=None at an episode's start."
            )
        used = (h, c) if starts is None else reset_state((h, c), torch.as_tensor(starts))
        with torch.inference_mode():
            dist, values, next_state = self.policy.step(self._tensor(window), used)
        return dist, values, used, next_state

    def _greedy_step(
        self, window: np.ndarray, state: Any, starts: np.ndarray | None
    ) -> tuple[np.ndarray, State]:
        dist, _, _, next_state = self._memory_step(window, state, starts)
        return dist.mode().cpu().numpy(), next_state

    def _greedy(self, window: np.ndarray) -> np.ndarray:
        if self.recurrent:  # from an episode's start
            return self._greedy_step(window, self._initial_state(len(window)), None)[0]
        if self._fast is not None:
            return self._fast.greedy(window)
        assert isinstance(self.policy, ActorCritic)
        with torch.inference_mode():
            actions, _, _ = self.policy.act(self._tensor(window), deterministic=True)
        return actions.cpu().numpy()

    def _to_env(self, actions: np.ndarray) -> np.ndarray:
        return self.policy.dist.to_env(actions)

    def _explore(self, window: np.ndarray) -> np.ndarray:
        if self._fast is not None:  # values later, for the whole rollout at once
            actions, log_probs = self._fast.act(window, self.rng)
            if self._float_actions and not actions_finite(actions):
                raise self._diverged("an action the policy chose")
            self._acted = (window, actions, log_probs, None)
            return self._to_env(actions)
        if self._fast_memory is not None and self._state is not None:
            return self._explore_with_memory_in_numpy(window, self._state)
        self._generator.manual_seed(int(self.rng.integers(2**62)))
        if self._state is not None:  # memory: the state goes on, reset where episodes start
            dist, value, self._state_before, self._state = self._memory_step(
                window, self._state, self._starts
            )
            with torch.inference_mode():
                sampled = dist.sample(self._generator)
                logp = dist.log_prob(sampled)
        else:
            assert isinstance(self.policy, ActorCritic)
            with torch.inference_mode():
                sampled, logp, value = self.policy.act(
                    self._tensor(window), generator=self._generator
                )
        if self._float_actions and not bool(torch.isfinite(sampled).all()):
            raise self._diverged("an action the policy chose")
        self._acted = (window, sampled, logp, value)
        return self.policy.dist.to_env(sampled)

    def _explore_with_memory_in_numpy(self, window: np.ndarray, state: State) -> np.ndarray:
        """:meth:`_explore` of a recurrent MLP policy on the CPU (fastpath.NumpyRecurrentActor):
        the state goes on, reset where episodes start; actions drawn from the agent's RNG."""
        assert self._fast_memory is not None
        lstm = self._fast_memory.policy.core.lstm
        key = (self.counters.num_updates, *(p._version for p in lstm.parameters()))
        h, c = (x[0].numpy() for x in state)
        actions, log_probs, values, *states = self._fast_memory.act(
            window, h, c, self._starts, self.rng, key
        )
        if self._float_actions and not actions_finite(actions):
            raise self._diverged("an action the policy chose")
        h_used, c_used, h_next, c_next = (torch.from_numpy(x[None]) for x in states)
        self._state_before, self._state = (h_used, c_used), (h_next, c_next)
        self._acted = (window, actions, log_probs, values)
        return self._to_env(actions)

    def _values(self, obs: np.ndarray, state: State | None = None) -> np.ndarray:
        """Values of ``obs``; a recurrent policy's from ``state`` (one row per observation),
        reset where an episode starts at ``obs`` (``self._starts``)."""
        if self._fast is not None:
            return self._fast.values(obs)
        if state is not None:
            return self._memory_step(obs, state, self._starts)[1].float().cpu().numpy()
        assert isinstance(self.policy, ActorCritic)
        with torch.inference_mode():
            return self.policy.value(self._tensor(obs)).float().cpu().numpy()

    # ---- collecting --------------------------------------------------------------------------
    def _learn(self, step: Step) -> None:
        assert self._acted is not None
        window, actions, log_probs, values = self._acted
        final_values = None
        cut = step.truncated & ~step.terminated
        if np.count_nonzero(cut):  # bootstrap a time-limit end from its final observation
            final_values = np.zeros(len(cut), np.float32)
            final = step.next_obs
            if self.config.window > 1:
                final = np.concatenate([window[:, 1:], step.next_obs[:, None]], axis=1)
            if self._state is not None:  # from the state after this step, no reset
                h, c = self._state
                after = self._memory_step(final[cut], (h[:, cut], c[:, cut]), None)
                final_values[cut] = after[1].float().cpu().numpy()
            else:
                final_values[cut] = self._values(final[cut])
        rewards = step.rewards
        if self.reward_scale is not None:
            rewards = self.reward_scale(rewards, step.terminated | step.truncated, step.valid)
        self.rollout.add(
            window,
            actions,
            rewards,
            step.terminated,
            step.truncated,
            values,
            log_probs,
            valid=step.valid,
            final_values=final_values,
            episode_starts=self._starts if self._state is not None else None,
            state=self._state_before if self._state is not None else None,
        )
        if self._state is not None:
            self._starts = self._episode_starts(step)  # reset there before the next action
        self._window = step.window
        if self.rollout.full:
            self._finish_rollout(step.window)

    def _on_cut(self, frames: np.ndarray, mask: np.ndarray) -> None:
        """Open episodes end here: the last step stored becomes a time-limit end that
        bootstraps from the current windows; the rollout goes on after the restart."""
        t = self.rollout.pos - 1
        open_ = mask & ~(self.rollout.terminated[max(t, 0)] | self.rollout.truncated[max(t, 0)])
        if t >= 0 and self._window is not None and open_.any():
            self.rollout.truncated[t, open_] = True
            if self._state is not None:
                values = self._values(self._window, self._state)[open_]
            else:
                values = self._values(self._window[open_])
            self.rollout.final_values[t, open_] = values
        self._starts[:] = True  # the next segment starts every episode afresh

    def _finish_rollout(self, window: np.ndarray) -> None:
        cfg = self.config
        rollout = self.rollout
        n, obs = rollout.pos, rollout.obs
        # NumPy acting leaves the values out: one pass over the rollout (also when a rollout
        # begun that way is resumed on a device torch serves)
        if self._fast is not None or (self._state is None and np.isnan(rollout.values[:n]).any()):
            flat = obs[:n].reshape(n * rollout.num_envs, *obs.shape[2:])
            rollout.values[:n] = self._values(flat).reshape(n, rollout.num_envs)
        last_values = self._values(window, self._state)
        rollout.compute_returns_and_advantages(last_values, cfg.gamma, cfg.gae_lambda)
        progress = self._progress()  # schedules end where the running fit() does
        if cfg.lr_schedule == "linear":
            for group in self.optimizer.param_groups:
                group["lr"] = cfg.learning_rate * (1.0 - progress)
        self._update(progress)
        if not bool(torch.isfinite(self._flat.data).all()):  # one reduction per rollout
            raise self._diverged("a weight after the update")
        self.rollout.reset()

    def _update(self, progress: float) -> None:
        """The algorithm's update on the full rollout (``progress``: :meth:`_progress`)."""
        raise NotImplementedError

    def _minibatches(self, batch_size: int) -> Iterator[Any]:
        """One epoch of minibatches for :meth:`_evaluate`: flat sample indices, or whole
        sequences of envs for a recurrent policy (``batch_size`` counts steps either way)."""
        if self.recurrent:
            return self.rollout.sequence_minibatches(batch_size, self.rng)
        return self.rollout.minibatches(batch_size, self.rng)

    def _whole_rollout(self) -> np.ndarray | SequenceIndex:
        """The whole rollout as one minibatch for :meth:`_evaluate` (A2C's one step), in
        order: the valid samples, or every sequence of a recurrent policy."""
        r = self.rollout
        if r.seq_len is None:
            return np.flatnonzero(r.valid[: r.pos].reshape(-1))
        count = r.n_steps // r.seq_len * r.num_envs  # sequence k * num_envs + e, in order
        k, e = np.divmod(np.arange(count), r.num_envs)
        first = k * r.seq_len * r.num_envs + e
        steps = first[None, :] + (np.arange(r.seq_len) * r.num_envs)[:, None]
        return SequenceIndex(steps, np.arange(count))

    def _evaluate(
        self, batch: RolloutBatch, minibatch: np.ndarray | SequenceIndex
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, RolloutBatch]:
        """Log-probabilities of the stored actions, entropies and values with gradients, and the
        rollout's fields, for the valid samples of ``minibatch`` (of :meth:`_minibatches`). A
        recurrent policy is unrolled over each sequence from the state stored at its start,
        reset where an episode starts (its invalid steps keep time, then are dropped)."""
        if isinstance(minibatch, SequenceIndex):
            assert isinstance(self.policy, RecurrentActorCritic)
            seq = gather_sequences(batch, minibatch)
            dist, value = self.policy.unroll(seq.obs, seq.state, seq.starts)
            actions = seq.actions.flatten(0, 1)
            log_prob, entropy = dist.log_prob(actions), dist.entropy()
            picked = RolloutBatch(
                seq.obs,
                actions,
                *(x.flatten() for x in seq[2:7]),  # (obs: not needed again)
            )
            valid = picked.valid
            if not bool(valid.all()):  # NEXT_STEP autoreset steps: not transitions
                log_prob, entropy, value = log_prob[valid], entropy[valid], value[valid]
                picked = picked._replace(**{k: getattr(picked, k)[valid] for k in _LOSS_FIELDS})
            return log_prob, entropy, value, picked
        assert isinstance(self.policy, ActorCritic)
        idx = torch.as_tensor(minibatch, device=self.device)
        log_prob, entropy, value = self.policy.evaluate(batch.obs[idx], batch.actions[idx])
        picked = batch._replace(**{k: getattr(batch, k)[idx] for k in _LOSS_FIELDS})
        return log_prob, entropy, value, picked

    def _step_optimizer(self, loss: torch.Tensor) -> None:
        """One gradient step on ``loss`` (with gradient clipping)."""
        self._flat.zero_grad()
        loss.backward()
        self._apply_gradient()

    def _apply_gradient(self) -> None:
        """Clip the gradient in ``self._flat.grad`` and take the optimizer step on it (A3C's
        workers send it to the learner instead)."""
        if self.config.max_grad_norm is not None:
            self._flat.clip_grad_norm_(self.config.max_grad_norm)
        self.optimizer.step()
        self.counters.num_updates += 1

    def _numpy_step(
        self,
        arrays: dict[str, np.ndarray],
        indices: np.ndarray,
        *,
        clip: float | None,
        clip_vf: float | None,
    ) -> tuple[float, float, float, float, float]:
        """One gradient step with the NumPy loss and gradient of the default MLP (fastpath.py)
        on the samples ``indices`` of the rollout's :meth:`~renshu.rollout.Rollout.flat_arrays`
        (call ``self._flat.attach_grads()`` first). ``clip`` None is A2C's plain policy
        gradient. Returns (policy loss, value loss, entropy, approximate KL, clip fraction)."""
        cfg = self.config
        assert self._fast is not None
        advantages = arrays["advantages"][indices]
        if cfg.normalize_advantage and len(indices) > 1:
            advantages = normalized(advantages)
        figures = self._fast.loss(
            arrays["obs"][indices],
            arrays["actions"][indices],
            arrays["log_probs"][indices],
            advantages,
            arrays["returns"][indices],
            arrays["values"][indices],
            clip=clip,
            clip_vf=clip_vf,
            ent_coef=cfg.ent_coef,
            vf_coef=cfg.vf_coef,
        )
        if not math.isfinite(figures[0] + figures[1]):  # (floats: free to check)
            raise self._diverged("the policy or value loss")
        self._apply_gradient()
        return figures

    def _record(self, **metrics: float) -> None:
        for key, value in metrics.items():
            self._sums[key] = self._sums.get(key, 0.0) + value
        self._updates_since_log += 1

    def _metrics(self) -> dict[str, float]:
        out = {"charts/learning_rate": float(self.optimizer.param_groups[0]["lr"])}
        if self._updates_since_log:
            n = self._updates_since_log
            out.update({f"losses/{k}": v / n for k, v in self._sums.items()})
            self._sums, self._updates_since_log = {}, 0
        return out

    def _explained_variance(self) -> float:
        r = self.rollout
        valid = r.valid[: r.pos]
        returns, values = r.returns[: r.pos][valid], r.values[: r.pos][valid]
        var = float(np.var(returns))
        return float("nan") if var == 0 else 1.0 - float(np.var(returns - values)) / var

    # ---- saving ------------------------------------------------------------------------------
    def _networks(self) -> dict[str, torch.nn.Module]:
        if self.reward_scale is None:
            return {"policy": self.policy}
        return {"policy": self.policy, "reward_scale": self.reward_scale}

    def _extra_state(self) -> dict[str, Any]:
        return {"rollout_pos": self.rollout.pos}

    def _load_extra_state(self, saved: dict[str, Any], ckpt: checkpoint.Checkpoint) -> None:
        checkpoint.check_counter(saved, "rollout_pos", ckpt.path / "state.json")
        self._saved_rollout_pos = int(saved["rollout_pos"])  # the rollout file must agree

    def _replay_state(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v) for k, v in self.rollout.state_dict().items()}

    def _load_replay(self, arrays: dict[str, np.ndarray], file: Path) -> None:
        pos = getattr(self, "_saved_rollout_pos", 0)
        try:
            checkpoint.load_rollout(self.rollout, arrays, self.action_space, file, pos=pos)
        except (ConfigError, KeyError, ValueError, TypeError) as error:
            raise checkpoint.CheckpointError(
                f"{str(file)!r} does not fit this agent's rollout ({error}). Load without "
                "overriding n_steps or num_envs, or load another checkpoint."
            ) from None
