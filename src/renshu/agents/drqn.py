"""DRQN: DQN with memory. An LSTM between the observation torso and the Q head, trained from
sequence replay in the manner of R2D2 (Kapturowski et al., 2019).

Reads top to bottom like :mod:`renshu.agents.dqn`: the config (DQN's options by the same names,
plus the LSTM and the sequences), the network, the agent (acting with one hidden state per env,
reset where an episode starts), then what one step of the shared training loop does: act ->
store (with the state before the step) -> train on sequences -> update target.

    agent = renshu.DRQN("cave", seed=0, lstm_size=128, seq_len=20, burn_in=10)
    agent.fit(steps=100_000)
    action, state = agent.act(obs, state, episode_start=start)   # memory from outside
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar

import numpy as np
import torch
from torch import nn

from renshu.agents.dqn import DQNConfig, huber_loss, mse_loss
from renshu.config import Range
from renshu.errors import CheckpointError, ConfigError
from renshu.exploration import from_options
from renshu.inputs import discrete_action_problems, observation_problems
from renshu.nets import DuelingHead, QNetwork, build_q_network, input_norm, soft_update
from renshu.optim import make_optimizer
from renshu.recurrent import LSTMCore, State, reset_state
from renshu.replay import SequenceBuffer, sequence_priorities
from renshu.train.loop import Step
from renshu.train.memory import check_replay_memory
from renshu.train.qlearning import QAgent


@dataclass
class DRQNConfig(DQNConfig):
    """Every option of :class:`DRQN`: DQN's (:class:`~renshu.agents.dqn.DQNConfig`, same names
    and meanings; ``batch_size`` counts sequences) plus the LSTM and the sequences."""

    batch_size: Annotated[int, Range(ge=1)] = 32
    """Sequences per gradient step, >= 1 (each of burn_in + seq_len steps)."""
    train_every: Annotated[int, Range(ge=1)] = 8
    """Env steps between training calls, >= 1 (counted over all envs). 8 by default: as R2D2,
    fewer updates of larger sequence batches; 32 sequences of 20 trained steps every 8 env steps
    replay each step about 80 times, near DQN's 64 (batches of 64 every step)."""
    buffer_size: Annotated[int, Range(ge=1)] = 50_000
    """Replay capacity in steps (all envs together); it must hold a whole sequence per env."""
    window: Annotated[int, Range(1, 1000)] = 1
    """Frames per observation, in [1, 1000]; 1 by default: the LSTM remembers instead."""
    lstm_size: Annotated[int, Range(1, 65536)] = 128
    """Units of the LSTM core, in [1, 65536]."""
    seq_len: Annotated[int, Range(1, 10_000)] = 20
    """Trained steps per replayed sequence, in [1, 10000]."""
    burn_in: Annotated[int, Range(0, 10_000)] = 10
    """Steps before them that only warm the stored state up (no loss), in [0, 10000]."""
    seq_stride: Annotated[int, Range(1, 10_000)] | None = None
    """Steps between the starts of two stored sequences, in [1, 10000]; None: half of
    burn_in + seq_len (sequences overlap by half, as in R2D2)."""
    per_eta: Annotated[float, Range(0, 1)] = 0.9
    """A sequence's priority: per_eta * max + (1 - per_eta) * mean of its |TD errors|."""
    value_rescale: bool = True
    """Learn Q in R2D2's squashed scale ``h(x) = sign(x)(sqrt(|x| + 1) - 1) + 1e-3 x``, with
    targets ``h(r + gamma^k h^-1(Q'))``: returns in the hundreds become tens, which the Q head
    reaches from the LSTM's bounded output without driving the LSTM into saturation (on Cave,
    without it, the LSTM saturated, Q stopped depending on the frames, and the greedy policy held
    one action). Greedy actions are unchanged (h is increasing); the logged Q-values are turned
    back to returns. False: DQN's plain targets."""


def space_problems(observation_space: Any, action_space: Any) -> list[tuple[str, str, str]]:
    """Why DRQN cannot train on these spaces (DQN's verdict, in DRQN's name): ``DRQN(env)``
    refuses with these and ``renshu check ENV --algo drqn`` reports them."""
    return discrete_action_problems(action_space, "DRQN") + observation_problems(
        observation_space, "DRQN"
    )


class RecurrentQNetwork(nn.Module):
    """``preprocess -> torso -> LSTM -> head``: renshu's observation torso (MLP, CNN, Dict inputs,
    running normalization), an :class:`~renshu.recurrent.LSTMCore`, a Q head (dueling or not)."""

    def __init__(self, q_network: QNetwork, n_actions: int, lstm_size: int, dueling: bool):
        super().__init__()
        head = q_network.head  # the torso DQN builds is kept, its (plain) head replaced
        assert isinstance(head, nn.Linear)
        features = head.in_features
        self.preprocess: nn.Module = q_network.preprocess
        self.torso: nn.Module = q_network.torso
        self.core = LSTMCore(features, lstm_size)
        self.head = (
            DuelingHead(lstm_size, n_actions) if dueling else nn.Linear(lstm_size, n_actions)
        )
        self.obs_shape = tuple(q_network.obs_shape)

    def unroll(
        self, obs: torch.Tensor, state: State, starts: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, State]:
        """Q-values ``(T, B, A)`` of time-major observations ``(T, B, *obs_shape)`` from
        ``state``, zeroing it where ``starts`` ``(T, B)`` marks an episode's start."""
        return self.unroll_inputs(self.inputs(obs), state, starts)

    def inputs(self, obs: torch.Tensor) -> torch.Tensor:
        """What the torso takes, ``(T, B, ...)`` float32, of observations ``(T, B, *obs_shape)``
        (uint8 scaled to [0, 1], running normalization, image layout)."""
        T, B = obs.shape[:2]
        x = self.preprocess(obs.reshape(T * B, *obs.shape[2:]))
        return x.view(T, B, *x.shape[1:])

    def unroll_inputs(
        self, x: torch.Tensor, state: State, starts: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, State]:
        """:meth:`unroll` from :meth:`inputs`: one torso pass over all ``T * B`` of them, one
        LSTM unroll, one head pass."""
        T, B = x.shape[:2]
        features = self.torso(x.reshape(T * B, *x.shape[2:]))
        out, state = self.core(features.view(T, B, -1), state, starts)
        return self.head(out.reshape(T * B, -1)).view(T, B, -1), state

    @property
    def stateless_inputs(self) -> bool:
        """Whether :meth:`inputs` is a fixed function (no running statistics), so a copy of this
        network (the target) computes the same inputs and can take them as they are."""
        return not self.preprocess.state_dict()

    def step(
        self, obs: torch.Tensor, state: State, starts: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, State]:
        """One step for acting: ``(B, *obs_shape)`` -> Q-values ``(B, A)`` and the next state."""
        out, state = self.core.step(self.torso(self.preprocess(obs)), state, starts)
        return self.head(out), state

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Q-values of a batch of observations, each from the zero state (an episode's start)."""
        return self.step(obs, self.core.initial_state(len(obs)))[0]


class DRQN(QAgent):
    """Recurrent DQN for a Discrete action space. See :class:`DRQNConfig` for options."""

    algo = "drqn"
    config_class = DRQNConfig
    recurrent = True
    former_defaults: ClassVar[dict[str, Any]] = {"value_rescale": False}  # older: plain Q
    space_problems = staticmethod(space_problems)  # the one verdict (renshu check asks it too)

    def __init__(self, env: Any, *, config: DRQNConfig | None = None, **options: Any) -> None:
        super().__init__(env, config, options)  # config, env, spaces, device, seeds, counters
        cfg: DRQNConfig = self.config
        if isinstance(cfg.net, nn.Module):
            raise ConfigError(
                f"DRQN builds its own network around the LSTM; net must be 'auto', 'mlp', 'cnn' "
                f"or hidden sizes like [64, 64], got a module ({type(cfg.net).__name__}). Use DQN "
                "for a network of your own."
            )
        n_actions = int(self.action_space.n)
        check_replay_memory(  # refuse a buffer or network that cannot fit, before allocating
            buffer_size=cfg.buffer_size,
            num_envs=cfg.num_envs,
            frame_space=self._frame_space,
            window=cfg.window,
            prioritized=cfg.prioritized,
            net=cfg.net,
            obs_shape=self.obs_shape,
            n_outputs=cfg.lstm_size,
            device=self.device,
        )
        # Networks: the online network and its target copy (never trained directly).
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self._seeds[0].generate_state(1)[0]))
            torso = build_q_network(
                self.obs_shape,
                self._frame_space.dtype,
                n_actions,
                net=cfg.net,
                normalize=self._frame_space.shape if cfg.normalize_obs else False,
                inputs=self._encoder.parts if self._encoder else None,
                obs_bounds=(self._frame_space.low, self._frame_space.high),
            )
            assert isinstance(torso, QNetwork)  # (a module as net was refused above)
            self.q_network = RecurrentQNetwork(torso, n_actions, cfg.lstm_size, cfg.dueling)
            self.q_network.to(self.device)
        self.target_network = copy.deepcopy(self.q_network).requires_grad_(False)
        self._obs_norm = input_norm(self.q_network)
        self._target_norm = input_norm(self.target_network)
        self._flat = self._flat_target = None  # the torch path: no flat parameters
        self._fast = None
        self.optimizer = make_optimizer(
            cfg.optimizer, self.q_network.parameters(), cfg.learning_rate
        )
        self.loss_fn: Callable[..., torch.Tensor] = (
            cfg.loss if callable(cfg.loss) else {"huber": huber_loss, "mse": mse_loss}[cfg.loss]
        )
        self.exploration = from_options(cfg)

        # Replay: each frame stored once; sequences, with the state at each start, rebuilt.
        self.buffer = SequenceBuffer(
            cfg.buffer_size,
            self._frame_space,
            state_size=cfg.lstm_size,
            num_envs=cfg.num_envs,
            window=cfg.window,
            seq_len=cfg.seq_len,
            burn_in=cfg.burn_in,
            seq_stride=cfg.seq_stride,
            n_step=cfg.n_step,
            gamma=cfg.gamma,
            prioritized=cfg.prioritized,
            alpha=cfg.per_alpha,
            device=self.device,
            seed=int(self._seeds[2].generate_state(1)[0]),
        )
        self._next_target_sync = int(cfg.target_update) if cfg.target_update >= 1 else 0
        # "every K steps" counts all envs: train every K // num_envs loop steps (at least one)
        self._calls_every = max(cfg.train_every // cfg.num_envs, 1)
        self._updates_per_call = cfg.gradient_steps * max(cfg.num_envs // cfg.train_every, 1)
        self._loss_sum: torch.Tensor | float = 0.0
        self._q_sum: torch.Tensor | float = 0.0
        self._updates_since_log = 0
        # Acting: one state per env; _starts marks the envs whose next window starts an episode.
        self._state = self._state_before = self._initial_state(cfg.num_envs)
        self._starts = np.ones(cfg.num_envs, dtype=bool)

    # ---- acting ------------------------------------------------------------------------------
    def _initial_state(self, n: int) -> State:
        return self.q_network.core.initial_state(n, self.device)

    def _q_step(
        self, window: np.ndarray, state: Any, starts: np.ndarray | None
    ) -> tuple[np.ndarray, State, State]:
        """Q-values of a batch, the state they were computed from (reset where ``starts``) and
        the state after them."""
        n, size = len(window), self.config.lstm_size
        ok = isinstance(state, tuple | list) and len(state) == 2
        if ok:
            try:
                state = tuple(torch.as_tensor(x, dtype=torch.float32) for x in state)
            except (TypeError, ValueError, RuntimeError):
                ok = False
            ok = ok and all(tuple(x.shape) == (1, n, size) for x in state)
        if not ok:
            raise ConfigError(
                f"state must be the (h, c) pair act() returned, each of shape (1, {n}, {size}) "
                f"for {n} observation(s), got {_describe(state)}; pass state=None at an "
                "episode's start."
            )
        used: State = (state[0].to(self.device), state[1].to(self.device))
        if starts is not None:
            used = reset_state(used, torch.as_tensor(starts, device=self.device))
        with torch.inference_mode():
            q, next_state = self.q_network.step(torch.as_tensor(window, device=self.device), used)
        return q.float().cpu().numpy(), used, next_state

    def _greedy_step(
        self, window: np.ndarray, state: Any, starts: np.ndarray | None
    ) -> tuple[np.ndarray, State]:
        q, _, next_state = self._q_step(window, state, starts)
        return q.argmax(axis=1), next_state

    def _greedy(self, window: np.ndarray) -> np.ndarray:
        return self._greedy_step(window, self._initial_state(len(window)), None)[0]

    def _explore(self, window: np.ndarray) -> np.ndarray:
        cfg = self.config
        q, self._state_before, self._state = self._q_step(window, self._state, self._starts)
        if self.num_steps < cfg.warmup_steps:  # uniformly at random (the state still runs)
            return (self.rng.random(cfg.num_envs) * self.action_space.n).astype(np.int64)
        return self.exploration.select(q, self.num_steps, self.rng)

    # ---- learning ----------------------------------------------------------------------------
    def _learn(self, step: Step) -> None:
        cfg = self.config
        self.buffer.add(  # with the state before each step (a sequence may start there)
            step.obs,
            step.actions,
            step.rewards,
            step.next_obs,
            step.terminated,
            step.truncated,
            states=(self._state_before[0][0], self._state_before[1][0]),
            next_states=(self._state[0][0], self._state[1][0]),
            mask=step.valid,
        )
        self._starts = self._episode_starts(step)  # reset there before the next action
        if (
            self.num_steps >= cfg.warmup_steps
            and self.buffer.num_sampleable > 0
            and self.counters.iteration % self._calls_every == 0
        ):
            for _ in range(self._updates_per_call):
                self._train_step()
        self._sync_target_when_due()

    def _train_step(self) -> None:
        cfg = self.config
        batch = self.buffer.sample(cfg.batch_size, beta=self._beta())
        b, online = cfg.burn_in, self.q_network
        with torch.no_grad():  # observations to float once: both networks take them if they can
            x = online.inputs(batch.obs)
            x_target = x if online.stateless_inputs else self.target_network.inputs(batch.obs)
        state = batch.state
        if b:  # burn-in: unrolled without gradient, only to warm the stored state up
            with torch.no_grad():
                _, state = online.unroll_inputs(x[:b], state, batch.starts[:b])
        q_online, _ = online.unroll_inputs(x[b:], state, batch.starts[b:])  # (L + 1 - b) steps
        with torch.no_grad():
            q_target, _ = self.target_network.unroll_inputs(x_target, batch.state, batch.starts)
            if cfg.double:  # Double DQN: online net picks, target net rates
                picks = q_online.detach().argmax(dim=2, keepdim=True)
                picks = torch.cat([picks.new_zeros((b, *picks.shape[1:])), picks])
                next_q_all = q_target.gather(2, picks).squeeze(2)
            else:
                next_q_all = q_target.max(dim=2).values
            next_q = next_q_all.gather(0, batch.boot)  # (L, B): Q at each step's bootstrap frame
            if cfg.value_rescale:  # R2D2: bootstrap in returns, learn in the squashed scale
                next_q = rescale_inverse(next_q)
            td_target = batch.rewards + batch.discounts * (1.0 - batch.dones) * next_q
            if cfg.value_rescale:
                td_target = rescale(td_target)
        q = q_online[:-1].gather(2, batch.actions[b:].unsqueeze(2)).squeeze(2)
        mask, target = batch.mask[b:], td_target[b:]
        trained = mask.bool()
        weights = batch.weights.expand_as(mask)
        loss = self.loss_fn(q[trained], target[trained], weights[trained])
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(self.q_network.parameters(), cfg.max_grad_norm)
        self.optimizer.step()
        if cfg.prioritized:
            td = (q.detach() - target) * mask
            self.buffer.update_priorities(batch.indices, sequence_priorities(td, mask, cfg.per_eta))
        if cfg.target_update < 1:
            self._update_target(float(cfg.target_update))
        self._loss_sum = self._loss_sum + loss.detach()
        q_logged = q.detach()[trained]
        self._q_sum = (
            self._q_sum + (rescale_inverse(q_logged) if cfg.value_rescale else q_logged).mean()
        )
        self.counters.num_updates += 1
        self._updates_since_log += 1

    def _update_target(self, tau: float) -> None:
        if self._target_norm is not None and self._obs_norm is not None:
            self._target_norm.follow(self._obs_norm, tau)
        soft_update(self.target_network, self.q_network, tau)

    def _begin_fit(self, end_step: int) -> None:
        super()._begin_fit(end_step)
        self._starts[:] = True  # fit() begins a segment: every env resets

    def _on_cut(self, frames: np.ndarray, mask: np.ndarray) -> None:
        super()._on_cut(frames, mask)
        self._starts[:] = True  # the next segment starts every episode afresh

    # ---- saving: the rest is QAgent's ------------------------------------------------------
    def _load_replay(self, arrays: dict[str, np.ndarray], file: Path) -> None:
        actions = np.asarray(arrays.get("actions", np.zeros(0, np.int64)))
        n = int(self.action_space.n)
        if actions.size and (actions.min() < 0 or actions.max() >= n):
            raise CheckpointError(
                f"{str(file)!r}: field 'actions' must hold actions in [0, {n}), found "
                f"{int(actions.min())}..{int(actions.max())}; load another checkpoint."
            )
        try:
            self.buffer.load_state_dict(dict(arrays))
        except (ConfigError, KeyError, ValueError, TypeError) as error:
            raise CheckpointError(
                f"{str(file)!r} does not fit this agent's sequence replay ({error}). Load "
                "without overriding buffer options, or load another checkpoint."
            ) from None


RESCALE_EPS = 1e-3
"""R2D2's epsilon in h(x) = sign(x)(sqrt(|x| + 1) - 1) + eps * x (Kapturowski et al., 2019)."""


def rescale(x: torch.Tensor) -> torch.Tensor:
    """R2D2's value rescaling ``h(x)``: about ``sqrt(|x|)``, increasing, ``h(0) = 0``."""
    return torch.sign(x) * (torch.sqrt(x.abs() + 1.0) - 1.0) + RESCALE_EPS * x


def rescale_inverse(y: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`rescale` (Pohlen et al., 2018, proposition A.2)."""
    a = y.abs() + 1.0 + RESCALE_EPS  # (sqrt(1 + 4 eps a) - 1) / (2 eps), without cancellation:
    root = 2.0 * a / (torch.sqrt(1.0 + 4.0 * RESCALE_EPS * a) + 1.0)
    return torch.sign(y) * (root * root - 1.0)


def _describe(state: Any) -> str:
    """What was passed as a state, for the error message."""
    if isinstance(state, tuple | list):
        return "shapes " + str([tuple(getattr(x, "shape", ())) for x in state])
    return type(state).__name__
