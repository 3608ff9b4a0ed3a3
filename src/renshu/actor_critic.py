"""Actor-critic networks for policy-gradient agents (PPO, A2C): a policy and a value function.

:func:`build_actor_critic` reads observations as :func:`renshu.nets.build_q_network` does (the
same preprocessing: uint8 scaled to [0, 1], running normalization of float observations, one
torso per part of an encoded Dict or Tuple observation) and puts two heads on top: the policy's
outputs (the parameters of :mod:`renshu.distributions`' distribution for the action space) and
a scalar value.

The default network is Stable-Baselines3's and CleanRL's for PPO: for vector observations
separate policy and value MLPs of 64x64 tanh units; for images the Nature CNN (ReLU, as
:func:`renshu.nets.build_q_network`'s CNN) shared by both heads. Weights are orthogonal as in
CleanRL (gain sqrt(2) in hidden and conv layers, 0.01 for the policy head so that the first
policy is close to uniform, 1 for the value head), biases 0.

Example:
    >>> import numpy as np, torch
    >>> from gymnasium import spaces
    >>> ac = build_actor_critic((4,), np.dtype(np.float32), spaces.Discrete(2))
    >>> actions, log_prob, value = ac.act(torch.zeros(3, 4))
    >>> actions.shape, log_prob.shape, value.shape
    (torch.Size([3]), torch.Size([3]), torch.Size([3]))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import gymnasium
import numpy as np
import torch
from torch import nn

from renshu.distributions import ActionDist, BatchDist, for_space
from renshu.errors import ConfigError
from renshu.nets import (
    MultiInput,
    ObsPreprocess,
    activation_class,
    input_layers,
    mlp_layers,
    resolve_net,
)
from renshu.recurrent import LSTMCore, State

__all__ = [
    "POLICY_HEAD_GAIN",
    "VALUE_HEAD_GAIN",
    "ActorCritic",
    "RecurrentActorCritic",
    "build_actor_critic",
    "build_recurrent_actor_critic",
]

HIDDEN_GAIN = math.sqrt(2)
"""Orthogonal-init gain of hidden and conv layers."""

POLICY_HEAD_GAIN = 0.01
"""Orthogonal-init gain of the policy head (small: the first policy is near uniform)."""

VALUE_HEAD_GAIN = 1.0
"""Orthogonal-init gain of the value head."""


def _orthogonal(module: nn.Module, gain: float) -> None:
    """Orthogonal weights with ``gain`` and zero biases for every Linear and Conv2d in
    ``module``."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear | nn.Conv2d):
            nn.init.orthogonal_(layer.weight, gain)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


class ActorCritic(nn.Module):
    """``preprocess -> features -> (policy_net -> policy_head, value_net -> value_head)``.

    ``features`` is the CNN (images), a Flatten (vectors) or nothing (encoded Dict/Tuple parts,
    whose torsos are in ``preprocess``); ``policy_net``/``value_net`` are the hidden MLP layers
    (``value_net`` is None when they are shared, always so for a CNN). ``dist`` turns the policy
    head's outputs into actions (a Box's learnable ``log_std`` lives there). Normalization
    statistics, when built with ``normalize``, are ``preprocess.norm`` (the agent updates them).
    """

    def __init__(
        self,
        preprocess: ObsPreprocess | MultiInput,
        features: nn.Sequential,
        policy_net: nn.Sequential,
        value_net: nn.Sequential | None,
        policy_head: nn.Linear,
        value_head: nn.Linear,
        dist: ActionDist,
        *,
        kind: str,
    ) -> None:
        super().__init__()
        self.preprocess = preprocess
        self.features = features
        self.policy_net = policy_net
        self.value_net = value_net
        self.policy_head = policy_head
        self.value_head = value_head
        self.dist = dist
        self.kind = kind
        self.shared = value_net is None
        self.obs_shape = preprocess.obs_shape

    def _hidden(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(self.preprocess(obs))
        pi = self.policy_net(h)
        return pi, (pi if self.value_net is None else self.value_net(h))

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Observations ``(B, *obs_shape)`` -> distribution parameters ``(B, dist.n_outputs)``
        and values ``(B,)``."""
        pi, v = self._hidden(obs)
        return self.policy_head(pi), self.value_head(v).squeeze(-1)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """Values ``(B,)`` of observations (the policy layers are not run unless shared)."""
        h = self.features(self.preprocess(obs))
        h = self.policy_net(h) if self.value_net is None else self.value_net(h)
        return self.value_head(h).squeeze(-1)

    def distribution(self, obs: torch.Tensor) -> tuple[BatchDist, torch.Tensor]:
        """The action distributions for observations, and their values ``(B,)``."""
        params, value = self(obs)
        return self.dist(params), value

    @torch.no_grad()
    def act(
        self,
        obs: torch.Tensor,
        deterministic: bool = False,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Actions ``(B, *action_shape)`` (sampled, from ``generator`` if given, or the greedy
        ones when ``deterministic``), their log-probabilities ``(B,)`` and the values ``(B,)``,
        without gradients. :meth:`ActionDist.to_env` turns the actions into the env's."""
        dist, value = self.distribution(obs)
        actions = dist.mode() if deterministic else dist.sample(generator)
        return actions, dist.log_prob(actions), value

    def evaluate(
        self, obs: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Log-probabilities of ``actions``, entropies and values, each ``(B,)``, with
        gradients (the policy-gradient loss)."""
        dist, value = self.distribution(obs)
        return dist.log_prob(actions), dist.entropy(), value


def build_actor_critic(
    obs_shape: tuple[int, ...],
    obs_dtype: np.dtype[Any],
    action_space: gymnasium.Space[Any],
    *,
    net: str | Sequence[int] = "auto",
    activation: str | None = None,
    normalize: bool | tuple[int, ...] = False,
    inputs: Sequence[Any] | None = None,
    obs_bounds: tuple[np.ndarray, np.ndarray] | None = None,
    shared: bool = False,
    log_std_init: float = 0.0,
) -> ActorCritic:
    """Build an :class:`ActorCritic` for observations of ``obs_shape``/``obs_dtype`` and
    ``action_space``.

    Args:
        obs_shape: shape of one observation (stacked frames included), without the batch axis.
        obs_dtype: dtype the observations arrive in; uint8 is scaled to [0, 1] inside the net.
        action_space: one env's action space (:func:`renshu.distributions.for_space`).
        net: ``"auto"`` (the Nature CNN for uint8 images at least 16x16, else an MLP of 64x64),
            ``"mlp"``, ``"cnn"`` or a sequence of hidden sizes; as in
            :func:`renshu.nets.build_q_network`.
        activation: of the MLP and conv layers; default tanh for MLP layers, ReLU for conv
            layers (SB3's and CleanRL's PPO defaults). One of :data:`renshu.nets.ACTIVATIONS`.
        normalize: normalize non-uint8 observations by running statistics (see
            :func:`renshu.nets.build_q_network`).
        inputs: the parts of an encoded Dict/Tuple observation (:class:`renshu.inputs.ObsEncoder`).
        obs_bounds: declared ``(low, high)`` of the normalized observation.
        shared: one MLP torso for policy and value instead of one each (a CNN is always shared).
        log_std_init: initial log standard deviation of a Box's Gaussian.

    Raises:
        ConfigError: an unsupported action space (named), a bad ``net`` or ``activation``.
    """
    obs_shape = tuple(int(d) for d in obs_shape)
    obs_dtype = np.dtype(obs_dtype)
    if isinstance(net, nn.Module):
        raise ConfigError(
            "net of an actor-critic must be 'auto', 'mlp', 'cnn' or a sequence of hidden sizes, "
            f"got a module ({type(net).__name__})"
        )
    dist = for_space(action_space, log_std_init=log_std_init)
    mlp_act = activation_class(activation or "tanh")
    conv_act = activation_class(activation or "relu")
    kind, hidden = resolve_net(net, obs_shape, obs_dtype, inputs)
    preprocess, layers, n_features = input_layers(
        kind,
        obs_shape,
        obs_dtype,
        conv_act,
        normalize=normalize,
        inputs=inputs,
        obs_bounds=obs_bounds,
    )
    if kind == "cnn":
        hidden, shared = (), True
    elif inputs is not None:
        kind = "multi"
    policy_layers, out_features = mlp_layers(n_features, hidden, mlp_act)
    value_net = None if shared else nn.Sequential(*mlp_layers(n_features, hidden, mlp_act)[0])
    model = ActorCritic(
        preprocess,
        nn.Sequential(*layers),
        nn.Sequential(*policy_layers),
        value_net,
        nn.Linear(out_features, dist.n_outputs),
        nn.Linear(out_features, 1),
        dist,
        kind=kind,
    )
    _orthogonal(model.preprocess, HIDDEN_GAIN)
    _orthogonal(model.features, HIDDEN_GAIN)
    _orthogonal(model.policy_net, HIDDEN_GAIN)
    if model.value_net is not None:
        _orthogonal(model.value_net, HIDDEN_GAIN)
    _orthogonal(model.policy_head, POLICY_HEAD_GAIN)
    _orthogonal(model.value_head, VALUE_HEAD_GAIN)
    return model


class RecurrentActorCritic(nn.Module):
    """``preprocess -> features -> torso -> LSTM core -> (policy_head, value_head)``: an
    actor-critic with memory (recurrent PPO and A2C).

    The torso is the one :func:`build_actor_critic` builds (shared: the CNN, or the MLP of
    ``net``), the core a :class:`renshu.recurrent.LSTMCore` that policy and value share: one
    state per env (what :meth:`renshu.train.agent.Agent.act` hands back), half the recurrent
    work of one core each, and CleanRL's PPO-LSTM layout. Its state starts from zero where an
    episode starts. ``forward`` (used by ``summary()``) runs a batch from the zero state.
    """

    def __init__(self, base: ActorCritic, lstm_size: int) -> None:
        super().__init__()
        self.preprocess = base.preprocess
        self.features = base.features
        self.torso = base.policy_net
        self.dist = base.dist
        self.kind = base.kind
        self.obs_shape = base.obs_shape
        width = _out_features(base.policy_net, base.policy_head.in_features)
        self.core = LSTMCore(width, lstm_size)
        self.policy_head = nn.Linear(lstm_size, base.policy_head.out_features)
        self.value_head = nn.Linear(lstm_size, 1)
        _orthogonal(self.policy_head, POLICY_HEAD_GAIN)
        _orthogonal(self.value_head, VALUE_HEAD_GAIN)

    def initial_state(self, batch: int) -> State:
        """The zero state of ``batch`` envs."""
        return self.core.initial_state(batch)

    def _embed(self, obs: torch.Tensor) -> torch.Tensor:
        return self.torso(self.features(self.preprocess(obs)))

    def step(
        self, obs: torch.Tensor, state: State, starts: torch.Tensor | None = None
    ) -> tuple[BatchDist, torch.Tensor, State]:
        """One step for acting: observations ``(B, *obs_shape)`` from ``state`` (zeroed where
        ``starts`` ``(B,)`` is true) -> action distributions, values ``(B,)``, next state."""
        out, state = self.core.step(self._embed(obs), state, starts)
        return self.dist(self.policy_head(out)), self.value_head(out).squeeze(-1), state

    def unroll(
        self, obs: torch.Tensor, state: State, starts: torch.Tensor
    ) -> tuple[BatchDist, torch.Tensor]:
        """Sequences ``(T, B, *obs_shape)`` unrolled from ``state`` (``(1, B, lstm_size)``
        each), zeroed where ``starts`` ``(T, B)`` marks an episode's start -> the
        distributions and values ``(T * B,)`` of every step, time-major."""
        T, B = obs.shape[:2]
        features = self._embed(obs.reshape(T * B, *obs.shape[2:]))
        out, _ = self.core(features.view(T, B, -1), state, starts)
        out = out.reshape(T * B, -1)
        return self.dist(self.policy_head(out)), self.value_head(out).squeeze(-1)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Distribution parameters and values of a batch, each from the zero state."""
        out, _ = self.core.step(self._embed(obs), self.core.initial_state(len(obs), obs.device))
        return self.policy_head(out), self.value_head(out).squeeze(-1)


def _out_features(torso: nn.Sequential, default: int) -> int:
    """Features a torso gives (its last Linear's outputs; ``default`` when it has none)."""
    linears = [m for m in torso.modules() if isinstance(m, nn.Linear)]
    return linears[-1].out_features if linears else default


def build_recurrent_actor_critic(
    obs_shape: tuple[int, ...],
    obs_dtype: np.dtype[Any],
    action_space: gymnasium.Space[Any],
    *,
    lstm_size: int = 128,
    **options: Any,
) -> RecurrentActorCritic:
    """A :class:`RecurrentActorCritic`: :func:`build_actor_critic`'s shared torso (same
    ``options``), an LSTM of ``lstm_size`` units, the policy and value heads."""
    options["shared"] = True
    base = build_actor_critic(obs_shape, obs_dtype, action_space, **options)
    return RecurrentActorCritic(base, lstm_size)
