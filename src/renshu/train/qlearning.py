"""What the Q-learning agents (DQN, DRQN) share beyond the spine: the target network's hard
copies, prioritized replay's beta, epsilon over a fraction of training, the figures they log and
what their checkpoints hold besides the spine's (the online and target networks, the next target
sync, the replay buffer).

An agent built on :class:`QAgent` sets ``q_network``, ``target_network``, ``buffer`` and
``exploration`` and sums its updates into ``_loss_sum``, ``_q_sum`` and ``_updates_since_log``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from renshu import checkpoint
from renshu.exploration import from_options
from renshu.train.agent import Agent


class QAgent(Agent):
    """The logging and saving of an agent that learns Q-values from replay."""

    # Set by the algorithm (each with its own types: a recurrent network, a sequence buffer, the
    # sums as tensors on a device or as floats).
    q_network: Any
    target_network: Any
    buffer: Any
    exploration: Any
    _next_target_sync: int
    _loss_sum: Any
    _q_sum: Any
    _updates_since_log: int

    def _begin_fit(self, end_step: int) -> None:
        cfg = self.config
        if cfg.policy == "eps_greedy" and cfg.eps_anneal_steps is None:
            # epsilon over the first eps_fraction of training: of the running fit() (a run's
            # total), the same rule as every schedule that follows the length of training
            self.exploration = from_options(cfg, end_step)

    def _update_target(self, tau: float) -> None:
        """Move the target network toward the online one by ``tau`` (1: a hard copy)."""
        raise NotImplementedError

    def _sync_target_when_due(self) -> None:
        """A hard target copy every ``target_update`` env steps (when it is an int >= 1)."""
        cfg = self.config
        if cfg.target_update >= 1 and self.num_steps >= self._next_target_sync:
            self._update_target(1.0)
            while self._next_target_sync <= self.num_steps:
                self._next_target_sync += int(cfg.target_update)

    def _beta(self) -> float:
        """Prioritized replay's beta now: annealed from ``per_beta`` to 1 over ``per_beta_steps``,
        by default over the length of training (as every such schedule)."""
        cfg = self.config
        progress = (
            self._progress()
            if cfg.per_beta_steps is None
            else min(1.0, self.num_steps / cfg.per_beta_steps)
        )
        return float(cfg.per_beta + (1.0 - cfg.per_beta) * progress)

    def _on_cut(self, frames: np.ndarray, mask: np.ndarray) -> None:
        self.buffer.end_episodes(frames, mask=mask)

    def _metrics(self) -> dict[str, float]:
        metrics = {"charts/epsilon": float(self.exploration.value(self.num_steps))}
        if self._updates_since_log:
            metrics["losses/td_loss"] = float(self._loss_sum) / self._updates_since_log
            metrics["losses/q_values"] = float(self._q_sum) / self._updates_since_log
            self._loss_sum = self._q_sum = 0.0
            self._updates_since_log = 0
        return metrics

    def progress_metrics(self) -> dict[str, str]:
        return {"eps": f"{self.exploration.value(self.num_steps):.3f}"}

    def _networks(self) -> dict[str, torch.nn.Module]:
        return {"q": self.q_network, "target": self.target_network}

    def _extra_state(self) -> dict[str, Any]:
        return {"next_target_sync": self._next_target_sync}

    def _load_extra_state(self, saved: dict[str, Any], ckpt: checkpoint.Checkpoint) -> None:
        file = ckpt.path / "state.json"
        checkpoint.check_counter(saved, "next_target_sync", file)
        target_update = float(ckpt.config["config"].get("target_update", 1_000))
        checkpoint.check_counters(saved, target_update, file)
        self._next_target_sync = saved["next_target_sync"]

    def _replay_state(self) -> dict[str, np.ndarray]:
        return dict(self.buffer.state_dict())
