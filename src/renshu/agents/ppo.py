"""PPO: proximal policy optimization with a clipped surrogate objective (Schulman et al. 2017).

Reads top to bottom: the config (Stable-Baselines3's option names, so a zoo config carries
across), then the update. Collecting the rollout (acting, GAE, truncation bootstrap) is shared
with A2C in :mod:`renshu.train.onpolicy`; the env loop, testing and checkpoints are the shared
spine (:mod:`renshu.train`).

    agent = renshu.PPO("CartPole-v1", seed=0, num_envs=8, n_steps=32)
    agent.fit(steps=100_000)
    agent.test(episodes=10).history["episode_reward"]

With memory (an LSTM between the torso and the heads, trained on whole sequences):
``renshu.PPO(env, recurrent=True, lstm_size=128, seq_len=32)``; see
:mod:`renshu.train.onpolicy`.

Every common action space: Discrete, Box (a diagonal Gaussian with a state-independent log
std; actions are clipped to the Box's bounds for the env, the log-probabilities are those of
the unclipped actions), MultiDiscrete and MultiBinary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
import torch
import torch.nn.functional as F

from renshu.config import MAX_REPEATS, Note, OneOf, Range
from renshu.train.onpolicy import OnPolicyAgent, OnPolicyConfig


@dataclass
class PPOConfig(OnPolicyConfig):
    """Every option of :class:`PPO`; pass them as keywords: ``PPO(env, n_steps=128)``.

    Defaults are Stable-Baselines3's (and CleanRL's where SB3 has none).
    """

    batch_size: Annotated[int, Range(ge=1)] = 64
    """Transitions per minibatch, >= 1."""
    n_epochs: Annotated[
        int, Range(1, MAX_REPEATS), Note("each is a full pass: 1e9 would never finish")
    ] = 10
    """Passes over each rollout, in [1, 10000]."""
    clip_range: Annotated[float, Range(gt=0)] = 0.2
    """How far the probability ratio may move from 1 before its gradient is cut, > 0."""
    clip_range_schedule: Annotated[str, OneOf("constant", "linear")] = "constant"
    """"constant" or "linear": clip_range falls linearly to 0 where the learning rate of
    lr_schedule="linear" does (at the step fit() trains to; a run's total)."""
    clip_range_vf: Annotated[float, Range(gt=0)] | None = None
    """Clip the value update around the old values by this, > 0 (None: no clipping, SB3's
    default)."""
    target_kl: Annotated[float, Range(gt=0)] | None = None
    """Stop the epochs of an update early once the approximate KL divergence passes
    1.5 * target_kl, > 0 (None: never)."""


class PPO(OnPolicyAgent):
    """Proximal Policy Optimization. See :class:`PPOConfig` for options."""

    algo = "ppo"
    config_class = PPOConfig

    def __init__(self, env: Any, *, config: PPOConfig | None = None, **options: Any) -> None:
        super().__init__(env, config, options)  # spaces, actor-critic, optimizer, rollout

    def _update(self, progress: float) -> None:
        cfg: PPOConfig = self.config
        clip = cfg.clip_range * (1.0 - progress if cfg.clip_range_schedule == "linear" else 1.0)
        arrays: Any
        step: Callable[[Any, np.ndarray, float], Any]
        if self._fast is not None:  # NumPy loss and gradient (fastpath.py), chosen at build
            self._flat.attach_grads()
            arrays, step = self.rollout.flat_arrays(), self._numpy_minibatch
        else:
            arrays, step = self.rollout.as_tensors(self.device), self._torch_minibatch
        rows: list[Any] = []
        for _ in range(cfg.n_epochs):
            epoch = [step(arrays, indices, clip) for indices in self._minibatches(cfg.batch_size)]
            rows += epoch
            limit = None if cfg.target_kl is None else 1.5 * cfg.target_kl
            if limit is not None and epoch and _means(epoch)[3] > limit:
                break  # (one host sync per epoch)
        if rows:
            names = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction")
            self._record(
                **dict(zip(names, _means(rows), strict=True)),
                explained_variance=self._explained_variance(),
            )

    def _torch_minibatch(self, batch: Any, indices: Any, clip: float) -> torch.Tensor:
        """One gradient step with autograd (samples, or whole sequences of a recurrent
        policy); returns the minibatch's figures (no host sync)."""
        cfg: PPOConfig = self.config
        log_prob, entropy, value, mb = self._evaluate(batch, indices)
        advantages = mb.advantages
        if cfg.normalize_advantage and len(advantages) > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        # clipped surrogate: the policy may not move the ratio beyond [1 - clip, 1 + clip]
        log_ratio = log_prob - mb.log_probs
        ratio = log_ratio.exp()
        policy_loss = torch.max(
            -advantages * ratio, -advantages * ratio.clamp(1.0 - clip, 1.0 + clip)
        ).mean()
        old_values = mb.values
        if cfg.clip_range_vf is not None:  # the value may move only so far, too
            value = old_values + (value - old_values).clamp(-cfg.clip_range_vf, cfg.clip_range_vf)
        value_loss = F.mse_loss(value, mb.returns)
        entropy_loss = -entropy.mean()
        self._step_optimizer(policy_loss + cfg.ent_coef * entropy_loss + cfg.vf_coef * value_loss)
        with torch.no_grad():  # Schulman's k3 estimator of KL(old || new)
            approx_kl = ((ratio - 1.0) - log_ratio).mean()
            clipped = ((ratio - 1.0).abs() > clip).float().mean()
        return torch.stack(
            [policy_loss.detach(), value_loss.detach(), -entropy_loss.detach(), approx_kl, clipped]
        )

    def _numpy_minibatch(
        self, arrays: dict[str, np.ndarray], indices: np.ndarray, clip: float
    ) -> np.ndarray:
        """The same step with the NumPy loss and gradient of the default MLP."""
        clip_vf = self.config.clip_range_vf
        return np.array(self._numpy_step(arrays, indices, clip=clip, clip_vf=clip_vf))


def _means(rows: list[Any]) -> list[float]:
    """Column means of the minibatches' figures (tensors: one host sync)."""
    if isinstance(rows[0], torch.Tensor):
        return [float(x) for x in torch.stack(rows).mean(0).tolist()]
    return [float(x) for x in np.mean(rows, axis=0)]
