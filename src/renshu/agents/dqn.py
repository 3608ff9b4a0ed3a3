"""DQN and its family: Double, Dueling, prioritized replay and n-step returns are options.

Reads top to bottom: the config, the agent (networks, replay, exploration, optimizer), then
what one step of the shared training loop (:mod:`renshu.train`) does with it: act -> (the loop
steps the env) -> store -> train -> update target.

    agent = renshu.DQN("catch", seed=0, double=True, target_update=1e-2)
    agent.fit(steps=30_000)
    agent.test(episodes=10).history["episode_reward"]
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch
import torch.nn.functional as F

from renshu import checkpoint
from renshu.config import (
    MAX_ENVS,
    MAX_REPEATS,
    MAX_THREADS,
    Note,
    OneOf,
    Range,
    Satisfies,
    check_device,
    validate,
)
from renshu.exploration import POLICIES, from_options, is_exploration
from renshu.fastpath import FlatParams, numpy_dqn
from renshu.inputs import discrete_action_problems, observation_problems
from renshu.nets import QNetwork, build_q_network, input_norm, is_module, soft_update
from renshu.optim import OPTIMIZERS, make_optimizer
from renshu.replay import Batch, ReplayBuffer
from renshu.train.loop import MAX_WINDOW, Step
from renshu.train.memory import check_buffer_size, check_replay_memory
from renshu.train.qlearning import QAgent


@dataclass
class DQNConfig:
    """Every option of :class:`DQN`; pass them as keywords: ``DQN(env, dueling=True)``.

    Each field's annotation says what it accepts (type, then range; see :mod:`renshu.config`),
    checked the same way from Python, ``--set`` and YAML files. The defaults were chosen over
    five seeds on six envs (``benchmarks/robustness.py``, BENCHMARKS.md): Double DQN with
    5-step returns, a target copied every 250 steps, batches of 64 at 5e-4, and epsilon falling
    over the first fifth of the run.
    """

    learning_rate: Annotated[float, Range(gt=0)] = 5e-4
    """Optimizer step size, > 0."""
    gamma: Annotated[float, Range(0, 1)] = 0.99
    """Discount factor in [0, 1]."""
    buffer_size: Annotated[int, Range(ge=1)] = 50_000
    """Replay capacity in transitions (all envs together), >= batch_size and >= (n_step + 1) *
    num_envs; refused when it would not fit in this machine's memory."""
    batch_size: Annotated[int, Range(ge=1)] = 64
    """Transitions per gradient step, >= 1."""
    warmup_steps: Annotated[int, Range(ge=0)] = 1_000
    """Env steps of uniformly random actions before the first gradient step, >= 0
    (keras-rl's nb_steps_warmup)."""
    train_every: Annotated[int, Range(ge=1)] = 1
    """Env steps between training calls, >= 1 (counted over all envs)."""
    gradient_steps: Annotated[
        int, Range(1, MAX_REPEATS), Note("each is a full update: 1e9 would never finish")
    ] = 1
    """Gradient steps per training call, in [1, 10000]."""
    target_update: (
        Annotated[int, Range(ge=1), Note("hard copy every N steps")]
        | Annotated[float, Range(gt=0, lt=1), Note("soft update rate")]
    ) = 250
    """int >= 1: copy the online network to the target every N env steps; float in (0, 1):
    soft update ``target += tau * (online - target)`` after every gradient step (keras-rl)."""
    double: bool = True
    """Double DQN: the online network picks the next action, the target network rates it
    (False: the DQN paper's max over the target network)."""
    dueling: bool = False
    """Dueling head: Q = V + A - mean(A)."""
    prioritized: bool = False
    """Prioritized experience replay (proportional, sum tree)."""
    per_alpha: Annotated[float, Range(0, 1)] = 0.6
    """How much prioritization is used, in [0, 1] (0 = uniform)."""
    per_beta: Annotated[float, Range(0, 1)] = 0.4
    """Initial importance-sampling exponent in [0, 1], annealed linearly to 1 over
    per_beta_steps."""
    n_step: Annotated[int, Range(ge=1)] = 5
    """Steps summed into each return before bootstrapping, >= 1 (1: the DQN paper's one-step
    target; Rainbow uses 3)."""
    loss: (
        Annotated[str, OneOf("huber", "mse")] | Annotated[Any, Satisfies("a callable", callable)]
    ) = "huber"
    """"huber" (the DQN paper's error clipping), "mse", or a callable
    ``loss(q, target, weights) -> tensor``."""
    policy: (
        Annotated[str, OneOf(*POLICIES)]
        | Annotated[
            Any,
            Satisfies("an object with select(q_values, step, rng) and value(step)", is_exploration),
        ]
    ) = "eps_greedy"
    """Exploration: "eps_greedy" (linear anneal), "boltzmann", "greedy", or an object with
    ``select(q_values, step, rng)`` and ``value(step)``."""
    eps_start: Annotated[float, Range(0, 1)] = 1.0
    """Initial epsilon of eps_greedy, in [0, 1]."""
    eps_end: Annotated[float, Range(0, 1)] = 0.05
    """Final epsilon of eps_greedy, in [0, 1]."""
    eps_anneal_steps: Annotated[int, Range(ge=1)] | None = None
    """Env steps over which epsilon falls linearly from eps_start to eps_end, >= 1; None: the
    first eps_fraction of training (the steps the running fit() trains to; a run's total, so a
    resumed run explores as an uninterrupted one, and a new total moves the end as it does for
    every schedule that follows the length of training)."""
    eps_fraction: Annotated[float, Range(gt=0, le=1)] = 0.2
    """Fraction of training over which epsilon falls when eps_anneal_steps is None, in (0, 1]
    (Stable-Baselines3's exploration_fraction)."""
    tau: Annotated[float, Range(gt=0)] = 1.0
    """Temperature of boltzmann exploration, > 0."""
    optimizer: (
        Annotated[str, OneOf(*OPTIMIZERS)]
        | Annotated[Any, Satisfies("a factory params -> torch.optim.Optimizer", callable)]
    ) = "adam"
    """"adam", "rmsprop", "rmsprop_graves", or a factory ``params -> torch.optim.Optimizer``."""
    max_grad_norm: Annotated[float, Range(gt=0)] | None = 10.0
    """Clip the gradient norm to this, > 0 (None: no clipping)."""
    window: Annotated[int, Range(1, MAX_WINDOW)] = 1
    """Frames per observation, in [1, 1000]: the last W frames, stacked by the agent (replay
    stores each once)."""
    num_envs: Annotated[
        int, Range(1, MAX_ENVS), Note("copies are built one by one: 1e7 take hours")
    ] = 1
    """Environments stepped together (a vector env), in [1, 65536]."""
    net: (
        Annotated[str, OneOf("auto", "mlp", "cnn")]
        | list[Annotated[int, Range(ge=1)]]
        | Annotated[Any, Satisfies("an nn.Module", is_module)]
    ) = "auto"
    """"auto" (CNN for images, else MLP 64x64), "mlp", "cnn", hidden sizes like [24, 24], or an
    ``nn.Module`` mapping a batch of observations to Q-values; refused when it would not fit in
    memory."""
    device: str = "auto"
    """"auto" (CUDA when available), "cpu", "cuda", "cuda:1", ..., "mps": one torch can use
    here."""
    threads: Annotated[int, Range(1, MAX_THREADS), Note("more only wait for each other")] | None = 1
    """CPU threads for torch and NumPy's BLAS while fit/test run (restored afterwards), in
    [1, 256], or None to leave them alone. One is fastest for the small networks of DQN: more
    threads wait for each other at this size, which made training 8x-40x slower on a busy 2-core
    laptop (BENCHMARKS.md). Raise it for a large CNN on an idle many-core machine."""
    seed: Annotated[int, Range(ge=0)] | None = None
    """Seeds networks, replay sampling, exploration and envs, >= 0; None draws one at random."""
    per_beta_steps: Annotated[int, Range(1, 2**53)] | None = None
    """Env steps over which per_beta is annealed to 1, >= 1; None: over the length of training,
    to the step fit() trains to (a run's total), as PPO's linear schedules: another fit() call,
    or a resume with a new total, moves that end, and from then on beta is the one a training of
    the new length has at each step."""
    normalize_obs: bool = True
    """Normalize non-uint8 observations by their running mean and standard deviation (kept in
    the network, updated while fit() runs, frozen in test and act); uint8 frames are divided by
    255 either way. A net given as a module gets this input layer in front; with False it gets
    the observations as stored."""

    def __post_init__(self) -> None:
        validate(self)  # every field's type, then its range, from the annotations above
        check_buffer_size(self.buffer_size, self.batch_size, self.n_step, self.num_envs)
        check_device(self.device)


def huber_loss(q: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Huber loss (delta 1): the DQN paper's clipping of the TD error to [-1, 1]."""
    return (F.smooth_l1_loss(q, target, reduction="none") * weights).mean()


def mse_loss(q: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Squared TD error."""
    return (F.mse_loss(q, target, reduction="none") * weights).mean()


def space_problems(observation_space: Any, action_space: Any) -> list[tuple[str, str, str]]:
    """Why DQN cannot train on these spaces: ``(code, what is wrong, how to fix it)`` each, or
    ``[]`` when it can. ``DQN(env)`` refuses with these and ``renshu check ENV --algo dqn``
    reports them, so the two always agree."""
    return discrete_action_problems(action_space, "DQN") + observation_problems(
        observation_space, "DQN"
    )


class DQN(QAgent):
    """Deep Q-Network agent for a Discrete action space. See :class:`DQNConfig` for options."""

    algo = "dqn"
    config_class = DQNConfig
    space_problems = staticmethod(space_problems)  # the one verdict (renshu check asks it too)

    def __init__(self, env: Any, *, config: DQNConfig | None = None, **options: Any) -> None:
        super().__init__(env, config, options)  # config, env, spaces, device, seeds, counters
        cfg: DQNConfig = self.config
        n_actions = int(self.action_space.n)
        check_replay_memory(  # refuse a buffer or network that cannot fit, before allocating
            buffer_size=cfg.buffer_size,
            num_envs=cfg.num_envs,
            frame_space=self._frame_space,
            window=cfg.window,
            prioritized=cfg.prioritized,
            net=cfg.net,
            obs_shape=self.obs_shape,
            n_outputs=n_actions + (1 if cfg.dueling else 0),
            device=self.device,
        )

        # Networks: the online Q-network and its target copy (never trained directly).
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self._seeds[0].generate_state(1)[0]))
            self.q_network = build_q_network(
                self.obs_shape,
                self._frame_space.dtype,
                n_actions,
                net=cfg.net,
                dueling=cfg.dueling,
                normalize=self._frame_space.shape if cfg.normalize_obs else False,
                inputs=self._encoder.parts if self._encoder else None,
                obs_bounds=(self._frame_space.low, self._frame_space.high),
            ).to(self.device)
        self.target_network = copy.deepcopy(self.q_network).requires_grad_(False)
        # Running observation statistics (nets.RunningNorm), updated by the training loop from
        # what the agent sees. The target network keeps its own copy, taken whenever its weights
        # are: it is a snapshot of the online Q-function, input normalization included.
        self._obs_norm = input_norm(self.q_network)
        self._target_norm = input_norm(self.target_network)
        # renshu's networks keep their parameters in one flat tensor (fastpath.FlatParams): a
        # named optimizer sees one tensor; gradient clipping and the target sync are one op each.
        ours = isinstance(self.q_network, QNetwork)
        self._flat = FlatParams(self.q_network) if ours else None
        self._flat_target = FlatParams(self.target_network, grads=False) if ours else None
        self.optimizer = make_optimizer(
            cfg.optimizer,
            [self._flat.leaf]
            if self._flat is not None and isinstance(cfg.optimizer, str)
            else self.q_network.parameters(),
            cfg.learning_rate,
        )
        self.loss_fn: Callable[..., torch.Tensor] = (
            cfg.loss if callable(cfg.loss) else {"huber": huber_loss, "mse": mse_loss}[cfg.loss]
        )
        # The default MLP on the CPU acts and computes its loss gradient in NumPy, on the same
        # memory (fastpath.py): eager PyTorch's per-op overhead is several times the arithmetic
        # of such a small network. Anything else uses torch and autograd (chosen here, once).
        self._fast = numpy_dqn(
            self.q_network,
            self.target_network,
            flat=self._flat is not None,
            loss=cfg.loss,
            double=cfg.double,
            weighted=cfg.prioritized,
        )
        self.exploration = from_options(cfg)

        # Replay: each frame stored once; windows and n-step returns rebuilt when sampling.
        self.buffer = ReplayBuffer(
            cfg.buffer_size,
            self._frame_space,
            num_envs=cfg.num_envs,
            window=cfg.window,
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
        self._loss_sum: torch.Tensor | float = 0.0  # a tensor on the autograd path (no syncs)
        self._q_sum: torch.Tensor | float = 0.0
        self._updates_since_log = 0

    # ---- acting ------------------------------------------------------------------------------
    def _q_values(self, obs: np.ndarray) -> np.ndarray:
        if self._fast is not None:
            return self._fast.q_values(obs)
        with torch.inference_mode():
            return self.q_network(torch.as_tensor(obs, device=self.device)).float().cpu().numpy()

    def _greedy(self, window: np.ndarray) -> np.ndarray:
        return self._q_values(window).argmax(axis=1)

    def _explore(self, window: np.ndarray) -> np.ndarray:
        cfg = self.config
        if self.num_steps < cfg.warmup_steps:
            # uniformly at random during warm-up, like SB3's learning_starts (floor(uniform * n):
            # rng.integers costs several times more per call)
            return (self.rng.random(cfg.num_envs) * self.action_space.n).astype(np.int64)
        return self.exploration.select(self._q_values(window), self.num_steps, self.rng)

    # ---- learning ----------------------------------------------------------------------------
    def _learn(self, step: Step) -> None:
        cfg = self.config
        # store (a NEXT_STEP reset step is not a transition: the mask leaves it out)
        self.buffer.add(
            step.obs,
            step.actions,
            step.rewards,
            step.next_obs,
            step.terminated,
            step.truncated,
            mask=step.valid,
        )
        # train: every train_every env steps over all envs
        if (
            self.num_steps >= cfg.warmup_steps
            and len(self.buffer) >= cfg.batch_size
            and self.counters.iteration % self._calls_every == 0
        ):
            for _ in range(self._updates_per_call):
                self._train_step()
        self._sync_target_when_due()  # a hard copy every target_update env steps

    def _train_step(self) -> None:
        cfg = self.config
        beta = self._beta()
        td_error: np.ndarray | torch.Tensor
        fast_loss = self._fast.loss if self._fast is not None else None
        if fast_loss is not None:  # the same loss and gradient, by hand (fastpath.py)
            assert self._flat is not None
            self._flat.attach_grads()
            arrays = self.buffer.sample_arrays(cfg.batch_size, beta=beta)
            loss_value, q_mean, td_error = fast_loss(arrays)
            if not math.isfinite(loss_value):  # (a float: free to check every update)
                raise self._diverged("the TD loss")
            indices = arrays.indices
            self._loss_sum += loss_value
            self._q_sum += q_mean
        else:
            batch: Batch = self.buffer.sample(cfg.batch_size, beta=beta)
            q = self.q_network(batch.obs).gather(1, batch.actions.unsqueeze(1)).squeeze(1)
            with torch.no_grad():
                next_q_target = self.target_network(batch.next_obs)
                if cfg.double:  # Double DQN: online net picks, target net rates
                    next_actions = self.q_network(batch.next_obs).argmax(dim=1, keepdim=True)
                    next_q = next_q_target.gather(1, next_actions).squeeze(1)
                else:
                    next_q = next_q_target.max(dim=1).values
                td_target = batch.rewards + batch.discounts * (1.0 - batch.dones) * next_q
            loss = self.loss_fn(q, td_target, batch.weights)
            if self._flat is not None:
                self._flat.zero_grad()
            else:
                self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            td_error, indices = (q.detach() - td_target).abs(), batch.indices
            self._loss_sum = self._loss_sum + loss.detach()
            self._q_sum = self._q_sum + q.detach().mean()
        if cfg.max_grad_norm is not None:
            if self._flat is not None:
                self._flat.clip_grad_norm_(cfg.max_grad_norm)
            else:
                torch.nn.utils.clip_grad_norm_(
                    self.q_network.parameters(), cfg.max_grad_norm, foreach=True
                )
        self.optimizer.step()
        if cfg.prioritized:
            self.buffer.update_priorities(indices, td_error)
        if cfg.target_update < 1:  # soft update, keras-rl's meaning of a float
            self._update_target(float(cfg.target_update))
        self.counters.num_updates += 1
        self._updates_since_log += 1

    def _update_target(self, tau: float) -> None:
        """``target += tau * (online - target)``: a copy when ``tau`` is 1 (observation
        statistics included)."""
        if self._target_norm is not None and self._obs_norm is not None:
            self._target_norm.follow(self._obs_norm, tau)
        if self._flat is not None and self._flat_target is not None:
            self._flat_target.follow(self._flat, tau)
        else:  # a user's nn.Module
            soft_update(self.target_network, self.q_network, tau)

    # ---- saving: the rest is QAgent's ------------------------------------------------------
    def _load_replay(self, arrays: dict[str, np.ndarray], file: Path) -> None:
        checkpoint.load_replay(self.buffer, arrays, int(self.action_space.n), file)
