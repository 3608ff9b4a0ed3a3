"""Env steps per second: each batched twin vs ``gymnasium.vector.SyncVectorEnv`` of the single env.

Random actions (drawn up front from a fixed seed), ``N`` in 1, 64, 1024 copies, several repeats
(twin and SyncVectorEnv taking turns), median reported. SyncVectorEnv at N = 1024 runs fewer
steps (it is slow); the rate is per env step either way. No torch is involved; NumPy's
element-wise operations used here run on one thread.

    python benchmarks/env_throughput.py
    python benchmarks/env_throughput.py --repeats 5 --quick

Writes ``benchmarks/results/env_throughput.json`` and ``benchmarks/results/env_throughput.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np

import renshu  # noqa: F401  (registers the envs)
from renshu.envs import catch, cave, shower

RESULTS = Path(__file__).resolve().parent / "results"
SIZES = (1, 64, 1024)

# (label, vector class, single class, kwargs, bar: minimum twin / SyncVectorEnv at N = 1024)
ENVS: list[tuple[str, Any, Any, dict[str, Any], float]] = [
    ("Shower-v0", shower.ShowerVectorEnv, shower.ShowerEnv, {}, 50.0),
    ("Catch-v0 (8)", catch.CatchVectorEnv, catch.CatchEnv, {}, 50.0),
    ("Catch-v0 (16)", catch.CatchVectorEnv, catch.CatchEnv, {"size": 16}, 50.0),
    ("Cave-v0", cave.CaveVectorEnv, cave.CaveEnv, {}, 20.0),
]


def steps_per_second(envs: gymnasium.vector.VectorEnv, vector_steps: int, seed: int) -> float:
    """Env steps per second of ``vector_steps`` calls to ``envs.step`` with random actions."""
    n = envs.num_envs
    n_actions = int(envs.single_action_space.n)  # type: ignore[attr-defined]
    actions = np.random.default_rng(seed).integers(0, n_actions, size=(vector_steps, n))
    envs.reset(seed=seed)
    for i in range(min(10, vector_steps)):  # warm up
        envs.step(actions[i])
    start = time.perf_counter()
    for i in range(vector_steps):
        envs.step(actions[i])
    return n * vector_steps / (time.perf_counter() - start)


def sync_of(single_cls: Any, kwargs: dict[str, Any], n: int) -> gymnasium.vector.VectorEnv:
    """``SyncVectorEnv`` of ``n`` single envs."""
    return gymnasium.vector.SyncVectorEnv([partial(single_cls, **kwargs)] * n)


def alternating_medians(
    makers: tuple[Callable[[], gymnasium.vector.VectorEnv], ...],
    vector_steps: tuple[int, ...],
    repeats: int,
) -> list[float]:
    """Median rate of each maker over ``repeats`` rounds, the makers taking turns in each round.

    Taking turns spreads any load from other processes over all contenders alike.
    """
    rates: list[list[float]] = [[] for _ in makers]
    for repeat in range(repeats):
        for k, (make, steps) in enumerate(zip(makers, vector_steps, strict=True)):
            envs = make()
            rates[k].append(steps_per_second(envs, steps, seed=1000 + repeat))
            envs.close()
    return [statistics.median(r) for r in rates]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="a tenth of the steps")
    args = parser.parse_args()
    scale = 0.1 if args.quick else 1.0

    def budget(env_steps: int, n: int) -> int:
        """Vector steps for about ``env_steps`` env steps, at least 20."""
        return max(20, int(scale * env_steps / n))

    load_before = os.getloadavg()
    rows: list[dict[str, Any]] = []
    for label, vector_cls, single_cls, kwargs, bar in ENVS:
        for n in SIZES:
            if n == 1:
                twin_steps = sync_steps = budget(20_000, 1)
            else:
                twin_steps = budget(2_000_000 if n == 1024 else 200_000, n)
                sync_steps = budget(20_000 if n == 1024 else 40_000, n)
            make_twin = partial(vector_cls, num_envs=n, **kwargs)
            make_sync = partial(sync_of, single_cls, kwargs, n)
            twin, sync = alternating_medians(
                (make_twin, make_sync), (twin_steps, sync_steps), args.repeats
            )
            rows.append(
                {
                    "env": label,
                    "num_envs": n,
                    "twin_steps_per_s": round(twin),
                    "sync_steps_per_s": round(sync),
                    "ratio": twin / sync,
                    "twin_vector_steps": twin_steps,
                    "sync_vector_steps": sync_steps,
                    "bar_at_1024": bar if n == 1024 else None,
                    "meets_bar": (twin / sync >= bar) if n == 1024 else None,
                }
            )
            print(
                f"{label:14s} N={n:5d} twin {twin:>13,.0f}/s  sync {sync:>10,.0f}/s  "
                f"x{twin / sync:7.1f}",
                flush=True,
            )

    machine = {
        "nproc": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "gymnasium": gymnasium.__version__,
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "load_average_1min_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
    }
    report = {"repeats": args.repeats, "statistic": "median", "machine": machine, "rows": rows}
    lines = [
        f"Env steps per second, median of {args.repeats} runs, random actions "
        f"(`benchmarks/env_throughput.py`). Machine: {machine['nproc']} CPUs "
        f"(`nproc`), {machine['platform']}, Python {machine['python']}, NumPy "
        f"{machine['numpy']}, Gymnasium {machine['gymnasium']}; 1-minute load average "
        f"{load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after (other processes share "
        "the CPUs, so absolute rates vary; twin and SyncVectorEnv take turns, so the ratios hold).",
        "",
        "| Env | N | Twin (steps/s) | SyncVectorEnv (steps/s) | Twin / Sync | Bar at N=1024 |",
        "|-----|--:|---------------:|------------------------:|------------:|--------------:|",
    ]
    for r in rows:
        verdict = ""
        if r["bar_at_1024"] is not None:
            verdict = f">= {r['bar_at_1024']:g}x: {'met' if r['meets_bar'] else 'NOT met'}"
        lines.append(
            f"| {r['env']} | {r['num_envs']} | {r['twin_steps_per_s']:,} | "
            f"{r['sync_steps_per_s']:,} | {r['ratio']:.1f}x | {verdict} |"
        )
    table = "\n".join(lines)
    print()
    print(table)
    print()
    print(json.dumps(report, indent=2))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "env_throughput.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "env_throughput.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
