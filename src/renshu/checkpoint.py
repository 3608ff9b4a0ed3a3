"""Saving and loading agents: safetensors tensors + JSON metadata in a directory, no pickle.

A saved agent is a directory::

    config.json            format marker, library version, algorithm, resolved config, spaces, env
    state.json             counters, RNG states, optimizer hyperparameters
    weights.safetensors    network tensors ("q.*" online, "target.*" target)
    optimizer.safetensors  optimizer state tensors
    replay.npz             the replay buffer (only when asked for; read with allow_pickle=False)

It is written to a temporary sibling and renamed into place, so a crash never leaves a directory
under the final name that is half written. Loading checks every file and refuses a missing,
corrupt, truncated or foreign one with a message that names the file.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import uuid
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import torch
from gymnasium import spaces
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from renshu.errors import CheckpointError

FORMAT = "renshu-agent"
FORMAT_VERSION = 1
REQUIRED_FILES = ("config.json", "state.json", "weights.safetensors", "optimizer.safetensors")
ALGORITHMS = {"dqn": "renshu.agents.dqn:DQN"}
"""Algorithm name in config.json -> the class that loads it."""


@dataclass
class Checkpoint:
    """The parsed contents of a saved agent directory."""

    path: Path
    config: dict[str, Any]
    state: dict[str, Any]
    tensors: dict[str, dict[str, torch.Tensor]]
    """File stem ("weights", "optimizer") -> tensors."""
    replay: dict[str, np.ndarray] | None


def write_atomic(path: str | Path, writer: Callable[[Path], None]) -> Path:
    """Run ``writer(tmp_dir)`` and rename the directory to ``path`` once it is complete.

    An existing directory at ``path`` is replaced only after the new one is whole.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        writer(tmp)
        for file in tmp.iterdir():
            with open(file, "rb") as handle:
                os.fsync(handle.fileno())
        if path.exists():
            old = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def save(
    path: str | Path,
    *,
    config: Mapping[str, Any],
    state: Mapping[str, Any],
    tensors: Mapping[str, Mapping[str, torch.Tensor]],
    replay: Mapping[str, np.ndarray] | None = None,
) -> Path:
    """Write a saved-agent directory atomically (see the module docstring for the layout)."""
    from renshu import __version__

    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "renshu_version": __version__}

    def writer(tmp: Path) -> None:
        (tmp / "config.json").write_text(json.dumps({**meta, **config}, indent=2))
        (tmp / "state.json").write_text(json.dumps(state, indent=2))
        for stem, group in tensors.items():
            flat = {k: v.detach().cpu().contiguous() for k, v in group.items()}
            save_file(flat, str(tmp / f"{stem}.safetensors"), metadata={"format": FORMAT})
        if replay is not None:
            with open(tmp / "replay.npz", "wb") as handle:
                np.savez(handle, **replay)  # type: ignore[arg-type]

    return write_atomic(path, writer)


def read(path: str | Path, *, replay: bool = True) -> Checkpoint:
    """Read and check a saved-agent directory; every problem raises CheckpointError."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(
            f"No saved agent at {str(path)!r}: the directory does not exist. "
            "Check the path (renshu saves agents as directories, e.g. runs/catch-dqn-0/agent)."
        )
    if not path.is_dir():
        raise CheckpointError(
            f"{str(path)!r} is a file, but a saved agent is a directory holding config.json, "
            "state.json and *.safetensors. Pass the directory that agent.save() wrote."
        )
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise CheckpointError(
            f"{str(path)!r} is not a complete renshu checkpoint: missing {', '.join(missing)}. "
            "It may be half written or not a renshu agent; load another checkpoint."
        )
    config = _read_json(path / "config.json")
    if config.get("format") != FORMAT:
        raise CheckpointError(
            f"{str(path / 'config.json')!r} is not a renshu agent file "
            f"(expected format {FORMAT!r}, found {config.get('format')!r})."
        )
    if config.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(
            f"{str(path)!r} was saved by a newer renshu ({config.get('renshu_version')}, format "
            f"{config['format_version']}); this one reads format {FORMAT_VERSION}. Upgrade renshu."
        )
    state = _read_json(path / "state.json")
    tensors = {
        stem: _read_tensors(path / f"{stem}.safetensors") for stem in ("weights", "optimizer")
    }
    arrays = _read_npz(path / "replay.npz") if replay and (path / "replay.npz").is_file() else None
    return Checkpoint(path, config, state, tensors, arrays)


def load(path: str | Path, env: Any = None, **overrides: Any) -> Any:
    """Rebuild a saved agent: ``agent = renshu.load("runs/catch/agent")``.

    ``env`` (anything ``renshu.make`` accepts) replaces the saved environment; without it the
    saved one is rebuilt when it was given by name. ``overrides`` change config options, e.g.
    ``device="cpu"``, or supply a custom network module the agent was saved with.
    """
    ckpt = read(path)
    algo = ckpt.config.get("algo")
    if algo not in ALGORITHMS:
        raise CheckpointError(
            f"{str(Path(path) / 'config.json')!r} names algorithm {algo!r}; "
            f"this renshu loads {', '.join(ALGORITHMS)}."
        )
    module, name = ALGORITHMS[algo].split(":")
    cls = getattr(importlib.import_module(module), name)
    return cls.from_checkpoint(ckpt, env=env, **overrides)


def latest(directory: str | Path) -> Path | None:
    """The complete checkpoint with the highest step under ``directory`` (``<step>/`` dirs)."""
    directory = Path(directory)
    if not directory.is_dir():
        return None
    steps = [
        int(child.name)
        for child in directory.iterdir()
        if child.is_dir()
        and child.name.isdigit()
        and all((child / n).is_file() for n in REQUIRED_FILES)
    ]
    return directory / str(max(steps)) if steps else None


def space_to_json(space: gymnasium.Space[Any]) -> dict[str, Any]:
    """A JSON description of a Box, Discrete, MultiBinary, Dict or Tuple space (enough to rebuild
    it)."""
    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.Box):
        low, high = space.low, space.high
        uniform = bool(np.all(low == low.flat[0]) and np.all(high == high.flat[0]))
        return {
            "type": "Box",
            "shape": list(space.shape),
            "dtype": str(space.dtype),
            "low": float(low.flat[0]) if uniform else low.tolist(),
            "high": float(high.flat[0]) if uniform else high.tolist(),
        }
    if isinstance(space, spaces.MultiBinary):
        return {"type": "MultiBinary", "n": np.atleast_1d(space.n).tolist()}
    if isinstance(space, spaces.Dict):
        return {"type": "Dict", "spaces": {k: space_to_json(v) for k, v in space.spaces.items()}}
    if isinstance(space, spaces.Tuple):
        return {"type": "Tuple", "spaces": [space_to_json(v) for v in space.spaces]}
    raise CheckpointError(
        f"Cannot save a {type(space).__name__} space; renshu saves Box, Discrete, MultiBinary, "
        "and Dict and Tuple spaces of those."
    )


def space_from_json(data: Mapping[str, Any]) -> gymnasium.Space[Any]:
    """Inverse of :func:`space_to_json`."""
    if data.get("type") == "Discrete":
        return spaces.Discrete(int(data["n"]), start=int(data.get("start", 0)))
    if data.get("type") == "Box":
        dtype = np.dtype(data["dtype"])
        shape = tuple(data["shape"])
        low = np.broadcast_to(np.asarray(data["low"], dtype), shape)
        high = np.broadcast_to(np.asarray(data["high"], dtype), shape)
        return spaces.Box(low, high, shape, dtype)
    if data.get("type") == "MultiBinary":
        n = data["n"]
        return spaces.MultiBinary(n[0] if len(n) == 1 else n)
    if data.get("type") == "Dict":
        # in the saved order (a plain dict would be sorted by key, which can differ)
        return spaces.Dict(OrderedDict((k, space_from_json(v)) for k, v in data["spaces"].items()))
    if data.get("type") == "Tuple":
        return spaces.Tuple([space_from_json(v) for v in data["spaces"]])
    raise CheckpointError(f"Unknown space description in a saved agent: {dict(data)!r}")


def _read_json(file: Path) -> dict[str, Any]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{str(file)!r} is corrupt: not valid JSON ({exc}).") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{str(file)!r} is corrupt: expected a JSON object.")
    return data


def _read_tensors(file: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(file))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(
            f"{str(file)!r} is corrupt or truncated and cannot be read as safetensors ({exc}). "
            "Load an earlier checkpoint."
        ) from None


def _read_npz(file: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(file, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise CheckpointError(
            f"{str(file)!r} is corrupt or truncated and cannot be read ({exc}). "
            "Load an earlier checkpoint, or load without the replay buffer."
        ) from None
