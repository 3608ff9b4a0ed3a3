"""Saving and loading agents: safetensors tensors + JSON metadata in a directory, no pickle.

A saved agent is a directory::

    config.json            format marker, library version, algorithm, resolved config, spaces, env
    state.json             counters, RNG states, optimizer hyperparameters
    weights.safetensors    network tensors ("q.*" online, "target.*" target)
    optimizer.safetensors  optimizer state tensors
    replay.npz             the replay buffer (only when asked for; read with allow_pickle=False)
    manifest.json          the SHA-256 of every file above

Saving. The directory is written to a temporary sibling (``.NAME.tmp-*``) and renamed into place,
so a crash never leaves a half-written directory under the final name; a failed write (a full
disk, a read-only folder) raises :class:`CheckpointError` naming the path and leaves what was
there before untouched. Saving never deletes anything renshu did not write: a non-empty folder
that is not a saved agent, or a file, at the target is refused; a previous saved agent there is
replaced only with ``overwrite=True``. Leftovers of a killed save (``.NAME.tmp-*``,
``.NAME.old-*`` folders holding only renshu's files) are removed by the next save into the same
folder once they have been idle for a minute, and are never loaded.

Loading never runs code named in the saved files and never trusts them: every file's SHA-256 is
checked against ``manifest.json`` ("changed since it was saved"; a file it lists must exist, and
a manifest present is always checked: only format 1 may come without one), the JSON is validated
against one schema before anything is built from it, tensors are checked for dtype, shape and
finite values, ``replay.npz``'s declared sizes (zip directory, .npy headers) against what the
agent's config can hold before anything is decompressed, and the replay buffer's or rollout's
fields and counters for their ranges. Any problem raises :class:`CheckpointError` naming the
file and the field. An environment saved as a Python file or
module reference (``my_env.py:Env``, ``pkg.mod:Env``, a Gymnasium id with a module prefix) is not
imported unless the caller passes ``env=`` or ``trust_env=True``; built-in short names and
registered Gymnasium ids are rebuilt. ``renshu.load`` also accepts a run folder (its ``agent/``,
or else its newest complete checkpoint).
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import re
import shlex
import shutil
import time
import uuid
import warnings
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

from renshu.agents import ALGORITHMS
from renshu.errors import CheckpointError, ConfigError, RenshuError

FORMAT = "renshu-agent"
FORMAT_VERSION = 4
"""1: the first release (no manifest). 2: manifest.json with the files' SHA-256. 3: DQN's
eps_fraction and the recurrent PPO/A2C options. 4: DRQN's value_rescale (see
``train.state.OPTIONS_NOT_IN_FORMAT``)."""
REQUIRED_FILES = ("config.json", "state.json", "weights.safetensors", "optimizer.safetensors")
MANIFEST = "manifest.json"
OPTIONAL_FILES = ("replay.npz",)

STALE_AFTER_S = 60.0
"""A leftover ``.NAME.tmp-*`` / ``.NAME.old-*`` folder untouched this long is removed (a younger
one may belong to a save under way in another process)."""
_LEFTOVER = re.compile(r"^\..+\.(tmp|old)-[0-9a-f]{8}$")
_INT_DTYPES = ("uint8", "int8", "uint16", "int16", "uint32", "int32", "int64")
_BOX_DTYPES = (
    "bool",
    "uint8",
    "int8",
    "uint16",
    "int16",
    "uint32",
    "int32",
    "uint64",
    "int64",
    "float16",
    "float32",
    "float64",
)
_MAX_COUNTER = 2**53
_MAX_OBS_ELEMENTS = 2**26
_MAX_NPZ_ENTRIES = 64


@dataclass
class Checkpoint:
    """The parsed and checked contents of a saved agent directory."""

    path: Path
    config: dict[str, Any]
    state: dict[str, Any]
    tensors: dict[str, dict[str, torch.Tensor]]
    """File stem ("weights", "optimizer") -> tensors."""
    replay: dict[str, np.ndarray] | None


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def write_atomic(
    path: str | Path, writer: Callable[[Path], None], *, overwrite: bool = True
) -> Path:
    """Run ``writer(tmp_dir)`` and rename the directory to ``path`` once it is complete.

    An existing saved agent (or empty folder) at ``path`` is replaced only after the new one is
    whole, and only with ``overwrite``; anything else there is refused (see :func:`check_target`).
    An ``OSError`` while writing (full disk, read-only folder) becomes :class:`CheckpointError`
    naming ``path``; nothing is left under a temporary or the final name.
    """
    path = Path(path)
    check_target(path, overwrite=overwrite)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_leftovers(path.parent)
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
    except (OSError, SafetensorError) as error:
        if isinstance(error, RenshuError):
            raise
        raise _write_error(path, error) from None
    return path


def _write_error(path: Path, error: BaseException) -> CheckpointError:
    code = getattr(error, "errno", None)
    text = str(error)
    if code == errno.ENOSPC or "No space left" in text or "code: 28" in text:
        return CheckpointError(
            f"Could not save to {str(path)!r}: no space left on the device. Nothing was written "
            "under that name and what was there before is intact. Free some disk space (or save "
            "elsewhere) and save again."
        )
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return CheckpointError(
            f"Could not save to {str(path)!r}: the folder is not writable "
            f"({getattr(error, 'strerror', None) or text}). Save to a folder you can write to."
        )
    reason = getattr(error, "strerror", None) or text or type(error).__name__
    return CheckpointError(
        f"Could not save to {str(path)!r}: {reason}. Nothing was written under that name; "
        "check the path and save again."
    )


def check_target(path: Path, *, overwrite: bool) -> None:
    """Refuse to save over anything but an empty folder or (with ``overwrite``) a saved agent."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise CheckpointError(
            f"Cannot save to {str(path)!r}: it is a file (or a link), and renshu saves an agent "
            "as a folder. renshu does not delete files it did not write: choose another path, or "
            "remove the file yourself."
        )
    if not path.is_dir():
        return
    try:
        entries = sorted(p.name for p in path.iterdir())
    except OSError as error:
        raise _write_error(path, error) from None
    if not entries:
        return
    if is_saved_agent(path):
        if not overwrite:
            raise CheckpointError(
                f"{str(path)!r} already holds a saved renshu agent. Pass overwrite=True to "
                "replace it, or save to another path."
            )
        foreign = [n for n in entries if n not in (*REQUIRED_FILES, MANIFEST, *OPTIONAL_FILES)]
        if not foreign:
            return
        entries = foreign
    shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
    raise CheckpointError(
        f"Cannot save to {str(path)!r}: the folder holds files renshu did not write ({shown}), "
        "and saving never deletes them. Choose another path (a new or empty folder), or move "
        "those files away. overwrite=True replaces only a previously saved renshu agent."
    )


def is_saved_agent(path: Path) -> bool:
    """True if ``path/config.json`` carries renshu's format marker."""
    try:
        data = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("format") == FORMAT


def remove_leftovers(folder: Path, *, older_than: float = STALE_AFTER_S) -> list[Path]:
    """Delete ``.NAME.tmp-*`` / ``.NAME.old-*`` folders a killed save left in ``folder``.

    Only folders holding nothing but renshu's file names (or nothing at all), idle for
    ``older_than`` seconds, are removed; returns what was removed.
    """
    removed: list[Path] = []
    known = {*REQUIRED_FILES, MANIFEST, *OPTIONAL_FILES}
    try:
        children = list(folder.iterdir())
    except OSError:
        return removed
    now = time.time()
    for child in children:
        if not _LEFTOVER.match(child.name) or child.is_symlink() or not child.is_dir():
            continue
        try:
            inside = list(child.iterdir())
            if any(p.name not in known or p.is_symlink() or not p.is_file() for p in inside):
                continue
            newest = max([child.stat().st_mtime, *(p.stat().st_mtime for p in inside)])
        except OSError:
            continue
        if now - newest >= older_than:
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child)
    return removed


def save(
    path: str | Path,
    *,
    config: Mapping[str, Any],
    state: Mapping[str, Any],
    tensors: Mapping[str, Mapping[str, torch.Tensor]],
    replay: Mapping[str, np.ndarray] | None = None,
    overwrite: bool = False,
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
        digests = {file.name: _sha256(file) for file in sorted(tmp.iterdir())}
        manifest = {"format": FORMAT, "sha256": digests}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))

    return write_atomic(path, writer, overwrite=overwrite)


def drop_replay(path: str | Path) -> None:
    """Remove ``replay.npz`` from a saved agent and from its manifest, so that the agent stays
    complete and loadable without it (a run keeps the replay only in its newest checkpoint).

    The manifest is rewritten first (to a temporary file, renamed into place), then the file is
    deleted: a crash in between leaves a replay the manifest does not record, which loading
    refuses by name, never a checkpoint that loads with a silently missing replay."""
    path = Path(path)
    file, manifest_file = path / "replay.npz", path / MANIFEST
    if not file.is_file():
        return
    if manifest_file.is_file():
        manifest = _read_json(manifest_file)
        digests = manifest.get("sha256")
        if isinstance(digests, dict) and "replay.npz" in digests:
            manifest["sha256"] = {k: v for k, v in digests.items() if k != "replay.npz"}
            tmp = path / f".{MANIFEST}.tmp-{uuid.uuid4().hex[:8]}"
            try:
                tmp.write_text(json.dumps(manifest, indent=2))
                with open(tmp, "rb") as handle:
                    os.fsync(handle.fileno())
                os.replace(tmp, manifest_file)
            finally:
                tmp.unlink(missing_ok=True)
    file.unlink()


def _sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with open(file, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def read(path: str | Path, *, replay: bool = True) -> Checkpoint:
    """Read and check a saved-agent directory; every problem raises CheckpointError."""
    path = Path(path)
    try:
        return _read(path, replay)
    except RenshuError:
        raise
    except Exception as error:  # anything else is a file renshu cannot make sense of
        raise _unreadable(path, error) from None


def _read(path: Path, replay: bool) -> Checkpoint:
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
            f"(expected format {FORMAT!r}, found {_show(config.get('format'))})."
        )
    version: Any = config.get("format_version")
    _need(
        _is_int(version) and version >= 1,
        path / "config.json",
        "format_version",
        "an int >= 1",
        version,
    )
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{str(path)!r} was saved by a newer renshu ({_show(config.get('renshu_version'))}, "
            f"format {version}); this one reads format {FORMAT_VERSION}. Upgrade renshu."
        )
    # The SHA-256 check is never switched off by what config.json says: config.json is itself
    # in the manifest, so a format_version edited down to 1 is refused as a changed file. Only
    # format 1 (renshu 0.1.0, which wrote no manifest) may come without one; such an agent gets
    # the schema, range and finite-value checks below. Deleting the manifest *and* editing
    # config.json is a deliberate edit, which a digest stored beside the files cannot stop
    # (the editor could as well rewrite the digests).
    if version >= 2 or (path / MANIFEST).exists():
        _verify_manifest(path)
    _check_config_json(config, path / "config.json")
    state = _read_json(path / "state.json")
    _check_state_json(state, path / "state.json")
    tensors = {
        stem: _read_tensors(path / f"{stem}.safetensors") for stem in ("weights", "optimizer")
    }
    arrays = None
    if replay and (path / "replay.npz").is_file():
        arrays = _read_npz(path / "replay.npz", replay_limit(config))
    return Checkpoint(path, config, state, tensors, arrays)


def _verify_manifest(path: Path) -> None:
    file = path / MANIFEST
    if not file.is_file():
        raise CheckpointError(
            f"{str(path)!r} is not a complete renshu checkpoint: missing {MANIFEST}, which "
            "records the SHA-256 of every file. Load another checkpoint."
        )
    manifest = _read_json(file)
    _need(manifest.get("format") == FORMAT, file, "format", repr(FORMAT), manifest.get("format"))
    digests: Any = manifest.get("sha256")
    _need(
        isinstance(digests, dict)
        and all(
            isinstance(k, str) and isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v)
            for k, v in digests.items()
        ),
        file,
        "sha256",
        "a mapping of file name to a SHA-256 hex digest",
        digests,
    )
    listed = set(digests)
    for name in REQUIRED_FILES:
        _need(name in listed, file, f"sha256.{name}", "present", None)
    for name in OPTIONAL_FILES:
        if (path / name).exists() and name not in listed:
            raise CheckpointError(
                f"{str(path / name)!r} is not recorded in {MANIFEST}: it was not saved with "
                "this agent. Remove it, or load another checkpoint."
            )
    for name, digest in sorted(digests.items()):
        if name not in (*REQUIRED_FILES, *OPTIONAL_FILES):
            raise CheckpointError(
                f"{str(file)!r} names an unknown file {name!r}; it was edited. Load another "
                "checkpoint."
            )
        target = path / name
        if not target.exists():
            raise CheckpointError(
                f"{str(target)!r} is missing, but {MANIFEST} records it as saved with this "
                "agent: it was deleted or not copied. Copy it back, or load another checkpoint."
            )
        if not target.is_file():
            raise CheckpointError(f"{str(target)!r} is not a file. Load another checkpoint.")
        if _sha256(target) != digest:
            raise CheckpointError(
                f"{str(target)!r} changed since it was saved: its SHA-256 differs from the one "
                f"in {MANIFEST} (a damaged disk, a partial copy, or an edit). Load another "
                "checkpoint, or copy the agent again."
            )


def _unreadable(path: Path, error: BaseException) -> CheckpointError:
    return CheckpointError(
        f"{str(path)!r} cannot be loaded: {type(error).__name__}: {str(error)[:200]}. Its "
        "files are damaged or were not written by this version of renshu; load another "
        "checkpoint."
    )


def load(path: str | Path, env: Any = None, *, trust_env: bool = False, **overrides: Any) -> Any:
    """Rebuild a saved agent: ``agent = renshu.load("runs/catch/agent")``.

    ``path`` is a saved-agent folder or a run folder (its ``agent/``, or else its newest
    complete checkpoint). ``env`` (anything ``renshu.make`` accepts) replaces the saved
    environment. Without it a saved short name or registered Gymnasium id is rebuilt; a saved
    Python file or module reference (``my_env.py:Env``) is imported only with ``trust_env=True``,
    since loading never runs code named in the files: the agent then loads without an env
    (``act()`` works; ``test()``/``fit()`` say how to pass one). ``overrides`` change config
    options, e.g. ``device="cpu"``, or supply a custom network module the agent was saved with.
    A saved device that is not available here (``"cuda"`` on a CPU machine) loads on the CPU.

    Raises:
        CheckpointError: the files are missing, damaged, edited or foreign (the file and field
            are named).
        ConfigError: an override is invalid.
    """
    if "device" in overrides and overrides["device"] is not None:
        from renshu.runs import check_device

        check_device(overrides["device"])
    return build(read(agent_path(Path(path))), env, trust_env=trust_env, **overrides)


def build(ckpt: Checkpoint, env: Any = None, *, trust_env: bool = False, **overrides: Any) -> Any:
    """The agent of a checkpoint :func:`read` returned (what :func:`load` does after reading);
    any failure is a CheckpointError naming the folder."""
    cls = ALGORITHMS[ckpt.config["algo"]].agent_class()
    try:
        return cls.from_checkpoint(ckpt, env=env, trust_env=trust_env, **overrides)
    except RenshuError:
        raise
    except Exception as error:
        raise _unreadable(ckpt.path, error) from None


def agent_path(path: Path) -> Path:
    """``path`` itself, or for a run folder its ``agent/`` (else its newest checkpoint)."""
    if (path / "config.json").exists() or not (path / "config.yaml").is_file():
        return path
    agent, newest = path / "agent", latest(path / "checkpoints")
    if all((agent / n).is_file() for n in REQUIRED_FILES):
        agent_step = _saved_steps(agent)
        if newest is not None and agent_step is not None and int(newest.name) > agent_step:
            warnings.warn(
                f"Loaded {str(agent)!r} (step {agent_step:,}), the run's final agent; the run "
                f"also has a newer checkpoint, {str(newest)!r} (training went on after it). "
                "Load that folder to use it.",
                stacklevel=3,
            )
        return agent
    if newest is not None:
        return newest
    raise CheckpointError(
        f"{str(path)!r} is a run folder without an agent yet: no complete agent/ and no "
        "complete checkpoint under checkpoints/. Train it first (renshu train --resume "
        f"{shlex.quote(str(path.absolute()))}), or pass another run."
    )


def _saved_steps(path: Path) -> int | None:
    try:
        steps = json.loads((path / "state.json").read_text(encoding="utf-8"))["num_steps"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return int(steps) if _is_int(steps) else None


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


# --------------------------------------------------------------------------------------------
# Environments named in saved files
# --------------------------------------------------------------------------------------------


def env_is_safe(env: str) -> bool:
    """True if building ``env`` imports no code named by it: a built-in short name, or a
    registered Gymnasium id without a ``module:`` prefix. Files and modules are not safe."""
    from renshu.envs import SHORT_NAMES

    text = env.strip()
    if text in SHORT_NAMES or text.lower() in SHORT_NAMES:
        return True
    return ":" not in text and not text.endswith(".py") and text in gymnasium.registry


def untrusted_env_message(env: str, *, where: str) -> str:
    """Why a saved env reference was not built, and the ways to supply it."""
    return (
        f"{where} names the environment {env!r}, which is Python code (a file or module) "
        "that renshu does not import from saved files: a saved agent or run folder may come from "
        "someone else."
    )


# --------------------------------------------------------------------------------------------
# Spaces
# --------------------------------------------------------------------------------------------


def space_to_json(space: gymnasium.Space[Any]) -> dict[str, Any]:
    """A JSON description of a Box, Discrete, MultiDiscrete, MultiBinary, Dict or Tuple space
    (enough to rebuild it): every space an algorithm of :data:`renshu.agents.ALGORITHMS` takes."""
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
    if isinstance(space, spaces.MultiDiscrete):
        return {
            "type": "MultiDiscrete",
            "nvec": space.nvec.tolist(),
            "start": space.start.tolist(),
            "dtype": str(space.dtype),
        }
    if isinstance(space, spaces.Dict):
        return {"type": "Dict", "spaces": {k: space_to_json(v) for k, v in space.spaces.items()}}
    if isinstance(space, spaces.Tuple):
        return {"type": "Tuple", "spaces": [space_to_json(v) for v in space.spaces]}
    raise CheckpointError(
        f"Cannot save a {type(space).__name__} space; renshu saves Box, Discrete, "
        "MultiDiscrete, MultiBinary, and Dict and Tuple spaces of those."
    )


def unsaveable(space: gymnasium.Space[Any]) -> str | None:
    """Why an agent on ``space`` could not be saved and loaded again (None: it can). Agents
    refuse such a space when they are built, rather than at their first checkpoint."""
    try:
        data = json.loads(json.dumps(space_to_json(space)))
        check_space_json(data, Path("config.json"), "space")
        loaded = space_from_json(data)
    except CheckpointError as error:  # the load check's words, without the file's
        found = re.search(r"damaged or was edited: space\.?(.*)\. Load another", str(error))
        return f"its {found.group(1).strip()}" if found else str(error).rstrip(".")
    except (TypeError, ValueError, OverflowError) as error:
        return f"its description cannot be written ({type(error).__name__}: {error})"
    if loaded != space:
        return f"it would load as {loaded}"
    return None


def space_from_json(data: Mapping[str, Any]) -> gymnasium.Space[Any]:
    """Inverse of :func:`space_to_json` (``data`` checked by :func:`check_space_json`)."""
    check_space_json(data, Path("config.json"), "space")
    if data["type"] == "Discrete":
        return spaces.Discrete(int(data["n"]), start=int(data.get("start", 0)))
    if data["type"] == "Box":
        dtype = np.dtype(data["dtype"])
        shape = tuple(data["shape"])
        low = np.broadcast_to(np.asarray(data["low"], dtype), shape)
        high = np.broadcast_to(np.asarray(data["high"], dtype), shape)
        return spaces.Box(low, high, shape, dtype)
    if data["type"] == "MultiBinary":
        n = data["n"]
        return spaces.MultiBinary(n[0] if len(n) == 1 else n)
    if data["type"] == "MultiDiscrete":
        dtype = np.dtype(data["dtype"])
        return spaces.MultiDiscrete(
            np.asarray(data["nvec"], dtype), dtype=dtype, start=np.asarray(data["start"], dtype)
        )
    if data["type"] == "Dict":
        # in the saved order (a plain dict would be sorted by key, which can differ)
        return spaces.Dict(OrderedDict((k, space_from_json(v)) for k, v in data["spaces"].items()))
    return spaces.Tuple([space_from_json(v) for v in data["spaces"]])


def check_space_json(data: Any, file: Path, field: str, depth: int = 0) -> None:
    """Raise CheckpointError unless ``data`` describes a Discrete, Box, MultiDiscrete or
    MultiBinary space, or a Dict or Tuple of them (nested at most 4 deep, at most 64 parts
    each)."""
    _need(isinstance(data, dict), file, field, "an object", data)
    kind = data.get("type")
    kinds = ("Discrete", "Box", "MultiDiscrete", "MultiBinary", "Dict", "Tuple")
    _need(kind in kinds, file, f"{field}.type", f"one of {', '.join(kinds)}", kind)
    if kind in ("Dict", "Tuple"):
        parts = data.get("spaces")
        container = dict if kind == "Dict" else list
        _need(
            isinstance(parts, container) and 1 <= len(parts) <= 64 and depth < 4,
            file,
            f"{field}.spaces",
            f"a non-empty {'object' if kind == 'Dict' else 'list'} of at most 64 spaces, "
            "nested at most 4 deep",
            parts,
        )
        items = parts.items() if isinstance(parts, dict) else enumerate(parts)
        for key, part in items:
            check_space_json(part, file, f"{field}.spaces.{key}", depth + 1)
        return
    if kind == "MultiBinary":
        n = data.get("n")
        _need(_is_shape(n), file, f"{field}.n", _SHAPE_TEXT, n)
        return
    if kind == "MultiDiscrete":
        _check_multi_discrete_json(data, file, field)
        return
    if kind == "Discrete":
        n, start = data.get("n"), data.get("start", 0)
        _need(_is_int(n) and 1 <= n <= 2**31, file, f"{field}.n", "an int >= 1", n)
        _need(_is_int(start) and abs(start) <= 2**62, file, f"{field}.start", "an int", start)
        return
    shape, dtype = data.get("shape"), data.get("dtype")
    _need(  # a Box may be a scalar (shape [])
        shape == [] or _is_shape(shape), file, f"{field}.shape", _SHAPE_TEXT + " (or [])", shape
    )
    _need(dtype in _BOX_DTYPES, file, f"{field}.dtype", f"one of {', '.join(_BOX_DTYPES)}", dtype)
    for bound in ("low", "high"):
        value = data.get(bound)
        ok = _is_number(value, finite=False) or isinstance(value, list)
        if ok and isinstance(value, list):
            try:
                array = np.asarray(value)
                ok = array.dtype.kind in "biuf" and np.broadcast_to(array, shape).size > 0
            except (ValueError, TypeError):
                ok = False
        _need(ok, file, f"{field}.{bound}", f"a number or a nested list of shape {shape}", value)


def _check_multi_discrete_json(data: Mapping[str, Any], file: Path, field: str) -> None:
    """``nvec`` a nested list of ints >= 1 (a shape of 1 to 8 axes), ``start`` ints of the same
    shape, ``dtype`` a NumPy integer type that holds every value."""
    dtype = data.get("dtype")
    _need(dtype in _INT_DTYPES, file, f"{field}.dtype", f"one of {', '.join(_INT_DTYPES)}", dtype)
    info = np.iinfo(str(dtype))
    nvec = _int_array(data.get("nvec"))
    _need(
        nvec is not None
        and 1 <= nvec.ndim <= 8
        and 0 < nvec.size <= _MAX_OBS_ELEMENTS
        and bool((nvec >= 1).all())
        and int(nvec.max()) <= info.max,
        file,
        f"{field}.nvec",
        f"a nested list of ints in [1, {info.max}] (1 to 8 axes)",
        data.get("nvec"),
    )
    assert nvec is not None
    start = _int_array(data.get("start"))
    _need(
        start is not None
        and start.shape == nvec.shape
        and int(start.min()) >= info.min
        and bool((start <= info.max - (nvec - 1)).all()),
        file,
        f"{field}.start",
        f"ints of nvec's shape {list(nvec.shape)} (the first value of each axis)",
        data.get("start"),
    )


def _int_array(value: Any) -> np.ndarray | None:
    """``value`` (nested lists of JSON ints) as an int64 array, or None if it is not that."""
    if not isinstance(value, list):
        return None
    try:
        array = np.asarray(value)
    except (ValueError, TypeError, OverflowError):
        return None
    if array.dtype.kind not in "iu" or array.size == 0:
        return None
    return array.astype(np.int64)


# --------------------------------------------------------------------------------------------
# Schema of config.json and state.json
# --------------------------------------------------------------------------------------------


def _check_config_json(config: dict[str, Any], file: Path) -> None:
    _need(
        isinstance(config.get("renshu_version", ""), str),
        file,
        "renshu_version",
        "a string",
        config.get("renshu_version"),
    )
    algo = config.get("algo")
    _need(algo in ALGORITHMS, file, "algo", f"one of {', '.join(ALGORITHMS)}", algo)
    options: Any = config.get("config")
    _need(isinstance(options, dict), file, "config", "an object of option: value", options)
    custom = config.get("custom", [])
    _need(
        isinstance(custom, list)
        and all(isinstance(c, str) and isinstance(options.get(c), str) for c in custom),
        file,
        "custom",
        "a list of option names recorded as custom objects",
        custom,
    )
    for space in ("observation_space", "action_space"):
        check_space_json(config.get(space), file, space)
    for key in ("env", "env_name"):
        value = config.get(key)
        _need(
            value is None or (isinstance(value, str) and 0 < len(value) <= 1_000),
            file,
            key,
            "null or a short string",
            value,
        )


def _check_state_json(state: dict[str, Any], file: Path) -> None:
    for key in ("num_steps", "num_episodes", "num_updates", "iteration"):
        check_counter(state, key, file)
    rng: Any = state.get("rng")
    try:
        np.random.default_rng(0).bit_generator.state = rng
        ok = isinstance(rng, dict)
    except (TypeError, ValueError, KeyError, OverflowError):
        ok = False
    _need(ok, file, "rng", "a NumPy PCG64 bit-generator state", rng)
    opt: Any = state.get("optimizer")
    _need(isinstance(opt, dict), file, "optimizer", "an object", opt)
    groups: Any = opt.get("param_groups")
    _need(
        isinstance(groups, list)
        and len(groups) >= 1
        and all(
            isinstance(g, dict)
            and isinstance(g.get("params"), list)
            and all(_is_int(p) and p >= 0 for p in g["params"])
            for g in groups
        ),
        file,
        "optimizer.param_groups",
        "a non-empty list of groups, each with a list of parameter indices",
        groups,
    )
    scalars: Any = opt.get("scalars")
    _need(
        isinstance(scalars, dict)
        and all(
            re.fullmatch(r"\d+\..+", k) and _is_number(v, finite=True) for k, v in scalars.items()
        ),
        file,
        "optimizer.scalars",
        'an object of "<index>.<name>": number',
        scalars,
    )


def check_counter(state: Mapping[str, Any], key: str, file: Path) -> None:
    """``state[key]`` is a counter: an int in [0, 2**53]."""
    value: Any = state.get(key)
    _need(
        _is_int(value) and 0 <= value <= _MAX_COUNTER,
        file,
        key,
        f"an int in [0, {_MAX_COUNTER}]",
        value,
    )


def check_counters(state: Mapping[str, Any], target_update: float, file: Path) -> None:
    """The target-sync counter must be where training leaves it (a wrong one spins the loop)."""
    steps, sync = state["num_steps"], state["next_target_sync"]
    if target_update >= 1:
        ok = steps < sync <= steps + int(target_update)
        expected = f"in ({steps}, {steps + int(target_update)}] (num_steps, + target_update)"
    else:
        ok, expected = sync == 0, "0 with a soft target update"
    _need(ok, file, "next_target_sync", expected, sync)


# --------------------------------------------------------------------------------------------
# Tensors and the replay buffer
# --------------------------------------------------------------------------------------------


def check_tensors(
    tensors: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor], file: Path
) -> None:
    """Same names, shapes and dtypes as ``expected``; floating tensors all finite."""
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    shape = sorted(k for k in expected if k in tensors and tensors[k].shape != expected[k].shape)
    if missing or unexpected or shape:
        raise CheckpointError(
            f"{str(file)!r} does not match the network in config.json: missing {missing}, "
            f"unexpected {unexpected}, wrong shape {shape}."
        )
    for key, value in tensors.items():
        want = expected[key].dtype
        if value.dtype != want:
            raise CheckpointError(
                f"{str(file)!r}: tensor {key!r} is {value.dtype}, expected {want}. The file was "
                "edited or damaged; load another checkpoint."
            )
        check_finite(value, file, key)


def check_finite(value: torch.Tensor, file: Path, key: str) -> None:
    """Refuse NaN or infinite values in a floating tensor."""
    if value.is_floating_point() and not bool(torch.isfinite(value).all()):
        raise CheckpointError(
            f"{str(file)!r}: tensor {key!r} holds NaN or infinite values. Training diverged "
            "before this save, or the file is damaged; load an earlier checkpoint."
        )


def check_replay(arrays: Mapping[str, np.ndarray], n_actions: int, window: int, file: Path) -> None:
    """Ranges of the replay buffer's fields: actions within the action space, kinds and window
    back-counts known, stamps and counters consistent, rewards and priorities finite."""
    from renshu.replay import _START

    def need(ok: bool, field: str, expected: str, value: Any) -> None:
        _need(ok, file, field, expected, value)

    names = ("actions", "rewards", "kind", "back", "head", "written", "ep_pos", "counters")
    for name in (*names, "valid", "config", "rng_state", "max_priority"):
        need(name in arrays, name, "present", None)
    actions, kind, back = arrays["actions"], arrays["kind"], arrays["back"]
    for name in ("actions", "head", "written", "ep_pos", "counters", "kind", "back"):
        need(arrays[name].dtype.kind in "iu", name, "integers", arrays[name].dtype)
    need(
        actions.size == 0 or (int(actions.min()) >= 0 and int(actions.max()) < n_actions),
        "actions",
        f"actions in [0, {n_actions})",
        _extremes(actions),
    )
    need(kind.size == 0 or int(kind.max()) <= _START + 1, "kind", "in [0, 4]", _extremes(kind))
    need(back.size == 0 or int(back.max()) < window, "back", f"< window {window}", _extremes(back))
    for name in ("rewards", "frames"):
        if name in arrays and arrays[name].dtype.kind == "f":
            need(bool(np.isfinite(arrays[name]).all()), name, "finite values", "NaN or inf")
    head, written, ep_pos = arrays["head"], arrays["written"], arrays["ep_pos"]
    need(bool((ep_pos >= 0).all()), "ep_pos", "ints >= 0", _extremes(ep_pos))
    need(
        bool(((head >= 0) & (head <= written) & (written - head <= 1)).all()),
        "head",
        "written - 1 or written (per env)",
        head.tolist()[:8],
    )
    counters = arrays["counters"]
    need(counters.shape == (2,), "counters", "2 ints", counters.shape)
    stored = int(np.count_nonzero(kind >= _START))
    sampleable = int(np.count_nonzero(arrays["valid"]))
    need(int(counters[0]) == stored, "counters[0]", f"{stored} (the stored transitions)", counters)
    need(int(counters[1]) == sampleable, "counters[1]", f"{sampleable} (sampleable)", counters)
    top = np.asarray(arrays["max_priority"])
    need(
        top.shape == () and top.dtype.kind == "f" and math.isfinite(float(top)) and float(top) > 0,
        "max_priority",
        "a finite number > 0",
        top,
    )
    if "priorities" in arrays:
        pri = arrays["priorities"]
        need(
            pri.dtype.kind == "f" and bool(np.isfinite(pri).all()) and bool((pri >= 0).all()),
            "priorities",
            "finite numbers >= 0",
            _extremes(pri),
        )
    for name in ("config", "rng_state"):
        value = arrays[name]
        need(value.shape == () and value.dtype.kind == "U", name, "a JSON string", value.dtype)
        try:
            parsed = json.loads(str(value))
        except ValueError:
            parsed = None
        need(isinstance(parsed, dict), name, "a JSON object", str(value)[:60])
    try:
        np.random.default_rng(0).bit_generator.state = json.loads(str(arrays["rng_state"]))
    except (TypeError, ValueError, KeyError, OverflowError):
        need(False, "rng_state", "a NumPy bit-generator state", str(arrays["rng_state"])[:60])


def load_replay(buffer: Any, arrays: Mapping[str, np.ndarray], n_actions: int, file: Path) -> None:
    """Check the saved replay arrays (:func:`check_replay`) and load them into ``buffer`` (a
    :class:`renshu.replay.ReplayBuffer`), or raise CheckpointError naming the file."""
    check_replay(arrays, n_actions, buffer.window, file)
    try:
        buffer.load_state_dict(dict(arrays))
    except (ConfigError, KeyError, ValueError, TypeError) as error:
        raise CheckpointError(
            f"{str(file)!r} does not fit this agent's replay buffer ({error}). Load "
            "without overriding buffer options, or load another checkpoint."
        ) from None


def check_rollout(
    arrays: Mapping[str, np.ndarray], rollout: Any, action_space: gymnasium.Space[Any], file: Path
) -> None:
    """Every field of a saved rollout (:meth:`renshu.rollout.Rollout.state_dict`) against
    ``rollout``: sizes and the write position, shapes and dtypes, observations and rewards
    finite, log-probabilities finite, values, final values, advantages and returns finite or
    NaN (NaN: not computed yet), actions within ``action_space``."""

    def need(ok: Any, field: str, expected: str, value: Any) -> None:
        _need(ok, file, field, expected, value)

    fields = ("obs", "actions", *rollout.FLOAT_FIELDS, *rollout.BOOL_FIELDS)
    for name in (*fields, "pos", "n_steps", "num_envs"):
        need(name in arrays, name, "present", None)
    for name in ("pos", "n_steps", "num_envs"):
        value = np.asarray(arrays[name])
        need(value.shape == () and value.dtype.kind in "iu", name, "one integer", value)
    sizes = (int(arrays["n_steps"]), int(arrays["num_envs"]))
    if sizes != (rollout.n_steps, rollout.num_envs):
        raise CheckpointError(
            f"{str(file)!r} holds a rollout of n_steps x num_envs = {sizes[0]} x {sizes[1]}, but "
            f"this agent's is {rollout.n_steps} x {rollout.num_envs}. Load without overriding "
            "n_steps or num_envs, or load another checkpoint."
        )
    pos = int(arrays["pos"])
    need(0 <= pos < rollout.n_steps, "pos", f"in [0, {rollout.n_steps}) (n_steps)", pos)
    for name in fields:
        own, saved = getattr(rollout, name), arrays[name]
        expected = (pos, *own.shape[1:])
        need(
            saved.shape == expected and saved.dtype == own.dtype,
            name,
            f"{own.dtype} of shape {expected}",
            f"{saved.dtype} of shape {saved.shape}",
        )
    for name in ("obs", "rewards", "log_probs"):
        if arrays[name].dtype.kind == "f":
            need(bool(np.isfinite(arrays[name]).all()), name, "finite values", "NaN or inf")
    for name in ("values", "final_values", "advantages", "returns"):
        need(not np.isinf(arrays[name]).any(), name, "finite or NaN (not computed)", "inf")
    if getattr(rollout, "seq_len", None) is not None:  # memory: starts, states of sequences
        _check_rollout_memory(arrays, rollout, pos, need)
    actions = arrays["actions"]
    if isinstance(action_space, spaces.Box):
        need(bool(np.isfinite(actions).all()), "actions", "finite values", "NaN or inf")
        return
    if isinstance(action_space, spaces.Discrete):
        low, high = np.int64(action_space.start), np.int64(action_space.start + action_space.n)
    elif isinstance(action_space, spaces.MultiDiscrete):
        low, high = action_space.start, action_space.start + action_space.nvec
    else:  # MultiBinary
        low, high = np.int64(0), np.int64(2)
    inside = (actions >= low) & (actions < high)
    need(
        bool(inside.all()),
        "actions",
        f"actions within {action_space}",
        _extremes(actions),
    )


def _check_rollout_memory(
    arrays: Mapping[str, np.ndarray], rollout: Any, pos: int, need: Any
) -> None:
    """A recurrent rollout's fields: ``episode_starts`` (bool, one per step and env) and the
    finite LSTM states ``state_h``/``state_c`` of the sequences begun."""
    begun = -(-pos // rollout.seq_len)
    expected = {
        "episode_starts": (np.dtype(bool), (pos, rollout.num_envs)),
        "state_h": (np.dtype(np.float32), (begun, rollout.num_envs, rollout.hidden_size)),
        "state_c": (np.dtype(np.float32), (begun, rollout.num_envs, rollout.hidden_size)),
    }
    for name, (dtype, shape) in expected.items():
        need(name in arrays, name, "present", None)
        saved = arrays[name]
        need(
            saved.shape == shape and saved.dtype == dtype,
            name,
            f"{dtype} of shape {shape}",
            f"{saved.dtype} of shape {saved.shape}",
        )
        if dtype.kind == "f":
            need(bool(np.isfinite(saved).all()), name, "finite values", "NaN or inf")


def load_rollout(
    rollout: Any,
    arrays: Mapping[str, np.ndarray],
    action_space: gymnasium.Space[Any],
    file: Path,
    *,
    pos: int,
) -> None:
    """Check a saved rollout (:func:`check_rollout`; its write position must be ``pos``, the
    one ``state.json`` records) and load it into ``rollout`` (a
    :class:`renshu.rollout.Rollout`), or raise CheckpointError naming the file and field."""
    check_rollout(arrays, rollout, action_space, file)
    saved = int(arrays["pos"])
    _need(saved == pos, file, "pos", f"{pos} (rollout_pos in state.json)", saved)
    rollout.load_state_dict(dict(arrays))


def check_in_run(ckpt: Checkpoint, algo: str) -> None:
    """A checkpoint of a run folder (``RUN/checkpoints/<step>/``) belongs to it: its own
    algorithm (config.json) is the run's, and its step (state.json ``num_steps``) is the
    folder's name. A checkpoint copied in from another run is refused naming both."""
    saved_algo, steps = ckpt.config["algo"], ckpt.state["num_steps"]
    if saved_algo != algo:
        raise CheckpointError(
            f"{str(ckpt.path / 'config.json')!r} is a {saved_algo} agent, but the run trains "
            f"{algo} (its config.yaml): the checkpoint was copied in from another run. Move it "
            "out of the run folder."
        )
    if ckpt.path.name.isdigit() and steps != int(ckpt.path.name):
        raise CheckpointError(
            f"{str(ckpt.path / 'state.json')!r} is at step {steps:,}, but its folder is named "
            f"{ckpt.path.name} (the step it was saved at): it was renamed or copied in from "
            "another run. Move it out of the run folder."
        )


def _extremes(array: np.ndarray) -> str:
    if array.size == 0:
        return "empty"
    return f"values from {array.min()} to {array.max()}"


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _need(ok: Any, file: Path, field: str, expected: str, value: Any) -> None:
    """Raise the CheckpointError naming ``file`` and ``field`` unless ``ok``."""
    if not ok:
        found = "nothing" if value is None and expected == "present" else _show(value)
        what = "is missing" if expected == "present" else f"must be {expected}, found {found}"
        raise CheckpointError(
            f"{str(file)!r} is damaged or was edited: {field} {what}. Load another checkpoint, "
            "or save the agent again."
        )


def _show(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_SHAPE_TEXT = f"a list of 1 to 8 ints >= 1 with at most {_MAX_OBS_ELEMENTS:,} elements"


def _is_shape(value: Any) -> bool:
    """A space shape as saved: 1 to 8 positive ints, not too many elements in all."""
    return (
        isinstance(value, list)
        and 1 <= len(value) <= 8
        and all(_is_int(s) and s >= 1 for s in value)
        and math.prod(value) <= _MAX_OBS_ELEMENTS
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any, *, finite: bool) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return not finite or math.isfinite(value)


def _read_json(file: Path) -> dict[str, Any]:
    if not file.is_file():
        raise CheckpointError(f"{str(file)!r} is missing or not a file. Load another checkpoint.")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CheckpointError(
            f"{str(file)!r} is corrupt: not valid JSON ({_show(str(exc), 120)})."
        ) from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{str(file)!r} is corrupt: expected a JSON object.")
    return data


def _read_tensors(file: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(file))
    except (SafetensorError, OSError, ValueError, RuntimeError, TypeError) as exc:
        raise CheckpointError(
            f"{str(file)!r} is corrupt or truncated and cannot be read as safetensors "
            f"({_show(str(exc), 160)}). Load an earlier checkpoint."
        ) from None


def replay_limit(config: Mapping[str, Any]) -> int:
    """The most bytes the replay buffer or rollout of the agent ``config.json`` describes can
    hold once decompressed: its rows (``buffer_size`` slots, or ``n_steps * num_envs``) times a
    generous row (the observation's flat size at 8 bytes an element, plus 256 bytes of actions,
    rewards, flags and priorities, plus a recurrent state where sequences are replayed), plus
    1 MiB for counters and JSON."""
    options = config.get("config") or {}

    def option(name: str, default: int) -> int:
        value = options.get(name, default)
        return value if _is_int(value) and 1 <= value <= _MAX_COUNTER else default

    envs = option("num_envs", 1)
    rows = max(
        -(-option("buffer_size", 1) // envs) * envs + 2 * envs,
        (option("n_steps", 1) + 1) * envs,
    )
    try:
        row = gymnasium.spaces.flatdim(space_from_json(config["observation_space"])) * 8 + 256
    except Exception:  # a space the schema check refused already; no replay can match it
        row = 256
    if "lstm_size" in options:  # sequence replay: a stored state (h, c) per sequence start, at
        # most one per slot, and slots rounded up to a multiple of seq_stride per env
        row += 8 * option("lstm_size", 1)
        rows += (option("seq_stride", 1) + option("burn_in", 1) + option("seq_len", 1)) * envs
    return rows * row + (1 << 20)


def _read_npz(file: Path, limit: int) -> dict[str, np.ndarray]:
    """The arrays of ``replay.npz``, read only once the archive's declared sizes (the zip
    entries' uncompressed sizes, the .npy headers' shapes and dtypes) fit in ``limit`` bytes:
    a small archive that inflates to gigabytes is refused before anything is decompressed."""
    try:
        _check_npz_sizes(file, limit)
        with np.load(file, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        if isinstance(exc, CheckpointError):
            raise
        raise CheckpointError(
            f"{str(file)!r} is corrupt or truncated and cannot be read ({_show(str(exc), 160)}). "
            "Load an earlier checkpoint, or load without the replay buffer."
        ) from None


def _check_npz_sizes(file: Path, limit: int) -> None:
    """Refuse ``file`` unless its entries are .npy arrays whose declared sizes add up to at most
    ``limit`` bytes; reads only the zip directory and each entry's .npy header."""
    fmt = np.lib.format
    with zipfile.ZipFile(file) as archive:
        infos = archive.infolist()
        if len(infos) > _MAX_NPZ_ENTRIES:
            raise CheckpointError(
                f"{str(file)!r} holds {len(infos):,} entries; a replay buffer or rollout saves "
                f"at most {_MAX_NPZ_ENTRIES}. It was edited or is not this agent's replay; load "
                "another checkpoint, or load without the replay."
            )
        declared = sum(info.file_size for info in infos)
        if declared > limit:
            raise CheckpointError(
                f"{str(file)!r} declares {declared:,} bytes of arrays once decompressed, but "
                f"the replay of the agent config.json describes holds at most {limit:,}. It "
                "was edited or is not this agent's replay; load another checkpoint, or load "
                "without the replay."
            )
        for info in infos:
            with archive.open(info) as member:
                version = fmt.read_magic(member)
                if version == (1, 0):
                    shape, _, dtype = fmt.read_array_header_1_0(member)
                elif version == (2, 0):
                    shape, _, dtype = fmt.read_array_header_2_0(member)
                else:
                    raise ValueError(f"entry {info.filename!r} has .npy version {version}")
            size = math.prod(shape) * dtype.itemsize
            if dtype.hasobject or size > info.file_size:
                raise CheckpointError(
                    f"{str(file)!r}: entry {info.filename!r} declares a {dtype} array of shape "
                    f"{shape} ({size:,} bytes) in {info.file_size:,} bytes. The file was "
                    "edited or damaged; load another checkpoint, or load without the replay."
                )
