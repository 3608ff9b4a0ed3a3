"""Callbacks and History: hooks into ``fit`` and ``test``, in keras-rl's vocabulary.

A callback overrides any of the hooks below. Step logs hold ``episode``, ``observation`` (after
the step), ``action``, ``reward``, ``terminated``, ``truncated``, ``info`` and ``env`` (which
sub-environment, for vector envs), so keras-rl's EpisodeLogger ports unchanged::

    class EpisodeLogger(renshu.Callback):
        def on_episode_begin(self, episode, logs):
            self.observations[episode] = []
        def on_step_end(self, step, logs):
            self.observations[logs["episode"]].append(logs["observation"])

Episode logs hold ``episode_reward``, ``nb_episode_steps`` and ``nb_steps``. ``on_log`` receives
the periodic training metrics under namespaced keys (``charts/episode_reward``, ``charts/SPS``,
``losses/td_loss``, ``charts/epsilon``, ...).
"""

from __future__ import annotations

import math
import sys
import time
from collections import defaultdict, deque
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from renshu.train.protocol import AgentLike


class Callback:
    """Base class: every hook is a no-op; ``self.agent`` is set before training starts."""

    agent: AgentLike

    def set_agent(self, agent: AgentLike) -> None:
        """Called by ``fit``/``test`` before any other hook."""
        self.agent = agent

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        """Before the first step of ``fit``/``test``."""

    def on_train_end(self, logs: dict[str, Any]) -> None:
        """After the last step; ``logs["interrupted"]`` names the signal if one stopped it."""

    def on_episode_begin(self, episode: int, logs: dict[str, Any]) -> None:
        """Before the first step of an episode."""

    def on_episode_end(self, episode: int, logs: dict[str, Any]) -> None:
        """After the last step of an episode (logs: episode_reward, nb_episode_steps, nb_steps)."""

    def on_step_begin(self, step: int, logs: dict[str, Any]) -> None:
        """Before an environment step (logs: episode, env)."""

    def on_step_end(self, step: int, logs: dict[str, Any]) -> None:
        """After an environment step (logs: episode, observation, action, reward, ...)."""

    def on_tick(self, step: int) -> None:
        """Once per loop iteration after the environment step(s); ``step`` is the global count.

        Cheap (no logs are built): the place for "every N steps" work such as checkpoints.
        """

    def on_log(self, step: int, logs: dict[str, float]) -> None:
        """Periodic training metrics under namespaced keys."""


def _overrides(callback: Callback, hook: str) -> bool:
    return getattr(type(callback), hook, None) is not getattr(Callback, hook)


class CallbackList(Callback):
    """Dispatches every hook to a list of callbacks, in order."""

    def __init__(self, callbacks: Iterable[Any] = ()) -> None:
        self.callbacks: list[Callback] = list(callbacks)
        for cb in self.callbacks:
            if not hasattr(cb, "set_agent"):
                raise TypeError(
                    f"Callbacks must subclass renshu.Callback (or provide its hooks), "
                    f"got {type(cb).__name__}."
                )
        self.wants_steps = any(
            _overrides(cb, "on_step_begin") or _overrides(cb, "on_step_end")
            for cb in self.callbacks
        )
        """True if any callback needs per-step logs (building them costs time)."""

    def set_agent(self, agent: AgentLike) -> None:
        for cb in self.callbacks:
            cb.set_agent(agent)

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        for cb in self.callbacks:
            cb.on_train_begin(logs)

    def on_train_end(self, logs: dict[str, Any]) -> None:
        for cb in self.callbacks:
            cb.on_train_end(logs)

    def on_episode_begin(self, episode: int, logs: dict[str, Any]) -> None:
        for cb in self.callbacks:
            cb.on_episode_begin(episode, logs)

    def on_episode_end(self, episode: int, logs: dict[str, Any]) -> None:
        for cb in self.callbacks:
            cb.on_episode_end(episode, logs)

    def on_step_begin(self, step: int, logs: dict[str, Any]) -> None:
        for cb in self.callbacks:
            cb.on_step_begin(step, logs)

    def on_step_end(self, step: int, logs: dict[str, Any]) -> None:
        for cb in self.callbacks:
            cb.on_step_end(step, logs)

    def on_tick(self, step: int) -> None:
        for cb in self.callbacks:
            cb.on_tick(step)

    def on_log(self, step: int, logs: dict[str, float]) -> None:
        for cb in self.callbacks:
            cb.on_log(step, logs)


class History(Callback):
    """Per-episode records: ``history.history["episode_reward"]`` is a list, one per episode.

    Also keeps ``nb_episode_steps`` and ``nb_steps`` per episode (keras-rl's keys), the periodic
    metrics in ``metrics`` (step -> logs), and ``interrupted`` (the signal name that stopped a
    run, or None).
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = defaultdict(list)
        self.metrics: dict[int, dict[str, float]] = {}
        self.interrupted: str | None = None

    def on_episode_end(self, episode: int, logs: dict[str, Any]) -> None:
        for key in ("episode_reward", "nb_episode_steps", "nb_steps"):
            if key in logs:
                self.history[key].append(logs[key])

    def on_log(self, step: int, logs: dict[str, float]) -> None:
        self.metrics[step] = dict(logs)

    def on_train_end(self, logs: dict[str, Any]) -> None:
        self.interrupted = logs.get("interrupted")

    def mean(self, key: str = "episode_reward") -> float:
        """Mean of a per-episode record (NaN when there is none)."""
        values = self.history.get(key, [])
        return float(np.mean(values)) if values else math.nan

    def __repr__(self) -> str:
        n = len(self.history.get("episode_reward", []))
        return f"History(episodes={n}, mean_episode_reward={self.mean():.3f})"


class EpisodeLogger(Callback):
    """Keeps every step's observation, reward and action, per episode (tutorial 000's logger)."""

    def __init__(self) -> None:
        self.observations: dict[int, list[Any]] = {}
        self.rewards: dict[int, list[float]] = {}
        self.actions: dict[int, list[Any]] = {}

    def on_episode_begin(self, episode: int, logs: dict[str, Any]) -> None:
        self.observations[episode] = []
        self.rewards[episode] = []
        self.actions[episode] = []

    def on_step_end(self, step: int, logs: dict[str, Any]) -> None:
        episode = logs["episode"]
        self.observations[episode].append(logs["observation"])
        self.rewards[episode].append(logs["reward"])
        self.actions[episode].append(logs["action"])


class EarlyStopOnReward(Callback):
    """Stop ``fit`` once the mean reward of the last ``window`` episodes reaches ``threshold``."""

    def __init__(self, threshold: float, window: int = 20) -> None:
        self.threshold, self.window = threshold, window
        self._recent: deque[float] = deque(maxlen=window)

    def on_episode_end(self, episode: int, logs: dict[str, Any]) -> None:
        self._recent.append(float(logs["episode_reward"]))
        if len(self._recent) == self.window and np.mean(self._recent) >= self.threshold:
            self.agent.stop_training = True


class Evaluate(Callback):
    """Every ``every`` training steps, run ``episodes`` greedy test episodes and log the mean.

    The results land in ``self.results`` as (step, mean, std) and in the logged metrics as
    ``eval/mean_reward``. With ``stop_at`` set, training stops once the mean reaches it.
    """

    def __init__(self, every: int, episodes: int = 10, stop_at: float | None = None) -> None:
        self.every, self.episodes, self.stop_at = every, episodes, stop_at
        self.results: list[tuple[int, float, float]] = []
        self._next = every

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        self._next = (self.agent.num_steps // self.every + 1) * self.every

    def on_tick(self, step: int) -> None:
        if step < self._next:
            return
        while self._next <= step:
            self._next += self.every
        scores = self.agent.test(episodes=self.episodes, progress=False)
        rewards = scores.history["episode_reward"]
        mean, std = float(np.mean(rewards)), float(np.std(rewards))
        self.results.append((step, mean, std))
        self.agent.log_metrics(step, {"eval/mean_reward": mean, "eval/std_reward": std})
        if self.stop_at is not None and mean >= self.stop_at:
            self.agent.stop_training = True


class CheckpointEvery(Callback):
    """Save a checkpoint every ``every`` training steps into ``directory/<step>/`` (atomic)."""

    def __init__(self, every: int, directory: str | Path, *, replay: bool = False) -> None:
        self.every, self.directory, self.replay = every, Path(directory), replay
        self.saved: list[Path] = []
        self._next = every

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        self._next = (self.agent.num_steps // self.every + 1) * self.every

    def on_tick(self, step: int) -> None:
        if step >= self._next:
            while self._next <= step:
                self._next += self.every
            self.saved.append(self.agent.save_checkpoint(self.directory, replay=self.replay))


class ProgressBar(Callback):
    """A rich progress bar for ``fit``: steps, steps/s, recent episode reward, the algorithm's
    own figures (DQN: epsilon) and its first loss."""

    def __init__(self, total: int, refresh: float = 0.25) -> None:
        self.total, self.refresh = total, refresh
        self._recent: deque[float] = deque(maxlen=20)
        self._metrics: dict[str, float] = {}
        self._last = 0.0

    @staticmethod
    def wanted() -> bool:
        """Show progress by default only on an interactive terminal."""
        return sys.stdout.isatty()

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._start_step = self.agent.num_steps
        self._start_time = time.perf_counter()
        self._progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        self._task = self._progress.add_task("train", total=self.total, stats="")
        self._progress.start()

    def on_episode_end(self, episode: int, logs: dict[str, Any]) -> None:
        self._recent.append(float(logs["episode_reward"]))

    def on_log(self, step: int, logs: dict[str, float]) -> None:
        self._metrics.update(logs)

    def on_tick(self, step: int) -> None:
        now = time.perf_counter()
        if now - self._last >= self.refresh:
            self._last = now
            self._update(step, now)

    def _update(self, step: int, now: float) -> None:
        done = step - self._start_step
        parts = [f"{done / max(now - self._start_time, 1e-9):,.0f} steps/s"]
        if self._recent:
            parts.append(f"reward {np.mean(self._recent):.2f}")
        parts.extend(f"{name} {text}" for name, text in self.agent.progress_metrics().items())
        loss = next((k for k in self._metrics if k.startswith("losses/")), None)
        if loss is not None:  # the algorithm's first loss (DQN: td_loss)
            parts.append(f"loss {self._metrics[loss]:.4f}")
        self._progress.update(self._task, completed=done, stats=" | ".join(parts))

    def on_train_end(self, logs: dict[str, Any]) -> None:
        self._update(self.agent.num_steps, time.perf_counter())
        self._progress.stop()
