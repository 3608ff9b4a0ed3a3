"""One ordinary run folder, trained where it is called (a Ray worker, or this process).

A sweep's trial (and any other Ray task that trains one seed) calls :func:`train_run`: the run
folder it makes is the one ``renshu train`` makes with the same settings and seed, so its
score is reproduced by ``renshu train ENV --config ... --seed S``. Nothing here imports Ray.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from renshu.callbacks import Callback
    from renshu.presets import Preset
    from renshu.runs import Run, RunResult


def train_run(
    env: Any,
    *,
    algo: str,
    seed: int,
    steps: int,
    preset: Preset,
    runs_dir: str | Path,
    name: str,
    env_kwargs: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    callbacks: Sequence[Callback] = (),
) -> tuple[Run, RunResult]:
    """Create the run folder ``runs_dir/name`` (``name-1``, ... if taken) for ``algo`` on
    ``env`` with ``preset`` and ``seed``, train it for ``steps`` with the final greedy test
    (no progress bar, no GIF), and return the run and its result (score:
    ``result.test_mean``).

    The environment is not checked again (the caller checked it once for all runs).
    """
    from renshu.runs import Run

    run = Run.create(
        env,
        algo=algo,
        steps=steps,
        seed=seed,
        preset=preset,
        runs_dir=runs_dir,
        name=name,
        check_env=False,
        extra=extra,
        env_kwargs=env_kwargs,
    )
    result = run.train(progress=False, gif=False, callbacks=callbacks)
    return run, result
