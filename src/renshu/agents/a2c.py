"""A2C: synchronous advantage actor-critic (Mnih et al. 2016, the synchronous variant).

Reads top to bottom: the config (Stable-Baselines3's option names and defaults: 5 steps per env,
RMSprop, no advantage normalization), then the update, one gradient step per rollout. Collecting
the rollout (acting, n-step returns through GAE with ``gae_lambda=1``, truncation bootstrap) is
shared with PPO in :mod:`renshu.train.onpolicy`.

    agent = renshu.A2C("CartPole-v1", seed=0, num_envs=8)
    agent.fit(steps=100_000)

With memory: ``renshu.A2C(env, recurrent=True)`` (see :mod:`renshu.train.onpolicy`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
import torch
import torch.nn.functional as F

from renshu.config import OneOf, Range, Satisfies
from renshu.optim import OPTIMIZERS
from renshu.train.onpolicy import OnPolicyAgent, OnPolicyConfig


@dataclass
class A2CConfig(OnPolicyConfig):
    """Every option of :class:`A2C`; pass them as keywords: ``A2C(env, n_steps=16)``.

    Defaults are Stable-Baselines3's A2C defaults (the paper's RMSprop).
    """

    learning_rate: Annotated[float, Range(gt=0)] = 7e-4
    """Optimizer step size, > 0."""
    n_steps: Annotated[int, Range(ge=1)] = 5
    """Steps per env in each rollout (one gradient step each), >= 1."""
    gae_lambda: Annotated[float, Range(0, 1)] = 1.0
    """GAE's lambda in [0, 1]; 1 gives the paper's n-step returns."""
    normalize_advantage: bool = False
    """Normalize the advantages of each rollout to mean 0, std 1."""
    optimizer: (
        Annotated[str, OneOf(*OPTIMIZERS)]
        | Annotated[Any, Satisfies("a factory params -> torch.optim.Optimizer", callable)]
    ) = "rmsprop"
    """"rmsprop" (the paper's), "adam", "rmsprop_graves", or a factory
    ``params -> torch.optim.Optimizer``."""


class A2C(OnPolicyAgent):
    """Synchronous advantage actor-critic. See :class:`A2CConfig` for options."""

    algo = "a2c"
    config_class = A2CConfig

    def __init__(self, env: Any, *, config: A2CConfig | None = None, **options: Any) -> None:
        super().__init__(env, config, options)  # spaces, actor-critic, optimizer, rollout

    def _update(self, progress: float) -> None:
        if self._fast is not None:
            self._numpy_update()
            return
        cfg: A2CConfig = self.config
        batch = self.rollout.as_tensors(self.device)
        log_prob, entropy, value, mb = self._evaluate(batch, self._whole_rollout())
        advantages = mb.advantages
        if cfg.normalize_advantage and len(advantages) > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        policy_loss = -(advantages * log_prob).mean()  # the policy gradient
        value_loss = F.mse_loss(value, mb.returns)
        entropy_loss = -entropy.mean()
        self._step_optimizer(policy_loss + cfg.ent_coef * entropy_loss + cfg.vf_coef * value_loss)
        stats = torch.stack([policy_loss.detach(), value_loss.detach(), entropy.mean().detach()])
        names = ("policy_loss", "value_loss", "entropy")
        self._record(
            **dict(zip(names, stats.tolist(), strict=True)),
            explained_variance=self._explained_variance(),
        )

    def _numpy_update(self) -> None:
        """The same step with the NumPy loss and gradient of the default MLP (fastpath.py)."""
        arrays = self.rollout.flat_arrays()
        valid = np.flatnonzero(arrays["valid"])
        self._flat.attach_grads()
        # clip None: the plain policy gradient
        figures = self._numpy_step(arrays, valid, clip=None, clip_vf=None)
        policy_loss, value_loss, entropy, _, _ = figures
        self._record(
            policy_loss=policy_loss,
            value_loss=value_loss,
            entropy=entropy,
            explained_variance=self._explained_variance(),
        )
