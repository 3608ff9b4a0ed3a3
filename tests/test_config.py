"""Config helpers: field docs, building from options, YAML errors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from renshu.config import build, dump_yaml, field_docs, load_yaml, to_plain
from renshu.errors import ConfigError


@dataclass
class Example:
    alpha: float = 0.5
    """How much."""
    name: str = "x"
    """What it is called."""


def test_field_docs_reads_the_docstring_under_each_field() -> None:
    assert field_docs(Example) == {"alpha": "How much.", "name": "What it is called."}


def test_unknown_key_suggests_close_matches() -> None:
    with pytest.raises(
        ConfigError, match=r"Unknown option 'alpah' for Example\. Did you mean: alpha\?"
    ):
        build(Example, {"alpah": 1})


def test_build_over_a_base_keeps_other_values() -> None:
    assert build(Example, {"alpha": 0.1}, base=Example(name="y")) == Example(alpha=0.1, name="y")


def test_to_plain_marks_custom_values() -> None:
    assert to_plain(Example(alpha=0.2, name=object()))["name"] == "<custom: object>"  # type: ignore[arg-type]


def test_yaml_round_trip_and_errors(tmp_path: Path) -> None:
    dump_yaml({"alpha": 0.3}, tmp_path / "a.yaml")
    assert load_yaml(tmp_path / "a.yaml") == {"alpha": 0.3}
    (tmp_path / "b.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must hold a mapping of option: value, got a list"):
        load_yaml(tmp_path / "b.yaml")
    with pytest.raises(ConfigError, match="does not exist"):
        load_yaml(tmp_path / "missing.yaml")
    (tmp_path / "c.yaml").write_text("a: [1\n")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_yaml(tmp_path / "c.yaml")
