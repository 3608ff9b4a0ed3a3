"""The callbacks a run trains with besides :class:`~renshu.runs.metrics.MetricsCSV`:
TensorBoard events, checkpoints that keep one replay buffer, and plain progress lines."""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from renshu import checkpoint
from renshu.callbacks import Callback, CheckpointEvery
from renshu.runs.metrics import MetricsCSV, record_cut


class TensorBoardLogger(Callback):
    """Writes episode rewards/lengths and the periodic metrics to TensorBoard under ``log_dir``.

    Keys are namespaced as logged (``charts/episode_reward``, ``losses/td_loss``, ...). With
    ``config``, the resolved settings are logged once as text and as hyperparameters.
    """

    def __init__(self, log_dir: str | Path, *, config: Mapping[str, Any] | None = None) -> None:
        self.log_dir = Path(log_dir)
        self.config = config
        self.writer: Any = None
        self._excepthook: Any = None

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self._quiet_writer_thread()
        self.writer = SummaryWriter(log_dir=str(self.log_dir), flush_secs=10)
        if self.config is not None:
            self._log_config(self.config)

    def _log_config(self, settings: Mapping[str, Any]) -> None:
        import yaml
        from torch.utils.tensorboard.summary import hparams

        text = yaml.safe_dump(dict(settings), sort_keys=False)
        self.writer.add_text("config", "```yaml\n" + text + "```", global_step=0)
        flat = {f"config/{k}": v for k, v in dict(settings.get("config", {})).items()}
        flat.update({k: v for k, v in settings.items() if k != "config"})
        params = {
            k: v if isinstance(v, bool | int | float | str) else str(v) for k, v in flat.items()
        }
        for summary in hparams(params, {"test/mean_reward": math.nan}):
            self.writer.file_writer.add_summary(summary)

    def on_episode_end(self, episode: int, logs: dict[str, Any]) -> None:
        step = logs.get("nb_steps", self.agent.num_steps)
        self.writer.add_scalar("charts/episode_reward", logs["episode_reward"], step)
        if "nb_episode_steps" in logs:
            self.writer.add_scalar("charts/episode_length", logs["nb_episode_steps"], step)

    def on_log(self, step: int, logs: dict[str, float]) -> None:
        for key, value in logs.items():
            if key != "charts/episode_reward":
                self.writer.add_scalar(key, value, step)

    def on_train_end(self, logs: dict[str, Any]) -> None:
        self.writer.flush()

    def close(self) -> None:
        """Flush and close the event file (safe to call twice; never raises over another
        error)."""
        if self.writer is not None:
            writer, self.writer = self.writer, None
            with contextlib.suppress(OSError):
                writer.close()
        if self._excepthook is not None:
            threading.excepthook, self._excepthook = self._excepthook, None

    def _quiet_writer_thread(self) -> None:
        """Keep the traceback of TensorBoard's writer thread off the screen (a read-only or
        full disk): the writer raises the same error in the training thread at its next write
        or flush, where the run reports it in one paragraph. Other threads' errors still show."""
        from tensorboard.summary.writer.event_file_writer import _AsyncWriterThread

        previous = threading.excepthook

        def hook(args: threading.ExceptHookArgs) -> None:
            if isinstance(args.thread, _AsyncWriterThread) and isinstance(args.exc_value, OSError):
                return
            previous(args)

        if self._excepthook is None:
            self._excepthook = previous
            threading.excepthook = hook


class CheckpointKeeper(CheckpointEvery):
    """:class:`CheckpointEvery` with the replay buffer, kept only in the newest checkpoint.

    Every checkpoint stays a complete, loadable agent; only the newest keeps ``replay.npz``
    (which is what an exact resume needs), so a long run does not fill the disk with buffers.
    A checkpoint ends the episodes under way; with ``metrics``, each cut is recorded there
    (see :func:`record_cut`).
    """

    def __init__(
        self, every: int, directory: str | Path, *, metrics: MetricsCSV | None = None
    ) -> None:
        super().__init__(every, directory, replay=True)
        self.metrics = metrics

    def on_tick(self, step: int) -> None:
        if step < self._next:
            return
        cut = self.agent.episodes_in_progress()
        saved = len(self.saved)
        super().on_tick(step)
        if len(self.saved) > saved:
            prune_replays(self.directory)
            if self.metrics is not None:
                record_cut(self.metrics, step, cut)


def prune_replays(directory: Path) -> None:
    """Delete ``replay.npz`` (and its manifest entry) from every complete checkpoint under
    ``directory`` but the newest."""
    newest = checkpoint.latest(directory)
    if newest is None:
        return
    for child in directory.iterdir():
        if child.name.isdigit() and child != newest and (child / "replay.npz").is_file():
            checkpoint.drop_replay(child)


class LineProgress(Callback):
    """One line per periodic log, at most every ``seconds`` (for logs that are not a terminal)."""

    def __init__(self, total: int, write: Callable[[str], None], seconds: float = 10.0) -> None:
        self.total, self.write, self.seconds = total, write, seconds
        self._last = -math.inf
        self._rewards: list[float] = []

    def on_episode_end(self, episode: int, logs: dict[str, Any]) -> None:
        self._rewards = [*self._rewards[-19:], float(logs["episode_reward"])]

    def on_log(self, step: int, logs: dict[str, float]) -> None:
        now = time.perf_counter()
        if now - self._last < self.seconds:
            return
        self._last = now
        parts = [f"step {step:,}/{self.total:,}"]
        if self._rewards:
            parts.append(f"reward {np.mean(self._rewards):.3g}")
        loss = next((key for key in logs if key.startswith("losses/")), None)
        if loss is not None:  # the algorithm's first loss (DQN: td_loss, PPO: policy_loss)
            parts.append(f"loss {logs[loss]:.3g}")
        if "charts/SPS" in logs:  # a periodic training log: the algorithm's own figures
            parts.extend(f"{k} {text}" for k, text in self.agent.progress_metrics().items())
        if "charts/SPS" in logs:
            parts.append(f"{logs['charts/SPS']:,.0f} steps/s")
        self.write("  ".join(parts))
