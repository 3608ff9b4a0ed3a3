"""``renshu train --seeds`` and ``--ray-address``: what is refused before Ray starts (no Ray
needed; the training itself is tested in tests/distributed/test_seeds.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from renshu.cli import main


@pytest.fixture(autouse=True)
def _no_ray_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("RAY_ADDRESS", "local")  # so that teardown restores what was there
    monkeypatch.delenv("RAY_ADDRESS")  # restored after each test


def train(tmp_path: Path, *args: str) -> int:
    return main(["train", "shower", "--runs-dir", str(tmp_path / "runs"), *args])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "0-",
            "--seeds takes seeds >= 0 and ranges, separated by commas: 0-4, 0,2,5 or 0-3,7; "
            "got '0-'.",
        ),
        (
            "4-2",
            "The range '4-2' in --seeds 4-2 is empty (it counts down). Write it low-high: 2-4.",
        ),
        ("0,1,1", "--seeds 0,1,1 names seed 1 more than once"),
    ],
)
def test_malformed_seeds_exit_2_with_what_is_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: str, message: str
) -> None:
    assert train(tmp_path, "--seeds", spec) == 2
    assert message in " ".join(capsys.readouterr().err.split())
    assert not (tmp_path / "runs").exists()


def test_seeds_with_seed_or_resume_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train(tmp_path, "--seeds", "0-1", "--seed", "3") == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "--seeds 0-1 trains one run per seed it names, so --seed cannot be given with it" in err
    assert main(["train", "--resume", str(tmp_path), "--seeds", "0-1"]) == 2
    assert "--seeds starts new runs; --resume continues one run" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_seeds_without_the_ray_extra_say_how_to_install_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    assert train(tmp_path, "--seeds", "0-1") == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "renshu train --seeds runs on Ray, which is not installed." in err
    assert "pip install 'renshu[ray]'" in err
    assert not (tmp_path / "runs").exists()


def test_malformed_ray_address_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert train(tmp_path, "--seeds", "0-1", "--ray-address", "not an address") == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "--ray-address 'not an address' is not a Ray address: expected HOST:PORT" in err
    assert not (tmp_path / "runs").exists()
