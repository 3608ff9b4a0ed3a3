"""DQN and its family: Double, Dueling, prioritized replay and n-step returns are options.

Reads top to bottom like CleanRL's dqn.py: the config, then the agent (networks, replay,
exploration, optimizer), then one flat loop: act -> step -> store -> train -> update target.
The pieces (replay, nets, exploration, optim) are unit-tested modules of their own.

    agent = renshu.DQN("catch", seed=0, double=True, target_update=1e-2)
    agent.fit(steps=30_000)
    agent.test(episodes=10).history["episode_reward"]
"""

from __future__ import annotations

import copy
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv

from renshu import checkpoint
from renshu.callbacks import Callback, CallbackList, History, ProgressBar
from renshu.config import build, check, is_custom, to_plain
from renshu.errors import ConfigError
from renshu.exploration import Boltzmann, EpsilonGreedy, Exploration, Greedy, make_exploration
from renshu.fastpath import (
    FlatParams,
    NumpyDQNLoss,
    NumpyMLP,
    SingleEnv,
    limit_threads,
    numpy_mlp_supported,
)
from renshu.inputs import EncodedVectorEnv, ObsEncoder, needs_encoder
from renshu.make import make, make_vec
from renshu.nets import QNetwork, RunningNorm, build_q_network, summary
from renshu.optim import make_optimizer
from renshu.replay import Batch, FrameStack, ReplayBuffer

LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class DQNConfig:
    """Every option of :class:`DQN`; pass them as keywords: ``DQN(env, double=True)``."""

    learning_rate: float = 1e-3
    """Optimizer step size, > 0."""
    gamma: float = 0.99
    """Discount factor in [0, 1]."""
    buffer_size: int = 50_000
    """Replay capacity in transitions (all envs together), >= batch_size."""
    batch_size: int = 32
    """Transitions per gradient step, >= 1."""
    warmup_steps: int = 1_000
    """Env steps of uniformly random actions before the first gradient step, >= 0
    (keras-rl's nb_steps_warmup)."""
    train_every: int = 1
    """Env steps between training calls, >= 1 (counted over all envs)."""
    gradient_steps: int = 1
    """Gradient steps per training call, >= 1."""
    target_update: float = 1_000
    """int >= 1: copy the online network to the target every N env steps; float in (0, 1):
    soft update ``target += tau * (online - target)`` after every gradient step (keras-rl)."""
    double: bool = False
    """Double DQN: the online network picks the next action, the target network rates it."""
    dueling: bool = False
    """Dueling head: Q = V + A - mean(A)."""
    prioritized: bool = False
    """Prioritized experience replay (proportional, sum tree)."""
    per_alpha: float = 0.6
    """How much prioritization is used, in [0, 1] (0 = uniform)."""
    per_beta: float = 0.4
    """Initial importance-sampling exponent in [0, 1], annealed linearly to 1 by the end of fit."""
    n_step: int = 1
    """Steps summed into each return before bootstrapping, >= 1."""
    loss: Any = "huber"
    """"huber" (the DQN paper's error clipping), "mse", or a callable
    ``loss(q, target, weights) -> tensor``."""
    policy: Any = "eps_greedy"
    """Exploration: "eps_greedy" (linear anneal), "boltzmann", "greedy", or an object with
    ``select(q_values, step, rng)`` and ``value(step)``."""
    eps_start: float = 1.0
    """Initial epsilon of eps_greedy, in [0, 1]."""
    eps_end: float = 0.05
    """Final epsilon of eps_greedy, in [0, 1]."""
    eps_anneal_steps: int = 10_000
    """Env steps over which epsilon falls linearly from eps_start to eps_end, >= 1."""
    tau: float = 1.0
    """Temperature of boltzmann exploration, > 0."""
    optimizer: Any = "adam"
    """"adam", "rmsprop", "rmsprop_graves", or a factory ``params -> torch.optim.Optimizer``."""
    max_grad_norm: float | None = 10.0
    """Clip the gradient norm to this (None: no clipping)."""
    window: int = 1
    """Frames per observation: the last W frames, stacked by the agent (replay stores each once)."""
    num_envs: int = 1
    """Environments stepped together (a vector env), >= 1."""
    net: Any = "auto"
    """"auto" (CNN for images, else MLP 64x64), "mlp", "cnn", hidden sizes like [24, 24], or an
    ``nn.Module`` mapping a batch of observations to Q-values."""
    device: str = "auto"
    """"auto" (CUDA when available), "cpu", "cuda", "cuda:1", ..."""
    threads: int | None = 1
    """CPU threads for torch and NumPy's BLAS while fit/test run (restored afterwards), >= 1, or
    None to leave them alone. One is fastest for the small networks of DQN: more threads wait
    for each other at this size, which made training 8x-40x slower on a busy 2-core laptop
    (BENCHMARKS.md). Raise it for a large CNN on an idle many-core machine."""
    seed: int | None = None
    """Seeds networks, replay sampling, exploration and envs; None draws one at random."""
    normalize_obs: bool = True
    """Normalize non-uint8 observations by their running mean and standard deviation (kept in
    the network, updated while fit() runs, frozen in test and act); uint8 frames are divided by
    255 either way."""

    def __post_init__(self) -> None:
        check("learning_rate", self.learning_rate > 0, "> 0", self.learning_rate)
        check("gamma", 0 <= self.gamma <= 1, "in [0, 1]", self.gamma)
        check(
            "batch_size",
            _is_int(self.batch_size) and self.batch_size >= 1,
            "an int >= 1",
            self.batch_size,
        )
        check(
            "buffer_size",
            _is_int(self.buffer_size) and self.buffer_size >= self.batch_size,
            f"an int >= batch_size ({self.batch_size})",
            self.buffer_size,
        )
        for name in ("warmup_steps",):
            check(
                name,
                _is_int(getattr(self, name)) and getattr(self, name) >= 0,
                "an int >= 0",
                getattr(self, name),
            )
        for name in (
            "train_every",
            "gradient_steps",
            "n_step",
            "window",
            "num_envs",
            "eps_anneal_steps",
        ):
            check(
                name,
                _is_int(getattr(self, name)) and getattr(self, name) >= 1,
                "an int >= 1",
                getattr(self, name),
            )
        tu = self.target_update
        check(
            "target_update",
            not isinstance(tu, bool)
            and (
                (_is_int(tu) and tu >= 1)
                or (isinstance(tu, float) and (0 < tu < 1 or (tu >= 1 and tu.is_integer())))
            ),
            "an int >= 1 (hard copy every N steps) or a float in (0, 1) (soft update rate)",
            tu,
        )
        for name in ("per_alpha", "per_beta", "eps_start", "eps_end"):
            check(name, 0 <= getattr(self, name) <= 1, "in [0, 1]", getattr(self, name))
        check("tau", self.tau > 0, "> 0", self.tau)
        check(
            "max_grad_norm",
            self.max_grad_norm is None or self.max_grad_norm > 0,
            "> 0 or None",
            self.max_grad_norm,
        )
        check(
            "loss",
            self.loss in ("huber", "mse") or callable(self.loss),
            '"huber", "mse" or a callable',
            self.loss,
        )
        check(
            "threads",
            self.threads is None or (_is_int(self.threads) and self.threads >= 1),
            "an int >= 1 or None",
            self.threads,
        )
        check(
            "device",
            isinstance(self.device, str),
            'a device name such as "auto", "cpu" or "cuda"',
            self.device,
        )
        check(
            "normalize_obs",
            isinstance(self.normalize_obs, bool),
            "True or False",
            self.normalize_obs,
        )


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def huber_loss(q: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Huber loss (delta 1): the DQN paper's clipping of the TD error to [-1, 1]."""
    return (F.smooth_l1_loss(q, target, reduction="none") * weights).mean()


def mse_loss(q: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Squared TD error."""
    return (F.mse_loss(q, target, reduction="none") * weights).mean()


def segment_seed(seed: int | None, step: int) -> int | None:
    """The env seed for a training segment starting at ``step`` (``seed`` itself at step 0)."""
    if seed is None or step == 0:
        return seed
    return int(np.random.SeedSequence([seed, step]).generate_state(1)[0] & 0x7FFFFFFF)


class DQN:
    """Deep Q-Network agent for a Discrete action space. See :class:`DQNConfig` for options."""

    algo = "dqn"

    def __init__(self, env: Any, *, config: DQNConfig | None = None, **options: Any) -> None:
        saved_spaces = options.pop("_spaces", (None, None))
        self.config = cfg = build(DQNConfig, options, base=config)
        if cfg.seed is None:
            cfg.seed = int(np.random.SeedSequence().generate_state(1)[0] & 0x7FFFFFFF)
        self.env_spec: str | None = env if isinstance(env, str) else None
        self.env: VectorEnv | None = None
        self._train_env_instance: gymnasium.Env | None = None
        if env is not None:
            self.env = self._vectorize(env)
            obs_space, act_space = self.env.single_observation_space, self.env.single_action_space
        else:  # rebuilt from a checkpoint without an env: act() works, fit() needs set_env()
            obs_space, act_space = saved_spaces
        self.observation_space, self.action_space = self._check_spaces(obs_space, act_space)
        # Discrete, Dict and Tuple observations travel as one flat vector (renshu.inputs).
        self._encoder = ObsEncoder(obs_space) if needs_encoder(obs_space) else None
        self._frame_space: spaces.Box = (
            self._encoder.space if self._encoder else self.observation_space
        )
        if self._encoder is not None and self.env is not None:
            self.env = EncodedVectorEnv(self.env, self._encoder)
        frame_shape = self._frame_space.shape
        self.obs_shape = (cfg.window, *frame_shape) if cfg.window > 1 else frame_shape
        self.device = torch.device(
            ("cuda" if torch.cuda.is_available() else "cpu") if cfg.device == "auto" else cfg.device
        )
        seeds = np.random.SeedSequence(cfg.seed).spawn(3)

        # Networks: the online Q-network and its target copy (never trained directly).
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seeds[0].generate_state(1)[0]))
            self.q_network = build_q_network(
                self.obs_shape,
                self._frame_space.dtype,
                int(self.action_space.n),
                net=cfg.net,
                dueling=cfg.dueling,
                normalize=frame_shape if cfg.normalize_obs else False,
                inputs=self._encoder.parts if self._encoder else None,
                obs_bounds=(self._frame_space.low, self._frame_space.high),
            ).to(self.device)
        self.target_network = copy.deepcopy(self.q_network).requires_grad_(False)
        # Running observation statistics (nets.RunningNorm), updated in fit() from what the agent
        # sees. The target network keeps its own copy, taken whenever its weights are: it is a
        # snapshot of the online Q-function, input normalization included.
        self._obs_norm: RunningNorm | None = getattr(
            getattr(self.q_network, "preprocess", None), "norm", None
        )
        self._target_norm: RunningNorm | None = getattr(
            getattr(self.target_network, "preprocess", None), "norm", None
        )
        # renshu's networks keep their parameters in one flat tensor (fastpath.FlatParams): a
        # named optimizer sees one tensor; gradient clipping and the target sync are one op each.
        self._flat: FlatParams | None = None
        self._flat_target: FlatParams | None = None
        if isinstance(self.q_network, QNetwork):
            self._flat = FlatParams(self.q_network)
            self._flat_target = FlatParams(self.target_network, grads=False)
        self.optimizer = make_optimizer(
            cfg.optimizer,
            [self._flat.leaf]
            if self._flat is not None and isinstance(cfg.optimizer, str)
            else self.q_network.parameters(),
            cfg.learning_rate,
        )
        self.loss_fn: LossFn = {"huber": huber_loss, "mse": mse_loss}.get(cfg.loss, cfg.loss)
        # The default MLP on the CPU acts and computes its loss gradient in NumPy, on the same
        # memory (fastpath.py): eager PyTorch's per-op overhead is several times the arithmetic
        # of such a small network. Anything else uses torch and autograd.
        self._numpy_q: NumpyMLP | None = None
        self._numpy_loss: NumpyDQNLoss | None = None
        if self._flat is not None and numpy_mlp_supported(self.q_network):
            self._numpy_q = NumpyMLP(self.q_network)
            if cfg.loss in ("huber", "mse"):
                self._numpy_loss = NumpyDQNLoss(
                    self._numpy_q,
                    NumpyMLP(self.target_network),
                    loss=cfg.loss,
                    double=cfg.double,
                    weighted=cfg.prioritized,
                )
        self.exploration = self._make_exploration()
        self.rng = np.random.default_rng(seeds[1])

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
            seed=int(seeds[2].generate_state(1)[0]),
        )

        # Counters (saved in checkpoints, so training resumes exactly).
        self.num_steps = 0
        self.num_episodes = 0
        self.num_updates = 0
        self._iteration = 0
        self._beta_end_step = 1
        self._next_target_sync = int(cfg.target_update) if cfg.target_update >= 1 else 0
        self.stop_training = False
        self._callbacks = CallbackList()
        self._frames: np.ndarray | None = None  # None: no episode open in the env
        self._valid = np.ones(cfg.num_envs, dtype=bool)  # False: this env's next step is a reset
        self._loss_sum: torch.Tensor | float = 0.0  # a tensor on the autograd path (no syncs)
        self._q_sum: torch.Tensor | float = 0.0
        self._updates_since_log = 0

    # ----------------------------------------------------------------------------- setup
    def _vectorize(self, env: Any) -> VectorEnv:
        cfg = self.config
        if isinstance(env, VectorEnv):
            if cfg.num_envs not in (1, env.num_envs):
                raise ConfigError(
                    f"num_envs={cfg.num_envs} but the vector env given has {env.num_envs} envs; "
                    "leave num_envs out or make them agree."
                )
            cfg.num_envs = env.num_envs
            return env
        if cfg.num_envs > 1:
            if not isinstance(env, str) and not callable(env):
                raise ConfigError(
                    f"num_envs={cfg.num_envs} needs an env that can be built several times: a "
                    "name, a Gymnasium id, 'file.py:Class' or 'module:Class', not an instance."
                )
            return make_vec(env, cfg.num_envs)
        single = make(env)
        self._train_env_instance = single
        # SAME_STEP: the final observation arrives with the step that ends an episode.
        return SingleEnv(single)

    def _check_spaces(self, obs_space: Any, act_space: Any) -> tuple[Any, spaces.Discrete]:
        if not isinstance(act_space, spaces.Discrete):
            raise ConfigError(
                f"DQN needs a Discrete action space, got {act_space}. Use a discretizing wrapper "
                "or an algorithm for continuous actions."
            )
        if not isinstance(obs_space, spaces.Box):
            ObsEncoder(obs_space)  # raises ConfigError naming a leaf DQN cannot read
            if self.config.window > 1:
                raise ConfigError(
                    f"window={self.config.window} stacks frames of a Box observation; the "
                    f"observation space is {obs_space}. Leave window at 1, or put the history "
                    "into the observation (e.g. a Box key holding the last frames)."
                )
        return obs_space, act_space

    def _make_exploration(self) -> Exploration:
        cfg = self.config
        if cfg.policy == "eps_greedy":
            return EpsilonGreedy(cfg.eps_start, cfg.eps_end, cfg.eps_anneal_steps)
        if cfg.policy == "boltzmann":
            return Boltzmann(tau=cfg.tau)
        if cfg.policy == "greedy":
            return Greedy()
        return make_exploration(cfg.policy)

    def summary(self) -> str:
        """Print and return the Q-network's layer table (output shapes, parameter counts)."""
        dtype = torch.uint8 if self._frame_space.dtype == np.uint8 else torch.float32
        text = summary(self.q_network, (1, *self.obs_shape), dtype)
        print(text)
        return text

    # ----------------------------------------------------------------------------- acting
    def act(self, obs: Any) -> Any:
        """Greedy action for one observation (returns an int) or a batch (returns an array).

        With ``window > 1`` an observation is the last ``window`` frames stacked on axis 0. A
        Discrete, Dict or Tuple observation is given as the env returns it (a batch: a list).
        """
        if self._encoder is not None:
            if isinstance(obs, list):
                return self._q_values(np.stack([self._encoder.encode(o) for o in obs])).argmax(1)
            return int(self._q_values(self._encoder.encode(obs)[None]).argmax(axis=1)[0])
        arr = np.asarray(obs, dtype=self.observation_space.dtype)
        single = arr.shape == tuple(self.obs_shape)
        if not single and arr.shape[1:] != tuple(self.obs_shape):
            raise ConfigError(
                f"act() expects an observation of shape {tuple(self.obs_shape)} or a batch "
                f"(B, {', '.join(map(str, self.obs_shape))}), got shape {arr.shape}."
                + (
                    " With window > 1, pass the last frames stacked on axis 0."
                    if self.config.window > 1
                    else ""
                )
            )
        actions = self._q_values(arr[None] if single else arr).argmax(axis=1)
        return int(actions[0]) if single else actions

    def _q_values(self, obs: np.ndarray) -> np.ndarray:
        if self._numpy_q is not None:
            return self._numpy_q(obs)
        with torch.inference_mode():
            return self.q_network(torch.as_tensor(obs, device=self.device)).float().cpu().numpy()

    # ----------------------------------------------------------------------------- training
    def fit(
        self,
        steps: int,
        *,
        callbacks: Sequence[Callback] = (),
        progress: bool | None = None,
        log_every: int = 1_000,
    ) -> History:
        """Train for ``steps`` env steps (over all envs); returns the History of episodes.

        Ctrl+C or SIGTERM finishes the current step and stops cleanly (callbacks run their
        ``on_train_end``; ``history.interrupted`` names the signal).
        """
        check("steps", _is_int(steps) and steps >= 1, "an int >= 1", steps)
        if self.env is None:
            raise ConfigError(
                "This agent has no environment (it was loaded without one). "
                "Pass env= to renshu.load(), or call agent.set_env(env)."
            )
        cfg, env = self.config, self.env
        history = History()
        extra = (
            [ProgressBar(steps)]
            if (progress if progress is not None else ProgressBar.wanted())
            else []
        )
        cbs = self._callbacks = CallbackList([history, *callbacks, *extra])
        cbs.set_agent(self)
        self.stop_training = False
        end_step = self.num_steps + steps
        self._beta_end_step = max(end_step, 1)
        same_step = env.metadata.get("autoreset_mode") == AutoresetMode.SAME_STEP
        calls_every = max(cfg.train_every // cfg.num_envs, 1)
        updates_per_call = cfg.gradient_steps * max(cfg.num_envs // cfg.train_every, 1)
        log_at = self.num_steps + log_every
        n_actions = int(self.action_space.n)
        started, steps_at_start = time.perf_counter(), self.num_steps

        cbs.on_train_begin({"steps": steps})
        with self._signals() as interrupted, limit_threads(cfg.threads):
            window = self._begin_segment()
            while self.num_steps < end_step and not self.stop_training and not interrupted:
                if self._frames is None:  # an eval on the training env or a checkpoint cut
                    window = self._begin_segment()
                # 1. act (uniformly at random during warm-up, like SB3's learning_starts; the
                # floor of uniform * n, as rng.integers costs several times more per call)
                if self.num_steps < cfg.warmup_steps:
                    actions = (self.rng.random(cfg.num_envs) * n_actions).astype(np.int64)
                else:
                    actions = self.exploration.select(
                        self._q_values(window), self.num_steps, self.rng
                    )
                if cbs.wants_steps:
                    self._step_begin_logs(cbs, self._valid)
                # 2. step (handle the final observation: it is not the next obs after a reset)
                next_obs, rewards, terminated, truncated, info = env.step(actions)
                done = terminated | truncated
                any_done = np.count_nonzero(done) > 0  # (count_nonzero: the cheapest reduction)
                final_obs = next_obs
                if same_step and any_done:
                    final_obs = next_obs.copy()
                    for e in np.flatnonzero(done):
                        final_obs[e] = info["final_obs"][e]
                valid = self._valid  # NEXT_STEP: the step after an end is a reset, not a transition
                n_valid = int(np.count_nonzero(valid))
                # 3. store
                assert self._frames is not None
                self.buffer.add(
                    self._frames,
                    actions,
                    rewards,
                    final_obs,
                    terminated,
                    truncated,
                    mask=None if n_valid == cfg.num_envs else valid,
                )
                if cbs.wants_steps:
                    self._step_end_logs(
                        cbs, valid, final_obs, actions, rewards, terminated, truncated, info
                    )
                self._track_episodes(cbs, valid, n_valid, rewards, done if any_done else None)
                self.num_steps += n_valid
                # 4. next observation: a reset observation starts a fresh frame window
                self._frames = next_obs
                if self._obs_norm is not None:  # running statistics of what the agent sees
                    self._obs_norm.update(next_obs)
                if same_step:  # every env goes on; the ones that ended were reset
                    restarted = done if any_done else None
                else:
                    restarted = ~valid if n_valid < cfg.num_envs else None
                    self._valid = ~(done & valid)
                if cfg.window == 1:  # the window is the frame itself
                    window = next_obs
                else:
                    window = self.frame_stack.push(next_obs)
                    if restarted is not None:
                        window = self.frame_stack.reset(next_obs, mask=restarted)
                # 5. train
                self._iteration += 1
                if (
                    self.num_steps >= cfg.warmup_steps
                    and len(self.buffer) >= cfg.batch_size
                    and self._iteration % calls_every == 0
                ):
                    for _ in range(updates_per_call):
                        self._train_step()
                # 6. target network
                if cfg.target_update >= 1 and self.num_steps >= self._next_target_sync:
                    self._update_target(1.0)
                    while self._next_target_sync <= self.num_steps:
                        self._next_target_sync += int(cfg.target_update)
                cbs.on_tick(self.num_steps)
                if self.num_steps >= log_at:
                    log_at += log_every
                    elapsed = time.perf_counter() - started
                    self._log(history, (self.num_steps - steps_at_start) / max(elapsed, 1e-9))
        cbs.on_train_end({"interrupted": interrupted.name if interrupted else None})
        self._callbacks = CallbackList()
        return history

    def _begin_segment(self) -> np.ndarray:
        """Close open episodes (as time-limit cuts) and reset the envs with the segment seed."""
        assert self.env is not None
        self._close_episodes()
        obs, _ = self.env.reset(seed=segment_seed(self.config.seed, self.num_steps))
        self.frame_stack = FrameStack(self.config.num_envs, self.config.window, self._frame_space)
        self._frames = obs
        if self._obs_norm is not None:
            self._obs_norm.update(obs)
        self._valid = np.ones(self.config.num_envs, dtype=bool)
        self._episode_reward = np.zeros(self.config.num_envs)
        self._episode_length = np.zeros(self.config.num_envs, dtype=np.int64)
        self._episode_id = np.arange(self.num_episodes, self.num_episodes + self.config.num_envs)
        self.num_episodes += self.config.num_envs
        for e in range(self.config.num_envs):
            self._callbacks.on_episode_begin(int(self._episode_id[e]), {"env": e})
        return self.frame_stack.reset(obs)

    def _close_episodes(self) -> None:
        """Mark every open episode as truncated here (its current frame is its last)."""
        if self._frames is not None:
            self.buffer.end_episodes(self._frames, mask=self._valid)
            self._frames = None

    def _track_episodes(
        self,
        cbs: CallbackList,
        valid: np.ndarray,
        n_valid: int,
        rewards: np.ndarray,
        done: np.ndarray | None,
    ) -> None:
        if n_valid == len(valid):
            self._episode_reward += rewards
            self._episode_length += 1
        else:
            self._episode_reward[valid] += rewards[valid]
            self._episode_length[valid] += 1
        if done is None:  # no episode ended
            return
        for e in np.flatnonzero(done & valid):
            logs = {
                "episode_reward": float(self._episode_reward[e]),
                "nb_episode_steps": int(self._episode_length[e]),
                "nb_steps": self.num_steps + int(valid[: e + 1].sum()),
                "env": int(e),
            }
            cbs.on_episode_end(int(self._episode_id[e]), logs)
            self._episode_reward[e], self._episode_length[e] = 0.0, 0
            self._episode_id[e] = self.num_episodes
            self.num_episodes += 1
            cbs.on_episode_begin(int(self._episode_id[e]), {"env": int(e)})

    def _step_begin_logs(self, cbs: CallbackList, valid: np.ndarray) -> None:
        for e in np.flatnonzero(valid):
            cbs.on_step_begin(self.num_steps, {"episode": int(self._episode_id[e]), "env": int(e)})

    def _step_end_logs(
        self,
        cbs: CallbackList,
        valid: np.ndarray,
        obs: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
        info: dict[str, Any],
    ) -> None:
        for i, e in enumerate(np.flatnonzero(valid)):
            logs = {
                "episode": int(self._episode_id[e]),
                "observation": obs[e],
                "action": int(actions[e]),
                "reward": float(rewards[e]),
                "terminated": bool(terminated[e]),
                "truncated": bool(truncated[e]),
                "env": int(e),
                "info": _env_info(info, int(e)),
            }
            cbs.on_step_end(self.num_steps + i, logs)

    def _train_step(self) -> None:
        cfg = self.config
        beta = cfg.per_beta + (1.0 - cfg.per_beta) * min(1.0, self.num_steps / self._beta_end_step)
        td_error: np.ndarray | torch.Tensor
        if self._numpy_loss is not None:  # the same loss and gradient, by hand (fastpath.py)
            assert self._flat is not None
            self._flat.attach_grads()
            arrays = self.buffer.sample_arrays(cfg.batch_size, beta=beta)
            loss_value, q_mean, td_error = self._numpy_loss(arrays)
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
        self.num_updates += 1
        self._updates_since_log += 1

    def _update_target(self, tau: float) -> None:
        """``target += tau * (online - target)``: a copy when ``tau`` is 1 (observation
        statistics included)."""
        if self._target_norm is not None and self._obs_norm is not None:
            self._target_norm.follow(self._obs_norm, tau)
        if self._flat is not None and self._flat_target is not None:
            if tau == 1.0:
                self._flat_target.copy_(self._flat)
            else:
                self._flat_target.lerp_(self._flat, tau)
        elif tau == 1.0:
            self.target_network.load_state_dict(self.q_network.state_dict())
        else:
            with torch.no_grad():
                torch._foreach_lerp_(
                    list(self.target_network.parameters()), list(self.q_network.parameters()), tau
                )

    def _log(self, history: History, sps: float) -> None:
        metrics = {
            "charts/SPS": sps,
            "charts/epsilon": float(self.exploration.value(self.num_steps)),
        }
        if self._updates_since_log:
            metrics["losses/td_loss"] = float(self._loss_sum) / self._updates_since_log
            metrics["losses/q_values"] = float(self._q_sum) / self._updates_since_log
            self._loss_sum = self._q_sum = 0.0
            self._updates_since_log = 0
        recent = history.history.get("episode_reward", [])[-20:]
        if recent:
            metrics["charts/episode_reward"] = float(np.mean(recent))
        self.log_metrics(self.num_steps, metrics)

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        """Send metrics to the callbacks of the running ``fit`` (e.g. TensorBoard, CSV)."""
        self._callbacks.on_log(step, metrics)

    @contextmanager
    def _signals(self) -> Iterator[Any]:
        """Turn SIGINT/SIGTERM into a flag the loop checks; a second SIGINT aborts at once."""
        flag = _Interrupt()
        import threading

        if threading.current_thread() is not threading.main_thread():
            yield flag
            return

        def handler(signum: int, frame: Any) -> None:
            if flag and signum == signal.SIGINT:
                raise KeyboardInterrupt
            flag.name = signal.Signals(signum).name

        previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield flag
        finally:
            for s, h in previous.items():
                signal.signal(s, h)

    # ----------------------------------------------------------------------------- testing
    def test(
        self,
        episodes: int = 10,
        *,
        env: Any = None,
        callbacks: Sequence[Callback] = (),
        render: bool = False,
        seed: int | None = None,
        epsilon: float = 0.0,
        progress: bool | None = None,
    ) -> History:
        """Play ``episodes`` episodes greedily (or eps-greedy with ``epsilon``); returns History.

        ``env`` defaults to a fresh copy of the training env (or the training env itself when
        it was given as an instance). With ``render``, ``env.render()`` is called every step and
        a returned frame is passed to callbacks as ``logs["frame"]``.
        """
        check("episodes", _is_int(episodes) and episodes >= 1, "an int >= 1", episodes)
        test_env = make(env) if env is not None else self._eval_env()
        history = History()
        cbs = CallbackList([history, *callbacks])
        cbs.set_agent(self)
        rng = np.random.default_rng(seed)
        stack = FrameStack(1, self.config.window, self._frame_space)
        encode = self._encoder.encode if self._encoder else np.asarray
        cbs.on_train_begin({"episodes": episodes})
        with limit_threads(self.config.threads):
            step = 0
            first_seed = seed if seed is not None else segment_seed(self.config.seed, 10**9)
            for episode in range(episodes):
                obs, _ = test_env.reset(seed=first_seed if episode == 0 else None)
                window = stack.reset(encode(obs)[None])
                cbs.on_episode_begin(episode, {})
                total, length, done = 0.0, 0, False
                while not done:
                    q = self._q_values(window)
                    action = (
                        int(q.argmax(axis=1)[0])
                        if rng.random() >= epsilon
                        else int(rng.integers(q.shape[1]))
                    )
                    cbs.on_step_begin(step, {"episode": episode})
                    obs, reward, terminated, truncated, info = test_env.step(action)
                    done = bool(terminated or truncated)
                    total, length = total + float(reward), length + 1
                    logs = {
                        "episode": episode,
                        "observation": obs,
                        "action": action,
                        "reward": float(reward),
                        "terminated": bool(terminated),
                        "truncated": bool(truncated),
                        "info": info,
                        "env": 0,
                    }
                    if render:
                        frame = test_env.render()
                        if frame is not None:
                            logs["frame"] = frame
                    cbs.on_step_end(step, logs)
                    window = stack.push(encode(obs)[None])
                    step += 1
                cbs.on_episode_end(
                    episode, {"episode_reward": total, "nb_episode_steps": length, "nb_steps": step}
                )
        cbs.on_train_end({"interrupted": None})
        return history

    def _eval_env(self) -> gymnasium.Env:
        if self.env_spec is not None:
            if not hasattr(self, "_cached_eval_env"):
                self._cached_eval_env = make(self.env_spec)
            return self._cached_eval_env
        if self._train_env_instance is not None:
            self._close_episodes()  # testing resets the training env: the next fit step restarts
            return self._train_env_instance
        spec = getattr(self.env, "spec", None)
        if spec is not None:
            if not hasattr(self, "_cached_eval_env"):
                self._cached_eval_env = gymnasium.make(spec.id, **(spec.kwargs or {}))
            return self._cached_eval_env
        raise ConfigError("This agent cannot build an env to test on; pass env= to test().")

    def set_env(self, env: Any) -> None:
        """Attach an environment (spaces must match the agent's) for further fit/test."""
        vec = self._vectorize(env)
        if (
            vec.single_observation_space.shape != self.observation_space.shape
            or (
                self._encoder is not None and vec.single_observation_space != self.observation_space
            )
            or vec.single_action_space != self.action_space
        ):
            raise ConfigError(
                f"The env's spaces {vec.single_observation_space}, {vec.single_action_space} "
                f"do not match the agent's {self.observation_space}, {self.action_space}."
            )
        if self._encoder is not None:
            vec = EncodedVectorEnv(vec, self._encoder)
        self.env, self.env_spec, self._frames = vec, (env if isinstance(env, str) else None), None

    # ----------------------------------------------------------------------------- saving
    def save(self, path: str | Path, *, replay: bool = False) -> Path:
        """Save to a directory (safetensors + JSON, atomic). ``replay=True`` adds the buffer."""
        cfg = self.config
        config = {
            "algo": self.algo,
            "config": to_plain(cfg),
            "custom": [
                name
                for name in ("loss", "policy", "optimizer", "net")
                if is_custom(getattr(cfg, name))
            ],
            "observation_space": checkpoint.space_to_json(self.observation_space),
            "action_space": checkpoint.space_to_json(self.action_space),
            "env": self.env_spec,
        }
        opt = self.optimizer.state_dict()
        opt_tensors = {
            f"{i}.{k}": v
            for i, s in opt["state"].items()
            for k, v in s.items()
            if isinstance(v, torch.Tensor)
        }
        state = {
            "num_steps": self.num_steps,
            "num_episodes": self.num_episodes,
            "num_updates": self.num_updates,
            "iteration": self._iteration,
            "next_target_sync": self._next_target_sync,
            "beta_end_step": self._beta_end_step,
            "rng": self.rng.bit_generator.state,
            "optimizer": {
                "param_groups": opt["param_groups"],
                "scalars": {
                    f"{i}.{k}": v
                    for i, s in opt["state"].items()
                    for k, v in s.items()
                    if not isinstance(v, torch.Tensor)
                },
            },
        }
        weights = {f"q.{k}": v for k, v in self.q_network.state_dict().items()}
        weights.update({f"target.{k}": v for k, v in self.target_network.state_dict().items()})
        return checkpoint.save(
            path,
            config=config,
            state=state,
            tensors={"weights": weights, "optimizer": opt_tensors},
            replay=self.buffer.state_dict() if replay else None,
        )

    def save_checkpoint(self, directory: str | Path, *, replay: bool = True) -> Path:
        """Save ``directory/<num_steps>/`` mid-training; envs restart after it, so a resumed run
        continues exactly as this one does."""
        self._close_episodes()
        return self.save(Path(directory) / str(self.num_steps), replay=replay)

    @classmethod
    def from_checkpoint(cls, ckpt: checkpoint.Checkpoint, env: Any = None, **overrides: Any) -> DQN:
        """Rebuild an agent from :func:`renshu.checkpoint.read` output (use ``renshu.load``)."""
        saved = dict(ckpt.config["config"])
        for name in ckpt.config.get("custom", []):
            if name not in overrides:
                if name == "net":
                    raise checkpoint.CheckpointError(
                        f"{str(ckpt.path)!r} was saved with a custom network module; pass "
                        "net=<the same architecture> to renshu.load to rebuild it."
                    )
                saved.pop(name)
        saved.update(overrides)
        env = env if env is not None else ckpt.config.get("env")
        spaces_ = (
            checkpoint.space_from_json(ckpt.config["observation_space"]),
            checkpoint.space_from_json(ckpt.config["action_space"]),
        )
        agent = cls(env, _spaces=spaces_, **saved) if env is None else cls(env, **saved)
        if env is not None and (
            agent.observation_space.shape != spaces_[0].shape or agent.action_space != spaces_[1]
        ):
            raise checkpoint.CheckpointError(
                f"The env's spaces ({agent.observation_space}, {agent.action_space}) do not "
                f"match the saved agent's ({spaces_[0]}, {spaces_[1]}) in {str(ckpt.path)!r}."
            )
        agent._load_state(ckpt)
        return agent

    def _load_state(self, ckpt: checkpoint.Checkpoint) -> None:
        weights = ckpt.tensors["weights"]
        for prefix, module in (("q.", self.q_network), ("target.", self.target_network)):
            own = {k[len(prefix) :]: v for k, v in weights.items() if k.startswith(prefix)}
            expected = module.state_dict()
            missing, unexpected = sorted(set(expected) - set(own)), sorted(set(own) - set(expected))
            bad = [k for k in expected if k in own and own[k].shape != expected[k].shape]
            if missing or unexpected or bad:
                raise checkpoint.CheckpointError(
                    f"{str(ckpt.path / 'weights.safetensors')!r} does not match the network in "
                    f"config.json: missing {missing}, unexpected {unexpected}, wrong shape {bad}."
                )
            module.load_state_dict(own)
        state = ckpt.state
        opt_state: dict[int, dict[str, Any]] = {}
        for key, value in ckpt.tensors["optimizer"].items():
            i, name = key.split(".", 1)
            opt_state.setdefault(int(i), {})[name] = value.to(self.device)
        for key, value in state["optimizer"]["scalars"].items():
            i, name = key.split(".", 1)
            opt_state.setdefault(int(i), {})[name] = value
        self.optimizer.load_state_dict(
            {"state": opt_state, "param_groups": state["optimizer"]["param_groups"]}
        )
        self.num_steps, self.num_episodes = state["num_steps"], state["num_episodes"]
        self.num_updates, self._iteration = state["num_updates"], state["iteration"]
        self._next_target_sync, self._beta_end_step = (
            state["next_target_sync"],
            state["beta_end_step"],
        )
        self.rng.bit_generator.state = state["rng"]
        if ckpt.replay is not None:
            self.buffer.load_state_dict(ckpt.replay)

    def __repr__(self) -> str:
        return f"DQN(env={self.env_spec!r}, steps={self.num_steps}, device={self.device})"


def _env_info(info: dict[str, Any], e: int) -> dict[str, Any]:
    """Sub-env ``e``'s entries of a vector env's info dict (Gymnasium's ``_key`` masks)."""
    out: dict[str, Any] = {}
    for key, value in info.items():
        if key.startswith("_") or key in ("final_obs", "final_info"):
            continue
        mask = info.get(f"_{key}")
        if mask is not None and not mask[e]:
            continue
        out[key] = _env_info(value, e) if isinstance(value, dict) else value[e]
    return out


class _Interrupt:
    """Truthy once a signal asked the loop to stop; ``name`` is the signal's name."""

    name: str | None = None

    def __bool__(self) -> bool:
        return self.name is not None
