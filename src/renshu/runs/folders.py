"""Run folders on disk: their names, creating and removing them, reading their
``config.yaml`` back (:class:`RunSettings`) and writing it atomically."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from renshu.agents import ALGORITHMS
from renshu.config import OneOf, Range, dump_yaml, field_names, load_yaml, validate
from renshu.config import check_device as _check_device
from renshu.errors import ConfigError, RunFileError, os_error_message

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.csv"
RUN_CONTENTS = (CONFIG_FILE, METRICS_FILE, "tb", "checkpoints", "plots", "videos", "agent")
"""What renshu writes into a run folder (a failed start removes only these)."""


@dataclass
class RunSettings:
    """The entries of a run's ``config.yaml`` that renshu reads back; checked when a run is
    created and again when it is opened (the file may have been edited)."""

    env: str | None
    """The environment as given on the command line; None for an environment object."""
    algo: Annotated[str, OneOf(*ALGORITHMS)]
    """The algorithm (``dqn``): one of :data:`renshu.agents.ALGORITHMS`."""
    seed: Annotated[int, Range(ge=0)]
    """Seeds the networks, replay, exploration and envs, >= 0."""
    steps: Annotated[int, Range(ge=1)]
    """Total training steps, >= 1."""
    test_episodes: Annotated[int, Range(ge=1)]
    """Greedy episodes played after training, >= 1."""
    checkpoint_every: Annotated[int, Range(ge=1)]
    """Steps between checkpoints, >= 1."""
    config: dict[str, Any]
    """The algorithm's options (checked by its config class when the agent is built)."""

    def __post_init__(self) -> None:
        validate(self)


_SETTINGS = tuple(field_names(RunSettings))


def env_label(env: Any) -> str:
    """A folder-safe name for an env: ``catch``, ``CartPole-v1``, ``Catch-v0`` for
    ``renshu/Catch-v0``, the class name for ``file.py:Class`` or an instance."""
    if isinstance(env, str):
        text = env.strip()
        text = text.rsplit(":", 1)[1] if ":" in text else text
        text = text.rsplit("/", 1)[-1]
    elif isinstance(env, type):
        text = env.__name__
    else:
        text = type(getattr(env, "unwrapped", env)).__name__
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "env"


def _new_folder(runs_dir: Path, name: str) -> Path:
    """Create ``runs_dir/name``, or ``name-1``, ``name-2``, ... if taken; never reuse one."""
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise ConfigError(
            f"A run name must be one folder name (no slashes), got {name!r}. Use --runs-dir to "
            "choose the folder that holds the runs."
        )
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ConfigError(
            f"Cannot put runs in {str(runs_dir)!r}: it (or a parent) is a file, not a folder. "
            "Pass another --runs-dir."
        ) from None
    except OSError as error:
        raise _new_run_error(error, runs_dir) from None
    for n in range(10_000):
        path = runs_dir / (name if n == 0 else f"{name}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        except OSError as error:
            raise _new_run_error(error, runs_dir) from None
        return path
    raise ConfigError(f"Too many runs named {name!r} in {str(runs_dir)!r}; pass another --name.")


def _new_run_error(error: OSError, runs_dir: Path) -> RunFileError:
    return RunFileError(
        os_error_message(
            error,
            "Creating a run folder",
            f"No run was started. Make {str(runs_dir)!r} writable, or pass another --runs-dir",
        )
    )


def _remove_new_run(folder: Path) -> None:
    """Remove what renshu wrote into ``folder`` (a run this process just made), then the folder
    if nothing else is in it. Best effort: a failure here never hides the original error."""
    import shutil

    for name in RUN_CONTENTS:
        path = folder / name
        with contextlib.suppress(OSError):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        folder.rmdir()


def _is_ours(error: OSError, folder: Path) -> bool:
    """True for a file error renshu's own writing caused (in the run folder, or a read-only or
    full disk), as opposed to one from the user's environment code."""
    if error.errno in (errno.EROFS, errno.ENOSPC, errno.EDQUOT):
        return True
    name = error.filename
    if not isinstance(name, str | bytes | os.PathLike):
        return False
    try:
        Path(os.fsdecode(name)).resolve().relative_to(folder.resolve())
    except (ValueError, OSError):
        return False
    return True


def _read_settings(path: Path) -> dict[str, Any]:
    """The ``config.yaml`` of the run folder ``path``; errors name the problem and the fix."""
    if not path.is_dir():
        hint = ""
        parent = path.parent if str(path.parent) not in ("", ".") else Path(".")
        if parent.is_dir():
            close = sorted(p.name for p in parent.iterdir() if p.is_dir())
            import difflib

            match = difflib.get_close_matches(path.name, close, n=3, cutoff=0.6)
            if match:
                hint = f" Did you mean: {', '.join(str(parent / m) for m in match)}?"
        what = "is a file, not a folder" if path.exists() else "does not exist"
        raise ConfigError(
            f"No run at {str(path)!r}: it {what}. Pass a run folder that renshu train "
            f"made (it holds config.yaml), e.g. runs/catch-dqn-0.{hint}"
        )
    file = path / CONFIG_FILE
    if not file.is_file():
        raise ConfigError(
            f"{str(path)!r} is not a run folder: it has no {CONFIG_FILE}. Pass the folder "
            "renshu train made (e.g. runs/catch-dqn-0), not one inside it."
        )
    settings = load_yaml(file, fix="Restore it from a copy, or start a new run (renshu train ENV).")
    missing = [key for key in _SETTINGS if key not in settings]
    if missing:
        raise ConfigError(
            f"{str(file)!r} lacks {', '.join(missing)}; it was not written by renshu train "
            "or has been edited. Restore those entries to resume the run."
        )
    try:
        checked = RunSettings(**{key: settings[key] for key in _SETTINGS})
    except ConfigError as error:
        raise ConfigError(
            f"{str(file)!r} has a bad entry: {error} The file was edited or damaged; restore "
            "that entry (renshu train writes e.g. steps: 30000, checkpoint_every: 3000) and "
            "run again."
        ) from None
    settings.update(dataclasses.asdict(checked))
    return settings


def default_every(steps: int) -> int:
    """Steps between checkpoints for a run of ``steps``: a tenth, but at least 1,000 (or the
    whole run when it is shorter), since a checkpoint ends the episodes under way."""
    return max(steps // 10, min(steps, 1_000))


def check_device(device: str) -> None:
    """Raise ConfigError unless torch can use ``device`` here ("auto" always is); see
    :func:`renshu.config.check_device`."""
    _check_device(device)


def _dump_atomic(data: Mapping[str, Any], path: Path) -> None:
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        dump_yaml(data, tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
