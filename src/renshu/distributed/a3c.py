"""A3C on Ray: the workers (an A2C that sends its gradient instead of stepping) and the learner
loop that applies the gradients as they arrive (:class:`renshu.agents.a3c.A3C` calls
:func:`train` from ``fit``).

The learner keeps one rollout in flight per worker. ``ray.wait`` hands back whichever finishes
first; the learner applies its gradient (:meth:`A3C.take <renshu.agents.a3c.A3C.take>`) and
starts that worker's next rollout from the new weights, while the others go on with the weights
they have (no barrier). A worker whose process dies is replaced by a new one with the current
weights (said once per restart); a worker whose env fails ends training with the
:class:`~renshu.errors.EnvError` the single-process agents raise, naming the worker.
"""

from __future__ import annotations

import time
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from renshu.agents.a2c import A2C
from renshu.agents.a3c import Arrival
from renshu.callbacks import Callback, CallbackList
from renshu.distributed import cluster
from renshu.errors import ConfigError, EnvError, RenshuError
from renshu.fastpath import limit_threads
from renshu.train.loop import Interrupt

if TYPE_CHECKING:
    from renshu.agents.a3c import A3C
    from renshu.callbacks import History

WAIT_S = 1.0
"""Seconds the learner waits for a gradient before it looks at the stop flags again."""

MAX_DEATHS = 3
"""Deaths in a row of one worker (no rollout delivered in between) that end training."""


class _Episodes(Callback):
    """Keeps the logs of the episodes that end in a worker's rollout."""

    def __init__(self) -> None:
        super().__init__()
        self.ended: list[dict[str, Any]] = []

    def on_episode_end(self, episode: int, logs: dict[str, Any] | None = None) -> None:
        self.ended.append(dict(logs or {}))


class _Seen:
    """Stands in for the worker's observation statistics in its env loop: keeps what the worker
    sees for the learner's statistics, and leaves the worker's own (the learner's copy) as sent."""

    def __init__(self) -> None:
        self.batches: list[np.ndarray] = []

    def update(self, batch: np.ndarray) -> None:
        self.batches.append(np.array(batch, copy=True))


class Worker(A2C):
    """A2C on its own env copies whose optimizer step is replaced by keeping the gradient: each
    :meth:`run` collects one rollout with the weights it is given and returns A2C's gradient."""

    def __init__(self, env: Any, options: dict[str, Any], index: int, seed: int) -> None:
        super().__init__(env, **{**options, "seed": seed})
        self.index = index
        self._gradient: np.ndarray | None = None
        self._episodes = _Episodes()
        self._seen = _Seen()
        loop = self._env_loop()
        loop.callbacks = CallbackList([self._episodes])
        if loop.obs_norm is not None:
            loop.obs_norm = self._seen  # type: ignore[assignment]
        self._next_window: np.ndarray | None = None

    def _apply_gradient(self) -> None:  # A2C's update ends here: keep, do not step
        if self.config.max_grad_norm is not None:
            self._flat.clip_grad_norm_(self.config.max_grad_norm)
        assert self._flat.grad is not None
        self._gradient = self._flat.grad.cpu().numpy().copy()

    def ready(self) -> bool:
        """True once the worker is built (its envs and network)."""
        return True

    def run(self, weights: dict[str, np.ndarray], version: int) -> Arrival:
        """One rollout from ``weights`` (the learner's after ``version`` updates): its gradient,
        steps, ended episodes and observations."""
        with limit_threads(1):
            self.policy.load_state_dict({k: torch.tensor(v) for k, v in weights.items()})
            loop, start = self._env_loop(), self.num_steps
            loop.check_first_steps()
            window = self._next_window
            if window is None or loop.frames is None:
                window = loop.begin_segment()
            while self._gradient is None:
                step = loop.step(self._explore(window))
                self._learn(step)  # A2C's: store; at the rollout's end, its update
                window = step.window
        self._next_window = window
        gradient, self._gradient = self._gradient, None
        losses = {k: v / max(self._updates_since_log, 1) for k, v in self._sums.items()}
        self._sums, self._updates_since_log = {}, 0
        ended, self._episodes.ended = self._episodes.ended, []
        seen, self._seen.batches = self._seen.batches, []
        return Arrival(self.index, gradient, version, self.num_steps - start, ended, seen, losses)


def train(agent: A3C, history: History, interrupted: Interrupt, log_every: int) -> None:
    """Run ``agent``'s workers on Ray until it has taken ``agent._end_step`` steps, training
    stops or a signal came; every worker is stopped at the end."""
    workers = agent.config.workers
    with cluster.connect(None, num_cpus=workers, what="A3C") as info:
        if info.cpus < workers:  # the actors would wait for CPUs forever
            raise ConfigError(
                f"A3C with workers={workers} needs a CPU per worker; the Ray at {info.address} "
                f"offers {info.cpus:g}. Lower workers, or start Ray with more CPUs (or join a "
                "larger cluster)."
            )
        pool = _Workers(agent)
        try:
            pool.start()
            log_at = agent.num_steps + log_every
            started, steps_at_start = time.perf_counter(), agent.num_steps
            while agent.num_steps < agent._end_step and not agent.stop_training:
                if interrupted:
                    break
                arrival = pool.next_arrival()
                if arrival is None:  # none yet, or a worker was replaced
                    continue
                agent.take(arrival)
                pool.send(arrival.worker)  # the new weights
                agent._callbacks.on_tick(agent.num_steps)
                if agent.num_steps >= log_at:
                    log_at += log_every * ((agent.num_steps - log_at) // log_every + 1)
                    elapsed = time.perf_counter() - started
                    agent._log(history, (agent.num_steps - steps_at_start) / max(elapsed, 1e-9))
        finally:
            pool.stop()  # the rollouts under way are lost


class _Workers:
    """The learner's workers on Ray: one rollout in flight each, replaced when they die."""

    def __init__(self, agent: A3C) -> None:
        import ray

        self.ray, self.agent = ray, agent
        self.actor = ray.remote(num_cpus=1, max_restarts=0)(Worker)
        self.options = agent.worker_options()
        self.handles = [self._new(i) for i in range(agent.config.workers)]
        self.deaths = [0] * len(self.handles)
        self.in_flight: dict[Any, int] = {}
        self.weights: Any = None
        self.version = -1

    def _new(self, i: int) -> Any:
        seed = int(self.agent.rng.integers(2**31))
        return self.actor.remote(self.agent.env_source, self.options, i, seed)

    def start(self) -> None:
        """Wait until every worker is built (none takes the others' steps while they start),
        then start a rollout on each."""
        for i, handle in enumerate(self.handles):
            try:
                self.ray.get(handle.ready.remote())
            except self.ray.exceptions.RayTaskError as error:  # its env could not be built
                raise _worker_failed(i, error) from None
        for i in range(len(self.handles)):
            self.send(i)

    def send(self, i: int) -> None:
        """Start worker ``i``'s next rollout from the learner's current weights."""
        if self.version != self.agent.num_updates:  # one copy per update, sent inline
            self.weights = self.agent.weights()  # (small: a ray.put would cost more)
            self.version = self.agent.num_updates
        self.in_flight[self.handles[i].run.remote(self.weights, self.version)] = i

    def next_arrival(self) -> Arrival | None:
        """The first rollout to finish (None after WAIT_S without one, or when its worker
        died and was replaced)."""
        ray = self.ray
        ready, _ = ray.wait(list(self.in_flight), num_returns=1, timeout=WAIT_S)
        if not ready:
            return None
        i = self.in_flight.pop(ready[0])
        try:
            arrival: Arrival = ray.get(ready[0])
        except ray.exceptions.RayActorError as error:  # its process died: a new one
            self.deaths[i] += 1
            if self.deaths[i] > MAX_DEATHS:
                raise RenshuError(
                    f"A3C worker {i} died {self.deaths[i]} times in a row without finishing a "
                    f"rollout (last: {_first_line(error)}). Check that the env does not end "
                    "its process, and the memory each worker has."
                ) from None
            warnings.warn(_restarted(i, error), RuntimeWarning, stacklevel=2)
            self.handles[i] = self._new(i)
            self.send(i)
            return None
        except ray.exceptions.RayTaskError as error:
            raise _worker_failed(i, error) from None
        self.deaths[i] = 0
        return arrival

    def stop(self) -> None:
        for handle in self.handles:
            self.ray.kill(handle)


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _restarted(i: int, error: BaseException) -> str:
    return (
        f"A3C worker {i} died ({_first_line(error)}); a new worker {i} with the learner's "
        "current weights took its place and training goes on (its rollout under way was lost)."
    )


def _worker_failed(i: int, error: Any) -> BaseException:
    """The error a worker raised, as renshu's own (an EnvError names the worker), without Ray's
    traceback."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, EnvError):
        failure = EnvError(f"A3C worker {i}: {cause}")
        failure.doing, failure.user_frames = cause.doing, cause.user_frames
        return failure
    if isinstance(cause, RenshuError):
        return cause
    return cause if isinstance(cause, Exception) else error
