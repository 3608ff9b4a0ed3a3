"""Saving and loading: atomic directories, and refusal of missing, corrupt or foreign files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import renshu
from renshu import checkpoint
from renshu.agents.dqn import DQN
from renshu.envs.toy import IdentityEnv
from renshu.errors import CheckpointError


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    agent = DQN(IdentityEnv(), warmup_steps=10, buffer_size=100, seed=0, net=(8,))
    agent.fit(steps=50, progress=False)
    return agent.save(tmp_path / "agent", replay=True)


def test_missing_directory_is_refused_with_the_path(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"No saved agent at .*nope.*does not exist"):
        renshu.load(tmp_path / "nope")


def test_a_file_instead_of_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "weights.h5f").write_bytes(b"x")
    with pytest.raises(CheckpointError, match="is a file, but a saved agent is a directory"):
        renshu.load(tmp_path / "weights.h5f")


def test_half_written_checkpoint_is_refused(saved: Path) -> None:
    (saved / "weights.safetensors").unlink()
    with pytest.raises(
        CheckpointError,
        match=r"not a complete renshu checkpoint: missing weights\.safetensors",
    ):
        renshu.load(saved)


def test_truncated_weights_are_refused_naming_the_file(saved: Path) -> None:
    data = (saved / "weights.safetensors").read_bytes()
    (saved / "weights.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"weights\.safetensors' is corrupt or truncated"):
        renshu.load(saved)


def test_corrupt_json_is_refused(saved: Path) -> None:
    (saved / "state.json").write_text("{not json")
    with pytest.raises(CheckpointError, match=r"state\.json' is corrupt: not valid JSON"):
        renshu.load(saved)


def test_foreign_config_is_refused(saved: Path) -> None:
    (saved / "config.json").write_text(json.dumps({"model": "keras"}))
    with pytest.raises(CheckpointError, match="is not a renshu agent file"):
        renshu.load(saved)


def test_foreign_safetensors_is_refused(saved: Path) -> None:
    save_file({"dense.kernel": torch.zeros(3, 3)}, str(saved / "weights.safetensors"))
    with pytest.raises(CheckpointError, match=r"does not match the network in config\.json"):
        renshu.load(saved)


def test_corrupt_replay_is_refused(saved: Path) -> None:
    (saved / "replay.npz").write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(CheckpointError, match=r"replay\.npz' is corrupt or truncated"):
        renshu.load(saved)


def test_no_pickle_in_saved_files(saved: Path) -> None:
    for file in saved.iterdir():
        assert b"\x80\x04\x95" not in file.read_bytes()[:64], file  # pickle protocol 4 header
    with np.load(saved / "replay.npz", allow_pickle=False) as data:
        assert data.files


def test_write_atomic_leaves_nothing_when_the_writer_fails(tmp_path: Path) -> None:
    def writer(tmp: Path) -> None:
        (tmp / "config.json").write_text("{}")
        raise RuntimeError("crash while writing")

    with pytest.raises(RuntimeError):
        checkpoint.write_atomic(tmp_path / "ckpt", writer)
    assert list(tmp_path.iterdir()) == []


def test_write_atomic_replaces_an_existing_directory(tmp_path: Path) -> None:
    checkpoint.write_atomic(tmp_path / "c", lambda d: (d / "a").write_text("1"))
    checkpoint.write_atomic(tmp_path / "c", lambda d: (d / "b").write_text("2"))
    assert [p.name for p in (tmp_path / "c").iterdir()] == ["b"]
    assert [p.name for p in tmp_path.iterdir()] == ["c"]


def test_latest_skips_incomplete_checkpoints(saved: Path, tmp_path: Path) -> None:
    root = tmp_path / "checkpoints"
    root.mkdir()
    saved.rename(root / "100")
    (root / "200").mkdir()  # half written: no files
    (root / ".300.tmp-abcd").mkdir()
    assert checkpoint.latest(root) == root / "100"
