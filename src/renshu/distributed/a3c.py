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
from renshu.errors import EnvError, RenshuError
from renshu.fastpath import limit_threads
from renshu.train.loop import Interrupt

if TYPE_CHECKING:
    from renshu.agents.a3c import A3C
    from renshu.callbacks import History

WAIT_S = 1.0
"""Seconds the learner waits for a gradient before it looks at the stop flags again."""


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
    cfg = agent.config
    with cluster.connect(None, num_cpus=cfg.workers, what="A3C") as _:
        import ray

        actor = ray.remote(num_cpus=1, max_restarts=0)(Worker)
        source, options = agent.env_source, agent.worker_options()

        def start(i: int) -> Any:
            seed = int(agent.rng.integers(2**31))
            return actor.remote(source, options, i, seed)

        workers = [start(i) for i in range(cfg.workers)]
        weights = ray.put(agent.weights())
        in_flight = {w.run.remote(weights, agent.num_updates): i for i, w in enumerate(workers)}
        log_at = agent.num_steps + log_every
        started, steps_at_start = time.perf_counter(), agent.num_steps
        try:
            while agent.num_steps < agent._end_step and not agent.stop_training:
                if interrupted:
                    break
                ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=WAIT_S)
                if not ready:
                    continue
                i = in_flight.pop(ready[0])
                try:
                    arrival = ray.get(ready[0])
                except ray.exceptions.RayActorError as error:  # its process died: a new one
                    warnings.warn(_restarted(i, error), RuntimeWarning, stacklevel=2)
                    workers[i] = start(i)
                    in_flight[workers[i].run.remote(weights, agent.num_updates)] = i
                    continue
                except ray.exceptions.RayTaskError as error:
                    raise _worker_failed(i, error) from None
                agent.take(arrival)
                weights = ray.put(agent.weights())
                in_flight[workers[i].run.remote(weights, agent.num_updates)] = i
                agent._callbacks.on_tick(agent.num_steps)
                if agent.num_steps >= log_at:
                    log_at += log_every * ((agent.num_steps - log_at) // log_every + 1)
                    elapsed = time.perf_counter() - started
                    agent._log(history, (agent.num_steps - steps_at_start) / max(elapsed, 1e-9))
        finally:
            for worker in workers:  # the rollouts under way are lost
                ray.kill(worker)


def _restarted(i: int, error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    why = lines[0] if lines else type(error).__name__
    return (
        f"A3C worker {i} died ({why}); a new worker {i} with the learner's current weights "
        "took its place and training goes on (its rollout under way was lost)."
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
