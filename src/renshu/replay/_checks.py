"""Argument checks shared by the replay modules (plain words: name, allowed range, value given)."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np

from renshu.errors import ConfigError


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _check_float(
    name: str, value: Any, low: float, high: float, *, open_low: bool = False
) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if ok:
        value = float(value)
        ok = (value > low if open_low else value >= low) and value <= high
    if not ok:
        interval = f"({low}, {high}]" if open_low else f"[{low}, {high}]"
        raise ConfigError(f"{name} must be a number in {interval}, got {value!r}")
    return float(value)


def _check_frame_space(frame_space: Any) -> tuple[tuple[int, ...], np.dtype[Any]]:
    if not isinstance(frame_space, gymnasium.spaces.Box):
        raise ConfigError(
            f"frame_space must be a gymnasium.spaces.Box (one frame), got {frame_space!r}"
        )
    return tuple(int(d) for d in frame_space.shape), np.dtype(frame_space.dtype)
