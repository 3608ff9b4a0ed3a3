"""Built-in environments, registered with Gymnasium as ``renshu/<Name>-v0``.

``register_envs()`` is idempotent; ``import renshu`` calls it. Short names (``shower``, ``catch``,
``catch16``, ``cave``) are resolved by :func:`renshu.make`.
"""

from __future__ import annotations

from typing import Any

import gymnasium

SHORT_NAMES: dict[str, tuple[str, dict[str, Any]]] = {
    "shower": ("renshu/Shower-v0", {}),
    "catch": ("renshu/Catch-v0", {}),
    "catch16": ("renshu/Catch-v0", {"size": 16}),
    "cave": ("renshu/Cave-v0", {}),
}
"""Short name -> (Gymnasium id, constructor kwargs)."""

_ENTRY_POINTS: dict[str, str] = {
    "renshu/Shower-v0": "renshu.envs.shower",
    "renshu/Catch-v0": "renshu.envs.catch",
    "renshu/Cave-v0": "renshu.envs.cave",
}
_CLASS_NAMES: dict[str, tuple[str, str]] = {
    "renshu/Shower-v0": ("ShowerEnv", "ShowerVectorEnv"),
    "renshu/Catch-v0": ("CatchEnv", "CatchVectorEnv"),
    "renshu/Cave-v0": ("CaveEnv", "CaveVectorEnv"),
}


def register_envs() -> None:
    """Register the built-in environments with Gymnasium (safe to call more than once)."""
    for env_id, module in _ENTRY_POINTS.items():
        if env_id in gymnasium.registry:
            continue
        single, vector = _CLASS_NAMES[env_id]
        gymnasium.register(
            id=env_id,
            entry_point=f"{module}:{single}",
            vector_entry_point=f"{module}:{vector}",
        )
