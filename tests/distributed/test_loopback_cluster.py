"""A real Ray cluster on this machine's loopback address: `ray start --head --node-ip-address
127.0.0.1`, then renshu's Ray commands with ``--ray-address``, checked to have run there."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="needs the ray extra: pip install 'renshu[ray]'")

pytestmark = pytest.mark.slow

LOOPBACK = "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def _environment() -> dict[str, str]:
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    env.pop("RAY_ADDRESS", None)
    return env


@pytest.fixture(scope="module")
def head(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Ray head on 127.0.0.1 with 2 CPUs, stopped (its processes only) at the end."""
    port = _free_port()
    log = tmp_path_factory.mktemp("head") / "head.log"
    ray_cli = Path(sys.executable).with_name("ray")
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(ray_cli), "start", "--head", "--block", "--node-ip-address", LOOPBACK,
             "--port", str(port), "--num-cpus", "2", "--include-dashboard=false",
             "--disable-usage-stats"],
            stdout=out, stderr=subprocess.STDOUT, env=_environment(), start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while "Ray runtime started" not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Ray head did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield f"{LOOPBACK}:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _jobs_on(address: str) -> list[str]:
    """The entry points of the drivers (jobs) the cluster at ``address`` has seen."""
    code = (
        "from renshu.distributed import cluster\n"
        f"with cluster.connect({address!r}):\n"
        "    import ray\n"
        "    print('\\n'.join(str(j.get('Entrypoint', '')) for j in ray._private.state.jobs()))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_environment(),
        timeout=120, check=True,
    )  # fmt: skip
    return out.stdout.splitlines()


def test_head_listens_on_loopback_only_and_takes_work(head: str) -> None:
    port = head.rpartition(":")[2]
    listening = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout
    mine = [
        line.split()[3] for line in listening.splitlines() if line.split()[3].endswith(f":{port}")
    ]
    loopback = (f"{LOOPBACK}:", f"[::ffff:{LOOPBACK}]:")
    assert mine and all(local.startswith(loopback) for local in mine), mine
    assert _jobs_on(head)  # a driver joined it (this one)


def _renshu(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "renshu", *args], capture_output=True, text=True, cwd=cwd,
        env=_environment(), timeout=600,
    )  # fmt: skip


def test_seeds_tune_and_a3c_run_on_the_cluster(head: str, tmp_path: Path) -> None:
    before = len(_jobs_on(head))
    commands = [
        ("train", "shower", "--seeds", "0-1", "--steps", "300", "--no-gif"),
        ("tune", "shower", "--algo", "ppo", "--trials", "2", "--steps", "400",
         "--search", "learning_rate=loguniform:1e-4:1e-2"),
        ("train", "shower", "--algo", "a3c", "--workers", "2", "--steps", "400", "--no-gif"),
    ]  # fmt: skip
    for command in commands:
        done = _renshu(*command, "--ray-address", head, "--runs-dir", str(tmp_path), cwd=tmp_path)
        assert done.returncode == 0, f"{command}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        assert "Traceback" not in done.stderr
    jobs = _jobs_on(head)
    assert len(jobs) >= before + len(commands) + 1  # each command's driver, and this check's
    assert (tmp_path / "shower-dqn-seeds-0-1").is_dir()
    assert any(p.name.startswith("tune-shower-ppo") for p in tmp_path.iterdir())
    assert (tmp_path / "shower-a3c-0" / "agent").is_dir()
