"""Saving and loading: atomic directories that never delete user files, integrity checks, no
code run on load, and refusal of missing, corrupt, edited or foreign files with renshu's error."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors import SafetensorError
from safetensors.torch import save_file

import renshu
from renshu import checkpoint
from renshu.agents.dqn import DQN
from renshu.envs.toy import IdentityEnv
from renshu.errors import CheckpointError, ConfigError
from renshu.runs import Run


def reseal(path: Path) -> None:
    """Record the current files' SHA-256 in manifest.json, as an edit that also fixes the
    manifest would: what is left to refuse the edit is the schema and the range checks."""
    digests = {
        f.name: hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(path.iterdir())
        if f.is_file() and f.name != "manifest.json"
    }
    (path / "manifest.json").write_text(json.dumps({"format": "renshu-agent", "sha256": digests}))


def edit_json(path: Path, name: str, change) -> None:  # type: ignore[no-untyped-def]
    data = json.loads((path / name).read_text())
    change(data)
    (path / name).write_text(json.dumps(data))
    reseal(path)


@pytest.fixture
def saved(tmp_path: Path) -> Path:  # batch 32: 50 steps train (and fill optimizer state)
    agent = DQN(IdentityEnv(), warmup_steps=10, buffer_size=100, batch_size=32, seed=0, net=(8,))
    agent.fit(steps=50, progress=False)
    return agent.save(tmp_path / "agent", replay=True)


@pytest.fixture
def agent() -> DQN:
    return DQN(IdentityEnv(), warmup_steps=10, buffer_size=100, seed=0, net=(8,))


# ---- loading: refusals ------------------------------------------------------------------------


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


def test_bit_flip_in_weights_is_refused_as_changed_since_saved(saved: Path) -> None:
    data = bytearray((saved / "weights.safetensors").read_bytes())
    data[-3] ^= 0x01  # inside a tensor: still a valid safetensors file
    (saved / "weights.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"weights\.safetensors' changed since it was saved"):
        renshu.load(saved)


def test_bit_flip_in_optimizer_is_refused_as_changed_since_saved(saved: Path) -> None:
    data = bytearray((saved / "optimizer.safetensors").read_bytes())
    data[-5] ^= 0x10
    (saved / "optimizer.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"optimizer\.safetensors' changed since it was"):
        renshu.load(saved)


def test_missing_manifest_is_refused(saved: Path) -> None:
    (saved / "manifest.json").unlink()
    with pytest.raises(CheckpointError, match=r"missing manifest\.json"):
        renshu.load(saved)


def test_truncated_weights_are_refused_naming_the_file(saved: Path) -> None:
    data = (saved / "weights.safetensors").read_bytes()
    (saved / "weights.safetensors").write_bytes(data[: len(data) // 2])
    reseal(saved)
    with pytest.raises(CheckpointError, match=r"weights\.safetensors' is corrupt or truncated"):
        renshu.load(saved)


def test_corrupt_json_is_refused(saved: Path) -> None:
    (saved / "state.json").write_text("{not json")
    reseal(saved)
    with pytest.raises(CheckpointError, match=r"state\.json' is corrupt: not valid JSON"):
        renshu.load(saved)


def test_foreign_config_is_refused(saved: Path) -> None:
    (saved / "config.json").write_text(json.dumps({"model": "keras"}))
    with pytest.raises(CheckpointError, match="is not a renshu agent file"):
        renshu.load(saved)


def test_foreign_safetensors_is_refused(saved: Path) -> None:
    save_file({"dense.kernel": torch.zeros(3, 3)}, str(saved / "weights.safetensors"))
    reseal(saved)
    with pytest.raises(CheckpointError, match=r"does not match the network in config\.json"):
        renshu.load(saved)


def test_corrupt_replay_is_refused(saved: Path) -> None:
    (saved / "replay.npz").write_bytes(b"PK\x03\x04 broken")
    reseal(saved)
    with pytest.raises(CheckpointError, match=r"replay\.npz' is corrupt or truncated"):
        renshu.load(saved)


def test_nan_weights_are_refused(saved: Path) -> None:
    from safetensors.torch import load_file

    tensors = load_file(str(saved / "weights.safetensors"))
    first = sorted(tensors)[0]
    tensors[first] = tensors[first].clone().fill_(float("nan"))
    save_file(tensors, str(saved / "weights.safetensors"))
    reseal(saved)
    with pytest.raises(CheckpointError, match=rf"tensor '{first}' holds NaN or infinite values"):
        renshu.load(saved)


def test_retyped_weights_are_refused(saved: Path) -> None:
    from safetensors.torch import load_file

    tensors = load_file(str(saved / "weights.safetensors"))
    tensors = {k: v.double() for k, v in tensors.items()}
    save_file(tensors, str(saved / "weights.safetensors"))
    reseal(saved)
    with pytest.raises(CheckpointError, match=r"is torch\.float64, expected torch\.float32"):
        renshu.load(saved)


def test_renamed_optimizer_tensor_is_refused(saved: Path) -> None:
    from safetensors.torch import load_file

    tensors = load_file(str(saved / "optimizer.safetensors"))
    tensors["0.exp_avgx"] = tensors.pop("0.exp_avg")
    save_file(tensors, str(saved / "optimizer.safetensors"))
    reseal(saved)
    with pytest.raises(CheckpointError, match=r"optimizer state of parameter 0 holds"):
        renshu.load(saved)


def test_replay_action_outside_the_action_space_is_refused(saved: Path) -> None:
    with np.load(saved / "replay.npz") as data:
        arrays = {k: data[k] for k in data.files}
    arrays["actions"][0, 0] = 99
    np.savez(saved / "replay.npz", **arrays)
    reseal(saved)
    with pytest.raises(
        CheckpointError, match=r"replay\.npz' .*actions must be actions in \[0, 4\)"
    ):
        renshu.load(saved)


@pytest.mark.parametrize(
    ("name", "change", "field"),
    [
        ("config.json", lambda d: d.update(format_version="2"), "format_version"),
        ("config.json", lambda d: d.pop("config"), "config"),
        ("config.json", lambda d: d.update(config=[1, 2]), "config"),
        ("config.json", lambda d: d.pop("observation_space"), "observation_space"),
        ("config.json", lambda d: d.pop("action_space"), "action_space"),
        ("config.json", lambda d: d["config"].update(gamma="abc"), "config.gamma"),
        ("config.json", lambda d: d["config"].update(learning_rate="x"), "config.learning_rate"),
        ("config.json", lambda d: d["config"].update(device="tpu"), "config.device"),
        ("config.json", lambda d: d.update(custom=["bogus"]), "custom"),
        ("config.json", lambda d: d.update(custom="net"), "custom"),
        ("config.json", lambda d: d["observation_space"].update(shape="4"), "shape"),
        ("config.json", lambda d: d["observation_space"].update(dtype="object"), "dtype"),
        ("config.json", lambda d: d["observation_space"].update(dtype=7), "dtype"),
        ("config.json", lambda d: d["action_space"].update(n=-1), "action_space.n"),
        ("config.json", lambda d: d.update(env=["x"]), "env"),
        ("state.json", lambda d: d.pop("num_steps"), "num_steps"),
        ("state.json", lambda d: d.update(num_steps=-5), "num_steps"),
        ("state.json", lambda d: d.update(num_steps=1.5), "num_steps"),
        ("state.json", lambda d: d.update(num_steps=10**15), "next_target_sync"),
        ("state.json", lambda d: d.pop("rng"), "rng"),
        ("state.json", lambda d: d.update(rng={"bit_generator": "PCG64"}), "rng"),
        ("state.json", lambda d: d["optimizer"].update(param_groups=[]), "param_groups"),
        ("state.json", lambda d: d["optimizer"]["param_groups"][0].update(lr="x"), "param_groups"),
    ],
)
def test_edited_json_is_refused_naming_file_and_field(
    saved: Path, name: str, change, field: str
) -> None:  # type: ignore[no-untyped-def]
    edit_json(saved, name, change)
    with pytest.raises(CheckpointError, match=rf"{name.replace('.', '[.]')}.*{field}"):
        renshu.load(saved)


def test_saved_config_value_of_wrong_type_becomes_checkpoint_error(saved: Path) -> None:
    edit_json(saved, "config.json", lambda d: d["config"].update(seed="abc"))
    with pytest.raises(CheckpointError, match=r"config\.json.*config"):
        renshu.load(saved)


def test_replay_counters_missing_or_negative_are_refused(saved: Path) -> None:
    with np.load(saved / "replay.npz") as data:
        arrays = {k: data[k] for k in data.files}
    arrays["counters"] = np.array([-1, 0], np.int64)
    np.savez(saved / "replay.npz", **arrays)
    reseal(saved)
    with pytest.raises(CheckpointError, match=r"replay\.npz.*counters\[0\]"):
        renshu.load(saved)
    del arrays["counters"]
    np.savez(saved / "replay.npz", **arrays)
    reseal(saved)
    with pytest.raises(CheckpointError, match=r"replay\.npz.*counters is missing"):
        renshu.load(saved)


def test_extra_unknown_key_in_json_still_loads(saved: Path) -> None:
    edit_json(saved, "config.json", lambda d: d.update(note="mine"))
    assert renshu.load(saved).num_steps == 50


def test_unexpected_error_while_building_is_wrapped(saved: Path, monkeypatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("inside")

    import renshu.train.state

    monkeypatch.setattr(renshu.train.state, "load_state", boom)
    with pytest.raises(CheckpointError, match=r"cannot be loaded: AssertionError: inside"):
        renshu.load(saved)


def test_bad_device_override_is_a_config_error_not_a_version_message(saved: Path) -> None:
    with pytest.raises(ConfigError, match="not a device name torch knows") as info:
        renshu.load(saved, device="tpu")
    assert "another version" not in str(info.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="tests the CPU fallback")
def test_cuda_trained_agent_loads_on_a_cpu_machine(saved: Path) -> None:
    edit_json(saved, "config.json", lambda d: d["config"].update(device="cuda"))
    with pytest.warns(UserWarning, match="not available here; it is loaded on the CPU"):
        agent = renshu.load(saved)
    assert agent.device.type == "cpu"


def test_no_pickle_in_saved_files(saved: Path) -> None:
    for file in saved.iterdir():
        assert b"\x80\x04\x95" not in file.read_bytes()[:64], file  # pickle protocol 4 header
    with np.load(saved / "replay.npz", allow_pickle=False) as data:
        assert data.files


# ---- loading never runs code named in the files -----------------------------------------------

EVIL = """
from pathlib import Path
Path({marker!r}).write_text("imported")
import gymnasium
class Env(gymnasium.Env):
    pass
"""


def plant(saved: Path, tmp_path: Path, reference: str | None = None) -> tuple[Path, str]:
    marker = tmp_path / "MARKER"
    (saved.parent / "evil.py").write_text(EVIL.format(marker=str(marker)))
    ref = reference or f"{saved.parent / 'evil.py'}:Env"
    edit_json(saved, "config.json", lambda d: d.update(env=ref))
    return marker, ref


def test_load_does_not_import_a_file_env_named_in_config_json(saved: Path, tmp_path) -> None:
    marker, ref = plant(saved, tmp_path)
    agent = renshu.load(saved)
    assert not marker.exists()
    assert agent.act(np.eye(4, dtype=np.float32)[0]) in range(4)
    with pytest.raises(ConfigError, match=r"does not import.*trust_env=True") as info:
        agent.test(episodes=1)
    assert ref in str(info.value)
    with pytest.raises(ConfigError, match=r"renshu\.load"):
        agent.fit(steps=10, progress=False)
    assert not marker.exists()


def test_load_does_not_import_a_module_env_or_call_it(saved: Path, tmp_path) -> None:
    made = list(Path("/tmp").glob("tmp*"))
    edit_json(saved, "config.json", lambda d: d.update(env="tempfile:mkdtemp"))
    agent = renshu.load(saved)
    assert agent.env is None
    assert sorted(Path("/tmp").glob("tmp*")) == sorted(made)


def test_gymnasium_id_with_module_prefix_is_not_imported(saved: Path, tmp_path) -> None:
    marker, _ = plant(saved, tmp_path, reference="evil:Whatever-v0")
    agent = renshu.load(saved)
    assert agent.env is None and not marker.exists()


def test_trust_env_imports_the_saved_file(saved: Path, tmp_path) -> None:
    marker, _ = plant(saved, tmp_path)
    with pytest.raises(renshu.RenshuError):  # the planted class is no usable env
        renshu.load(saved, trust_env=True)
    assert marker.exists()


def test_saved_short_name_is_rebuilt(tmp_path: Path) -> None:
    agent = DQN("catch", buffer_size=200, warmup_steps=10, seed=0, net=(8,))
    agent.save(tmp_path / "a")
    loaded = renshu.load(tmp_path / "a")
    assert loaded.env is not None and loaded.env_spec == "catch"


def test_env_instance_agent_names_its_env_when_test_has_none(saved: Path) -> None:
    agent = renshu.load(saved)
    with pytest.raises(ConfigError, match=r"trained on IdentityEnv.*env=") as info:
        agent.test(episodes=1)
    assert "agent.test(env=...)" in str(info.value)
    assert agent.test(episodes=1, env=IdentityEnv()).history["episode_reward"]


# ---- run folders ------------------------------------------------------------------------------


def test_load_accepts_a_run_folder(tmp_path: Path) -> None:
    run = Run.create("catch", steps=200, runs_dir=tmp_path, check_env=False, checkpoint_every=100)
    run.train(test=False, gif=False, progress=False)
    agent = renshu.load(run.path)
    assert agent.num_steps == 200
    import shutil

    shutil.rmtree(run.path / "agent")
    assert renshu.load(run.path).num_steps == 200  # the newest checkpoint


def test_load_of_a_run_folder_without_agent_says_so(tmp_path: Path) -> None:
    Run.create("catch", steps=200, runs_dir=tmp_path, check_env=False, name="r")
    with pytest.raises(CheckpointError, match=r"run folder without an agent yet"):
        renshu.load(tmp_path / "r")


def test_run_folder_file_env_is_not_imported_on_open(tmp_path: Path) -> None:
    run = Run.create("catch", steps=200, runs_dir=tmp_path, check_env=False, name="r")
    marker = tmp_path / "MARKER"
    (tmp_path / "evil.py").write_text(EVIL.format(marker=str(marker)))
    text = (
        (run.path / "config.yaml").read_text().replace("env: catch", f"env: {tmp_path}/evil.py:Env")
    )
    (run.path / "config.yaml").write_text(text)
    opened = Run.open(run.path)
    with pytest.raises(ConfigError, match=r"--env .*--trust-env"):
        opened.load_agent()
    with pytest.raises(ConfigError, match="does not import"):
        opened.train(steps=10, progress=False)
    assert not marker.exists()


def test_leftovers_of_a_killed_save_are_removed_on_resume(tmp_path: Path) -> None:
    run = Run.create("catch", steps=100, runs_dir=tmp_path, check_env=False, checkpoint_every=100)
    run.train(test=False, gif=False, progress=False)
    stale = run.checkpoint_dir / ".200.tmp-0123abcd"
    stale.mkdir()
    (stale / "config.json").write_text("{}")
    fresh = run.checkpoint_dir / ".300.tmp-89abcdef"
    fresh.mkdir()
    user = run.checkpoint_dir / ".notes.tmp-01234567"
    user.mkdir()
    (user / "mine.txt").write_text("keep")
    old = time.time() - 3600
    for p in (stale, stale / "config.json", user, user / "mine.txt"):
        os.utime(p, (old, old))
    assert run.resume_point() == run.checkpoint_dir / "100"
    assert not stale.exists()
    assert fresh.exists()  # may be a save under way elsewhere
    assert (user / "mine.txt").read_text() == "keep"


# ---- saving -----------------------------------------------------------------------------------


def test_save_refuses_folder_with_user_files(tmp_path: Path, agent: DQN) -> None:
    target = tmp_path / "work"
    (target / "sub").mkdir(parents=True)
    (target / "notes.txt").write_text("mine")
    for overwrite in (False, True):
        with pytest.raises(CheckpointError, match=r"holds files renshu did not write.*notes\.txt"):
            agent.save(target, overwrite=overwrite)
    assert (target / "notes.txt").read_text() == "mine" and (target / "sub").is_dir()


def test_save_refuses_an_existing_file(tmp_path: Path, agent: DQN) -> None:
    (tmp_path / "agent").write_text("mine")
    with pytest.raises(CheckpointError, match="it is a file"):
        agent.save(tmp_path / "agent", overwrite=True)
    assert (tmp_path / "agent").read_text() == "mine"


def test_save_over_a_saved_agent_needs_overwrite(tmp_path: Path, agent: DQN) -> None:
    agent.save(tmp_path / "a")
    with pytest.raises(
        CheckpointError, match=r"already holds a saved renshu agent.*overwrite=True"
    ):
        agent.save(tmp_path / "a")
    agent.fit(steps=20, progress=False)
    agent.save(tmp_path / "a", overwrite=True)
    assert renshu.load(tmp_path / "a").num_steps == 20
    assert [p.name for p in tmp_path.iterdir()] == ["a"]


def test_save_into_an_empty_folder(tmp_path: Path, agent: DQN) -> None:
    (tmp_path / "a").mkdir()
    agent.save(tmp_path / "a")
    assert (tmp_path / "a" / "manifest.json").is_file()


def test_full_disk_while_saving_keeps_the_previous_checkpoint(
    tmp_path: Path, agent: DQN, monkeypatch
) -> None:
    agent.save(tmp_path / "a")
    before = {p.name: p.read_bytes() for p in (tmp_path / "a").iterdir()}
    real = checkpoint.save_file

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    def full_rust(*args: object, **kwargs: object) -> None:
        raise SafetensorError(
            'Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "No '
            'space left on device" })'
        )

    for fake in (full, full_rust):
        monkeypatch.setattr(checkpoint, "save_file", fake)
        with pytest.raises(CheckpointError, match=r"Could not save to '.*a': no space left"):
            agent.save(tmp_path / "a", overwrite=True)
        assert [p.name for p in tmp_path.iterdir()] == ["a"]  # no temporary left behind
        assert {p.name: p.read_bytes() for p in (tmp_path / "a").iterdir()} == before
    monkeypatch.setattr(checkpoint, "save_file", real)


def test_save_to_proc_is_renshus_error(agent: DQN) -> None:
    with pytest.raises(CheckpointError, match=r"Could not save to '/proc/x'"):
        agent.save("/proc/x")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_save_into_a_read_only_folder_is_renshus_error(tmp_path: Path, agent: DQN) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(CheckpointError, match=r"Could not save to .*ro/a'"):
            agent.save(folder / "a")
    finally:
        folder.chmod(0o700)


def test_read_only_folder_while_saving_is_renshus_error(
    tmp_path: Path, agent: DQN, monkeypatch
) -> None:
    real = Path.mkdir

    def read_only(self: Path, *args: object, **kwargs: object) -> None:
        if self.name.startswith(".a.tmp-"):
            raise OSError(errno.EROFS, "Read-only file system")
        real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "mkdir", read_only)
    with pytest.raises(CheckpointError, match=r"Could not save to '.*a': the folder is not writ"):
        agent.save(tmp_path / "a")
    assert list(tmp_path.iterdir()) == []


def test_save_removes_idle_leftovers_of_a_killed_save(tmp_path: Path, agent: DQN) -> None:
    for name in (".a.tmp-0123abcd", ".a.old-0123abcd"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "state.json").write_text("{}")
        old = time.time() - 3600
        os.utime(tmp_path / name / "state.json", (old, old))
        os.utime(tmp_path / name, (old, old))
    agent.save(tmp_path / "a")
    assert [p.name for p in tmp_path.iterdir()] == ["a"]


def test_write_atomic_leaves_nothing_when_the_writer_fails(tmp_path: Path) -> None:
    def writer(tmp: Path) -> None:
        (tmp / "config.json").write_text("{}")
        raise RuntimeError("crash while writing")

    with pytest.raises(RuntimeError):
        checkpoint.write_atomic(tmp_path / "ckpt", writer)
    assert list(tmp_path.iterdir()) == []


def test_write_atomic_replaces_a_saved_agent(tmp_path: Path) -> None:
    marker = json.dumps({"format": checkpoint.FORMAT})
    checkpoint.write_atomic(tmp_path / "c", lambda d: (d / "config.json").write_text(marker))
    checkpoint.write_atomic(tmp_path / "c", lambda d: (d / "state.json").write_text("{}"))
    assert [p.name for p in (tmp_path / "c").iterdir()] == ["state.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["c"]


def test_latest_skips_incomplete_checkpoints(saved: Path, tmp_path: Path) -> None:
    root = tmp_path / "checkpoints"
    root.mkdir()
    saved.rename(root / "100")
    (root / "200").mkdir()  # half written: no files
    (root / ".300.tmp-abcd").mkdir()
    assert checkpoint.latest(root) == root / "100"


# ---- the command line -------------------------------------------------------------------------

SMALL = {"net": [8], "buffer_size": 500, "warmup_steps": 20, "batch_size": 8}


@pytest.fixture
def run_folder(tmp_path: Path) -> Path:
    run = Run.create("catch", steps=100, runs_dir=tmp_path, check_env=False, options=SMALL)
    run.train(test=False, gif=False, progress=False)
    return run.path


def plant_in_run(run: Path, tmp_path: Path) -> tuple[Path, str]:
    marker = tmp_path / "MARKER"
    (tmp_path / "evil.py").write_text(EVIL.format(marker=str(marker)))
    ref = f"{tmp_path}/evil.py:Env"
    text = (run / "config.yaml").read_text().replace("env: catch", f"env: {ref}")
    (run / "config.yaml").write_text(text)
    return marker, ref


def test_renshu_test_with_a_bad_device_is_a_config_error(run_folder: Path, capsys) -> None:
    from renshu.cli import main

    assert main(["test", str(run_folder), "--device", "tpu"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "not a device name torch knows" in err and "another version" not in err
    assert main(["test", str(run_folder / "agent"), "--device", "tpu"]) == 2
    assert "not a device name torch knows" in " ".join(capsys.readouterr().err.split())


def test_renshu_test_does_not_import_the_env_file_a_run_names(
    run_folder: Path, tmp_path: Path, capsys
) -> None:
    from renshu.cli import main

    marker, ref = plant_in_run(run_folder, tmp_path)
    assert main(["test", str(run_folder), "--episodes", "1"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"--env {ref}" in err and "--trust-env" in err
    assert main(["train", "--resume", str(run_folder), "--steps", "200"]) == 2
    assert "--trust-env" in " ".join(capsys.readouterr().err.split())
    assert not marker.exists()
    assert main(["test", str(run_folder), "--episodes", "1", "--env", "catch"]) == 0
    assert not marker.exists()
    assert main(["test", str(run_folder), "--episodes", "1", "--trust-env"]) == 2  # not an env
    assert marker.exists()


def test_renshu_test_of_an_agent_folder_does_not_import_its_env_file(
    run_folder: Path, tmp_path: Path, capsys
) -> None:
    from renshu.cli import main

    marker, ref = plant(run_folder / "agent", tmp_path)
    assert main(["test", str(run_folder / "agent"), "--episodes", "1"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"--env {ref}" in err and "--trust-env" in err
    assert not marker.exists()
    assert main(["test", str(run_folder / "agent"), "--episodes", "1", "--env", "catch"]) == 0


def test_run_resume_with_prioritized_replay_matches_a_straight_run(tmp_path: Path) -> None:
    options = {**SMALL, "prioritized": True}

    def create(name: str) -> Run:
        return Run.create(
            "catch",
            steps=400,
            runs_dir=tmp_path,
            name=name,
            check_env=False,
            options=options,
            checkpoint_every=200,
        )

    class CtrlCAt200(renshu.Callback):
        def on_tick(self, step: int) -> None:
            if step == 200:
                os.kill(os.getpid(), signal.SIGINT)

    straight = create("straight")
    straight.train(test=False, gif=False, progress=False)
    split = create("split")
    stopped = split.train(test=False, gif=False, progress=False, callbacks=[CtrlCAt200()])
    assert stopped.interrupted == "SIGINT" and stopped.steps == 200
    split.train(test=False, gif=False, progress=False)
    a, b = renshu.load(straight.path), renshu.load(split.path)
    assert a.config.per_beta_steps is b.config.per_beta_steps is None  # the run's total: 400
    for x, y in zip(a.q_network.parameters(), b.q_network.parameters(), strict=True):
        assert torch.equal(x, y)


def test_renshu_test_of_an_env_object_agent_names_the_env_and_env_flag(saved: Path, capsys) -> None:
    from renshu.cli import main

    assert main(["test", str(saved), "--episodes", "1"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "IdentityEnv" in err and "--env" in err


def test_agent_saved_by_0_1_0_with_bounds_scaling_loads_and_acts_the_same() -> None:
    """renshu 0.1.0 scaled float observations by their bounds (preprocess.centre/inv_half);
    running normalization replaced it, and such agents failed the weights check on load."""
    import json

    from renshu.agents.dqn import DQN

    fixtures = Path(__file__).parent / "fixtures"
    saved = json.loads((fixtures / "agent_v010_shower_q.json").read_text())
    agent = renshu.load(fixtures / "agent_v010_shower")
    assert isinstance(agent, DQN)
    obs = np.asarray(saved["obs"], dtype=np.float32)[:, None]
    np.testing.assert_allclose(agent._q_values(obs), np.asarray(saved["q"]), rtol=1e-5, atol=1e-5)
    norm = agent.q_network.preprocess.norm
    count_before = float(norm.count)
    agent.fit(50, progress=False)  # training on: the statistics barely move
    assert float(norm.count) >= count_before
    np.testing.assert_allclose(norm.mean.numpy(), [50.0], atol=1e-6)


# ---- the integrity check cannot be switched off; the replay or rollout file -------------------


def flip_byte(file: Path, where: float = 0.5) -> None:
    data = bytearray(file.read_bytes())
    data[int(len(data) * where)] ^= 0x04
    file.write_bytes(bytes(data))


def test_format_version_1_does_not_turn_off_the_sha256_check(saved: Path) -> None:
    data = json.loads((saved / "config.json").read_text())
    data["format_version"] = 1
    (saved / "config.json").write_text(json.dumps(data))
    flip_byte(saved / "weights.safetensors", 0.9)
    with pytest.raises(CheckpointError, match="changed since it was saved"):
        renshu.load(saved)


def test_a_manifest_beside_a_format_1_agent_is_checked(tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "v010"
    shutil.copytree(Path(__file__).parent / "fixtures" / "agent_v010_shower", copy)
    renshu.load(copy)  # format 1 wrote no manifest: it loads without one
    reseal(copy)
    renshu.load(copy)
    flip_byte(copy / "weights.safetensors", 0.9)
    with pytest.raises(CheckpointError, match=r"weights\.safetensors.*changed since it was saved"):
        renshu.load(copy)


def test_replay_the_manifest_lists_but_that_was_deleted_is_refused(saved: Path) -> None:
    (saved / "replay.npz").unlink()
    with pytest.raises(CheckpointError, match=r"replay\.npz.*is missing, but manifest\.json"):
        renshu.load(saved)


def test_a_dropped_replay_leaves_a_complete_checkpoint(saved: Path) -> None:
    checkpoint.drop_replay(saved)
    assert not (saved / "replay.npz").exists()
    assert "replay.npz" not in json.loads((saved / "manifest.json").read_text())["sha256"]
    assert len(renshu.load(saved).buffer) == 0


def write_npz_entry(archive_path: Path, name: str, header: dict[str, Any], data_bytes: int) -> None:
    """An npz holding one entry: a .npy header, then ``data_bytes`` zero bytes, deflated."""
    import zipfile

    with (
        zipfile.ZipFile(archive_path, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open(f"{name}.npy", "w", force_zip64=True) as member,
    ):
        np.lib.format.write_array_header_1_0(member, header)
        block = bytes(1 << 20)
        left = data_bytes
        while left > 0:
            member.write(block[: min(left, len(block))])
            left -= len(block)


def test_zip_bomb_replay_is_refused_from_its_headers_before_decompressing(
    saved: Path,
) -> None:
    import tracemalloc

    bomb = saved / "replay.npz"
    size = 64 << 20  # 64 MiB of zeros, about 64 KiB deflated
    header = {"descr": "<f8", "fortran_order": False, "shape": (size // 8,)}
    write_npz_entry(bomb, "frames", header, size)
    assert bomb.stat().st_size < 1 << 20
    reseal(saved)
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match=r"declares 67,1\d\d,\d\d\d bytes.*at most"):
            renshu.load(saved)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20


def test_npy_header_larger_than_its_entry_is_refused_before_allocating(saved: Path) -> None:
    header = {"descr": "<f8", "fortran_order": False, "shape": (1 << 40,)}
    write_npz_entry(saved / "replay.npz", "frames", header, 64)
    reseal(saved)
    with pytest.raises(CheckpointError, match=r"'frames\.npy' declares a float64 array of shape"):
        renshu.load(saved)


def test_replay_with_thousands_of_entries_is_refused_before_reading_them(saved: Path) -> None:
    np.savez(saved / "replay.npz", **{f"a{i}": np.zeros(1) for i in range(5_000)})
    reseal(saved)
    with pytest.raises(CheckpointError, match="holds 5,000 entries; a replay buffer or rollout"):
        renshu.load(saved)


# ---- the PPO/A2C rollout is checked on load as the replay buffer is ----------------------------


@pytest.fixture(scope="module")
def ppo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    agent = renshu.PPO("CartPole-v1", n_steps=16, batch_size=16, num_envs=2, net=(8,), seed=0)
    agent.fit(40, progress=False)
    assert agent.rollout.pos > 0
    return agent.save(tmp_path_factory.mktemp("ppo") / "agent", replay=True)


def damaged_rollout(ppo_path: Path, tmp_path: Path, change) -> Path:  # type: ignore[no-untyped-def]
    import shutil

    copy = tmp_path / "agent"
    shutil.copytree(ppo_path, copy)
    with np.load(copy / "replay.npz") as data:
        arrays = {k: data[k] for k in data.files}
    change(arrays)
    np.savez(copy / "replay.npz", **arrays)
    reseal(copy)
    return copy


def _put(name: str, value: float, at: tuple = (0, 0)):  # type: ignore[no-untyped-def,type-arg]
    def change(arrays: dict) -> None:  # type: ignore[type-arg]
        arrays[name] = arrays[name].copy()
        arrays[name][at] = value

    return change


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (_put("rewards", np.nan), "rewards must be finite values"),
        (_put("obs", np.nan, (0, 0, 1)), "obs must be finite values"),
        (_put("log_probs", np.inf), "log_probs must be finite values"),
        (_put("values", -np.inf), "values must be finite or NaN"),
        (_put("actions", 2), "actions must be actions within Discrete(2)"),
        (_put("actions", -1), "actions must be actions within Discrete(2)"),
        (lambda a: a.update(pos=np.array(16)), "pos must be in [0, 16)"),
        (lambda a: a.update(pos=np.array(2.0)), "pos must be one integer"),
        (lambda a: a.update(rewards=a["rewards"][:1]), "rewards must be float32 of shape"),
        (lambda a: a.update(actions=a["actions"].astype(np.float32)), "actions must be int64"),
        (lambda a: a.pop("valid"), "valid is missing"),
    ],
    ids=[
        "nan-reward", "nan-obs", "inf-log-prob", "inf-value", "action-past-n", "negative-action",
        "pos-past-the-end", "float-pos", "short-rewards", "float-actions", "no-valid",
    ],
)  # fmt: skip
def test_damaged_rollout_is_refused_naming_the_field(
    ppo_path: Path,
    tmp_path: Path,
    change,
    field: str,  # type: ignore[no-untyped-def]
) -> None:
    path = damaged_rollout(ppo_path, tmp_path, change)
    with pytest.raises(CheckpointError) as caught:
        renshu.load(path)
    text = " ".join(str(caught.value).split())
    assert "replay.npz" in text and field in text


def test_rollout_position_must_match_state_json(ppo_path: Path, tmp_path: Path) -> None:
    def shorter(arrays: dict) -> None:  # type: ignore[type-arg]
        pos = int(arrays["pos"]) - 1
        for name, array in list(arrays.items()):
            if array.ndim >= 2:
                arrays[name] = array[:pos]
        arrays["pos"] = np.array(pos)

    path = damaged_rollout(ppo_path, tmp_path, shorter)
    with pytest.raises(CheckpointError, match=r"pos must be \d+ \(rollout_pos in state\.json\)"):
        renshu.load(path)


def test_undamaged_rollout_loads_exactly(ppo_path: Path) -> None:
    agent = renshu.load(ppo_path)
    with np.load(ppo_path / "replay.npz") as data:
        assert agent.rollout.pos == int(data["pos"])
        np.testing.assert_array_equal(agent.rollout.rewards[: agent.rollout.pos], data["rewards"])
