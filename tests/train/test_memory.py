"""Memory checks: MLP sizes by hand, and the refusal naming each part and the total."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from renshu.errors import ConfigError
from renshu.train import memory
from renshu.train.memory import OPTIMIZER_COPIES, check_memory, mlp_size

F32 = np.dtype(np.float32)
U8 = np.dtype(np.uint8)


def test_mlp_size_of_the_default_mlp() -> None:
    # 4 -> 64 -> 64 -> 2: (4*64 + 64) + (64*64 + 64) + (64*2 + 2) = 320 + 4160 + 130
    assert mlp_size("auto", F32, (4,), 2) == (4_610, 4)
    assert mlp_size("mlp", F32, (4,), 2) == (4_610, 4)


def test_mlp_size_of_hidden_sizes_over_a_flattened_window() -> None:
    # a window of 3 frames of 2 numbers: 6 inputs -> 10 -> 5: (6*10 + 10) + (10*5 + 5)
    assert mlp_size([10], F32, (3, 2), 5) == (125, 6)
    # 6 -> 8 -> 4 -> 3: 56 + 36 + 15
    assert mlp_size((8, 4), F32, (6,), 3) == (107, 6)
    # no hidden layer: a linear map, (6 + 1) * 3
    assert mlp_size([], F32, (6,), 3) == (21, 6)


def test_mlp_size_is_zero_for_cnns_and_modules() -> None:
    assert mlp_size("cnn", F32, (4,), 2) == (0, 0)
    assert mlp_size("auto", U8, (84, 84, 3), 6) == (0, 0)  # "auto" on an image: a CNN
    assert mlp_size(torch.nn.Linear(4, 2), F32, (4,), 2) == (0, 0)
    # "mlp" forces an MLP even on an image: 84*84*3 inputs
    params, inputs = mlp_size("mlp", U8, (84, 84, 3), 6)
    assert inputs == 21_168 and params == 21_168 * 64 + 64 + 64 * 64 + 64 + 65 * 6


def refuse(monkeypatch: pytest.MonkeyPatch, available: int | None, **kwargs: object) -> str:
    monkeypatch.setattr(memory, "memory_available", lambda: available)
    options: dict[str, object] = dict(
        storage=(800, "buffer_size=100 needs 800 B for the replay buffer", "lower buffer_size"),
        network_params=100,
        network_inputs=10,
        network_what="net=[8] (an MLP)",
        network_fix="use smaller hidden sizes",
        device=torch.device("cpu"),
    )
    options.update(kwargs)
    with pytest.raises(ConfigError) as caught:
        check_memory(**options)  # type: ignore[arg-type]
    return str(caught.value)


def test_check_memory_names_both_parts_and_the_total(monkeypatch: pytest.MonkeyPatch) -> None:
    # networks: 100 parameters * 4 bytes * 5 copies = 2,000 B; with the buffer 2,800 B in all
    assert OPTIMIZER_COPIES == 5
    text = refuse(monkeypatch, 1_000)
    assert text == (
        "net=[8] (an MLP) needs 2.0 KiB for the networks (100 parameters over 10 inputs, each "
        "kept 5 times: online, target, gradient, two optimizer moments) and buffer_size=100 "
        "needs 800 B for the replay buffer, 2.7 KiB in all; this machine has 1,000 B of memory "
        "available. Use smaller hidden sizes or lower buffer_size."
    )


def test_check_memory_leaves_out_a_negligible_part(monkeypatch: pytest.MonkeyPatch) -> None:
    # the network (2,000 B) is under a twentieth of the 42,000 B total: only the buffer is named
    text = refuse(
        monkeypatch,
        1_000,
        storage=(40_000, "buffer_size=5000 needs 39 KiB for the replay buffer", "lower it"),
    )
    assert text.startswith("buffer_size=5000 needs 39 KiB for the replay buffer; this machine")
    assert "networks" not in text and "in all" not in text
    assert text.endswith("Lower it.")


def test_check_memory_passes_what_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "memory_available", lambda: 2_800)
    check_memory(
        storage=(800, "buffer", "lower buffer_size"),
        network_params=100,
        network_inputs=10,
        network_what="net",
        network_fix="smaller",
        device=torch.device("cpu"),
    )
    monkeypatch.setattr(memory, "memory_available", lambda: None)  # unknown: no refusal
    check_memory(
        storage=(10**15, "buffer", "lower buffer_size"),
        network_params=10**12,
        network_inputs=10,
        network_what="net",
        network_fix="smaller",
        device=torch.device("cpu"),
    )


def test_check_memory_holds_networks_on_a_gpu_to_its_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gpu = SimpleNamespace(total_memory=1_500)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device: gpu)
    text = refuse(monkeypatch, 10**9, device=torch.device("cuda:0"))
    assert text.startswith("net=[8] (an MLP) needs 2.0 KiB for the networks")
    assert "the GPU cuda:0 has 1.5 KiB. Use smaller hidden sizes." in text
    # networks that fit the GPU: only the storage is held to the machine's memory
    gpu.total_memory = 10**9
    text = refuse(monkeypatch, 700, device=torch.device("cuda:0"))
    assert text.startswith("buffer_size=100 needs 800 B for the replay buffer; this machine has")
    assert "networks" not in text
