"""keras-rl2 on renshu: ``DQNAgent``, its memory, policies and callbacks, mapped onto renshu.DQN.

Scripts written for keras-rl2 run with their import lines and their model changed::

    # from rl.agents import DQNAgent
    # from rl.policy import BoltzmannQPolicy
    # from rl.memory import SequentialMemory
    from renshu.compat.kerasrl import Adam, BoltzmannQPolicy, DQNAgent, SequentialMemory

    model = nn.Sequential(nn.Flatten(), nn.Linear(1, 24), nn.ReLU(), nn.Linear(24, 24),
                          nn.ReLU(), nn.Linear(24, 3))          # was a Keras Sequential
    dqn = DQNAgent(model=model, memory=SequentialMemory(limit=50000, window_length=1),
                   policy=BoltzmannQPolicy(), nb_actions=3, nb_steps_warmup=10,
                   target_model_update=1e-2)
    dqn.compile(Adam(lr=1e-3), metrics=["mae"])
    dqn.fit(env, nb_steps=500, visualize=False, verbose=1)
    scores = dqn.test(env, nb_episodes=10, visualize=False)
    dqn.save_weights("dqn_weights.h5f", overwrite=True)      # a renshu directory at that path

What maps to what (keras-rl name -> :class:`renshu.DQN` option):

- ``SequentialMemory(limit, window_length)`` -> ``buffer_size``, ``window``;
- ``nb_steps_warmup`` -> ``warmup_steps``; ``train_interval`` -> ``train_every``;
- ``target_model_update`` -> ``target_update`` (< 1: soft update per gradient step, >= 1: hard
  copy every N steps, keras-rl's meaning and renshu's);
- ``gamma``, ``batch_size`` -> the same; ``enable_double_dqn`` -> ``double``;
- ``delta_clip`` -> the loss: keras-rl's Huber loss with that delta, which for its default
  (``np.inf``) is half the squared TD error; gradients are not clipped (``max_grad_norm=None``);
- ``enable_dueling_network``/``dueling_type`` -> the model's last ``nn.Linear`` is replaced by a
  dueling head, as keras-rl did to the last Dense layer;
- ``policy`` -> the exploration object (the policies here are renshu exploration objects);
- ``compile(optimizer)`` -> ``optimizer``/``learning_rate``.

The model is a ``torch.nn.Module`` mapping a batch of observations to Q-values ``(batch,
nb_actions)``. keras-rl fed it ``(batch, window_length, *obs_shape)``; renshu feeds
``(batch, *obs_shape)`` when the window is 1. Either kind of model is accepted: a dry forward pass
tries keras-rl's layout first and renshu's second, and :class:`KerasInput` adds the window axis
when the model needs it (see :func:`wrap_model`). In front of the model renshu puts the input
layer of its own networks (:class:`renshu.nets.ModuleNet`): float observations are normalized
by their running mean and standard deviation (updated while ``fit`` runs, saved with the
weights), uint8 ones divided by 255, so a model written for raw values (tutorial 000's
temperatures) learns as renshu's own networks do. ``DQNAgent(..., normalize_obs=False)`` hands
the model the observations as the env returns them (integers cast to float32, as Keras' input
layer did).

``renshu.compat.kerasrl`` also offers keras-rl's module layout as namespaces, so that
``import renshu.compat.kerasrl as rl`` makes ``rl.callbacks.Callback``, ``rl.agents.DQNAgent``,
``rl.policy.BoltzmannQPolicy`` and ``rl.memory.SequentialMemory`` work as written.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
from collections import deque
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TypeAlias

import gymnasium
import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces
from torch import nn

from renshu import checkpoint
from renshu.agents.dqn import DQN, DQNConfig
from renshu.callbacks import Callback, History
from renshu.errors import CheckpointError, ConfigError
from renshu.exploration import Boltzmann, EpsilonGreedy, Exploration, Greedy
from renshu.make import make
from renshu.optim import OPTIMIZERS
from renshu.train.protocol import AgentLike

__all__ = [
    "Adam",
    "BoltzmannQPolicy",
    "Callback",
    "DQNAgent",
    "EpsGreedyQPolicy",
    "GreedyQPolicy",
    "KerasHuberLoss",
    "KerasInput",
    "LinearAnnealedPolicy",
    "SequentialMemory",
    "TestLogger",
    "TrainEpisodeLogger",
    "TrainIntervalLogger",
    "agents",
    "callbacks",
    "memory",
    "policy",
    "wrap_model",
]


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


# --------------------------------------------------------------------------------------------
# Memory
# --------------------------------------------------------------------------------------------


class SequentialMemory:
    """keras-rl's replay memory: ``limit`` -> renshu's ``buffer_size``, ``window_length`` ->
    ``window`` (frames per observation, stacked by the agent, each frame stored once).

    renshu's replay always respects episode boundaries (a window never mixes two episodes and
    is padded with zeros at an episode's start, as keras-rl did), so
    ``ignore_episode_boundaries=True`` is refused.
    """

    def __init__(
        self, limit: int, window_length: int = 1, ignore_episode_boundaries: bool = False
    ) -> None:
        if not _is_int(limit) or limit < 1:
            raise ConfigError(f"SequentialMemory limit must be an int >= 1, got {limit!r}.")
        if not _is_int(window_length) or window_length < 1:
            raise ConfigError(
                f"SequentialMemory window_length must be an int >= 1, got {window_length!r}."
            )
        if ignore_episode_boundaries:
            raise ConfigError(
                "SequentialMemory(ignore_episode_boundaries=True) is not supported: renshu's "
                "replay never stacks frames across episodes. Leave it out."
            )
        self.limit = int(limit)
        self.window_length = int(window_length)
        self.ignore_episode_boundaries = False

    def __repr__(self) -> str:
        return f"SequentialMemory(limit={self.limit}, window_length={self.window_length})"


# --------------------------------------------------------------------------------------------
# Policies: renshu exploration objects under keras-rl's names
# --------------------------------------------------------------------------------------------


class GreedyQPolicy(Greedy):
    """keras-rl's ``GreedyQPolicy``: the action with the largest Q-value (renshu's greedy)."""

    def __repr__(self) -> str:
        return "GreedyQPolicy()"


class EpsGreedyQPolicy(EpsilonGreedy):
    """keras-rl's ``EpsGreedyQPolicy``: a random action with probability ``eps``, else greedy.

    ``eps`` is constant (renshu's eps-greedy with start = end = eps) and may be changed between
    calls, as keras-rl scripts do (``policy.eps = 0.05``).
    """

    def __init__(self, eps: float = 0.1) -> None:
        super().__init__(start=eps, end=eps, anneal_steps=0)

    @property
    def eps(self) -> float:
        """The probability of a random action, in [0, 1]."""
        return self.end

    @eps.setter
    def eps(self, value: float) -> None:
        if not _is_number(value) or not 0 <= value <= 1:
            raise ConfigError(f"eps must be a number in [0, 1], got {value!r}.")
        self.start = self.end = float(value)

    def __repr__(self) -> str:
        return f"EpsGreedyQPolicy(eps={self.eps})"


class BoltzmannQPolicy(Boltzmann):
    """keras-rl's ``BoltzmannQPolicy``: sample from ``softmax(clip(q / tau, *clip))``.

    The same computation as renshu's boltzmann exploration, of which this is a subclass.
    """

    def __init__(self, tau: float = 1.0, clip: tuple[float, float] = (-500.0, 500.0)) -> None:
        super().__init__(tau=tau, clip=clip)

    def __repr__(self) -> str:
        return f"BoltzmannQPolicy(tau={self.tau}, clip={self.clip})"


class LinearAnnealedPolicy:
    """keras-rl's ``LinearAnnealedPolicy``: anneal attribute ``attr`` of ``inner_policy``.

    The value falls linearly from ``value_max`` at step 0 to ``value_min`` at ``nb_steps`` and
    stays there; before each choice it is written to ``inner_policy.<attr>``.
    ``LinearAnnealedPolicy(EpsGreedyQPolicy(), attr="eps", ...)`` is renshu's linearly annealed
    eps-greedy; ``attr="tau"`` over a :class:`BoltzmannQPolicy` anneals the temperature.
    ``value_test`` is the value used when this policy is a ``test_policy``.

    The step is renshu's global step count, which keeps growing over several ``fit`` calls
    (keras-rl restarted it at every ``fit``).
    """

    def __init__(
        self,
        inner_policy: Any,
        attr: str,
        value_max: float,
        value_min: float,
        value_test: float,
        nb_steps: int,
    ) -> None:
        if not isinstance(inner_policy, Exploration):
            raise ConfigError(
                "LinearAnnealedPolicy inner_policy must be a policy from renshu.compat.kerasrl "
                f"(e.g. EpsGreedyQPolicy()) or a renshu exploration object, got {inner_policy!r}."
            )
        if not hasattr(inner_policy, attr):
            raise ConfigError(
                f'Policy does not have attribute "{attr}": {inner_policy!r}. Use attr="eps" with '
                'EpsGreedyQPolicy or attr="tau" with BoltzmannQPolicy.'
            )
        for name, value in (
            ("value_max", value_max),
            ("value_min", value_min),
            ("value_test", value_test),
        ):
            if not _is_number(value):
                raise ConfigError(f"LinearAnnealedPolicy {name} must be a number, got {value!r}.")
        if not _is_int(nb_steps) or nb_steps < 1:
            raise ConfigError(
                f"LinearAnnealedPolicy nb_steps must be an int >= 1, got {nb_steps!r}."
            )
        self.inner_policy = inner_policy
        self.attr = attr
        self.value_max, self.value_min = float(value_max), float(value_min)
        self.value_test = float(value_test)
        self.nb_steps = int(nb_steps)

    def value(self, step: int) -> float:
        """The annealed value at ``step`` (keras-rl's ``get_current_value`` while training)."""
        slope = -(self.value_max - self.value_min) / self.nb_steps
        return max(self.value_min, slope * max(step, 0) + self.value_max)

    def select(self, q_values: np.ndarray, step: int, rng: np.random.Generator) -> np.ndarray:
        """Set the inner policy's attribute to :meth:`value` and let it choose."""
        setattr(self.inner_policy, self.attr, self.value(step))
        actions: np.ndarray = self.inner_policy.select(q_values, step, rng)
        return actions

    def __repr__(self) -> str:
        return (
            f"LinearAnnealedPolicy({self.inner_policy!r}, attr={self.attr!r}, "
            f"value_max={self.value_max}, value_min={self.value_min}, "
            f"value_test={self.value_test}, nb_steps={self.nb_steps})"
        )


def _test_epsilon(policy: Any) -> float:
    """The epsilon of renshu's greedy/eps-greedy ``test()`` that plays ``policy``."""
    if isinstance(policy, Greedy):
        return 0.0
    if isinstance(policy, EpsGreedyQPolicy):
        return policy.eps
    if isinstance(policy, LinearAnnealedPolicy) and policy.attr == "eps":
        return policy.value_test
    if isinstance(policy, EpsilonGreedy):
        return policy.end
    raise ConfigError(
        f"test_policy {policy!r} is not supported: renshu's test() plays greedy or "
        "epsilon-greedy. Use GreedyQPolicy(), EpsGreedyQPolicy(eps) or a LinearAnnealedPolicy "
        'with attr="eps" (its value_test is used), or leave test_policy out (greedy).'
    )


# --------------------------------------------------------------------------------------------
# Optimizer and loss
# --------------------------------------------------------------------------------------------


class Adam:
    """Keras' ``Adam`` spelling for ``compile``: ``Adam(lr=1e-3)`` or ``Adam(learning_rate=...)``.

    Also a factory ``Adam(...)(params) -> torch.optim.Adam``, usable as renshu's ``optimizer``.
    ``beta_1``/``beta_2``/``epsilon``/``amsgrad`` keep Keras' names; ``epsilon`` defaults to
    torch's 1e-8 (Keras used 1e-7), so a plain ``Adam(lr=...)`` is exactly renshu's ``"adam"``.
    """

    def __init__(
        self,
        lr: float | None = None,
        *,
        learning_rate: float = 1e-3,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        amsgrad: bool = False,
    ) -> None:
        rate = learning_rate if lr is None else lr
        if not _is_number(rate) or not rate > 0:
            raise ConfigError(f"Adam learning rate must be a number > 0, got {rate!r}.")
        for name, value in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not _is_number(value) or not 0 <= value < 1:
                raise ConfigError(f"Adam {name} must be a number in [0, 1), got {value!r}.")
        if not _is_number(epsilon) or not epsilon > 0:
            raise ConfigError(f"Adam epsilon must be a number > 0, got {epsilon!r}.")
        self.learning_rate = float(rate)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self.amsgrad = bool(amsgrad)

    @property
    def lr(self) -> float:
        """Keras' old name for :attr:`learning_rate`."""
        return self.learning_rate

    def is_default(self) -> bool:
        """True when everything but the learning rate is torch's default (renshu's "adam")."""
        return (self.beta_1, self.beta_2, self.epsilon, self.amsgrad) == (0.9, 0.999, 1e-8, False)

    def __call__(self, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
        """A ``torch.optim.Adam`` over ``params`` with these settings."""
        return torch.optim.Adam(
            params,
            lr=self.learning_rate,
            betas=(self.beta_1, self.beta_2),
            eps=self.epsilon,
            amsgrad=self.amsgrad,
        )

    def __repr__(self) -> str:
        return f"Adam(learning_rate={self.learning_rate})"


def _optimizer_options(spec: Any) -> dict[str, Any]:
    """renshu's ``optimizer``/``learning_rate`` options for a ``compile`` optimizer argument."""
    if isinstance(spec, Adam):
        optimizer: Any = "adam" if spec.is_default() else spec
        return {"optimizer": optimizer, "learning_rate": spec.learning_rate}
    if isinstance(spec, str):
        name = spec.lower()
        if name in OPTIMIZERS:  # Keras' default learning rate, not DQN's
            return {"optimizer": name, "learning_rate": 1e-3}
        if name == "sgd":  # Keras' SGD default learning rate
            return {"optimizer": functools.partial(torch.optim.SGD, lr=0.01)}
    elif callable(spec):
        return {"optimizer": spec}
    raise ConfigError(
        f"compile() optimizer must be Adam(lr=...), a name ({', '.join([*OPTIMIZERS, 'sgd'])}) "
        f"or a factory params -> torch.optim.Optimizer such as "
        f"functools.partial(torch.optim.SGD, lr=0.01), got {spec!r}."
    )


class KerasHuberLoss:
    """keras-rl's DQN loss: Huber with ``delta`` (its ``delta_clip``) on the TD error, batch mean.

    With keras-rl's default ``delta=inf`` this is ``0.5 * (q - target)**2``; with ``delta=1`` it
    equals renshu's "huber". A renshu ``loss(q, target, weights)`` callable.
    """

    def __init__(self, delta: float = math.inf) -> None:
        if not _is_number(delta) or not delta > 0:
            raise ConfigError(f"delta_clip must be a number > 0 (or np.inf), got {delta!r}.")
        self.delta = float(delta)

    def __call__(
        self, q: torch.Tensor, target: torch.Tensor, weights: torch.Tensor
    ) -> torch.Tensor:
        """The weighted batch mean of the elementwise loss."""
        if math.isinf(self.delta):
            elementwise = 0.5 * (q - target) ** 2
        else:
            elementwise = F.huber_loss(q, target, reduction="none", delta=self.delta)
        return (elementwise * weights).mean()

    def __repr__(self) -> str:
        return f"KerasHuberLoss(delta={self.delta})"


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------


class KerasInput(nn.Module):
    """Feeds a model written for keras-rl the input it expects.

    With ``window_axis``, renshu's ``(batch, *obs_shape)`` becomes keras-rl's
    ``(batch, 1, *obs_shape)``; with ``to_float``, integer observations are cast to float32 (Keras'
    input layers were float32). Parameters live in ``model``; this adds none.
    """

    def __init__(self, model: nn.Module, *, window_axis: bool, to_float: bool) -> None:
        super().__init__()
        self.model = model
        self.window_axis = window_axis
        self.to_float = to_float

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Q-values for a batch of observations."""
        if self.to_float:
            obs = obs.float()
        if self.window_axis:
            obs = obs.unsqueeze(1)
        out: torch.Tensor = self.model(obs)
        return out


class _Dueling(nn.Module):
    """keras-rl's dueling network: the last Linear becomes ``nb_actions + 1`` outputs (V, A)."""

    def __init__(self, model: nn.Module, nb_actions: int, dueling_type: str) -> None:
        super().__init__()
        last = model[-1] if isinstance(model, nn.Sequential) and len(model) > 0 else None
        if not isinstance(model, nn.Sequential) or not isinstance(last, nn.Linear):
            raise ConfigError(
                "enable_dueling_network=True needs the model to be an nn.Sequential ending in an "
                f"nn.Linear (its last layer is replaced by the dueling head), got "
                f"{type(model).__name__}. Build the dueling head into your module instead."
            )
        if dueling_type not in ("avg", "max", "naive"):
            raise ConfigError(
                f"dueling_type must be one of 'avg', 'max', 'naive', got {dueling_type!r}."
            )
        self.torso = model[:-1]
        self.head = nn.Linear(last.in_features, nb_actions + 1)
        self.dueling_type = dueling_type

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Q = V + A - mean(A) ("avg"), V + A - max(A) ("max") or V + A ("naive")."""
        y = self.head(self.torso(obs))
        value, advantage = y[:, :1], y[:, 1:]
        if self.dueling_type == "avg":
            return value + advantage - advantage.mean(dim=1, keepdim=True)
        if self.dueling_type == "max":
            return value + advantage - advantage.max(dim=1, keepdim=True).values
        return value + advantage


def _try_forward(
    model: nn.Module, shape: tuple[int, ...], dtype: torch.dtype
) -> tuple[tuple[int, ...] | None, str]:
    params = list(model.parameters())
    device = params[0].device if params else torch.device("cpu")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(torch.zeros(shape, dtype=dtype, device=device))
    except Exception as error:
        return None, f"{type(error).__name__}: {error}"
    finally:
        model.train(was_training)
    if not isinstance(out, torch.Tensor):
        return None, f"returned {type(out).__name__}"
    return tuple(out.shape), f"returned shape {tuple(out.shape)}"


def _check_is_module(model: Any) -> None:
    if not isinstance(model, nn.Module):
        raise ConfigError(
            f"model must be a torch.nn.Module mapping a batch of observations to Q-values, got "
            f"{type(model).__name__}. Port the Keras model to PyTorch, e.g. nn.Sequential("
            "nn.Flatten(), nn.Linear(obs_size, 24), nn.ReLU(), ..., nn.Linear(24, nb_actions))."
        )


def wrap_model(
    model: nn.Module,
    obs_shape: tuple[int, ...],
    obs_dtype: Any,
    window_length: int,
    nb_actions: int,
) -> nn.Module:
    """The Q-network renshu trains for a keras-rl style ``model`` (the model itself if it fits).

    A dry forward pass on a zero batch of 2 tries keras-rl's input layout ``(batch,
    window_length, *obs_shape)`` first, then renshu's ``(batch, *obs_shape)`` (the two differ
    only when ``window_length == 1``); the model must return ``(batch, nb_actions)``. When the
    keras-rl layout is the one that fits, or observations are integers, the model is wrapped in
    :class:`KerasInput`; otherwise it is returned as is.

    Raises:
        ConfigError: neither layout gives ``(batch, nb_actions)``; the message shows both tries.
    """
    _check_is_module(model)
    obs_shape = tuple(int(d) for d in obs_shape)
    to_float = not np.issubdtype(np.dtype(obs_dtype), np.floating)
    dtype = torch.float32 if to_float else getattr(torch, np.dtype(obs_dtype).name)
    layouts = [("keras-rl's (batch, window_length, *obs_shape)", (2, window_length, *obs_shape))]
    if window_length == 1:
        layouts.append(("renshu's (batch, *obs_shape)", (2, *obs_shape)))
    tried = []
    for i, (name, shape) in enumerate(layouts):
        out, said = _try_forward(model, shape, dtype)
        if out == (2, nb_actions):
            window_axis = i == 0 and window_length == 1
            if window_axis or to_float:
                return KerasInput(model, window_axis=window_axis, to_float=to_float)
            return model
        tried.append(f"{name} = {shape}: {said}")
    raise ConfigError(
        f"model must map a batch of observations to Q-values of shape (batch, nb_actions) = "
        f"(batch, {nb_actions}). On a zero batch of 2 it was tried with "
        + "; and with ".join(tried)
        + ". Check the first layer's input size and the last layer's output size (nb_actions)."
    )


# --------------------------------------------------------------------------------------------
# keras-rl's loggers and callback conventions
# --------------------------------------------------------------------------------------------


def _metric_text(agent: AgentLike, logs: dict[str, float]) -> str:
    parts = []
    if "losses/td_loss" in logs:
        parts.append(f" - loss: {logs['losses/td_loss']:.3f}")
    if "losses/q_values" in logs:
        parts.append(f" - mean_q: {logs['losses/q_values']:.3f}")
    exploration = getattr(agent, "exploration", None)
    if isinstance(exploration, LinearAnnealedPolicy) and "charts/epsilon" in logs:
        parts.append(f" - mean_{exploration.attr}: {logs['charts/epsilon']:.3f}")
    return "".join(parts)


class TrainIntervalLogger(Callback):
    """keras-rl's ``verbose=1`` output: a summary line every ``interval`` training steps.

    Prints ``Training for N steps ...``, then per interval ``Interval k (s steps performed)`` and
    ``n episodes - episode_reward: mean [min, max] - loss: ... - mean_q: ...`` (loss and mean_q
    are renshu's logged ``losses/td_loss`` and ``losses/q_values``), and ``done, took T
    seconds``. Give ``fit`` a ``log_every`` equal to ``interval``.
    """

    def __init__(self, interval: int = 10_000) -> None:
        self.interval = interval
        self._rewards: list[float] = []

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        self._total = int(logs.get("steps", 0))
        self._start_step = self.agent.num_steps
        self._start_time = time.perf_counter()
        self._index = 0
        self._rewards = []
        print(f"Training for {self._total} steps ...")
        self._header()

    def _header(self) -> None:
        done = self.agent.num_steps - self._start_step
        print(f"Interval {self._index + 1} ({done} steps performed)")

    def _summary(self, metrics: str) -> None:
        if self._rewards:
            r = np.asarray(self._rewards)
            print(
                f"{len(r)} episodes - episode_reward: {r.mean():.3f} [{r.min():.3f}, "
                f"{r.max():.3f}]{metrics}"
            )
        self._rewards = []

    def on_episode_end(self, episode: int, logs: dict[str, Any]) -> None:
        self._rewards.append(float(logs["episode_reward"]))

    def on_log(self, step: int, logs: dict[str, float]) -> None:
        if "charts/SPS" not in logs:  # only the periodic training metrics end an interval
            return
        self._summary(_metric_text(self.agent, logs))
        self._index += 1
        if step - self._start_step < self._total:
            print("")
            self._header()

    def on_train_end(self, logs: dict[str, Any]) -> None:
        self._summary("")
        print(f"done, took {time.perf_counter() - self._start_time:.3f} seconds")


class TrainEpisodeLogger(Callback):
    """keras-rl's ``verbose=2`` output: one line per training episode.

    ``step/nb_steps: episode: k, duration: ..s, episode steps: n, steps per second: ..,
    episode reward: .., mean reward: .. [min, max], mean action: .. [min, max],
    mean observation: .. [min, max]``.
    """

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        self._total = int(logs.get("steps", 0))
        self._start_step = self.agent.num_steps
        self._start_time = time.perf_counter()
        self._count = 0
        self._begun: dict[int, float] = {}
        self._steps: dict[int, list[tuple[float, float, float]]] = {}
        print(f"Training for {self._total} steps ...")

    def on_episode_begin(self, episode: int, logs: dict[str, Any]) -> None:
        self._begun[episode] = time.perf_counter()
        self._steps[episode] = []

    def on_step_end(self, step: int, logs: dict[str, Any]) -> None:
        obs = np.asarray(logs["observation"], dtype=np.float64)
        self._steps.setdefault(logs["episode"], []).append(
            (float(logs["reward"]), float(logs["action"]), float(obs.mean()) if obs.size else 0.0)
        )

    def on_episode_end(self, episode: int, logs: dict[str, Any]) -> None:
        rows = np.asarray(self._steps.pop(episode, []) or [(0.0, 0.0, 0.0)])
        duration = time.perf_counter() - self._begun.pop(episode, self._start_time)
        self._count += 1
        n = int(logs["nb_episode_steps"])
        width = len(str(self._total))
        r, a, o = rows[:, 0], rows[:, 1], rows[:, 2]
        print(
            f"{logs['nb_steps'] - self._start_step:{width}d}/{self._total}: "
            f"episode: {self._count}, duration: {duration:.3f}s, episode steps: {n}, "
            f"steps per second: {n / max(duration, 1e-9):.0f}, "
            f"episode reward: {logs['episode_reward']:.3f}, "
            f"mean reward: {r.mean():.3f} [{r.min():.3f}, {r.max():.3f}], "
            f"mean action: {a.mean():.3f} [{a.min():.3f}, {a.max():.3f}], "
            f"mean observation: {o.mean():.3f} [{o.min():.3f}, {o.max():.3f}]"
        )

    def on_train_end(self, logs: dict[str, Any]) -> None:
        print(f"done, took {time.perf_counter() - self._start_time:.3f} seconds")


class TestLogger(Callback):
    """keras-rl's test output: ``Testing for N episodes ...`` and
    ``Episode k: reward: R, steps: n`` per episode."""

    __test__ = False  # not a pytest test class

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        print(f"Testing for {logs.get('episodes')} episodes ...")

    def on_episode_end(self, episode: int, logs: dict[str, Any]) -> None:
        print(
            f"Episode {episode + 1}: reward: {logs['episode_reward']:.3f}, "
            f"steps: {logs['nb_episode_steps']}"
        )


class _Render(Callback):
    """keras-rl's ``visualize=True`` during ``fit``: ``env.render()`` after every step."""

    def __init__(self, env: gymnasium.Env[Any, Any]) -> None:
        self.env = env

    def on_tick(self, step: int) -> None:
        self.env.render()


def _defines(callback: Any, hook: str) -> bool:
    method = getattr(type(callback), hook, None)
    return method is not None and method is not getattr(Callback, hook, None)


class _KerasCallback(Callback):
    """Runs a user's callback with keras-rl's conventions.

    Sets keras-rl's ``model`` (the DQNAgent), ``params`` and ``env`` attributes on it; numbers
    episodes from 0 in every ``fit``/``test``; passes ``step`` as the index of the step within
    its episode; in ``test``, ``logs["nb_steps"]`` is the episode's length, as keras-rl had it.
    """

    def __init__(
        self, callback: Any, owner: DQNAgent, env: Any, params: dict[str, Any], testing: bool
    ) -> None:
        self.callback, self.owner, self.env, self.params = callback, owner, env, params
        self.testing = testing
        self._first_episode: int | None = None
        self._episode_steps: dict[int, int] = {}

    def set_agent(self, agent: AgentLike) -> None:
        self.agent = agent
        if callable(getattr(self.callback, "set_agent", None)):
            self.callback.set_agent(agent)
        for name, value in (("model", self.owner), ("params", self.params), ("env", self.env)):
            with contextlib.suppress(AttributeError):  # a read-only property: leave it
                setattr(self.callback, name, value)

    def _episode(self, episode: int) -> int:
        if self._first_episode is None:
            self._first_episode = episode
        return episode - self._first_episode

    def _call(self, hook: str, *args: Any) -> None:
        method = getattr(self.callback, hook, None)
        if callable(method):
            method(*args)

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        self._call("on_train_begin", logs)

    def on_train_end(self, logs: dict[str, Any]) -> None:
        self._call("on_train_end", logs)

    def on_episode_begin(self, episode: int, logs: dict[str, Any]) -> None:
        self._episode_steps[episode] = 0
        self._call("on_episode_begin", self._episode(episode), logs)

    def on_episode_end(self, episode: int, logs: dict[str, Any]) -> None:
        self._episode_steps.pop(episode, None)
        if self.testing:
            logs = {**logs, "nb_steps": logs["nb_episode_steps"]}
        self._call("on_episode_end", self._episode(episode), logs)

    def on_tick(self, step: int) -> None:
        self._call("on_tick", step)

    def on_log(self, step: int, logs: dict[str, float]) -> None:
        self._call("on_log", step, logs)


class _KerasStepCallback(_KerasCallback):
    """:class:`_KerasCallback` for a callback with step hooks (renshu builds step logs for it)."""

    def on_step_begin(self, step: int, logs: dict[str, Any]) -> None:
        episode = logs["episode"]
        logs = {**logs, "episode": self._episode(episode)}
        self._call("on_step_begin", self._episode_steps.get(episode, 0), logs)

    def on_step_end(self, step: int, logs: dict[str, Any]) -> None:
        episode = logs["episode"]
        index = self._episode_steps.get(episode, 0)
        self._episode_steps[episode] = index + 1
        self._call("on_step_end", index, {**logs, "episode": self._episode(episode)})


# --------------------------------------------------------------------------------------------
# The agent
# --------------------------------------------------------------------------------------------


class DQNAgent:
    """keras-rl2's ``DQNAgent`` on :class:`renshu.DQN` (see the module docstring for the map).

    Args:
        model: a ``torch.nn.Module`` from a batch of observations to Q-values ``(batch,
            nb_actions)``, written for keras-rl's input ``(batch, window_length, *obs_shape)`` or
            renshu's ``(batch, *obs_shape)`` (see :func:`wrap_model`). It is trained in place,
            behind renshu's input layer (see ``normalize_obs``): to compute Q-values yourself,
            use :meth:`compute_q_values` or ``dqn.agent.q_network``, which include it.
        policy: the training policy (default ``EpsGreedyQPolicy(eps=0.1)``), a policy from this
            module or any renshu exploration object.
        test_policy: the ``test()`` policy (default greedy); greedy or eps-greedy.
        enable_double_dqn: Double DQN (keras-rl2's default False).
        enable_dueling_network: replace the model's last ``nn.Linear`` by a dueling head.
        dueling_type: "avg", "max" or "naive", as keras-rl.
        nb_actions: the number of actions; checked against the env's action space.
        memory: a :class:`SequentialMemory` (default ``limit=50000, window_length=1``).
        gamma, batch_size, nb_steps_warmup, train_interval, target_model_update: as keras-rl.
        memory_interval: only 1 (every transition is stored).
        delta_clip: the Huber loss' delta (keras-rl's default ``np.inf``: half squared error).
        delta_range: keras-rl's deprecated spelling of ``delta_clip`` (its upper bound is used).
        custom_model_objects: accepted and ignored (a Keras notion).
        processor: not supported (must be None): wrap the environment instead.
        seed: renshu extension, seeds networks, replay, exploration and envs (None: random).
        device: renshu extension, "auto" (CUDA when available), "cpu", "cuda", ...
        normalize_obs: renshu extension (default True): the model gets float observations
            normalized by their running mean and standard deviation and uint8 ones divided by
            255, as renshu's own networks do; False gives it the observations as they are.
    """

    def __init__(
        self,
        model: nn.Module,
        policy: Any = None,
        test_policy: Any = None,
        enable_double_dqn: bool = False,
        enable_dueling_network: bool = False,
        dueling_type: str = "avg",
        *,
        nb_actions: int,
        memory: SequentialMemory | None = None,
        gamma: float = 0.99,
        batch_size: int = 32,
        nb_steps_warmup: int = 1000,
        train_interval: int = 1,
        memory_interval: int = 1,
        target_model_update: float = 10000,
        delta_range: tuple[float, float] | None = None,
        delta_clip: float = math.inf,
        custom_model_objects: dict[str, Any] | None = None,
        processor: Any = None,
        seed: int | None = None,
        device: str = "auto",
        normalize_obs: bool = True,
    ) -> None:
        _check_is_module(model)
        if not _is_int(nb_actions) or nb_actions < 1:
            raise ConfigError(f"nb_actions must be an int >= 1, got {nb_actions!r}.")
        if processor is not None:
            raise ConfigError(
                "processor is not supported: renshu has no Processor. Apply the same change "
                "with a gymnasium wrapper (ObservationWrapper, RewardWrapper, ActionWrapper) "
                "around the env."
            )
        if memory_interval != 1:
            raise ConfigError(
                f"memory_interval must be 1 (renshu stores every transition), got "
                f"{memory_interval!r}."
            )
        if not _is_number(target_model_update) or not target_model_update > 0:
            raise ConfigError(
                "target_model_update must be > 0: < 1 soft-updates the target network by that "
                f"fraction after every gradient step, >= 1 copies it every N steps; got "
                f"{target_model_update!r}."
            )
        if delta_range is not None:
            delta_clip = delta_range[1]
        memory = memory if memory is not None else SequentialMemory(limit=50_000)
        if not isinstance(memory, SequentialMemory):
            raise ConfigError(
                f"memory must be a SequentialMemory(limit, window_length), got {memory!r}."
            )
        policy = policy if policy is not None else EpsGreedyQPolicy()
        test_policy = test_policy if test_policy is not None else GreedyQPolicy()
        for name, value in (("policy", policy), ("test_policy", test_policy)):
            if not isinstance(value, Exploration):
                raise ConfigError(
                    f"{name} must be a policy from renshu.compat.kerasrl (GreedyQPolicy, "
                    "EpsGreedyQPolicy, BoltzmannQPolicy, LinearAnnealedPolicy) or a renshu "
                    f"exploration object with select(q_values, step, rng) and value(step), "
                    f"got {value!r}."
                )
        _test_epsilon(test_policy)  # refuse a test policy renshu cannot play, now

        self.nb_actions = int(nb_actions)
        self.memory = memory
        self.policy = policy
        self.test_policy = test_policy
        self.gamma, self.batch_size = gamma, batch_size
        self.nb_steps_warmup, self.train_interval = nb_steps_warmup, train_interval
        self.target_model_update = (
            int(target_model_update) if target_model_update >= 1 else float(target_model_update)
        )
        self.enable_double_dqn = bool(enable_double_dqn)
        self.enable_dueling_network = bool(enable_dueling_network)
        self.dueling_type = dueling_type
        self.delta_clip = float(delta_clip)
        self.custom_model_objects = custom_model_objects or {}
        self.model: nn.Module = (
            _Dueling(model, self.nb_actions, dueling_type) if enable_dueling_network else model
        )
        self._options: dict[str, Any] = {
            "buffer_size": memory.limit,
            "window": memory.window_length,
            "warmup_steps": nb_steps_warmup,
            "train_every": train_interval,
            "target_update": self.target_model_update,
            "gamma": gamma,
            "batch_size": batch_size,
            "double": self.enable_double_dqn,
            "n_step": 1,  # keras-rl's one-step target, whatever DQN's default
            "loss": KerasHuberLoss(self.delta_clip),
            "max_grad_norm": None,  # keras-rl did not clip gradients
            "policy": policy,
            "device": device,
            "normalize_obs": normalize_obs,
        }
        if seed is not None:
            self._options["seed"] = seed
        DQNConfig(**self._options)  # every value checked now, with renshu's messages
        self.compiled = False
        self.agent: DQN | None = None
        """The renshu DQN doing the work: built by the first fit/test/load_weights."""
        self._envs: list[tuple[Any, int | None, gymnasium.Env[Any, Any]]] = []
        self._fit_env: gymnasium.Env[Any, Any] | None = None
        self._recent: deque[np.ndarray] = deque(maxlen=memory.window_length)
        self._rng = np.random.default_rng(seed)

    # ----------------------------------------------------------------------------- compile
    def compile(self, optimizer: Any, metrics: Sequence[Any] | None = None) -> None:
        """Choose the optimizer: ``Adam(lr=...)``, a name, or a factory ``params -> optimizer``.

        ``metrics`` (e.g. ``['mae']``) is accepted and ignored: renshu computes the TD loss and
        the mean Q-value of the actions taken (``loss`` and ``mean_q`` in the ``verbose=1``
        lines; ``losses/td_loss`` and ``losses/q_values`` in ``History.metrics``).
        """
        options = _optimizer_options(optimizer)
        DQNConfig(**{**self._options, **options})
        self._options.update(options)
        self.metrics = list(metrics or [])
        self.compiled = True

    def _require_compiled(self, what: str) -> None:
        if not self.compiled:
            raise RuntimeError(
                f"You tried to {what} your agent but it hasn't been compiled yet. Please call "
                f"`compile()` before `{what}()`."
            )

    # ----------------------------------------------------------------------------- envs
    def _gym_env(self, env: Any, max_steps: int | None) -> gymnasium.Env[Any, Any]:
        """``env`` as a Gymnasium env (a legacy env is adapted once per object), time-limited
        by ``max_steps`` when given."""

        def same(raw: Any) -> bool:
            return raw is env or (isinstance(env, str) and raw == env)

        for raw, limit, built in self._envs:
            if same(raw) and limit == max_steps:
                return built
        if max_steps is not None and (not _is_int(max_steps) or max_steps < 1):
            raise ConfigError(
                f"nb_max_episode_steps must be an int >= 1 or None, got {max_steps!r}."
            )
        base = next((b for r, lim, b in self._envs if same(r) and lim is None), None)
        if base is None:
            base = make(env)
            self._envs.append((env, None, base))
        if max_steps is None:
            return base
        limited = gymnasium.wrappers.TimeLimit(base, max_episode_steps=int(max_steps))
        self._envs.append((env, max_steps, limited))
        return limited

    def _check_actions(self, space: Any) -> None:
        if not isinstance(space, spaces.Discrete):
            raise ConfigError(f"DQNAgent needs a Discrete action space, got {space}.")
        if int(space.n) != self.nb_actions:
            raise ConfigError(
                f"nb_actions={self.nb_actions} but the environment's action space is {space} "
                f"({int(space.n)} actions). Pass nb_actions=env.action_space.n and give the "
                "model that many outputs."
            )

    def _net(self, obs_space: spaces.Space[Any]) -> nn.Module:
        if not isinstance(obs_space, spaces.Box):
            raise ConfigError(
                f"DQNAgent needs a Box observation space, got {obs_space}. Wrap the env, e.g. "
                "gymnasium.wrappers.FlattenObservation."
            )
        return wrap_model(
            self.model,
            tuple(obs_space.shape),
            obs_space.dtype,
            self.memory.window_length,
            self.nb_actions,
        )

    def _agent_for(self, env: gymnasium.Env[Any, Any]) -> DQN:
        """The renshu DQN, built on ``env`` the first time and switched to it later."""
        self._check_actions(env.action_space)
        if self.agent is None:
            self.agent = DQN(env, **{**self._options, "net": self._net(env.observation_space)})
        elif env is not self._fit_env:
            self.agent.set_env(env)
        self._fit_env = env
        return self.agent

    def _wrap_callbacks(
        self, callbacks: Sequence[Any] | None, env: Any, params: dict[str, Any], testing: bool
    ) -> list[Callback]:
        wrapped: list[Callback] = []
        for cb in callbacks or []:
            steps = _defines(cb, "on_step_begin") or _defines(cb, "on_step_end")
            cls = _KerasStepCallback if steps else _KerasCallback
            wrapped.append(cls(cb, self, env, params, testing))
        return wrapped

    # ----------------------------------------------------------------------------- fit / test
    def fit(
        self,
        env: Any,
        nb_steps: int,
        action_repetition: int = 1,
        callbacks: Sequence[Any] | None = None,
        verbose: int = 1,
        visualize: bool = False,
        nb_max_start_steps: int = 0,
        start_step_policy: Any = None,
        log_interval: int = 10000,
        nb_max_episode_steps: int | None = None,
    ) -> History:
        """Train for ``nb_steps`` env steps; returns the History of the training episodes.

        ``env`` may be a legacy gym env (adapted automatically, with one warning), a Gymnasium
        env or anything :func:`renshu.make` accepts. ``verbose``: 0 quiet, 1 a summary every
        ``log_interval`` steps (and renshu's progress bar on a terminal), 2 a line per episode.
        ``nb_max_episode_steps`` cuts episodes by a time limit (a truncation, which renshu
        bootstraps; keras-rl treated it as terminal). ``action_repetition``,
        ``nb_max_start_steps`` and ``start_step_policy`` only take their defaults.
        """
        self._require_compiled("fit")
        _defaults_only(
            action_repetition=(action_repetition, 1),
            nb_max_start_steps=(nb_max_start_steps, 0),
            start_step_policy=(start_step_policy, None),
        )
        if not _is_int(nb_steps) or nb_steps < 1:
            raise ConfigError(f"nb_steps must be an int >= 1, got {nb_steps!r}.")
        if not _is_int(log_interval) or log_interval < 1:
            raise ConfigError(f"log_interval must be an int >= 1, got {log_interval!r}.")
        gym_env = self._gym_env(env, nb_max_episode_steps)
        agent = self._agent_for(gym_env)
        cbs = self._wrap_callbacks(callbacks, env, {"nb_steps": nb_steps}, testing=False)
        if verbose == 1:
            cbs.append(TrainIntervalLogger(log_interval))
        elif verbose >= 2:
            cbs.append(TrainEpisodeLogger())
        if visualize:
            cbs.append(_Render(gym_env))
        return agent.fit(
            nb_steps,
            callbacks=cbs,
            progress=None if verbose >= 1 else False,
            log_every=log_interval,
        )

    def test(
        self,
        env: Any,
        nb_episodes: int = 1,
        action_repetition: int = 1,
        callbacks: Sequence[Any] | None = None,
        visualize: bool = True,
        nb_max_episode_steps: int | None = None,
        nb_max_start_steps: int = 0,
        start_step_policy: Any = None,
        verbose: int = 1,
    ) -> History:
        """Play ``nb_episodes`` episodes with ``test_policy`` (greedy by default); no learning.

        Prints ``Episode k: reward: R, steps: n`` per episode with ``verbose >= 1``; with
        ``visualize`` calls ``env.render()`` every step (a None frame is fine). Returns a History
        whose ``history["nb_steps"]`` is each episode's length, keras-rl's meaning in test.
        """
        self._require_compiled("test")
        _defaults_only(
            action_repetition=(action_repetition, 1),
            nb_max_start_steps=(nb_max_start_steps, 0),
            start_step_policy=(start_step_policy, None),
        )
        if not _is_int(nb_episodes) or nb_episodes < 1:
            raise ConfigError(f"nb_episodes must be an int >= 1, got {nb_episodes!r}.")
        gym_env = self._gym_env(env, nb_max_episode_steps)
        self._check_actions(gym_env.action_space)
        if self.agent is None:
            self._agent_for(gym_env)
        assert self.agent is not None
        cbs = self._wrap_callbacks(callbacks, env, {"nb_episodes": nb_episodes}, testing=True)
        if verbose >= 1:
            cbs.append(TestLogger())
        history = self.agent.test(
            nb_episodes,
            # the training env itself: let renshu close its open training episode first
            env=None if gym_env is self._fit_env else gym_env,
            callbacks=cbs,
            render=visualize,
            epsilon=_test_epsilon(self.test_policy),
        )
        history.history["nb_steps"] = list(history.history["nb_episode_steps"])
        return history

    # ----------------------------------------------------------------------------- acting
    @property
    def step(self) -> int:
        """Training steps taken so far (renshu's global count)."""
        return self.agent.num_steps if self.agent is not None else 0

    @property
    def target_model(self) -> nn.Module | None:
        """The target network (None before the agent is built)."""
        return self.agent.target_network if self.agent is not None else None

    def _built(self, what: str) -> DQN:
        if self.agent is None:
            raise ConfigError(
                f"{what} needs the agent's networks, which are built by fit(), test() or "
                "load_weights(); call one of those first."
            )
        return self.agent

    def compute_batch_q_values(self, state_batch: Any) -> np.ndarray:
        """Q-values ``(batch, nb_actions)`` for a batch of states (each ``window_length``
        observations, or one observation when ``window_length`` is 1)."""
        agent = self._built("compute_batch_q_values")
        shape = tuple(agent.obs_shape)
        batch = np.asarray(state_batch, dtype=agent.observation_space.dtype)
        size = math.prod(shape)
        if batch.size == 0 or batch.size % size:
            raise ConfigError(
                f"states must hold whole observations of shape {shape}, got an array of shape "
                f"{batch.shape}."
            )
        obs = torch.as_tensor(batch.reshape(-1, *shape), device=agent.device)
        with torch.inference_mode():
            q: np.ndarray = agent.q_network(obs).float().cpu().numpy()
        return q

    def compute_q_values(self, state: Any) -> np.ndarray:
        """Q-values ``(nb_actions,)`` for one state."""
        return self.compute_batch_q_values(np.asarray(state)[None])[0]

    def forward(self, observation: Any) -> int:
        """The action ``test()`` would take after ``observation`` (keras-rl's ``forward`` when
        not training); with ``window_length > 1`` the recent observations of this episode are
        stacked in (call :meth:`reset_states` at an episode's start)."""
        agent = self._built("forward")
        frame = np.asarray(observation, dtype=agent.observation_space.dtype).reshape(
            agent.observation_space.shape
        )
        self._recent.append(frame)
        if self.memory.window_length > 1:
            pad = [np.zeros_like(frame)] * (self.memory.window_length - len(self._recent))
            state: Any = np.stack([*pad, *self._recent])
        else:
            state = frame
        q = self.compute_q_values(state)
        eps = _test_epsilon(self.test_policy)
        if eps > 0 and self._rng.random() < eps:
            return int(self._rng.integers(self.nb_actions))
        return int(np.argmax(q))

    def reset_states(self) -> None:
        """Forget the recent observations :meth:`forward` stacks (keras-rl's reset_states)."""
        self._recent.clear()

    # ----------------------------------------------------------------------------- weights
    def save_weights(self, filepath: str | Path, overwrite: bool = False) -> Path:
        """Save the agent at ``filepath`` as a renshu directory (safetensors + JSON, no pickle).

        The name may keep keras-rl's ``.h5f`` suffix: it is the directory's name. It holds the
        online and target networks, the optimizer state and the counters. An existing
        ``filepath`` raises FileExistsError unless ``overwrite=True``.
        """
        agent = self._built("save_weights")
        path = Path(filepath)
        if path.exists() or path.is_symlink():
            if not overwrite:
                raise FileExistsError(
                    f"{str(path)!r} already exists. Pass overwrite=True to replace it, or choose "
                    "another path."
                )
            if not path.is_dir():
                path.unlink()
        return agent.save(path, overwrite=overwrite)

    def load_weights(self, filepath: str | Path) -> None:
        """Load what :meth:`save_weights` wrote into this agent (built on the saved spaces).

        Restores both networks, the optimizer state and the counters; the replay memory starts
        empty. Needs ``compile()`` first, like keras-rl.
        """
        self._require_compiled("load_weights")
        path = Path(filepath)
        if path.is_file():
            raise CheckpointError(
                f"{str(path)!r} is a file; renshu's save_weights writes a directory there. A "
                "Keras HDF5 weights file cannot be read by renshu: retrain the agent (or copy "
                "the weights into the PyTorch model yourself), then save_weights again."
            )
        ckpt = checkpoint.read(path, replay=False)
        if ckpt.config.get("algo") != DQN.algo:
            raise CheckpointError(
                f"{str(path)!r} holds a {ckpt.config.get('algo')!r} agent, not a DQN one."
            )
        obs_space = checkpoint.space_from_json(ckpt.config["observation_space"])
        act_space = checkpoint.space_from_json(ckpt.config["action_space"])
        self._check_actions(act_space)
        options = {**self._options, "net": self._net(obs_space)}
        self.agent = DQN.from_checkpoint(ckpt, env=self._fit_env, **options)
        self.reset_states()

    def __repr__(self) -> str:
        return (
            f"DQNAgent(nb_actions={self.nb_actions}, memory={self.memory!r}, "
            f"policy={self.policy!r}, step={self.step})"
        )


def _defaults_only(**given: tuple[Any, Any]) -> None:
    for name, (value, default) in given.items():
        if value != default:
            raise ConfigError(
                f"{name}={value!r} is not supported by renshu's keras-rl layer; leave it at "
                f"{default!r} (use a gymnasium wrapper for frame skipping or random starts)."
            )


# --------------------------------------------------------------------------------------------
# keras-rl's module layout: rl.agents, rl.policy, rl.memory, rl.callbacks
# --------------------------------------------------------------------------------------------

# Classes used as namespaces, so that type checkers accept ``class X(rl.callbacks.Callback)``.


class agents:
    """``rl.agents``: ``rl.agents.DQNAgent``."""

    DQNAgent: TypeAlias = DQNAgent


class policy:
    """``rl.policy``: the Q-policies."""

    GreedyQPolicy: TypeAlias = GreedyQPolicy
    EpsGreedyQPolicy: TypeAlias = EpsGreedyQPolicy
    BoltzmannQPolicy: TypeAlias = BoltzmannQPolicy
    LinearAnnealedPolicy: TypeAlias = LinearAnnealedPolicy


class memory:
    """``rl.memory``: ``rl.memory.SequentialMemory``."""

    SequentialMemory: TypeAlias = SequentialMemory


class callbacks:
    """``rl.callbacks``: ``rl.callbacks.Callback`` (renshu's Callback) and the loggers."""

    Callback: TypeAlias = Callback
    TestLogger: TypeAlias = TestLogger
    TrainEpisodeLogger: TypeAlias = TrainEpisodeLogger
    TrainIntervalLogger: TypeAlias = TrainIntervalLogger
