"""Starting or joining Ray: the one place renshu calls ``ray.init`` and ``ray.shutdown``.

    with cluster.connect(address=None, num_cpus=2) as info:   # a local Ray for this block
        ...                                                   # ray.remote(...) work

``address=None`` starts a local Ray (stopped again when the block ends), unless the environment
variable ``RAY_ADDRESS`` names a cluster (Ray's own convention; ``renshu ... --ray-address`` sets
it through :func:`use_address`); ``"127.0.0.1:6379"`` or ``"auto"`` joins a running cluster
(left running). A missing extra or an unreachable address is
a :class:`~renshu.errors.ConfigError` that says how to fix it.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from renshu.errors import ConfigError

INSTALL = "pip install 'renshu[ray]'"
"""How to install the extra, for messages."""

ADDRESS = re.compile(r"^(auto|local|ray://[^\s:/]+:\d+|[^\s:/]+:\d+)$")
"""What ``--ray-address`` accepts: ``auto``, ``local``, ``HOST:PORT`` or ``ray://HOST:PORT``."""

CONNECT_TIMEOUT_S = 5.0
"""Seconds to wait for the head at an address to answer before it counts as unreachable."""


def require_ray(what: str = "This command", address: str | None = None) -> Any:
    """Import and return the ``ray`` module, or raise ConfigError naming ``what`` needs it and
    how to install it. Ray reads some settings when it is imported (see
    :func:`_prepare_environment`): they are set first for ``address`` (default: ``RAY_ADDRESS``,
    else a local Ray)."""
    _prepare_environment(address if address is not None else os.environ.get("RAY_ADDRESS"))
    try:
        import ray
    except ImportError:
        raise ConfigError(
            f"{what} runs on Ray, which is not installed. Install renshu's ray extra "
            f"({INSTALL}), then run it again. Everything else in renshu works without it."
        ) from None
    return ray


def check_address(address: str | None) -> str | None:
    """``address`` if it has the form ``ADDRESS`` accepts (or None), else ConfigError."""
    if address is None or ADDRESS.match(address):
        return address
    raise ConfigError(
        f"--ray-address {address!r} is not a Ray address: expected HOST:PORT (e.g. "
        "127.0.0.1:6379, the address `ray start --head` prints), ray://HOST:PORT, or auto "
        "(the cluster this machine joined)."
    )


def use_address(address: str | None) -> None:
    """Make ``address`` (checked; None: no change) the Ray that later :func:`connect` calls
    join, by setting ``RAY_ADDRESS`` for this process and the processes it starts."""
    if check_address(address) is not None:
        os.environ["RAY_ADDRESS"] = str(address)


@dataclass(frozen=True)
class ClusterInfo:
    """The Ray that :func:`connect` started or joined."""

    address: str
    """The address of its head (``HOST:PORT``)."""
    local: bool
    """True when :func:`connect` started it (and stops it at the end)."""
    cpus: float
    """CPUs the cluster offers."""
    nodes: int
    """Live nodes."""
    start_s: float
    """Seconds :func:`connect` took to start or join it."""


@contextlib.contextmanager
def connect(
    address: str | None = None, *, num_cpus: int | None = None, what: str = "This command"
) -> Iterator[ClusterInfo]:
    """Start a local Ray (``address`` None) or join the cluster at ``address`` for the
    ``with`` block; Ray is shut down when it ends (a joined cluster keeps running).

    ``num_cpus`` caps a local Ray's CPUs (default: the machine's). Ray is started quietly (no
    dashboard, workers' logs not echoed). If Ray is already initialized in this process (a
    test, a notebook), that Ray is used and left running.

    Raises:
        ConfigError: the extra is missing, ``address`` is malformed, or nothing answers there.
    """
    address = check_address(address if address is not None else os.environ.get("RAY_ADDRESS"))
    ray = require_ray(what, address)
    if ray.is_initialized():
        yield _info(ray, local=False, start_s=0.0)
        return
    kwargs: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "logging_level": "ERROR",
        "configure_logging": True,
    }
    start = time.perf_counter()
    if address is None or address == "local":
        kwargs["num_cpus"] = num_cpus if num_cpus is not None else os.cpu_count() or 1
        kwargs["address"] = "local"
    else:  # a cluster's CPUs are its own; trials and seeds ask for theirs
        kwargs["address"] = address
        if address != "auto":
            _check_reachable(address)
    try:
        ray.init(**kwargs)
    except (ConnectionError, TimeoutError, RuntimeError, ValueError) as error:
        if kwargs["address"] == "local":
            raise ConfigError(
                f"Could not start a local Ray ({_first_line(error)}). Run the command again; "
                "if it fails again, `ray start --head` shows Ray's own error."
            ) from None
        raise ConfigError(_unreachable(address, error)) from None
    try:
        yield _info(ray, local=kwargs["address"] == "local", start_s=time.perf_counter() - start)
    finally:
        ray.shutdown()


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
"""Hosts that mean this machine."""


def _prepare_environment(address: str | None) -> None:
    """Settings Ray reads from the environment when it is imported or joins a cluster.

    A local Ray, or a head on a loopback address (``ray start --head --node-ip-address
    127.0.0.1``), is reached on the loopback address: Ray otherwise swaps 127.0.0.1 for the
    machine's network address, where such a head does not listen (Ray reads this setting when it
    is imported, so it applies when this process has not imported Ray yet). Joining a cluster
    uses token authentication when this machine has Ray's token (``~/.ray/auth_token``, which
    ``ray start`` writes) and ``RAY_AUTH_MODE`` is not set: a head started by ``ray start``
    requires it.
    """
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    host = None if address in (None, "local") else str(address).removeprefix("ray://")
    host = host.rpartition(":")[0] if host else None
    if host is None or host in LOOPBACK_HOSTS:
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    global _auth_mode_set
    if host is None and _auth_mode_set:  # a local Ray runs without the token a join asked for
        os.environ.pop("RAY_AUTH_MODE", None)
        _auth_mode_set = False
    if host is not None and "RAY_AUTH_MODE" not in os.environ:
        from pathlib import Path

        token = os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token"
        if os.environ.get("RAY_AUTH_TOKEN") or Path(token).is_file():
            os.environ["RAY_AUTH_MODE"] = "token"
            _auth_mode_set = True


_auth_mode_set = False
"""Whether :func:`_prepare_environment` set ``RAY_AUTH_MODE`` itself (so it may take it back)."""


def _check_reachable(address: str) -> None:
    """ConfigError unless something accepts a TCP connection at ``address`` (``ray.init``
    would otherwise wait minutes for a head that is not there)."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as error:
        raise ConfigError(_unreachable(address, error)) from None


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _unreachable(address: str | None, error: BaseException) -> str:
    first = _first_line(error)
    return (
        f"Could not reach Ray at {address!r} ({first}). Start a head there first (`ray start "
        "--head --node-ip-address 127.0.0.1 --port 6379` on that machine) and pass the "
        "address it prints, or leave --ray-address out to use a local Ray."
    )


def _info(ray: Any, *, local: bool, start_s: float) -> ClusterInfo:
    context = ray.get_runtime_context()
    gcs = getattr(context, "gcs_address", None) or ""
    resources = ray.cluster_resources()
    nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
    return ClusterInfo(
        address=str(gcs),
        local=local,
        cpus=float(resources.get("CPU", 0.0)),
        nodes=nodes,
        start_s=start_s,
    )
