"""Starting or joining Ray (renshu.distributed.cluster): one message for each bad input."""

from __future__ import annotations

import os
import sys

import pytest

from renshu.distributed import cluster
from renshu.errors import ConfigError


def test_missing_ray_extra_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(ConfigError, match=r"renshu train --seeds runs on Ray.*pip install"):
        cluster.require_ray("renshu train --seeds")
    with pytest.raises(ConfigError, match=r"pip install 'renshu\[ray\]'"), cluster.connect():
        pass


@pytest.mark.parametrize("address", ["foo bar", "127.0.0.1", "http://127.0.0.1:6379", ":6379"])
def test_malformed_address_is_refused_with_the_forms_it_takes(address: str) -> None:
    with pytest.raises(ConfigError, match=r"is not a Ray address: expected HOST:PORT"):
        cluster.check_address(address)


@pytest.mark.parametrize("address", ["127.0.0.1:6379", "auto", "local", "ray://10.0.0.1:10001"])
def test_well_formed_addresses_are_accepted(address: str) -> None:
    assert cluster.check_address(address) == address


def test_unreachable_address_is_refused_at_once_with_how_to_start_a_head() -> None:
    pytest.importorskip("ray", reason="needs the ray extra: pip install 'renshu[ray]'")
    with (
        pytest.raises(ConfigError, match=r"Could not reach Ray at '127.0.0.1:1'.*ray start --head"),
        cluster.connect("127.0.0.1:1"),
    ):
        pass


def test_use_address_is_what_later_connects_join(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ray", reason="needs the ray extra: pip install 'renshu[ray]'")
    monkeypatch.setenv("RAY_ADDRESS", "")  # restored to what it was after the test
    monkeypatch.delenv("RAY_ADDRESS")
    cluster.use_address(None)
    assert "RAY_ADDRESS" not in os.environ
    cluster.use_address("127.0.0.1:1")
    with (
        pytest.raises(ConfigError, match=r"Could not reach Ray at '127.0.0.1:1'"),
        cluster.connect(),
    ):
        pass
    with pytest.raises(ConfigError, match="is not a Ray address"):
        cluster.use_address("nowhere")


def test_local_ray_starts_with_the_cpus_asked_and_stops_after() -> None:
    ray = pytest.importorskip("ray", reason="needs the ray extra: pip install 'renshu[ray]'")
    if ray.is_initialized():
        pytest.fail("a Ray was left running by an earlier test")
    with cluster.connect(num_cpus=1) as info:
        assert info.local and info.cpus == 1.0 and info.nodes == 1
        assert info.start_s > 0
        assert ray.get(ray.remote(lambda: 6 * 7).remote()) == 42
    assert not ray.is_initialized()
