"""Config helpers: field docs, building from options, YAML errors, and the one validation of
every option (type, then range) that the Python API, --set and YAML files share."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pytest
import torch

from renshu.agents.dqn import DQN, DQNConfig
from renshu.config import (
    Note,
    OneOf,
    Range,
    Satisfies,
    build,
    check_device,
    check_field,
    check_value,
    count,
    dump_yaml,
    field_docs,
    field_names,
    format_bytes,
    load_yaml,
    memory_available,
    parse_value,
    source_field_docs,
    to_plain,
    validate,
)
from renshu.envs.toy import IdentityEnv
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


# ---- declarative validation: the machinery --------------------------------------------------


@dataclass
class Checked:
    rate: Annotated[float, Range(gt=0)] = 0.5
    """A rate."""
    count: Annotated[int, Range(1, 10)] = 1
    """A count."""
    flag: bool = False
    """A flag."""
    clip: Annotated[float, Range(gt=0)] | None = None
    """A clip."""
    sizes: list[Annotated[int, Range(ge=1)]] = field(default_factory=list)
    """Sizes."""
    mode: (
        Annotated[str, OneOf("a", "b")]
        | Annotated[Any, Satisfies("a callable", callable), Note("custom")]
    ) = "a"
    """A mode."""

    def __post_init__(self) -> None:
        validate(self)


def test_field_docs_read_annotated_fields() -> None:
    assert field_docs(Checked)["rate"] == "A rate."
    assert list(field_docs(Checked)) == ["rate", "count", "flag", "clip", "sizes", "mode"]
    docs = source_field_docs("renshu.agents.dqn", "DQNConfig")
    assert docs["gamma"] == ("0.99", "Discount factor in [0, 1].")
    assert docs["target_update"][0] == "250"
    assert docs["max_grad_norm"] == (
        "10.0",
        "Clip the gradient norm to this, > 0 (None: no clipping).",
    )
    assert list(docs) == field_names(DQNConfig)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rate": "x"}, "rate must be a number > 0, got 'x' (a str)."),
        ({"rate": [1]}, "rate must be a number > 0, got [1] (a list)."),
        ({"rate": None}, "rate must be a number > 0, got None."),
        ({"rate": True}, "rate must be a number > 0, got True (a bool)."),
        ({"rate": -1}, "rate must be a number > 0, got -1."),
        ({"rate": float("nan")}, "rate must be a number > 0, got nan."),
        ({"count": 2.5}, "count must be an int in [1, 10], got 2.5 (a float)."),
        ({"count": False}, "count must be an int in [1, 10], got False (a bool)."),
        ({"count": 11}, "count must be an int in [1, 10], got 11."),
        ({"flag": "maybe"}, "flag must be true or false, got 'maybe' (a str)."),
        ({"flag": "no"}, "flag must be true or false, got 'no' (a str)."),
        ({"flag": 1}, "flag must be true or false, got 1 (an int)."),
        ({"clip": "x"}, "clip must be a number > 0 or None, got 'x' (a str)."),
        ({"sizes": [4, 0]}, "sizes must be a list of ints >= 1, got [4, 0]."),
        ({"sizes": "44"}, "sizes must be a list of ints >= 1, got '44' (a str)."),
        ({"mode": "c"}, 'mode must be "a", "b" or a callable (custom), got \'c\'.'),
        ({"mode": 3}, 'mode must be "a", "b" or a callable (custom), got 3 (an int).'),
    ],
)
def test_type_is_checked_before_range_and_the_message_says_both(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        Checked(**options)
    assert str(info.value) == message


def test_accepted_values_are_converted() -> None:
    checked = Checked(rate=np.float32(0.25), count=5.0, flag=np.bool_(True), sizes=(8.0, 4))  # type: ignore[arg-type]
    assert (checked.rate, checked.count, checked.flag, checked.sizes) == (0.25, 5, True, (8, 4))
    assert type(checked.rate) is float and type(checked.count) is int
    assert type(checked.flag) is bool and all(type(s) is int for s in checked.sizes)
    assert Checked(clip=None, mode=print).mode is print
    assert check_value("steps", 1e12, Annotated[int, Range(ge=1)]) == 10**12


def test_ranges_and_long_values_read_well() -> None:
    assert str(Range(0, 1)) == "in [0, 1]" and str(Range(gt=0, lt=1)) == "in (0, 1)"
    assert str(Range(ge=1)) == ">= 1" and str(Range(gt=0.5)) == "> 0.5"
    with pytest.raises(ConfigError, match=r"got \[0, 0, 0, [0, ]*0\.\.\. \(a list\)\.$"):
        Checked(rate=[0] * 100)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["yes", "no", "on", "off", "y", "n", "maybe"])
def test_only_true_and_false_are_booleans_in_yaml(text: str, tmp_path: Path) -> None:
    assert parse_value(text) == text
    (tmp_path / "p.yaml").write_text(f"double: {text}\n")
    assert load_yaml(tmp_path / "p.yaml") == {"double": text}


def test_true_and_false_are_booleans_and_numbers_stay_numbers() -> None:
    assert [parse_value(t) for t in ("true", "True", "false", "FALSE")] == [
        True,
        True,
        False,
        False,
    ]
    assert parse_value("1e5") == 1e5 and parse_value("[64, 64]") == [64, 64]
    assert parse_value("null") is None and parse_value("[1") == "[1"


# ---- YAML files that are not YAML -----------------------------------------------------------


def test_config_file_of_binary_garbage_is_a_config_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "garbage.yaml"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ConfigError) as info:
        load_yaml(path)
    assert f"Config file '{path}' is not a text file: byte 128 is not UTF-8" in str(info.value)


def test_config_file_of_control_characters_is_not_valid_yaml(tmp_path: Path) -> None:
    path = tmp_path / "control.yaml"
    path.write_bytes(b"gamma: \x00\x01\x02\n")
    with pytest.raises(ConfigError, match=rf"Config file '{path}' is not valid YAML: .*\. Fix"):
        load_yaml(path)


def test_config_file_that_is_a_folder_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=rf"Config file '{tmp_path}' is a folder, not a file"):
        load_yaml(tmp_path)


# ---- devices and memory ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("device", "message"),
    [
        ("tpu", "device 'tpu' is not a device name torch knows"),
        ("meta", "device 'meta' is not one renshu trains on"),
        ("cuda", "device 'cuda' needs CUDA, which this torch"),
        ("cuda:1", "device 'cuda:1' needs CUDA"),
        ("mps", "device 'mps' needs Apple's Metal (MPS)"),
    ],
)
def test_devices_torch_cannot_use_here_are_refused(
    device: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_device(device)
    check_device("auto")
    check_device("cpu")


def test_a_gpu_index_beyond_the_gpus_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    check_device("cuda:0")
    with pytest.raises(ConfigError, match=r"names GPU 3, but this machine has 1 \(cuda:0 to"):
        check_device("cuda:3")


def test_memory_available_and_sizes_in_words() -> None:
    available = memory_available()
    assert available is not None and available > 2**20
    assert format_bytes(512) == "512 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(37 * 2**30) == "37 GiB"


# ---- the Python API: renshu.DQN(env, option=bad) ------------------------------------------


@pytest.mark.parametrize("name", ["gamma", "learning_rate", "eps_start", "tau", "per_alpha"])
@pytest.mark.parametrize(("value", "kind"), [("x", " (a str)"), ([1], " (a list)"), (None, "")])
def test_float_option_given_a_str_list_or_none_is_a_config_error(
    name: str, value: Any, kind: str
) -> None:
    with pytest.raises(ConfigError) as info:
        DQN(IdentityEnv(), **{name: value})
    assert str(info.value).startswith(f"{name} must be a number ")
    assert str(info.value).endswith(f", got {value!r}{kind}.")


def test_max_grad_norm_accepts_none_and_refuses_other_types() -> None:
    assert DQN(IdentityEnv(), max_grad_norm=None).config.max_grad_norm is None
    for value, kind in (("x", " (a str)"), ([1], " (a list)")):
        with pytest.raises(ConfigError) as info:
            DQN(IdentityEnv(), max_grad_norm=value)
        assert (
            str(info.value) == f"max_grad_norm must be a number > 0 or None, got {value!r}{kind}."
        )


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        ("abc", "seed must be an int >= 0 or None, got 'abc' (a str)."),
        (-1, "seed must be an int >= 0 or None, got -1."),
        (1.5, "seed must be an int >= 0 or None, got 1.5 (a float)."),
    ],
)
def test_seed_must_be_a_natural_int(seed: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        DQN(IdentityEnv(), seed=seed)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("name", "value"), [("double", "maybe"), ("dueling", "no"), ("prioritized", 1)]
)
def test_bool_option_accepts_only_true_or_false(name: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=rf"^{name} must be true or false, got {value!r}"):
        DQN(IdentityEnv(), **{name: value})


@pytest.mark.parametrize("device", ["tpu", "mps", "cuda"])
def test_device_torch_cannot_use_is_refused_from_the_api(
    device: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(ConfigError, match=rf"^device '{device}' "):
        DQN(IdentityEnv(), device=device)


def test_buffer_too_big_for_memory_is_refused_with_the_figure() -> None:
    with pytest.raises(ConfigError) as info:
        DQN("CartPole-v1", buffer_size=1e12)
    text = str(info.value)
    assert text.startswith("buffer_size=1000000000000 needs 30 TiB for the replay buffer (33 bytes")
    assert "of memory available. Lower buffer_size." in text


def test_network_too_big_for_memory_is_refused_with_the_figure() -> None:
    with pytest.raises(ConfigError) as info:
        DQN("CartPole-v1", net=[100_000, 100_000])
    text = str(info.value)
    assert text.startswith("net=[100000, 100000] needs 186 GiB for the networks (10,000,800,002")
    assert "Use smaller hidden sizes." in text


def test_memory_check_counts_buffer_and_networks_together(monkeypatch: pytest.MonkeyPatch) -> None:
    import renshu.train.memory as memory

    monkeypatch.setattr(memory, "memory_available", lambda: 30 * 2**20)
    with pytest.raises(ConfigError) as info:
        DQN(IdentityEnv(n=4), buffer_size=400_000, net=[1_000, 1_000])
    text = str(info.value)
    assert "for the replay buffer" in text and "for the networks" in text and " in all;" in text
    assert "this machine has 30 MiB of memory available" in text
    monkeypatch.setattr(memory, "memory_available", lambda: None)  # unknown: no check
    DQN(IdentityEnv(n=4), buffer_size=400_000, net=[8])


def test_huge_window_is_refused_at_once() -> None:
    started = time.perf_counter()
    with pytest.raises(ConfigError, match=r"^window must be an int in \[1, 1000\], got 100000\.$"):
        DQN("catch", window=100_000)
    assert time.perf_counter() - started < 5


def test_buffer_smaller_than_n_step_slots_per_env_is_refused() -> None:
    with pytest.raises(
        ConfigError, match=r"buffer_size must be an int >= \(n_step \+ 1\) \* num_envs = 40"
    ):
        DQNConfig(buffer_size=32, batch_size=32, n_step=9, num_envs=4)


@pytest.mark.parametrize(
    ("algo", "option", "value", "message"),
    [
        (
            "DQN",
            "threads",
            100_000,
            "threads must be an int in [1, 256] (more only wait for each other) or None, got "
            "100000.",
        ),
        (
            "PPO",
            "threads",
            2**31,
            "threads must be an int in [1, 256] (more only wait for each other) or None, got "
            "2147483648.",
        ),
        (
            "DQN",
            "gradient_steps",
            1e9,
            "gradient_steps must be an int in [1, 10000] (each is a full update: 1e9 would never "
            "finish), got 1000000000.0.",
        ),
        (
            "PPO",
            "n_epochs",
            10**9,
            "n_epochs must be an int in [1, 10000] (each is a full pass: 1e9 would never finish), "
            "got 1000000000.",
        ),
        (
            "A2C",
            "num_envs",
            10**7,
            "num_envs must be an int in [1, 65536] (copies are built one by one: 1e7 take hours), "
            "got 10000000.",
        ),
        (
            "DQN",
            "num_envs",
            10**7,
            "num_envs must be an int in [1, 65536] (copies are built one by one: 1e7 take hours), "
            "got 10000000.",
        ),
    ],
)
def test_unbounded_sizes_are_refused_at_once_naming_the_bound_and_why(
    algo: str, option: str, value: Any, message: str
) -> None:
    import renshu

    started = time.perf_counter()
    with pytest.raises(ConfigError) as caught:
        getattr(renshu, algo)("CartPole-v1", **{option: value})
    assert str(caught.value) == message
    assert time.perf_counter() - started < 5


def test_the_largest_accepted_sizes_still_build() -> None:
    from renshu.agents.ppo import PPOConfig
    from renshu.config import MAX_ENVS, MAX_REPEATS, MAX_THREADS

    assert DQNConfig(threads=MAX_THREADS, gradient_steps=MAX_REPEATS).threads == 256
    assert PPOConfig(n_epochs=MAX_REPEATS, num_envs=MAX_ENVS).num_envs == 65_536


def test_num_envs_that_would_not_fit_in_memory_is_refused_before_any_env_is_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import renshu.train.memory as memory

    built: list[int] = []
    monkeypatch.setattr(memory, "memory_available", lambda: 100 * 2**20)
    monkeypatch.setattr(IdentityEnv, "__init__", lambda self, *a, **k: built.append(1))
    with pytest.raises(ConfigError) as caught:
        DQN(IdentityEnv, num_envs=60_000, buffer_size=600_000)
    assert str(caught.value) == (
        "num_envs=60000 needs about 938 MiB for the env copies (about 16 KiB each for a small "
        "env, more for a large one); this machine has 100 MiB of memory available. Lower "
        "num_envs."
    )
    assert built == []


# ---- int counts --------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [100_000, 1e5, "1e5", "100_000", "100000", np.int64(100_000)])
def test_int_counts_take_1e5_as_a_float_or_a_string(value: object) -> None:
    assert count("steps", value) == 100_000
    assert check_field(Checked, "count", 1e1) == 10  # an int option, from Python too


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "1.5e0",
            "steps must be an int >= 1 (100000, 1e5 and 100_000 are accepted), got '1.5e0' "
            "(not a whole number).",
        ),
        (
            1.5,
            "steps must be an int >= 1 (100000, 1e5 and 100_000 are accepted), got 1.5 "
            "(not a whole number).",
        ),
        (0, "steps must be an int >= 1 (100000, 1e5 and 100_000 are accepted), got 0."),
        (
            True,
            "steps must be an int >= 1 (100000, 1e5 and 100_000 are accepted), got True (a bool).",
        ),
        (
            "abc",
            "steps must be an int >= 1 (100000, 1e5 and 100_000 are accepted), got 'abc' (a str).",
        ),
    ],
)
def test_int_counts_refuse_what_is_not_a_whole_number(value: object, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        count("steps", value)
    assert str(raised.value) == message


def test_fit_and_test_take_1e5_style_counts() -> None:
    """fit(1e5) was refused though an int option takes 1e5."""
    agent = DQN(IdentityEnv(), seed=0, warmup_steps=10, buffer_size=100, batch_size=8)
    agent.fit(3e1, progress=False)
    agent.fit("2e1", progress=False)
    assert agent.num_steps == 50
    scores = agent.test(episodes=2.0, max_episode_steps="1e1", progress=False)
    assert len(scores.history["episode_reward"]) == 2
    with pytest.raises(ConfigError, match=r"got 1\.5 \(not a whole number\)"):
        agent.fit(1.5e0)
    with pytest.raises(ConfigError, match="max_episode_steps must be an int >= 1 or None"):
        agent.test(max_episode_steps=2.5)
