"""A3C: asynchronous advantage actor-critic (Mnih et al. 2016) on Ray.

Reads top to bottom: the config (A2C's options plus ``workers``), then the learner. Each worker
is a Ray actor with its own ``num_envs`` env copies and a copy of the network: it collects an
n-step rollout and computes A2C's gradient on it with A2C's own update (agents/a2c.py; the
optimizer step is replaced by sending the gradient). The learner applies the gradients as they
arrive, one at a time with no barrier, and sends that worker fresh weights. A gradient is
*stale* by the learner updates made between the weights its worker used and its arrival
(``charts/staleness``, ``charts/staleness_max`` per log window).

    agent = renshu.A3C("CartPole-v1", workers=2, num_envs=8, seed=0)
    agent.fit(steps=500_000)

This module holds the config and the learner's side (the agent, saved and loaded like A2C:
weights, optimizer, counters, random states); Ray work (workers, the learner loop, restarts)
is :mod:`renshu.distributed.a3c`, imported by :meth:`A3C.fit` only. Observation statistics
(``normalize_obs``) are the learner's, updated with every observation the workers saw; the
reward scale of ``normalize_reward`` is each worker's own. Each worker builds its envs from the
env argument (a name, ``file.py:Class``, a class; an env instance is copied to each worker).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
import torch

from renshu.agents.a2c import A2C, A2CConfig
from renshu.callbacks import Callback, CallbackList, History, ProgressBar
from renshu.config import Range, count
from renshu.fastpath import limit_threads
from renshu.train.loop import signals

MAX_WORKERS = 4096
"""The most workers one learner is given."""


@dataclass
class A3CConfig(A2CConfig):
    """Every option of :class:`A3C`: A2C's (the gradient of each worker's rollout is A2C's)
    plus ``workers``; pass them as keywords: ``A3C(env, workers=4, n_steps=16)``."""

    workers: Annotated[int, Range(1, MAX_WORKERS)] = 2
    """Ray actors collecting rollouts, each with its own num_envs env copies and network copy,
    in [1, 4096]; a local Ray gets one CPU per worker."""


@dataclass
class Arrival:
    """What a worker sends the learner after one rollout."""

    worker: int
    """The worker's index."""
    gradient: np.ndarray
    """A2C's gradient of the rollout (clipped to max_grad_norm), flat."""
    version: int
    """The learner's update count when the weights the worker used were sent."""
    steps: int
    """Env steps the rollout took (over the worker's envs)."""
    episodes: list[dict[str, Any]]
    """The logs of the episodes that ended in it (``on_episode_end``'s)."""
    observations: list[np.ndarray]
    """The observations the worker saw (for the learner's running statistics)."""
    losses: dict[str, float]
    """A2C's figures of the update (policy_loss, value_loss, entropy, explained_variance)."""


class A3C(A2C):
    """Asynchronous advantage actor-critic on Ray. See :class:`A3CConfig` for options."""

    algo = "a3c"
    config_class = A3CConfig

    def __init__(self, env: Any, *, config: A3CConfig | None = None, **options: Any) -> None:
        super().__init__(env, config=config, **options)
        self.env_source = env
        """What the workers build their envs from (the env argument given)."""
        self._callbacks = CallbackList()
        self._staleness: list[int] = []

    def set_env(self, env: Any) -> None:
        super().set_env(env)
        self.env_source = env

    # ---- training ----------------------------------------------------------------------------
    def fit(
        self,
        steps: int,
        *,
        callbacks: Sequence[Callback] = (),
        progress: bool | None = None,
        log_every: int = 1_000,
    ) -> History:
        """Train for ``steps`` env steps (over every worker's envs) on Ray: a local Ray with a
        CPU per worker, or the cluster ``RAY_ADDRESS`` names. Returns the History of episodes.

        Ctrl+C or SIGTERM stops every worker (the rollouts under way are lost) and returns
        (``history.interrupted`` names the signal). A worker whose process dies is replaced by
        a new one with the learner's current weights.

        Raises:
            EnvError: a worker's env raised or returned what it must not.
            DivergenceError: a loss or the weights became NaN or inf.
            ConfigError: Ray is not installed or the cluster cannot be reached.
        """
        from renshu.distributed import a3c as distributed  # Ray: only when training

        steps = count("steps", steps)
        if self.env is None:
            raise self._missing_env("fit")
        history = History()
        wanted = progress if progress is not None else ProgressBar.wanted()
        cbs = self._callbacks = CallbackList(
            [history, *callbacks, *([ProgressBar(steps)] if wanted else [])]
        )
        cbs.set_agent(self)
        self.stop_training = False
        self._end_step = self.num_steps + steps  # where schedules end
        cbs.on_train_begin({"steps": steps})
        with signals() as interrupted, limit_threads(self.config.threads):
            distributed.train(self, history, interrupted, log_every)
        cbs.on_train_end({"interrupted": interrupted.name if interrupted else None})
        self._callbacks = CallbackList()
        return history

    def worker_options(self) -> dict[str, Any]:
        """The options a worker's A2C is built with (its seed, device and threads its own)."""
        options = {k: v for k, v in vars(self.config).items() if k != "workers"}
        return {**options, "device": "cpu", "threads": 1}

    def weights(self) -> dict[str, np.ndarray]:
        """The network's state (weights and observation statistics) for the workers."""
        return {k: v.detach().cpu().numpy() for k, v in self.policy.state_dict().items()}

    def take(self, arrival: Arrival) -> None:
        """Apply a worker's gradient (one optimizer step), count its steps and report its
        episodes to the callbacks."""
        self._staleness.append(self.num_updates - arrival.version)
        if self._obs_norm is not None:
            for batch in arrival.observations:
                self._obs_norm.update(batch)
        if self.config.lr_schedule == "linear":
            for group in self.optimizer.param_groups:
                group["lr"] = self.config.learning_rate * (1.0 - self._progress())
        gradient = torch.tensor(arrival.gradient, device=self.device)
        if not bool(torch.isfinite(gradient).all()):
            raise self._diverged(f"a gradient of worker {arrival.worker}")
        self._flat.grad.copy_(gradient)  # type: ignore[union-attr]
        self._flat.attach_grads()
        self.optimizer.step()
        self.counters.num_updates += 1
        if not bool(torch.isfinite(self._flat.data).all()):
            raise self._diverged("a weight after the update")
        if arrival.losses:
            self._record(**arrival.losses)
        for logs in arrival.episodes:
            self.counters.num_episodes += 1
            done = {**logs, "nb_steps": self.num_steps + arrival.steps, "worker": arrival.worker}
            self._callbacks.on_episode_end(self.num_episodes - 1, done)
        self.counters.num_steps += arrival.steps
        self.counters.iteration += 1

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        self._callbacks.on_log(step, metrics)

    def _metrics(self) -> dict[str, float]:
        out = super()._metrics()
        if self._staleness:
            out["charts/staleness"] = float(np.mean(self._staleness))
            out["charts/staleness_max"] = float(max(self._staleness))
            self._staleness = []
        return out

    def progress_metrics(self) -> dict[str, str]:
        return {"workers": str(self.config.workers)}
