"""What callbacks, runs and videos may use of an agent, whatever its algorithm."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import gymnasium

    from renshu.callbacks import Callback, History


class AgentLike(Protocol):
    """The agent seen from outside its algorithm (every agent in :mod:`renshu.agents` is one)."""

    @property
    def algo(self) -> str: ...

    config: Any
    num_steps: int
    num_episodes: int
    stop_training: bool
    env_spec: str | None
    env_name: str | None
    observation_space: gymnasium.Space[Any]
    action_space: gymnasium.Space[Any]

    def act(self, obs: Any) -> Any: ...

    def fit(
        self,
        steps: int,
        *,
        callbacks: Sequence[Callback] = (),
        progress: bool | None = None,
        log_every: int = 1_000,
    ) -> History: ...

    def test(
        self,
        episodes: int = 10,
        *,
        env: Any = None,
        callbacks: Sequence[Callback] = (),
        render: bool = False,
        seed: int | None = None,
        epsilon: float = 0.0,
        progress: bool | None = None,
        max_episode_steps: int | None = None,
    ) -> History: ...

    def save(self, path: str | Path, *, replay: bool = False, overwrite: bool = False) -> Path: ...

    def save_checkpoint(self, directory: str | Path, *, replay: bool = True) -> Path: ...

    def set_env(self, env: Any) -> None: ...

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None: ...

    def progress_metrics(self) -> dict[str, str]: ...

    def episodes_in_progress(self) -> list[int]: ...

    def summary(self) -> str: ...
