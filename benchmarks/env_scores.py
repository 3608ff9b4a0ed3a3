"""Measured scores of the built-in environments under their reference controllers.

Runs each controller on the batched twin (one vector env of ``N`` copies) and keeps the first
episode of every copy, so ``N`` episodes per row, none favoured for being short. The env's seed
and the random controller's seed come from one fixed ``SeedSequence``, apart from each other.

    python benchmarks/env_scores.py            # prints a Markdown table and the JSON
    python benchmarks/env_scores.py --episodes 1024

Writes ``benchmarks/results/env_scores.json`` and ``benchmarks/results/env_scores.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np

import renshu  # noqa: F401  (registers the envs)
from renshu.envs import catch, cave, shower

Policy = Callable[[np.ndarray, dict[str, Any]], np.ndarray]
RESULTS = Path(__file__).resolve().parent / "results"


def random_policy(n_actions: int, seed: np.random.SeedSequence) -> Policy:
    """Uniform random actions from a generator of its own."""
    rng = np.random.default_rng(seed)

    def policy(obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        return np.asarray(rng.integers(0, n_actions, size=obs.shape[0]), dtype=np.int64)

    return policy


def first_episodes(
    env_id: str, kwargs: dict[str, Any], policy: Policy, episodes: int, seed: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Score and truncation flag of the first episode of each of ``episodes`` copies."""
    envs = gymnasium.make_vec(
        env_id, num_envs=episodes, vectorization_mode="vector_entry_point", **kwargs
    )
    obs, info = envs.reset(seed=seed)
    score = np.zeros(episodes)
    truncated_first = np.zeros(episodes, dtype=bool)
    done = np.zeros(episodes, dtype=bool)
    steps = 0
    while not done.all():
        obs, reward, terminated, truncated, info = envs.step(policy(obs, info))
        steps += 1
        score += np.where(done, 0.0, reward)
        truncated_first |= truncated & ~done
        done |= terminated | truncated
    envs.close()
    return score, truncated_first, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=4096, help="episodes per row")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    root = np.random.SeedSequence(args.seed)
    env_seed = int(root.generate_state(1)[0])
    action_seeds = iter(root.spawn(16))
    n = args.episodes
    rows: list[tuple[str, str, dict[str, Any], str, Policy]] = [
        ("Shower-v0", "renshu/Shower-v0", {}, "random", random_policy(3, next(action_seeds))),
        ("Shower-v0", "renshu/Shower-v0", {}, "always hold", shower.hold_policy),
        ("Shower-v0", "renshu/Shower-v0", {}, "move toward 38 (scripted)", shower.scripted_policy),
        ("Catch-v0 (8)", "renshu/Catch-v0", {}, "random", random_policy(3, next(action_seeds))),
        ("Catch-v0 (8)", "renshu/Catch-v0", {}, "scripted", catch.scripted_policy),
        (
            "Catch-v0 (16)",
            "renshu/Catch-v0",
            {"size": 16},
            "random",
            random_policy(3, next(action_seeds)),
        ),
        ("Catch-v0 (16)", "renshu/Catch-v0", {"size": 16}, "scripted", catch.scripted_policy),
        ("Cave-v0", "renshu/Cave-v0", {}, "random", random_policy(2, next(action_seeds))),
        ("Cave-v0", "renshu/Cave-v0", {}, "gap centre", cave.gap_centre_policy),
        ("Cave-v0", "renshu/Cave-v0", {}, "scripted (look-ahead)", cave.scripted_policy),
    ]
    results = []
    for label, env_id, kwargs, controller, policy in rows:
        start = time.perf_counter()
        score, truncated, steps = first_episodes(env_id, kwargs, policy, n, env_seed)
        results.append(
            {
                "env": label,
                "env_id": env_id,
                "kwargs": kwargs,
                "controller": controller,
                "episodes": n,
                "mean": float(score.mean()),
                "std": float(score.std()),
                "median": float(np.median(score)),
                "min": float(score.min()),
                "max": float(score.max()),
                "truncated_fraction": float(truncated.mean()),
                "seconds": round(time.perf_counter() - start, 2),
                "vector_steps": steps,
            }
        )
    cave_median = {r["controller"]: r["median"] for r in results if r["env"] == "Cave-v0"}
    ratio = cave_median["scripted (look-ahead)"] / cave_median["gap centre"]
    report = {
        "seed": args.seed,
        "episodes_per_row": n,
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "numpy": np.__version__,
        "gymnasium": gymnasium.__version__,
        "rows": results,
        "cave_scripted_over_gap_centre_median_ratio": ratio,
    }

    lines = [
        f"Episode scores, first episode of each of {n} copies per row, seed {args.seed} "
        "(`benchmarks/env_scores.py`).",
        "",
        "| Env | Controller | Mean ± std | Median | Min | Max | Truncated |",
        "|-----|------------|-----------:|-------:|----:|----:|----------:|",
    ]
    for r in results:
        lines.append(
            f"| {r['env']} | {r['controller']} | {r['mean']:+.2f} ± {r['std']:.2f} | "
            f"{r['median']:g} | {r['min']:g} | {r['max']:g} | "
            f"{100 * r['truncated_fraction']:.1f}% |"
        )
    lines += [
        "",
        f"Cave-v0: the scripted controller's median survival is {ratio:.1f}x the gap-centre "
        "controller's.",
    ]
    table = "\n".join(lines)
    print(table)
    print()
    print(json.dumps(report, indent=2))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "env_scores.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "env_scores.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
