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
import functools
import itertools
import math
import signal
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import gymnasium
import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, SyncVectorEnv, VectorEnv

from renshu import checkpoint
from renshu.callbacks import Callback, CallbackList, History, ProgressBar
from renshu.check import EnvCheckError, StepChecks, obs_problem, reward_problem
from renshu.config import (
    Note,
    OneOf,
    Range,
    Satisfies,
    build,
    check,
    check_device,
    format_bytes,
    is_custom,
    memory_available,
    to_plain,
    validate,
)
from renshu.errors import ConfigError, EnvError, RenshuError, user_frames
from renshu.exploration import (
    POLICIES,
    Boltzmann,
    EpsilonGreedy,
    Exploration,
    Greedy,
    make_exploration,
)
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
from renshu.nets import (
    MLP_HIDDEN,
    NORM_EPS,
    QNetwork,
    RunningNorm,
    build_q_network,
    is_image,
    summary,
)
from renshu.optim import OPTIMIZERS, make_optimizer
from renshu.replay import Batch, FrameStack, ReplayBuffer

LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]

TEST_STEP_CAP = 10_000
"""test() ends an episode after this many steps (as truncated) when the env's spec gives no
limit and no ``max_episode_steps=`` is passed, with a warning: a greedy policy on an env that
never ends would otherwise play forever. 10,000 is above every limit of the built-in and
classic-control envs (200-1,000 steps) and a few seconds of play for a small network."""
NEVER_ENDING_STEPS = 100_000
"""fit() warns once when an episode has gone on for this many steps (per env) without ending."""
FIRST_STEPS_CHECKED = 1_000
"""fit() checks what reset()/step() return for this many steps per env after an env is attached
(as ``renshu check`` does), then steps without the checks."""


MAX_WINDOW = 1_000
"""Most frames per observation: the network input and every sampled batch grow with the window,
so a larger one only stalls (100,000 frames of Catch make a 400-million-parameter input layer)."""


def _is_module(value: Any) -> bool:
    return isinstance(value, torch.nn.Module)


def _is_exploration(value: Any) -> bool:
    return isinstance(value, Exploration)


@dataclass
class DQNConfig:
    """Every option of :class:`DQN`; pass them as keywords: ``DQN(env, double=True)``.

    Each field's annotation says what it accepts (type, then range; see :mod:`renshu.config`),
    checked the same way from Python, ``--set`` and YAML files.
    """

    learning_rate: Annotated[float, Range(gt=0)] = 1e-3
    """Optimizer step size, > 0."""
    gamma: Annotated[float, Range(0, 1)] = 0.99
    """Discount factor in [0, 1]."""
    buffer_size: Annotated[int, Range(ge=1)] = 50_000
    """Replay capacity in transitions (all envs together), >= batch_size and >= (n_step + 1) *
    num_envs; refused when it would not fit in this machine's memory."""
    batch_size: Annotated[int, Range(ge=1)] = 32
    """Transitions per gradient step, >= 1."""
    warmup_steps: Annotated[int, Range(ge=0)] = 1_000
    """Env steps of uniformly random actions before the first gradient step, >= 0
    (keras-rl's nb_steps_warmup)."""
    train_every: Annotated[int, Range(ge=1)] = 1
    """Env steps between training calls, >= 1 (counted over all envs)."""
    gradient_steps: Annotated[int, Range(ge=1)] = 1
    """Gradient steps per training call, >= 1."""
    target_update: (
        Annotated[int, Range(ge=1), Note("hard copy every N steps")]
        | Annotated[float, Range(gt=0, lt=1), Note("soft update rate")]
    ) = 1_000
    """int >= 1: copy the online network to the target every N env steps; float in (0, 1):
    soft update ``target += tau * (online - target)`` after every gradient step (keras-rl)."""
    double: bool = False
    """Double DQN: the online network picks the next action, the target network rates it."""
    dueling: bool = False
    """Dueling head: Q = V + A - mean(A)."""
    prioritized: bool = False
    """Prioritized experience replay (proportional, sum tree)."""
    per_alpha: Annotated[float, Range(0, 1)] = 0.6
    """How much prioritization is used, in [0, 1] (0 = uniform)."""
    per_beta: Annotated[float, Range(0, 1)] = 0.4
    """Initial importance-sampling exponent in [0, 1], annealed linearly to 1 over
    per_beta_steps."""
    n_step: Annotated[int, Range(ge=1)] = 1
    """Steps summed into each return before bootstrapping, >= 1."""
    loss: (
        Annotated[str, OneOf("huber", "mse")] | Annotated[Any, Satisfies("a callable", callable)]
    ) = "huber"
    """"huber" (the DQN paper's error clipping), "mse", or a callable
    ``loss(q, target, weights) -> tensor``."""
    policy: (
        Annotated[str, OneOf(*POLICIES)]
        | Annotated[
            Any,
            Satisfies(
                "an object with select(q_values, step, rng) and value(step)", _is_exploration
            ),
        ]
    ) = "eps_greedy"
    """Exploration: "eps_greedy" (linear anneal), "boltzmann", "greedy", or an object with
    ``select(q_values, step, rng)`` and ``value(step)``."""
    eps_start: Annotated[float, Range(0, 1)] = 1.0
    """Initial epsilon of eps_greedy, in [0, 1]."""
    eps_end: Annotated[float, Range(0, 1)] = 0.05
    """Final epsilon of eps_greedy, in [0, 1]."""
    eps_anneal_steps: Annotated[int, Range(ge=1)] = 10_000
    """Env steps over which epsilon falls linearly from eps_start to eps_end, >= 1."""
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
    num_envs: Annotated[int, Range(ge=1)] = 1
    """Environments stepped together (a vector env), >= 1."""
    net: (
        Annotated[str, OneOf("auto", "mlp", "cnn")]
        | list[Annotated[int, Range(ge=1)]]
        | Annotated[Any, Satisfies("an nn.Module", _is_module)]
    ) = "auto"
    """"auto" (CNN for images, else MLP 64x64), "mlp", "cnn", hidden sizes like [24, 24], or an
    ``nn.Module`` mapping a batch of observations to Q-values; refused when it would not fit in
    memory."""
    device: str = "auto"
    """"auto" (CUDA when available), "cpu", "cuda", "cuda:1", ..., "mps": one torch can use
    here."""
    threads: Annotated[int, Range(ge=1)] | None = 1
    """CPU threads for torch and NumPy's BLAS while fit/test run (restored afterwards), >= 1, or
    None to leave them alone. One is fastest for the small networks of DQN: more threads wait
    for each other at this size, which made training 8x-40x slower on a busy 2-core laptop
    (BENCHMARKS.md). Raise it for a large CNN on an idle many-core machine."""
    seed: Annotated[int, Range(ge=0)] | None = None
    """Seeds networks, replay sampling, exploration and envs, >= 0; None draws one at random."""
    per_beta_steps: Annotated[int, Range(1, 2**53)] | None = None
    """Env steps over which per_beta is annealed to 1, >= 1; None: the steps of the first fit()
    call (then fixed, and saved with the agent, so a resumed run anneals as an uninterrupted
    one). ``renshu train`` sets it to the run's total steps."""
    normalize_obs: bool = True
    """Normalize non-uint8 observations by their running mean and standard deviation (kept in
    the network, updated while fit() runs, frozen in test and act); uint8 frames are divided by
    255 either way."""

    def __post_init__(self) -> None:
        validate(self)  # every field's type, then its range, from the annotations above
        check(
            "buffer_size",
            self.buffer_size >= self.batch_size,
            f"an int >= batch_size ({self.batch_size})",
            self.buffer_size,
        )
        slots = (self.n_step + 1) * self.num_envs
        check(
            "buffer_size",
            self.buffer_size >= slots,
            f"an int >= (n_step + 1) * num_envs = {slots} (each env keeps n_step + 1 "
            "transitions at least)",
            self.buffer_size,
        )
        check_device(self.device)


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


OPTIMIZER_COPIES = 5
"""Copies of every network parameter training keeps: online and target networks, the gradient
and Adam's two moments (an estimate for the memory check)."""


def check_memory(
    cfg: DQNConfig,
    obs_space: spaces.Box,
    obs_shape: tuple[int, ...],
    n_actions: int,
    device: torch.device,
) -> None:
    """Raise ConfigError, with the figures, when the replay buffer and the networks of ``cfg``
    need more memory than this machine has available (numpy or torch would otherwise fail
    deep inside, or the machine swap to a halt). Networks on a GPU are held to its memory."""
    frame = math.prod(obs_space.shape) * obs_space.dtype.itemsize
    slots = -(-cfg.buffer_size // cfg.num_envs) * cfg.num_envs
    # Per slot: one frame (stored once), action int64, reward float32, four flag bytes, the
    # window's back count, and the sum tree's two float64 nodes (with its upper levels).
    per_slot = frame + 8 + 4 + 4 + np.min_scalar_type(cfg.window - 1).itemsize
    per_slot += 17 if cfg.prioritized else 0
    replay = slots * per_slot
    params, inputs = _mlp_size(cfg, obs_space.dtype, obs_shape, n_actions)
    networks = params * 4 * OPTIMIZER_COPIES
    parts = [
        (
            replay,
            f"buffer_size={cfg.buffer_size} needs {format_bytes(replay)} for the replay buffer "
            f"({per_slot:,} bytes per transition)",
            "lower buffer_size",
        )
    ]
    if params:
        parts.append(
            (
                networks,
                f"net={cfg.net!r}{'' if isinstance(cfg.net, list | tuple) else ' (an MLP)'} "
                f"needs {format_bytes(networks)} for the networks ({params:,} "
                f"parameters over {inputs:,} inputs, each kept {OPTIMIZER_COPIES} times: online, "
                "target, gradient, two optimizer moments)",
                "use smaller hidden sizes"
                + (" or a smaller window" if cfg.window > 1 else "")
                + (" or net='cnn'" if len(obs_shape) >= 2 else ""),
            )
        )
    if device.type == "cuda" and params:
        gpu = torch.cuda.get_device_properties(device).total_memory
        if networks > gpu:
            _, needs, fix = parts[1]
            raise ConfigError(
                f"{needs}; the GPU {device} has {format_bytes(gpu)}. {fix.capitalize()}."
            )
        parts = parts[:1]
    limit = memory_available()
    total = sum(size for size, _, _ in parts)
    if limit is None or total <= limit:
        return
    parts = sorted((part for part in parts if part[0] >= total / 20), key=lambda part: -part[0])
    needs = " and ".join(text for _, text, _ in parts)
    if len(parts) > 1:
        needs += f", {format_bytes(total)} in all"
    raise ConfigError(
        f"{needs}; this machine has {format_bytes(limit)} of memory available. "
        f"{' or '.join(fix for _, _, fix in parts).capitalize()}."
    )


def _mlp_size(
    cfg: DQNConfig, obs_dtype: np.dtype[Any], obs_shape: tuple[int, ...], n_actions: int
) -> tuple[int, int]:
    """(parameters, inputs) of the MLP ``cfg.net`` builds; (0, 0) for a CNN or a module (a CNN's
    size is bounded by its frame, a module exists already)."""
    if isinstance(cfg.net, str):
        if cfg.net == "cnn" or (cfg.net == "auto" and is_image(obs_shape, obs_dtype)):
            return 0, 0
        hidden: Sequence[int] = MLP_HIDDEN
    elif isinstance(cfg.net, list | tuple):
        hidden = cfg.net
    else:
        return 0, 0
    inputs = math.prod(obs_shape)
    sizes = [inputs, *hidden]
    params = sum(a * b + b for a, b in itertools.pairwise(sizes))
    params += (sizes[-1] + 1) * (n_actions + (1 if cfg.dueling else 0))
    return params, inputs


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


def space_problems(observation_space: Any, action_space: Any) -> list[tuple[str, str, str]]:
    """Why DQN cannot train on these spaces: ``(code, what is wrong, how to fix it)`` each, or
    ``[]`` when it can. ``DQN(env)`` refuses with these and ``renshu check ENV --algo dqn``
    reports them, so the two always agree."""
    problems: list[tuple[str, str, str]] = []
    if not isinstance(action_space, spaces.Discrete):
        problems.append(
            (
                "algo-action-space",
                f"DQN needs a Discrete action space, got {action_space}.",
                "Use a discretizing wrapper or an algorithm for continuous actions."
                if isinstance(action_space, spaces.Box)
                else "Wrap the env so that its action space is Discrete, or pick another "
                "algorithm.",
            )
        )
    elif int(action_space.n) < 1:
        problems.append(
            (
                "algo-action-space",
                f"DQN needs at least one action, but the action space {action_space} has "
                f"n={int(action_space.n)}.",
                "Declare the actions the agent can take: `self.action_space = Discrete(3)` for "
                "three.",
            )
        )
    if not isinstance(observation_space, spaces.Box):
        try:  # Discrete, MultiBinary and Dict/Tuple of those and Boxes: one torso per part
            ObsEncoder(observation_space)
        except ConfigError as error:
            problems.append(
                (
                    "algo-observation-space",
                    f"DQN cannot read the observation space {observation_space}: {error}",
                    "Wrap the env so that its observations are a Box, Discrete, MultiBinary, or "
                    "a Dict or Tuple of those (e.g. gymnasium.wrappers.FlattenObservation).",
                )
            )
    return problems


class DQN:
    """Deep Q-Network agent for a Discrete action space. See :class:`DQNConfig` for options."""

    algo = "dqn"

    def __init__(self, env: Any, *, config: DQNConfig | None = None, **options: Any) -> None:
        saved_spaces = options.pop("_spaces", (None, None))
        self.config = cfg = build(DQNConfig, options, base=config)
        if cfg.seed is None:
            cfg.seed = int(np.random.SeedSequence().generate_state(1)[0] & 0x7FFFFFFF)
        self.env_spec: str | None = env if isinstance(env, str) else None
        self.env_name: str | None = env_name(env) if env is not None else None
        """A human label of the training env (its name, id or class), saved with the agent."""
        self._env_ref: str | None = None  # a saved file/module env not built on load
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
        # Refuse a replay buffer or network that cannot fit before allocating either.
        n_actions = int(self.action_space.n)
        check_memory(cfg, self._frame_space, self.obs_shape, n_actions, self.device)
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
        self.loss_fn: LossFn = (
            cfg.loss if callable(cfg.loss) else {"huber": huber_loss, "mse": mse_loss}[cfg.loss]
        )
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
        self._next_target_sync = int(cfg.target_update) if cfg.target_update >= 1 else 0
        self.stop_training = False
        self._first_steps_checked = False  # set_env() clears it: a new env is checked again
        self._warned_never_ending = False
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
        self._check_spaces(single.observation_space, single.action_space)  # before batching
        self._train_env_instance = single
        # SAME_STEP: the final observation arrives with the step that ends an episode.
        return SingleEnv(single)

    space_problems = staticmethod(space_problems)
    """:func:`space_problems`: the one verdict on spaces (``renshu check --algo dqn`` asks it)."""

    def _check_spaces(self, obs_space: Any, act_space: Any) -> tuple[Any, spaces.Discrete]:
        problems = space_problems(obs_space, act_space)
        if problems:
            raise ConfigError(" ".join(f"{message} {fix}" for _, message, fix in problems))
        if not isinstance(obs_space, spaces.Box) and self.config.window > 1:
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
        dtype = self.observation_space.dtype
        expected = (
            f"act() expects an observation: a {dtype} array of shape {tuple(self.obs_shape)} "
            f"(or a batch of shape (B, {', '.join(map(str, self.obs_shape))}))"
        )
        given = f"{type(obs).__name__} {_short_repr(obs)}"
        if obs is None or isinstance(obs, str | bytes | dict):
            raise ConfigError(f"{expected}; got {given}.")
        try:
            arr = np.asarray(obs, dtype=dtype)
        except (TypeError, ValueError) as error:
            raise ConfigError(f"{expected}; got {given}, which is not numbers ({error}).") from None
        single = arr.shape == tuple(self.obs_shape)
        if not single and (arr.ndim == 0 or arr.shape[1:] != tuple(self.obs_shape)):
            raise ConfigError(
                f"{expected}; got shape {arr.shape}."
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
            raise self._missing_env("fit")
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
        if cfg.per_beta_steps is None:  # fixed by the first fit() and saved: resume anneals alike
            cfg.per_beta_steps = end_step
        same_step = env.metadata.get("autoreset_mode") == AutoresetMode.SAME_STEP
        calls_every = max(cfg.train_every // cfg.num_envs, 1)
        updates_per_call = cfg.gradient_steps * max(cfg.num_envs // cfg.train_every, 1)
        log_at = self.num_steps + log_every
        n_actions = int(self.action_space.n)
        started, steps_at_start = time.perf_counter(), self.num_steps
        float_obs = np.issubdtype(self.observation_space.dtype, np.floating)
        single = cfg.num_envs == 1
        look_at = self.num_steps + 1_000  # the next look for episodes that never end

        cbs.on_train_begin({"steps": steps})
        with self._signals() as interrupted, limit_threads(cfg.threads):
            if not self._first_steps_checked:
                self._check_first_steps()
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
                try:
                    next_obs, rewards, terminated, truncated, info = env.step(actions)
                except RenshuError:
                    raise
                except Exception as error:  # the user's step() raised: say where, keep it
                    raise self._env_failed(error, "step") from error
                # NaN/inf guard, before anything is stored (one reduction each: ~1 us a step)
                if not (
                    math.isfinite(rewards[0] if single else rewards.sum())
                    and (not float_obs or math.isfinite(next_obs.sum()))
                ):
                    self._refuse_not_finite(rewards, next_obs if float_obs else None)
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
                if self.num_steps >= look_at:
                    look_at += 1_000
                    self._warn_if_never_ending()
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
        try:
            obs, _ = self.env.reset(seed=segment_seed(self.config.seed, self.num_steps))
        except RenshuError:
            raise
        except Exception as error:  # the user's reset() raised: say where, keep it
            raise self._env_failed(error, "reset") from error
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

    def episodes_in_progress(self) -> list[int]:
        """The steps taken so far by each episode under way (one per training env, none between
        segments); a checkpoint or a test on the training env ends them uncounted."""
        if self._frames is None:
            return []
        return [int(n) for n in self._episode_length[self._valid] if n > 0]

    # ---- the env's faults during training ----------------------------------------------------
    def _env_label(self) -> str:
        """The user's env class (and how it was named), for messages."""
        instance = self._train_env_instance
        if instance is None and isinstance(self.env, SyncVectorEnv):
            instance = self.env.envs[0]
        name = _env_name(instance) if instance is not None else type(self.env).__name__
        return f"{name} ({self.env_spec!r})" if self.env_spec and self.env_spec != name else name

    def _doing(self, method: str) -> str:
        what = "stepping" if method == "step" else "resetting"
        envs = "env 0" if self.config.num_envs == 1 else f"the {self.config.num_envs} envs"
        return f"{what} {envs} at training step {self.num_steps:,}"

    def _env_failed(self, error: Exception, method: str) -> EnvError:
        """renshu's error for an exception the user's step()/reset() raised."""
        doing, frames = self._doing(method), user_frames(error)
        lines = [
            f"{self._env_label()}: {method}() raised {type(error).__name__}: {error}",
            f"(renshu was {doing}).",
        ]
        if frames:
            lines.append("In your code (most recent call last):")
            lines.extend(line.rstrip("\n") for line in traceback.format_list(list(frames)))
        lines.append(
            "Fix the error there; `renshu check` runs reset() and step() without training. "
            "The full traceback is this error's __cause__."
        )
        failure = EnvError("\n".join(lines))
        failure.doing, failure.user_frames = doing, frames
        return failure

    def _refuse_not_finite(self, rewards: np.ndarray, obs: np.ndarray | None) -> None:
        """Raise EnvCheckError naming the NaN/inf reward or observation (no-op if none is)."""
        for e in range(self.config.num_envs):
            where = f"training step {self.num_steps:,} (env {e})"
            problem = reward_problem(float(rewards[e]), where)
            if problem is None and obs is not None and not np.all(np.isfinite(obs[e])):
                problem = obs_problem(obs[e], self.observation_space, where)
            if problem is not None:
                raise EnvCheckError([problem], self._env_label())

    def _check_first_steps(self) -> None:
        """Check the first FIRST_STEPS_CHECKED reset()/step() results of each env as
        ``renshu check`` does (wrapping it in StepChecks, taken out after)."""
        self._first_steps_checked = True
        env, label = self.env, self._env_label()

        def checked(inner: Any, e: int, put: Callable[[Any], None]) -> StepChecks:
            return StepChecks(
                inner,
                steps=FIRST_STEPS_CHECKED,
                label=label,
                where=lambda: f"training step {self.num_steps:,} (env {e})",
                done=lambda: put(inner),
            )

        if isinstance(env, SingleEnv) and isinstance(env.env, gymnasium.Env):
            inner = env.env
            env.env = checked(inner, 0, lambda x: setattr(env, "env", x))
        elif isinstance(env, SyncVectorEnv):
            envs = env.envs
            for e, inner in enumerate(list(envs)):
                envs[e] = checked(inner, e, functools.partial(envs.__setitem__, e))

    def _warn_if_never_ending(self) -> None:
        if self._warned_never_ending or self._frames is None:
            return
        e = int(np.argmax(self._episode_length))
        longest = int(self._episode_length[e])
        if longest < NEVER_ENDING_STEPS:
            return
        self._warned_never_ending = True
        warnings.warn(
            f"The episode of env {e} ({self._env_label()}) has not ended in {longest:,} "
            "training steps: the env never returns terminated or truncated. Episodes that never "
            "end log no episode reward, and test() cuts them at its step cap. Add a time limit: "
            "`gymnasium.wrappers.TimeLimit(env, max_episode_steps=...)` (or return "
            "truncated=True after a step limit in step()).",
            stacklevel=3,
        )

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
        horizon = cfg.per_beta_steps or 1
        beta = cfg.per_beta + (1.0 - cfg.per_beta) * min(1.0, self.num_steps / horizon)
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
        max_episode_steps: int | None = None,
    ) -> History:
        """Play ``episodes`` episodes greedily (or eps-greedy with ``epsilon``); returns History.

        ``env`` defaults to a fresh copy of the training env (or the training env itself when
        it was given as an instance). With ``render``, ``env.render()`` is called every step and
        a returned frame is passed to callbacks as ``logs["frame"]``.

        An episode that has not ended after ``max_episode_steps`` steps ends there, as
        truncated. By default that is the env's own limit (its spec's ``max_episode_steps``) or
        else :data:`TEST_STEP_CAP` steps, with a warning when an episode reaches it.
        """
        check("episodes", _is_int(episodes) and episodes >= 1, "an int >= 1", episodes)
        check(
            "max_episode_steps",
            max_episode_steps is None or (_is_int(max_episode_steps) and max_episode_steps >= 1),
            "an int >= 1 or None",
            max_episode_steps,
        )
        test_env = make(env) if env is not None else self._eval_env()
        cap = max_episode_steps if max_episode_steps is not None else _step_limit(test_env)
        warn_at_cap = max_episode_steps is None
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
                    if not done and length >= cap:  # the step bound: end it as truncated
                        truncated = done = True
                        if warn_at_cap:
                            warn_at_cap = False
                            warnings.warn(_capped_message(episode, cap), stacklevel=2)
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
        raise self._missing_env("test")

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
        self.env_name, self._env_ref = env_name(env), None
        self._first_steps_checked = self._warned_never_ending = False

    def _missing_env(self, call: str) -> ConfigError:
        """The error of test()/fit() without an env: which env it was trained on, how to pass it."""
        fix = "agent.test(env=...)" if call == "test" else "agent.set_env(...)"
        if self._env_ref is not None:
            return ConfigError(
                f"This agent has no environment to {call} on: it was saved with the environment "
                f"{self._env_ref!r}, which is Python code (a file or module) that renshu does not "
                "import when loading a saved agent (it may come from someone else). If you trust "
                f"it, pass it: renshu.load(path, env={self._env_ref!r}) or renshu.load(path, "
                f"trust_env=True), or {fix}."
            )
        trained = f"it was trained on {self.env_name}" if self.env_name else "it was loaded"
        return ConfigError(
            f"This agent has no environment to {call} on: {trained}, an environment object "
            "that a saved agent cannot record. Pass the same environment: "
            f"renshu.load(path, env=<your {self.env_name or 'env'}>), or {fix}."
        )

    # ----------------------------------------------------------------------------- saving
    def save(self, path: str | Path, *, replay: bool = False, overwrite: bool = False) -> Path:
        """Save to a directory (safetensors + JSON, written atomically). ``replay=True`` adds
        the buffer.

        Saving never deletes what renshu did not write: a file or a non-empty folder that is
        not a saved agent at ``path`` is refused; a saved agent there is replaced only with
        ``overwrite=True``. Raises CheckpointError naming the path when writing fails.
        """
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
            "env": self.env_spec if self.env_spec is not None else self._env_ref,
            "env_name": self.env_name,
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
            overwrite=overwrite,
        )

    def save_checkpoint(self, directory: str | Path, *, replay: bool = True) -> Path:
        """Save ``directory/<num_steps>/`` mid-training; envs restart after it, so a resumed run
        continues exactly as this one does. A checkpoint of the same step is replaced."""
        self._close_episodes()
        return self.save(Path(directory) / str(self.num_steps), replay=replay, overwrite=True)

    @classmethod
    def from_checkpoint(
        cls,
        ckpt: checkpoint.Checkpoint,
        env: Any = None,
        *,
        trust_env: bool = False,
        **overrides: Any,
    ) -> DQN:
        """Rebuild an agent from :func:`renshu.checkpoint.read` output (use ``renshu.load``).

        A saved env that is a file or module reference is built only with ``trust_env``.
        """
        file = ckpt.path / "config.json"
        saved = dict(ckpt.config["config"])
        for name in ckpt.config.get("custom", []):
            if name == "net" and name not in overrides:
                raise checkpoint.CheckpointError(
                    f"{str(ckpt.path)!r} was saved with a custom network module; pass "
                    "net=<the same architecture> to renshu.load to rebuild it."
                )
            saved.pop(name)  # recorded by name only: the default, or the object given now
        if "device" not in overrides:
            saved["device"] = _loadable_device(saved.get("device", "auto"), file)
        _check_saved_config({k: v for k, v in saved.items() if k not in overrides}, file)
        saved.update(overrides)
        ref = ckpt.config.get("env")
        untrusted = None
        if env is None and ref is not None:
            if trust_env or checkpoint.env_is_safe(ref):
                env = ref
            else:
                untrusted = ref
        spaces_ = (
            checkpoint.space_from_json(ckpt.config["observation_space"]),
            checkpoint.space_from_json(ckpt.config["action_space"]),
        )
        try:
            agent = cls(env, _spaces=spaces_, **saved) if env is None else cls(env, **saved)
        except Exception as error:  # name the saved option that breaks the build, if one does
            if isinstance(error, RenshuError) and not isinstance(error, ConfigError):
                raise  # the env given or named failed to build: its own message says why
            for name in sorted(set(saved) - set(overrides)):
                try:
                    cls(None, _spaces=spaces_, **{name: saved[name]})
                except Exception:
                    raise checkpoint.CheckpointError(
                        f"{str(file)!r} is damaged or was edited: config.{name} is invalid "
                        f"({type(error).__name__}: {error}). Load another checkpoint."
                    ) from None
            if overrides:
                raise  # the options given to load are the likelier fault
            raise checkpoint.CheckpointError(
                f"{str(file)!r} is damaged or was edited: its config does not build an agent "
                f"({type(error).__name__}: {error}). Load another checkpoint."
            ) from None
        if env is not None and (
            agent.observation_space.shape != spaces_[0].shape or agent.action_space != spaces_[1]
        ):
            raise checkpoint.CheckpointError(
                f"The env's spaces ({agent.observation_space}, {agent.action_space}) do not "
                f"match the saved agent's ({spaces_[0]}, {spaces_[1]}) in {str(ckpt.path)!r}."
            )
        if env is None:
            agent.env_name = ckpt.config.get("env_name") or ref
            agent._env_ref = untrusted
        agent._load_state(ckpt)
        return agent

    def _load_state(self, ckpt: checkpoint.Checkpoint) -> None:
        """Restore networks, optimizer, counters, RNG and replay, checking each against this
        agent (names, shapes, dtypes, finite values, ranges); CheckpointError names the file."""
        path = ckpt.path
        expected = {f"q.{k}": v for k, v in self.q_network.state_dict().items()}
        expected.update({f"target.{k}": v for k, v in self.target_network.state_dict().items()})
        weights = ckpt.tensors["weights"]
        if ckpt.config.get("format_version") == 1:  # saved by renshu 0.1.0
            weights = _from_bounds_scaling(weights, expected)
        checkpoint.check_tensors(weights, expected, path / "weights.safetensors")
        for prefix, module in (("q.", self.q_network), ("target.", self.target_network)):
            module.load_state_dict(
                {k[len(prefix) :]: v for k, v in weights.items() if k.startswith(prefix)}
            )
        state = ckpt.state
        saved_update = float(ckpt.config["config"].get("target_update", 1_000))
        checkpoint.check_counters(state, saved_update, path / "state.json")
        self.optimizer.load_state_dict(self._checked_optimizer_state(ckpt))
        self.num_steps, self.num_episodes = state["num_steps"], state["num_episodes"]
        self.num_updates, self._iteration = state["num_updates"], state["iteration"]
        self._next_target_sync = state["next_target_sync"]
        self.rng.bit_generator.state = state["rng"]
        if ckpt.replay is not None:
            file = path / "replay.npz"
            checkpoint.check_replay(ckpt.replay, int(self.action_space.n), self.config.window, file)
            try:
                self.buffer.load_state_dict(ckpt.replay)
            except (ConfigError, KeyError, ValueError, TypeError) as error:
                raise checkpoint.CheckpointError(
                    f"{str(file)!r} does not fit this agent's replay buffer ({error}). Load "
                    "without overriding buffer options, or load another checkpoint."
                ) from None

    def _checked_optimizer_state(self, ckpt: checkpoint.Checkpoint) -> dict[str, Any]:
        """The saved optimizer state, checked against this agent's optimizer."""
        tensor_file = ckpt.path / "optimizer.safetensors"
        state_file = ckpt.path / "state.json"
        own_groups = self.optimizer.state_dict()["param_groups"]
        groups = ckpt.state["optimizer"]["param_groups"]
        same = len(groups) == len(own_groups) and all(
            g["params"] == o["params"] and set(g) == set(o) and _same_kinds(g, o)
            for g, o in zip(groups, own_groups, strict=False)
        )
        if not same:
            raise checkpoint.CheckpointError(
                f"{str(state_file)!r} is damaged or was edited: optimizer.param_groups do not "
                f"match this agent's optimizer ({len(own_groups)} group(s) with the keys "
                f"{sorted(own_groups[0])}). Load another checkpoint."
            )
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        opt_state: dict[int, dict[str, Any]] = {}
        entries = [
            *((k, v, tensor_file) for k, v in ckpt.tensors["optimizer"].items()),
            *((k, v, state_file) for k, v in ckpt.state["optimizer"]["scalars"].items()),
        ]
        for key, value, file in entries:
            index, _, name = key.partition(".")
            if not (index.isdigit() and int(index) < len(params) and name):
                raise checkpoint.CheckpointError(
                    f"{str(file)!r}: optimizer entry {key!r} names no parameter of this agent "
                    f"(expected '<index>.<name>' with index < {len(params)}). Load another "
                    "checkpoint."
                )
            param = params[int(index)]
            if isinstance(value, torch.Tensor):
                checkpoint.check_finite(value, file, key)
                if name != "step" and (value.shape != param.shape or value.dtype != param.dtype):
                    raise checkpoint.CheckpointError(
                        f"{str(file)!r}: optimizer tensor {key!r} is {value.dtype}"
                        f"{tuple(value.shape)}, expected {param.dtype}{tuple(param.shape)}. "
                        "Load another checkpoint."
                    )
                value = value.to(self.device)
            opt_state.setdefault(int(index), {})[name] = value
        keys = self._optimizer_state_keys()
        for index, entry in opt_state.items():
            if keys is not None and set(entry) != keys:
                raise checkpoint.CheckpointError(
                    f"{str(tensor_file)!r}: the optimizer state of parameter {index} holds "
                    f"{sorted(entry)}, expected {sorted(keys)} for optimizer "
                    f"{self.config.optimizer!r}. Load another checkpoint."
                )
        return {"state": opt_state, "param_groups": groups}

    def _optimizer_state_keys(self) -> set[str] | None:
        """The state names a named optimizer keeps per parameter (None for a custom one)."""
        if not isinstance(self.config.optimizer, str):
            return None
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        scratch = [torch.nn.Parameter(torch.zeros_like(p)) for p in params[:1]]
        optimizer = make_optimizer(self.config.optimizer, scratch, 1e-3)
        for p in scratch:
            p.grad = torch.zeros_like(p)
        optimizer.step()
        return set(optimizer.state[scratch[0]]) if scratch else None

    def __repr__(self) -> str:
        return f"DQN(env={self.env_spec!r}, steps={self.num_steps}, device={self.device})"


def env_name(env: Any) -> str:
    """A human label of an env argument: the string given, a registered id, or a class name."""
    if isinstance(env, str):
        return env
    spec_id = getattr(getattr(env, "spec", None), "id", None)
    if spec_id:
        return str(spec_id)
    if isinstance(env, type):
        return env.__name__
    inner = getattr(env, "envs", None)  # a SyncVectorEnv: name its first copy
    if isinstance(inner, list | tuple) and inner:
        return env_name(inner[0])
    return type(getattr(env, "unwrapped", env)).__name__


def _loadable_device(device: Any, file: Path) -> Any:
    """The saved device, or "cpu" when it is not available here (a CUDA-trained agent loads
    on a CPU laptop); an unknown device name is refused naming the file."""
    if not isinstance(device, str) or device == "auto":
        return device  # DQNConfig's validation names a wrong type
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        parsed = None
    if parsed is None or parsed.type not in ("cpu", "cuda", "mps"):
        raise checkpoint.CheckpointError(
            f"{str(file)!r} is damaged or was edited: config.device must be a device such as "
            f'"auto", "cpu" or "cuda", found {device!r}. Pass device="cpu" to renshu.load.'
        )
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available()
        and (parsed.index is None or parsed.index < torch.cuda.device_count()),
        "mps": torch.backends.mps.is_available(),
    }[parsed.type]
    if available:
        return device
    warnings.warn(
        f"{str(file.parent)!r} was saved on device {device!r}, which is not available here; "
        "it is loaded on the CPU.",
        stacklevel=4,
    )
    return "cpu"


def _check_saved_config(saved: dict[str, Any], file: Path) -> None:
    """Validate the saved options alone, so a bad one is named as a fault of the file."""
    try:
        build(DQNConfig, saved)
        return
    except Exception as error:  # ConfigError, or a TypeError from a value of the wrong type
        problem = error
    field = "config"
    for name, value in saved.items():
        try:
            build(DQNConfig, {name: value})
        except Exception as error:
            field, problem = f"config.{name}", error
            break
    text = str(problem) if isinstance(problem, ConfigError) else f"{type(problem).__name__}"
    raise checkpoint.CheckpointError(
        f"{str(file)!r} is damaged or was edited: {field} is invalid ({text}). Load another "
        "checkpoint, or save the agent again."
    )


def _same_kinds(saved: Mapping[str, Any], own: Mapping[str, Any]) -> bool:
    """Saved optimizer hyperparameters have the JSON kinds of this optimizer's own values."""

    def kind(value: Any) -> str:
        if isinstance(value, bool) or value is None or isinstance(value, str):
            return type(value).__name__
        if isinstance(value, int | float):
            return "number" if math.isfinite(value) else "non-finite"
        if isinstance(value, list | tuple):
            return "list:" + ",".join(kind(v) for v in value)
        if isinstance(value, torch.Tensor):
            return "number"
        return "other"

    return all(kind(saved[k]) == kind(own[k]) for k in own if k != "params")


def _step_limit(env: Any) -> int:
    """The env's own episode limit (its spec's max_episode_steps), else TEST_STEP_CAP."""
    limit = getattr(getattr(env, "spec", None), "max_episode_steps", None)
    if isinstance(limit, int | np.integer) and not isinstance(limit, bool) and limit >= 1:
        return int(limit)
    return TEST_STEP_CAP


def _capped_message(episode: int, cap: int) -> str:
    return (
        f"Test episode {episode} did not end within {cap:,} steps, so test() ended it there "
        "(as truncated); the env returned neither terminated nor truncated. Give the env a "
        "time limit, `gymnasium.wrappers.TimeLimit(env, max_episode_steps=N)`, or set this cap: "
        "test(max_episode_steps=N) (`renshu test RUN --max-steps N`, nb_max_episode_steps= in "
        "the keras-rl layer)."
    )


def _env_name(env: Any) -> str:
    """The class name of the user's env inside wrappers and the legacy adapter."""
    inner = getattr(env, "unwrapped", env)
    inner = getattr(inner, "legacy_env", inner)
    return type(inner).__name__


def _short_repr(value: Any, limit: int = 40) -> str:
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _from_bounds_scaling(
    weights: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Weights of an agent saved by renshu 0.1.0, which scaled float observations by their
    declared bounds (``preprocess.centre``, ``preprocess.inv_half``), for today's running
    normalization: mean = centre and std = 1 / inv_half compute the same inputs (unbounded
    dimensions: mean 0, std 1), with a count so large that further training barely moves them.
    Anything that does not fit is left as it is, for the weights check to name."""
    out = dict(weights)
    for prefix in ("q.", "target."):
        norm = f"{prefix}preprocess.norm."
        if f"{norm}mean" not in expected or f"{norm}mean" in out:
            continue
        shape = expected[f"{norm}mean"].shape
        centre = out.pop(f"{prefix}preprocess.centre", torch.zeros(shape)).double()
        inv_half = out.pop(f"{prefix}preprocess.inv_half", torch.ones(shape)).double()
        if centre.shape != shape or inv_half.shape != shape:
            return dict(weights)
        out[f"{norm}mean"] = centre
        out[f"{norm}var"] = (1.0 / inv_half**2 - NORM_EPS).clamp_min(0.0)
        out[f"{norm}count"] = torch.tensor(1e12, dtype=torch.float64)
        out[f"{norm}pending"] = torch.zeros_like(expected[f"{norm}pending"])
        out[f"{norm}pending_count"] = torch.zeros_like(expected[f"{norm}pending_count"])
    return out


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
