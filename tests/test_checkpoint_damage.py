"""Damaged copies of one saved agent: each is refused with renshu's CheckpointError, or loads
with byte-identical weights. Never a raw exception, never a silently different agent.

Every file is deleted, truncated, bit-flipped, replaced by a folder or a symlink; JSON fields are
removed or retyped; safetensors headers are rewritten (a tensor renamed, re-typed, transposed).
Each damage is tried as is (the SHA-256 manifest refuses it) and "resealed" (the manifest
rewritten to match, as a deliberate edit would), so the schema and range checks are tested too.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

import renshu
from renshu.agents.dqn import DQN
from renshu.errors import CheckpointError

FILES = (
    "config.json",
    "state.json",
    "weights.safetensors",
    "optimizer.safetensors",
    "replay.npz",
    "manifest.json",
)
Damage = Callable[[Path], None]


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    agent = DQN("catch", warmup_steps=20, buffer_size=200, batch_size=8, net=(8,), seed=0)
    agent.fit(steps=60, progress=False)
    path = agent.save(tmp_path_factory.mktemp("damage") / "agent", replay=True)
    return path, weight_bytes(renshu.load(path))


def weight_bytes(agent: DQN) -> dict[str, bytes]:
    state = {f"q.{k}": v for k, v in agent.q_network.state_dict().items()}
    state.update({f"target.{k}": v for k, v in agent.target_network.state_dict().items()})
    return {k: v.detach().cpu().numpy().tobytes() for k, v in state.items()}


def reseal(path: Path) -> None:
    digests = {
        f.name: hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(path.iterdir())
        if f.is_file() and not f.is_symlink() and f.name != "manifest.json"
    }
    (path / "manifest.json").write_text(json.dumps({"format": "renshu-agent", "sha256": digests}))


# ---- damages ----------------------------------------------------------------------------------


def delete(name: str) -> Damage:
    return lambda p: (p / name).unlink()


def truncate(name: str, fraction: float) -> Damage:
    def damage(p: Path) -> None:
        data = (p / name).read_bytes()
        (p / name).write_bytes(data[: int(len(data) * fraction)])

    return damage


def flip(name: str, where: float) -> Damage:
    def damage(p: Path) -> None:
        data = bytearray((p / name).read_bytes())
        data[min(int(len(data) * where), len(data) - 1)] ^= 0x04
        (p / name).write_bytes(bytes(data))

    return damage


def to_folder(name: str) -> Damage:
    def damage(p: Path) -> None:
        (p / name).unlink()
        (p / name).mkdir()
        (p / name / "x").write_text("x")

    return damage


def to_symlink(name: str, target: str) -> Damage:
    def damage(p: Path) -> None:
        (p / name).unlink()
        (p / name).symlink_to(p / target if target in FILES else target)

    return damage


def edit(name: str, change: Callable[[Any], None]) -> Damage:
    def damage(p: Path) -> None:
        data = json.loads((p / name).read_text())
        change(data)
        (p / name).write_text(json.dumps(data))

    return damage


def header(name: str, change: Callable[[dict[str, Any]], None]) -> Damage:
    """Rewrite the JSON header of a safetensors file (its data left as it is)."""

    def damage(p: Path) -> None:
        raw = (p / name).read_bytes()
        (size,) = struct.unpack("<Q", raw[:8])
        head = json.loads(raw[8 : 8 + size])
        change(head)
        text = json.dumps(head).encode()
        text += b" " * (-len(text) % 8)
        (p / name).write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + size :])

    return damage


def first_tensor(head: dict[str, Any]) -> str:
    return sorted(k for k in head if k != "__metadata__")[0]


def rename(head: dict[str, Any]) -> None:
    key = first_tensor(head)
    head[key + "x"] = head.pop(key)


def retype(head: dict[str, Any]) -> None:
    head[first_tensor(head)]["dtype"] = "I32"


def transpose(head: dict[str, Any]) -> None:
    for key in sorted(head):
        if key != "__metadata__" and len(head[key]["shape"]) == 2:
            head[key]["shape"] = head[key]["shape"][::-1]
            return


def damages() -> dict[str, Damage]:
    out: dict[str, Damage] = {}
    for name in FILES:
        out[f"{name}:deleted"] = delete(name)
        for fraction in (0.0, 0.01, 0.5, 0.99):
            out[f"{name}:truncated-{fraction}"] = truncate(name, fraction)
        for where in (0.0, 0.02, 0.3, 0.6, 0.999):
            out[f"{name}:flipped-{where}"] = flip(name, where)
        out[f"{name}:folder"] = to_folder(name)
        other = (
            "optimizer.safetensors" if name != "optimizer.safetensors" else "weights.safetensors"
        )
        out[f"{name}:symlink-to-{other}"] = to_symlink(name, other)
        out[f"{name}:symlink-to-dev-null"] = to_symlink(name, "/dev/null")
    for name, keys in (
        (
            "config.json",
            (
                "format",
                "format_version",
                "algo",
                "config",
                "custom",
                "observation_space",
                "action_space",
                "env",
                "env_name",
            ),
        ),
        (
            "state.json",
            ("num_steps", "num_episodes", "num_updates", "iteration", "next_target_sync", "rng"),
        ),
    ):
        for key in keys:
            out[f"{name}:{key}-removed"] = edit(name, lambda d, k=key: d.pop(k))
            for bad in ("x", None, [], -1, 1.5, 10**30, {"a": 1}):
                out[f"{name}:{key}={bad!r}"] = edit(name, lambda d, k=key, v=bad: d.update({k: v}))
    for option in ("gamma", "learning_rate", "seed", "buffer_size", "window", "device", "net"):
        for bad in ("abc", None, -1, [1]):
            out[f"config.json:config.{option}={bad!r}"] = edit(
                "config.json", lambda d, k=option, v=bad: d["config"].update({k: v})
            )
    for field, bad in (("shape", "8"), ("dtype", "object"), ("dtype", "float128"), ("low", "x")):
        out[f"config.json:observation_space.{field}={bad!r}"] = edit(
            "config.json", lambda d, k=field, v=bad: d["observation_space"].update({k: v})
        )
    out["config.json:action_space.n=99"] = edit(
        "config.json", lambda d: d["action_space"].update(n=99)
    )
    for field, bad in (("param_groups", []), ("param_groups", "x"), ("scalars", [1])):
        out[f"state.json:optimizer.{field}={bad!r}"] = edit(
            "state.json", lambda d, k=field, v=bad: d["optimizer"].update({k: v})
        )
    out["state.json:optimizer-removed"] = edit("state.json", lambda d: d.pop("optimizer"))
    out["state.json:rng.state-removed"] = edit("state.json", lambda d: d["rng"].pop("state"))
    out["config.json:extra-key"] = edit("config.json", lambda d: d.update(note="mine"))
    out["state.json:extra-key"] = edit("state.json", lambda d: d.update(note="mine"))
    for name in ("weights.safetensors", "optimizer.safetensors"):
        for label, change in (("renamed", rename), ("retyped", retype), ("transposed", transpose)):
            out[f"{name}:header-{label}"] = header(name, change)
    return out


DAMAGES = damages()
CASES = [
    (damage, resealed)
    for damage in DAMAGES
    for resealed in (False, True)
    if not (resealed and damage.startswith("manifest.json"))  # resealing rewrites it
]


@pytest.mark.parametrize(
    ("damage", "reseal_manifest"),
    CASES,
    ids=[f"{d}{'-resealed' if r else ''}" for d, r in CASES],
)
def test_damaged_agent_is_refused_or_loads_identically(
    original: tuple[Path, dict[str, bytes]], tmp_path: Path, damage: str, reseal_manifest: bool
) -> None:
    source, expected = original
    copy = tmp_path / "agent"
    shutil.copytree(source, copy)
    DAMAGES[damage](copy)
    if reseal_manifest:
        reseal(copy)
    try:
        agent = renshu.load(copy)
    except CheckpointError as error:
        assert str(copy) in str(error)  # the message names the agent's folder or file
        return
    if reseal_manifest and (copy / "weights.safetensors").is_file():
        # a deliberate edit of the weights loads as edited: what the file holds, exactly
        edited = load_file(str(copy / "weights.safetensors"))
        expected = {k: v.numpy().tobytes() for k, v in edited.items()}
    assert weight_bytes(agent) == expected, f"{damage} loaded with different weights"
    assert all(torch.isfinite(p).all() for p in agent.q_network.parameters())


def test_a_harmless_change_loads_identically(
    original: tuple[Path, dict[str, bytes]], tmp_path: Path
) -> None:
    # The harness must tell a harmless change (an extra key, resealed) from a refused one.
    source, expected = original
    copy = tmp_path / "agent"
    shutil.copytree(source, copy)
    DAMAGES["config.json:extra-key"](copy)
    reseal(copy)
    assert weight_bytes(renshu.load(copy)) == expected
    assert len(CASES) > 400
